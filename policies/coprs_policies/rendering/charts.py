"""Charts at their pinned versions, locally.

A chart is found, in this order of authority:
- with a chart directory (`CHARTS=DIR`, `--charts DIR`, env `COPRS_CHARTS`): only there, never on the network —
  an archive named as Helm names it (`<chart>-<version>.tgz`), or an unpacked chart folder
  (`<chart>-<version>/` or `<chart>/`, its Chart.yaml carrying that version);
- else the chart cache (`~/.cache/coprs/charts`, env `COPRS_CHART_CACHE`): `<chart>-<version>.tgz` with its
  digest recorded beside it (`<archive>.digest`); a cached archive is never pulled again, and one whose digest
  no longer matches is reported as corrupt, not silently replaced;
- else it is pulled once into the cache from its https repository (the entry of its `index.yaml`, whose
  digest must match) or its OCI registry, at the exact version.

CRD bundles (`k8s.yaml.v2.ConfigFile` from a pinned URL) are found the same way: `<dir>/bundles/<file>` or
`<dir>/<file>`, else the cache's `bundles/`, else downloaded once.

A chart that cannot be had raises `ChartUnavailable` with one line ("cert-manager v1.21.1: repository
unreachable — not rendered").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

CACHE_ENV = "COPRS_CHART_CACHE"
CHARTS_ENV = "COPRS_CHARTS"
DEFAULT_CACHE = Path("~/.cache/coprs/charts")
DOWNLOAD_TIMEOUT = 30


def _helm():
    import helm_python  # imported late: the SDK loads a native library

    return helm_python


@dataclass(frozen=True)
class ChartRef:
    name: str
    version: str
    repository: str  # https://... repository or oci://host/path registry ("" for a local chart path)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def archive_name(self) -> str:
        return f"{self.name}-{self.version}.tgz"

    @classmethod
    def of(cls, chart: str, version: str, repo: str = "") -> "ChartRef":
        """From a Release's `chart`/`version`/`repositoryOpts.repo` (`chart` may be `oci://host/path/name`)."""
        chart = chart.rstrip("/")
        if chart.startswith("oci://") and not repo:
            repo, _, chart = chart.rpartition("/")
        return cls(chart, str(version), repo.rstrip("/"))


class ChartUnavailable(Exception):
    """The chart cannot be had here: one line, ending in "not rendered"."""

    def __init__(self, ref: ChartRef, why: str):
        self.ref, self.why = ref, why
        super().__init__(f"{ref.label}: {why} — not rendered")


def _one_line(err: BaseException, limit: int = 160) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


