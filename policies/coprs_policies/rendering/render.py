"""A release rendered offline with the real Helm engine: its objects, each with the chart's template path.

What is rendered is what the Pulumi `helm.v3.Release` would install: the chart at its pinned version, the
program's values, the release name and namespace, as an install (`.Release.IsInstall`); `lookup` finds
nothing. Objects of the chart's `crds/` (chart and subcharts) come with it unless the release skips CRDs;
`helm test` hooks are left out (a Release never runs them). Namespaced objects without a namespace get the
release's, as Helm's client does.

Renders are memoized per process by (chart, release name, namespace, values): every rule of the pack that
looks inside a release asks for the same one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from . import charts
from .charts import ChartRef, ChartUnavailable

TEST_HOOKS = {"test", "test-success", "test-failure"}
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: CRDs are megabytes of YAML
_SEPARATOR = re.compile(r"(?m)^---")  # Helm splits on `---` starting a line (even `---# comment`)
RENDER_FORMAT = 1  # bump when what the disk cache holds changes


@dataclass(frozen=True)
class ReleaseInput:
    name: str
    namespace: str
    chart: ChartRef
    values: Any  # plain data
    skip_crds: bool = False

    @property
    def key(self) -> str:
        return json.dumps([self.chart.name, self.chart.version, self.chart.repository, self.name, self.namespace,
                           self.skip_crds, self.values], sort_keys=True, default=str)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.chart.label})"


@dataclass(frozen=True)
class RenderedObject:
    template: str  # the chart's template path: `cert-manager/templates/deployment.yaml`, `crds/...`
    doc: dict

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.doc.get("apiVersion") or "")

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def meta(self) -> dict:
        m = self.doc.get("metadata")
        return m if isinstance(m, dict) else {}

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "")

    @property
    def namespace(self) -> Optional[str]:
        ns = self.meta.get("namespace")
        return str(ns) if ns else None

    @property
    def type_token(self) -> str:
        """The Pulumi type token the pack's rules know it by: `kubernetes:apps/v1:Deployment`."""
        group, _, version = self.api_version.rpartition("/")
        return f"kubernetes:{group or 'core'}/{version}:{self.kind}"

    @property
    def label(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.template}: {self.kind} {where}"


@dataclass
class ChartInfo:
    """What the checks need from a chart, read once from its pristine folder."""

    folder: Path
    metadata: dict
    defaults: dict  # values.yaml, each subchart's defaults under its alias (or name)
    tokens: frozenset  # every identifier the templates (chart and subcharts) mention
    text: str  # every template source, joined (to find values the chart passes through whole)
    has_schema: bool


@dataclass
class Rendered:
    release: ReleaseInput
    objects: list[RenderedObject] = field(default_factory=list)  # templates (hooks included, tests not)
    crds: list[RenderedObject] = field(default_factory=list)  # from crds/ (empty when the release skips them)
    info: Optional[ChartInfo] = None
    unavailable: Optional[str] = None  # one line: the chart could not be had, nothing was rendered
    error: Optional[str] = None  # the render itself failed (a finding)
    schema_error: Optional[str] = None  # values.schema.json rejected the values (a finding)

    @property
    def ok(self) -> bool:
        return self.unavailable is None and self.error is None and self.schema_error is None

    def all_objects(self) -> list[RenderedObject]:
        return [*self.crds, *self.objects]


_renders: dict[str, Rendered] = {}
_infos: dict[Path, ChartInfo] = {}


def forget() -> None:
    _renders.clear()
    _infos.clear()


def _subcharts(folder: Path) -> Iterator[Path]:
    d = folder / "charts"
    if d.is_dir():
        for p in sorted(d.iterdir()):
            if (p.is_dir() and (p / "Chart.yaml").is_file()) or p.name.endswith(".tgz"):
                yield p


def fingerprint(folder: Path) -> str:
    """What a render depends on in a chart folder: every file's path, size and modification time."""
    h = hashlib.sha256(f"{RENDER_FORMAT}|{charts._helm().__version__}|{folder.resolve()}".encode())
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for f in sorted(files):
            st = os.stat(os.path.join(root, f))
            h.update(f"{os.path.relpath(os.path.join(root, f), folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


class _DiskCache:
    """Renders and chart facts kept under the chart cache's `rendered/`, keyed by the chart folder's fingerprint
    and the release inputs: a warm run reads JSON instead of rendering and parsing megabytes of YAML again."""

    def __init__(self, cache: Path):
        self.dir = cache / "rendered"

    def get(self, key: str) -> Optional[dict]:
        try:
            return json.loads((self.dir / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, doc: dict) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / f".{key}.{os.getpid()}.part"
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, self.dir / f"{key}.json")
        except OSError:
            pass  # a read-only cache only costs time


def _chart_facts(folder: Path) -> dict:
    helm = charts._helm()
    with helm.Chart.load(folder) as chart:
        metadata, defaults = chart.metadata, chart.values or {}
        texts = [t["data"] for t in chart.templates]
        has_schema = chart.schema is not None
    aliases = {d.get("name"): d.get("alias") or d.get("name") for d in metadata.get("dependencies") or []}
    for sub in _subcharts(folder):
        with helm.Chart.load(sub) as subchart:
            key = aliases.get(subchart.name, subchart.name)
            own = defaults.get(key) if isinstance(defaults.get(key), dict) else {}
            defaults[key] = {**(subchart.values or {}), **own}
            texts += [t["data"] for t in subchart.templates]
    tokens = sorted({t for text in texts for t in _TOKEN.findall(text)})
    return {"metadata": metadata, "defaults": defaults, "tokens": tokens, "text": "\n".join(texts), "hasSchema": has_schema}


def chart_info(folder: Path, print_: Optional[str] = None) -> ChartInfo:
    if folder in _infos:
        return _infos[folder]
    disk = _DiskCache(charts.source().cache)
    key = f"chart-{print_ or fingerprint(folder)}"
    facts = disk.get(key)
    if facts is None:
        facts = _chart_facts(folder)
        disk.put(key, facts)
    _infos[folder] = info = ChartInfo(folder, facts["metadata"], facts["defaults"], frozenset(facts["tokens"]),
                                      facts["text"], facts["hasSchema"])
    return info


def _documents(template: str, text: str) -> Iterator[RenderedObject]:
    """The objects of one rendered template, split on `---` as Helm's SplitManifests does."""
    for part in _SEPARATOR.split(text):
        if part.strip():
            yield from _objects(template, part)


def _objects(template: str, text: str) -> Iterator[RenderedObject]:
    for doc in yaml.load_all(text, Loader=LOADER):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"{template} renders a {type(doc).__name__}, not an object")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                if isinstance(item, dict):
                    yield RenderedObject(template, item)
            continue
        yield RenderedObject(template, doc)


