"""Rules that look inside every Helm release (HELM-18 .. HELM-22): the Release's chart is rendered with the
real Helm engine (`rendering/`) and what the cluster would receive is judged.

- HELM-18: every values key the program sets is known to the chart; values pass its `values.schema.json`;
- HELM-19: the chart renders; every built-in object is valid for the cluster's Kubernetes version (strict);
- HELM-20 (stack): every rendered pod passes the Pod Security level its namespace enforces (the namespace's
  `pod-security.kubernetes.io/enforce` label as the program declares it), with the pack's PSS controls;
- HELM-21 (stack): every custom resource, rendered or declared by the program (`ctx.custom_resource`),
  validates against its CRD's openAPIV3Schema (CRDs from charts' `crds/`, rendered CRDs, CRD bundles and CRD
  objects of the program), unknown fields included;
- HELM-22 (advisory): a release whose chart cannot be had here is reported as not rendered — never a pass.

Every K-* resource rule also runs on each rendered object (`inside_releases`, used by `kubernetes.common`).
Messages about a rendered object carry its template path (`RenderedMessage.template`) for the reports.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import yaml

from .base import Cfg, NotApplicable, Res, ResourceRule, StackRule, Violation, exempt, is_map, key, meta, opt, plain, truthy
from .k8s import HELM_TYPES, LEVELS, LEVELS_SCHEMA, has_pods, is_kind, kind_of, level_of, name_of
from .rendering import charts
from .rendering.checks import CrdSchemas, crd_documents, kube_schemas, unknown_values
from .rendering.render import LOADER, Rendered, RenderedObject, ReleaseInput, render

RULES: list = []
KUBERNETES_VERSION = {"kubernetesVersion": {"type": "string", "default": "1.35",
                                            "description": "the cluster's Kubernetes version (schemas of built-in objects)"}}
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
BUNDLE_TYPES = ("kubernetes:yaml/v2:ConfigFile", "kubernetes:yaml:ConfigFile")


class RenderedMessage(str):
    """A violation message about one rendered object, carrying the release and the chart's template path."""

    template: Optional[str]
    release: Optional[str]

    def __new__(cls, text: str, release: Optional[str] = None, template: Optional[str] = None) -> "RenderedMessage":
        m = super().__new__(cls, text)
        m.release, m.template = release, template
        return m


def release_input(res: Res) -> ReleaseInput:
    p = res.props
    ref = charts.ChartRef.of(str(opt(p, "chart") or ""), str(opt(p, "version") or ""), str(opt(p, "repositoryOpts.repo") or ""))
    return ReleaseInput(str(opt(p, "name") or res.name), str(opt(p, "namespace") or "default"), ref,
                        plain(opt(p, "values") or {}), truthy(opt(p, "skipCrds")))


def rendered_of(res: Res) -> Rendered:
    return render(release_input(res))


def _judged(res: Res) -> Rendered:
    """The render of a release the rule can judge; not rendered → NotApplicable (HELM-22 reports it)."""
    r = rendered_of(res)
    if r.unavailable:
        raise NotApplicable(r.unavailable)
    return r


def object_res(obj: RenderedObject, release: Res) -> Res:
    return Res(obj.type_token, obj.doc, obj.name, f"{release.urn}${obj.type_token}::{obj.namespace or ''}/{obj.name}")


def on_object(r: Rendered, obj: RenderedObject, message: str) -> RenderedMessage:
    return RenderedMessage(f"{obj.label}: {message}", r.release.name, obj.template)


def inside_releases(check: Callable[[Res, Cfg], Iterator[str]], applies: Callable[[str], bool]):
    """A K-* check that also runs on every object a Helm release renders (exemptions matched per object)."""

    def run(res: Res, cfg: Cfg) -> Iterator[str]:
        if res.type not in HELM_TYPES:
            yield from check(res, cfg)
            return
        r = rendered_of(res)
        if r.unavailable:
            raise NotApplicable(r.unavailable)
        for obj in r.all_objects():
            if not applies(obj.type_token):
                continue
            sub = object_res(obj, res)
            if exempt(cfg, sub.name, sub.urn, obj.name if obj.kind == "Namespace" else obj.namespace):
                continue
            for m in check(sub, cfg):
                yield on_object(r, obj, m)

    return run


def rule(m, check) -> None:
    RULES.append(ResourceRule(m, "helm", HELM_TYPES, check, namespace_of=lambda res: opt(res.props, "namespace")))