@dataclass
class ChartSource:
    """Where charts come from for this process (see the module docstring)."""

    cache: Path
    charts: Optional[Path] = None
    _unreachable: dict[str, str] = field(default_factory=dict)  # repository → why (asked once per process)
    _indexes: dict[str, dict] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_env(cls) -> "ChartSource":
        charts = os.environ.get(CHARTS_ENV)
        return cls(Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser(), Path(charts).expanduser() if charts else None)

    @property
    def where(self) -> str:
        return f"charts from {self.charts}" if self.charts else f"chart cache {self.cache}"

    # -- charts ---------------------------------------------------------------------------------

    def locate(self, ref: ChartRef) -> Path:
        """A chart folder or archive for `ref`; raises ChartUnavailable."""
        with self._lock:
            if self.charts is not None:
                return self._in_dir(ref)
            return self._cached(ref)

    def _in_dir(self, ref: ChartRef) -> Path:
        d = self.charts
        assert d is not None
        if not d.is_dir():
            raise ChartUnavailable(ref, f"chart directory {d} does not exist")
        archive = d / ref.archive_name
        if archive.is_file():
            return archive
        for folder in (d / f"{ref.name}-{ref.version}", d / ref.name):
            meta = folder / "Chart.yaml"
            if meta.is_file():
                try:
                    doc = yaml.safe_load(meta.read_text()) or {}
                except (OSError, yaml.YAMLError) as err:
                    raise ChartUnavailable(ref, f"{meta} is unreadable ({_one_line(err)})") from None
                if str(doc.get("version")) == ref.version:
                    return folder
        raise ChartUnavailable(ref, f"neither {ref.archive_name} nor a {ref.name}-{ref.version}/ chart folder in {d}")

    def _cached(self, ref: ChartRef) -> Path:
        archive = self.cache / ref.archive_name
        record = archive.with_name(archive.name + ".digest")
        if archive.is_file():
            digest = sha256_of(archive)
            if record.is_file():
                try:
                    want = json.loads(record.read_text()).get("digest")
                except (OSError, ValueError):
                    want = None
                if want != digest:
                    raise ChartUnavailable(ref, f"cached archive {archive} does not match its recorded digest "
                                                f"(corrupt; delete it to pull again)")
            else:
                self._record(record, digest, "found in the cache")
            return archive
        if not ref.repository:
            raise ChartUnavailable(ref, "no repository to pull it from")
        if ref.repository in self._unreachable:
            raise ChartUnavailable(ref, self._unreachable[ref.repository])
        return self._pull(ref, archive, record)

    def _index_entry(self, ref: ChartRef) -> Optional[dict]:
        repo = ref.repository
        if repo not in self._indexes:
            try:
                self._indexes[repo] = _helm().repo_index(repo)
            except Exception as err:  # noqa: BLE001 - every SDK failure is "unreachable" here
                self._unreachable[repo] = f"repository unreachable ({_one_line(err, 100)})"
                raise ChartUnavailable(ref, self._unreachable[repo]) from None
        for entry in (self._indexes[repo].get("entries") or {}).get(ref.name) or []:
            if str(entry.get("version")) == ref.version:
                return entry
        raise ChartUnavailable(ref, f"version {ref.version} is not in {repo}/index.yaml")

    def _pull(self, ref: ChartRef, archive: Path, record: Path) -> Path:
        oci = ref.repository.startswith("oci://")
        entry = None if oci else self._index_entry(ref)
        self.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache, prefix=".pull-") as tmp:
            try:
                if oci:
                    _helm().pull(f"{ref.repository}/{ref.name}", version=ref.version, destination=tmp)
                else:
                    _helm().pull(ref.name, repo_url=ref.repository, version=ref.version, destination=tmp)
            except Exception as err:  # noqa: BLE001
                why = f"repository unreachable ({_one_line(err, 100)})"
                if oci:
                    self._unreachable[ref.repository] = why
                raise ChartUnavailable(ref, why) from None
            got = Path(tmp) / ref.archive_name
            if not got.is_file():
                found = sorted(p.name for p in Path(tmp).iterdir())
                raise ChartUnavailable(ref, f"the pull gave {', '.join(found) or 'nothing'}, not {ref.archive_name}")
            digest = sha256_of(got)
            want = (entry or {}).get("digest")
            if want and "sha256:" + str(want).removeprefix("sha256:") != digest:
                raise ChartUnavailable(ref, f"the downloaded archive's digest {digest} is not the index's {want}")
            os.replace(got, archive)
        self._record(record, digest, f"{ref.repository} ({'oci' if oci else 'index.yaml'})")
        return archive

    @staticmethod
    def _record(record: Path, digest: str, source: str) -> None:
        record.write_text(json.dumps({"digest": digest, "source": source}) + "\n")

    # -- CRD bundles ------------------------------------------------------------------------------

    def bundle(self, url: str) -> Path:
        """The file of a CRD bundle URL; raises OSError with one line when it cannot be had."""
        base = url.rstrip("/").rsplit("/", 1)[-1] or "bundle.yaml"
        with self._lock:
            if self.charts is not None:
                for p in (self.charts / "bundles" / base, self.charts / base):
                    if p.is_file():
                        return p
                raise OSError(f"CRD bundle {url}: no bundles/{base} in {self.charts}")
            slug = hashlib.sha256(url.encode()).hexdigest()[:12]
            path = self.cache / "bundles" / f"{slug}-{base}"
            if path.is_file():
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:  # noqa: S310 - pinned https URL
                    data = resp.read()
            except Exception as err:  # noqa: BLE001
                raise OSError(f"CRD bundle {url}: unreachable ({_one_line(err, 100)})") from None
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            self._record(path.with_name(path.name + ".digest"), sha256_of(path), url)
            return path


_source: Optional[ChartSource] = None


def source() -> ChartSource:
    """The process's chart source (from the environment unless `use` set one)."""
    global _source
    if _source is None:
        _source = ChartSource.from_env()
    return _source


def use(src: Optional[ChartSource]) -> None:
    """Set (or with None: reset to the environment's) the chart source, and forget every render."""
    global _source
    _source = src
    from . import render

    render.forget()


def expanded(path: Path, cache: Path) -> Path:
    """A chart folder for `path` (archives are unpacked once under the cache's `unpacked/<digest>/`)."""
    if path.is_dir():
        return path
    dest = cache / "unpacked" / sha256_of(path).split(":")[1][:16]
    if not dest.is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".x-"))
        try:
            _helm().expand(tmp, path)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    folders = [p for p in dest.iterdir() if (p / "Chart.yaml").is_file()]
    if len(folders) != 1:
        raise OSError(f"archive {path} holds {len(folders)} charts")
    return folders[0]