def _hook_test(obj: RenderedObject) -> bool:
    hooks = str((obj.meta.get("annotations") or {}).get("helm.sh/hook") or "")
    return any(h.strip() in TEST_HOOKS for h in hooks.split(","))


def _cluster_kinds(crds: list[RenderedObject]) -> set[str]:
    from ..k8s import CLUSTER_SCOPED

    kinds = set(CLUSTER_SCOPED)
    for c in crds:
        spec = c.doc.get("spec") or {}
        if c.kind == "CustomResourceDefinition" and spec.get("scope") == "Cluster":
            kinds.add(str((spec.get("names") or {}).get("kind")))
    return kinds


def _with_namespace(obj: RenderedObject, namespace: str, cluster_kinds: set[str]) -> RenderedObject:
    if obj.namespace or obj.kind in cluster_kinds or (obj.kind.startswith("Cluster") and obj.kind[7:8].isupper()):
        return obj
    return RenderedObject(obj.template, {**obj.doc, "metadata": {**obj.meta, "namespace": namespace}})


def render(rel: ReleaseInput) -> Rendered:
    """The release rendered (memoized); never raises for a chart problem: see `Rendered`."""
    key = rel.key
    if key in _renders:
        return _renders[key]
    out = Rendered(rel)
    _renders[key] = out
    src = charts.source()
    try:
        charts._helm()
        path = src.locate(rel.chart)
    except ChartUnavailable as na:
        out.unavailable = str(na)
        return out
    except ImportError:
        out.unavailable = str(ChartUnavailable(rel.chart, "helm-python-sdk is not installed here"))
        return out
    try:
        folder = charts.expanded(path, src.cache)
        print_ = fingerprint(folder)
        out.info = chart_info(folder, print_)
    except Exception as err:  # noqa: BLE001 - a corrupt archive or folder is reported, not raised
        out.unavailable = str(ChartUnavailable(rel.chart, f"{path} is not a readable chart ({charts._one_line(err, 120)})"))
        return out
    if out.info.metadata.get("version") is not None and str(out.info.metadata.get("version")) != rel.chart.version:
        out.unavailable = str(ChartUnavailable(rel.chart, f"{path} is version {out.info.metadata.get('version')}"))
        return out
    disk = _DiskCache(src.cache)
    key = "render-" + hashlib.sha256(f"{print_}|{key}".encode()).hexdigest()
    done = disk.get(key)
    if done is None:
        done = _render_fresh(rel, folder, out.info)
        disk.put(key, done)
    out.error, out.schema_error = done.get("error"), done.get("schemaError")
    if out.error or out.schema_error:
        return out
    crds = [RenderedObject(t, d) for t, d in done["crds"]]
    objects = [RenderedObject(t, d) for t, d in done["objects"]]
    cluster = _cluster_kinds([*crds, *objects])
    out.crds = crds
    out.objects = [_with_namespace(o, rel.namespace, cluster) for o in objects if not _hook_test(o)]
    return out


def _render_fresh(rel: ReleaseInput, folder: Path, info: ChartInfo) -> dict:
    """Render with the SDK and parse: {"crds", "objects": [[template, doc], ...], "error", "schemaError"}."""
    helm = charts._helm()
    values = rel.values if isinstance(rel.values, dict) else {}
    try:
        with helm.Chart.load(folder) as chart:
            if info.has_schema:
                try:
                    chart.validate_schema(values)
                except helm.HelmValuesError as err:
                    return {"schemaError": charts._one_line(err, 400)}
            crd_files = [] if rel.skip_crds else chart.crds
            manifests = chart.render(values, name=rel.name, namespace=rel.namespace, is_install=True)
    except helm.HelmError as err:
        return {"error": charts._one_line(err, 400)}
    try:
        crds = [o for f in crd_files for o in _documents(f.get("filename") or f.get("name") or "crds", f.get("data") or "")]
        objects = [o for name, text in sorted(manifests.items()) if not name.endswith("NOTES.txt")
                   for o in _documents(name, text)]
    except (yaml.YAMLError, ValueError) as err:
        return {"error": f"the rendered manifests do not parse: {charts._one_line(err, 300)}"}
    return {"crds": [[o.template, o.doc] for o in crds], "objects": [[o.template, o.doc] for o in objects]}