# ---------------------------------------------------------------------------------------------
# HELM-18, HELM-19: values and objects of one release


def _h18(res: Res, cfg: Cfg) -> Iterator[str]:
    r = _judged(res)
    if r.schema_error:
        yield f"values do not pass the chart's values.schema.json: {r.schema_error}"
    if r.info is not None:
        yield from unknown_values(r.release.values, r.info)


rule(meta("HELM-18", "high", "Release values are known to the chart and pass its values.schema.json",
          ["COPRS:rendered-releases", "helm:values-schema"],
          "Fix the key's spelling or nesting against the chart's values.yaml at the pinned version (subcharts under "
          "their alias); satisfy the chart's values.schema.json."), _h18)


def _kube(cfg: Cfg):
    try:
        return kube_schemas(str(cfg["kubernetesVersion"]))
    except ImportError:
        raise NotApplicable("kubernetes-validate is not installed here") from None


def _h19(res: Res, cfg: Cfg) -> Iterator[str]:
    r = _judged(res)
    if r.error:
        yield f"the chart does not render: {r.error}"
        return
    kube = _kube(cfg)
    for obj in r.all_objects():
        errors = kube.errors(obj.doc)
        if errors is None:
            if kube.builtin(obj.api_version):
                yield on_object(r, obj, f"{obj.api_version} {obj.kind} is not served by Kubernetes {kube.version}")
            continue
        for e in errors:
            yield on_object(r, obj, f"invalid for Kubernetes {kube.version}: {e}")


rule(meta("HELM-19", "high", "The chart renders, and every built-in object it renders is valid for the cluster's Kubernetes version",
          ["COPRS:rendered-releases", "kubernetes-validate:strict"],
          "Fix the values that produce the invalid field (or unknown field) in the rendered object; pin a chart "
          "version that supports the cluster's Kubernetes version.", KUBERNETES_VERSION), _h19)


# ---------------------------------------------------------------------------------------------
# HELM-20, HELM-21: what needs the whole stack (namespace labels, every CRD)


def releases(resources: list[Res]) -> list[tuple[Res, Rendered]]:
    return [(r, rendered_of(r)) for r in resources if r.type in HELM_TYPES]


def _enforced(resources: list[Res]) -> dict[str, str]:
    out = {}
    for ns in resources:
        if is_kind(ns.type, "Namespace", group="core"):
            level = key(opt(ns.props, "metadata.labels") or {}, PSA_ENFORCE)
            if level in LEVELS:
                out[name_of(ns)] = level
    return out


def pss_rules() -> list[ResourceRule]:
    """The pack's Pod Security Standards controls (K-01 .. K-17: references `PSS:`, the optional ones left out)."""
    from .kubernetes import RULES as K_RULES

    return [r for r in K_RULES if isinstance(r, ResourceRule) and any(ref.startswith("PSS:") for ref in r.references)
            and not any("(optional)" in ref for ref in r.references)]


def _h20(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    enforced = _enforced(resources)
    controls = pss_rules()
    for rel, r in releases(resources):
        if not r.ok:
            continue
        for obj in r.objects:
            if not has_pods(obj.type_token):
                continue
            ns = obj.namespace or r.release.namespace
            level = enforced.get(ns) or level_of(ns, cfg)
            if level == "privileged":
                continue
            sub = object_res(obj, rel)
            levels = {"namespaceLevels": {ns: level}, "defaultLevel": level}
            for control in controls:
                try:
                    found = control.evaluate(sub, levels)
                except NotApplicable:
                    continue
                for m in found:
                    yield Violation(on_object(r, obj, f"rejected by Pod Security '{level}' of namespace {ns} "
                                                      f"({control.rule_id}): {m}"), rel)


RULES.append(StackRule(
    meta("HELM-20", "high", "Every pod a release renders passes the Pod Security level its namespace enforces",
         ["PSS:baseline", "PSS:restricted", "COPRS:rendered-releases"],
         "Set the chart's pod and container security contexts (values) so the pods meet the namespace's level, or "
         "move the release to a namespace whose level allows it.", dict(LEVELS_SCHEMA)),
    "helm", _h20, subjects=HELM_TYPES))


_bundles: dict[tuple[str, str], list[dict]] = {}


def bundle_crds(url: str) -> list[dict]:
    """The CRDs of a bundle URL (read once per file per process)."""
    path = charts.source().bundle(url)
    key = (url, str(path))
    if key not in _bundles:
        with open(path, encoding="utf-8") as fh:
            _bundles[key] = list(crd_documents(list(yaml.load_all(fh, Loader=LOADER))))
    return _bundles[key]


def _bundle_urls(resources: list[Res]) -> Iterator[tuple[Res, str]]:
    for res in resources:
        url = opt(res.props, "file") if res.type in BUNDLE_TYPES else None
        if isinstance(url, str) and url:
            yield res, url


def bundle_problems(resources: list[Res]) -> list[str]:
    """One line per CRD bundle that cannot be had or read."""
    out = []
    for _, url in _bundle_urls(resources):
        try:
            bundle_crds(url)
        except (OSError, ValueError) as err:
            out.append(str(err))
        except Exception as err:  # noqa: BLE001 - a broken bundle file is reported, not raised
            out.append(f"CRD bundle {url}: unreadable ({type(err).__name__})")
    return out


def crd_schemas(resources: list[Res], rendered: list[tuple[Res, Rendered]]) -> tuple[CrdSchemas, list[str]]:
    """Every CRD the stack installs, and what could not be read (bundles that cannot be had)."""
    schemas = CrdSchemas()
    for rel, r in rendered:
        for obj in r.all_objects():
            if obj.kind == "CustomResourceDefinition":
                schemas.add(obj.doc, f"{r.release.name}:{obj.template}")
    for res in resources:
        if res.type == CRD_TYPE:
            schemas.add(plain(res.props), res.name)
    missing = bundle_problems(resources)
    for res, url in _bundle_urls(resources):
        if not any(url in m for m in missing):
            for crd in bundle_crds(url):
                schemas.add(crd, res.name)
    return schemas, missing


def _custom(t: str, kube) -> bool:
    kind = kind_of(t)
    if kind is None or t == CRD_TYPE:
        return False
    group = t.split(":")[1].rsplit("/", 1)[0]
    return not kube.builtin(f"{'' if group == 'core' else group + '/'}v1")


def _h21(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    rendered = releases(resources)
    schemas, missing = crd_schemas(resources, rendered)
    kube = _kube(cfg)
    complete = not missing and all(not r.unavailable for _, r in rendered)
    for res in resources:
        if not _custom(res.type, kube):
            continue
        doc = plain(res.props)
        if not is_map(doc):
            continue
        errors = schemas.errors(doc)
        if errors is None:
            if complete:
                yield Violation(f"no CRD of the stack defines {doc.get('apiVersion')} {doc.get('kind')}", res)
            continue
        for e in errors:
            yield Violation(f"{doc.get('kind')} {name_of(res)}: {e}", res)
    for rel, r in rendered:
        if not r.ok:
            continue
        for obj in r.objects:
            if kube.builtin(obj.api_version):
                continue
            errors = schemas.errors(obj.doc)
            if errors is None:
                if complete:
                    yield Violation(on_object(r, obj, f"no CRD of the stack defines {obj.api_version} {obj.kind}"), rel)
                continue
            for e in errors:
                yield Violation(on_object(r, obj, e), rel)


RULES.append(StackRule(
    meta("HELM-21", "high", "Every custom resource, rendered or declared, validates against its CRD's schema (unknown fields included)",
         ["COPRS:rendered-releases", "kubectl:validate=strict"],
         "Fix the custom resource's fields against the CRD's openAPIV3Schema at the pinned version (or the chart "
         "values that render it).", KUBERNETES_VERSION),
    "helm", _h21, subjects=HELM_TYPES))



def _h22(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    rendered = releases(resources)
    for rel, r in rendered:
        if r.unavailable:
            yield Violation(r.unavailable, rel)
    for m in bundle_problems(resources):
        yield Violation(f"{m} — its custom resources were not validated", None)


RULES.append(StackRule(
    meta("HELM-22", "low", "Every release is rendered and every CRD bundle read (what cannot be had is reported, never passed)",
         ["COPRS:rendered-releases"],
         "Give the runner the chart: network access to its repository, the chart cache (COPRS_CHART_CACHE) or a "
         "chart directory (CHARTS=DIR / COPRS_CHARTS) holding `<chart>-<version>.tgz` or the chart folder "
         "(CRD bundles: `bundles/<file>`).", enforcement="advisory"),
    "helm", _h22, subjects=HELM_TYPES))
