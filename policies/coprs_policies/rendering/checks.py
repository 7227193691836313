"""The checks on a release's values and on what it renders.

- `unknown_values`: every values key the program sets exists in the chart's defaults (a subchart's under its
  alias) or is read by one of the chart's templates; a key under a default that is an empty map or null is
  free-form (the chart passes it through, e.g. `affinity`);
- `KubeSchemas`: built-in objects against the strict JSON schemas of the cluster's Kubernetes version
  (kubernetes-validate's; unknown fields are errors), with every error reported, not only the first;
- `CrdSchemas`: custom resources against their CRD's `openAPIV3Schema`, structural-schema style: unknown
  fields are errors unless the schema preserves them, `nullable` and `x-kubernetes-int-or-string` honoured,
  the version must be served.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterator, Optional

import jsonschema

from .render import ChartInfo

MAX_ERRORS = 5


# ---------------------------------------------------------------------------------------------
# values


def _leaves(values: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(values, dict) and values:
        for k, v in values.items():
            yield from _leaves(v, path + (str(k),))
    else:
        yield path, values


def passed_through(path: tuple, info: ChartInfo) -> bool:
    """Whether a template hands the values subtree at `path` over whole (`toYaml .Values.resources`), so any
    Kubernetes field below it is read. Subchart templates see their values without the alias prefix."""
    for start in range(min(2, len(path))):
        dotted = re.escape(".".join(path[start:]))
        if dotted and re.search(rf"(?:toYaml|toJson|tpl|with)\s+\(?\s*\$?\.Values\.{dotted}\s*[|)}}]"
                                rf"|\.Values\.{dotted}\s*\|\s*(?:toYaml|toJson)", info.text):
            return True
    return False


def unknown_values(values: Any, info: ChartInfo) -> list[str]:
    """Messages for the values keys the chart neither defaults nor reads. Keys shaped like labels or
    annotations (`node-role.kubernetes.io/infra`) are map entries, not chart keys."""
    out: list[str] = []
    seen: set[tuple] = set()
    for path, _ in _leaves(values):
        node: Any = info.defaults
        for i, key in enumerate(path):
            if not isinstance(node, dict) or not node:
                break  # free-form below a default `{}`/null/list: the chart passes it through
            if key in node:
                node = node[key]
                continue
            if key == "global" or "/" in key or "." in key or key in info.tokens or passed_through(path[:i], info):
                break
            bad = path[: i + 1]
            if bad not in seen:
                seen.add(bad)
                where = ".".join(bad)
                out.append(f"values {where}: the chart has no such key (not in its defaults, no template reads "
                           f"`{key}`) — a typo Helm would silently ignore")
            break
    return out


# ---------------------------------------------------------------------------------------------
# built-in objects: kubernetes-validate's strict schemas


def _error_text(err: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".") or "(root)"
    return f"{where}: {err.message}"


def integral(value: Any) -> Any:
    """Integral floats as ints: Pulumi's wire format carries every number as a float, the API server gets 256."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def _errors(validator: Any, doc: dict) -> list[str]:
    doc = integral(doc)
    errs = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    out = [_error_text(e) for e in errs[:MAX_ERRORS]]
    if len(errs) > MAX_ERRORS:
        out.append(f"... {len(errs) - MAX_ERRORS} more")
    return out


class KubeSchemas:
    """The strict schemas of one Kubernetes version (the newest kubernetes-validate has that is not newer)."""

    def __init__(self, version: str):
        from kubernetes_validate import utils

        self._utils = utils
        wanted = utils.major_minor(version.lstrip("v"))
        known = [v for v in utils.all_versions() if utils.major_minor(v) <= wanted]
        if not known:
            raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {version}")
        self.version = utils.major_minor(known[-1])
        self._dir = f"kubernetes-json-schema/v{known[-1]}-local-strict"
        self._validators: dict[tuple[str, str], Any] = {}
        self._registry: Any = None
        self.builtin_prefixes = self._prefixes()

    def _prefixes(self) -> set[str]:
        from importlib import resources

        names = [p.name for p in resources.files("kubernetes_validate").joinpath(self._dir).iterdir()]
        return {n.rsplit("-", 2)[-2] for n in names if n.count("-") >= 2}

    def builtin(self, api_version: str) -> bool:
        """Whether an apiVersion belongs to a Kubernetes API group (core, apps, *.k8s.io of the API server)."""
        group = api_version.rpartition("/")[0]
        if not group:
            return True
        prefix = group.split(".")[0]
        return ("." not in group or group.endswith(".k8s.io")) and prefix in self.builtin_prefixes

    def _validator(self, api_version: str, kind: str) -> Optional[Any]:
        key = (api_version, kind)
        if key not in self._validators:
            from referencing import Registry, Resource

            api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
            try:
                schema = self._utils.schema_contents(f"{self._dir}/{kind.lower()}-{api}.json", self.version)
            except FileNotFoundError:
                self._validators[key] = None
                return None
            if self._registry is None:
                defs = self._utils.schema_contents(f"{self._dir}/_definitions.json", self.version)
                self._registry = Resource.from_contents(defs) @ Registry()
            self._validators[key] = jsonschema.validators.Draft202012Validator(
                schema, registry=Resource.from_contents(schema) @ self._registry)
        return self._validators[key]

    def errors(self, doc: dict) -> Optional[list[str]]:
        """Schema errors of a built-in object; None when Kubernetes has no such kind at that apiVersion."""
        v = self._validator(str(doc.get("apiVersion") or ""), str(doc.get("kind") or ""))
        return None if v is None else _errors(v, doc)


@lru_cache(maxsize=4)
def kube_schemas(version: str) -> KubeSchemas:
    return KubeSchemas(version)


# ---------------------------------------------------------------------------------------------
# custom resources: CRD openAPIV3Schema


def strict_schema(s: Any, root: bool = False) -> Any:
    """An openAPIV3Schema as a JSON schema that rejects unknown fields as the API server's strict validation does."""
    if not isinstance(s, dict):
        return s
    out: dict[str, Any] = {}
    for k, v in s.items():
        if k == "properties" and isinstance(v, dict):
            out[k] = {p: strict_schema(x) for p, x in v.items()}
        elif k in ("items", "additionalProperties") and isinstance(v, dict):
            out[k] = strict_schema(v)
        elif k.startswith("x-kubernetes-") or k in ("nullable", "format", "default", "example", "externalDocs"):
            continue
        else:
            out[k] = v
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    if s.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None]
    if root or s.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        for f, t in (("apiVersion", "string"), ("kind", "string"), ("metadata", "object")):
            props.setdefault(f, {"type": t})
        if root:
            props.setdefault("status", {})
    if (not s.get("x-kubernetes-preserve-unknown-fields") and "properties" in out
            and "additionalProperties" not in out and out.get("type") in ("object", None)):
        out["additionalProperties"] = False
    return out


_crd_validators: dict[int, tuple[Any, Any]] = {}


def _crd_validator(key: int, schema: dict) -> Any:
    """The strict validator of one openAPIV3Schema (kept with its schema, so the id stays valid)."""
    hit = _crd_validators.get(key)
    if hit is None or hit[0] is not schema:
        hit = _crd_validators[key] = (schema, jsonschema.Draft4Validator(strict_schema(schema, root=True)))
    return hit[1]


class CrdSchemas:
    """(group, kind) → {version: (served, validator)}, from every CRD the stack installs."""

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str], dict[str, tuple[bool, Any]]] = {}  # validators compiled on first use
        self.sources: dict[tuple[str, str], str] = {}

    def add(self, crd: dict, source: str) -> None:
        spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
        group, kind = str(spec.get("group") or ""), str((spec.get("names") or {}).get("kind") or "")
        if not group or not kind:
            return
        versions = self._kinds.setdefault((group, kind), {})
        self.sources.setdefault((group, kind), source)
        for v in spec.get("versions") or []:
            schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or (spec.get("validation") or {}).get("openAPIV3Schema")
            versions[str(v.get("name"))] = (bool(v.get("served", True)), schema if isinstance(schema, dict) else None)

    def knows(self, api_version: str, kind: str) -> bool:
        return (api_version.rpartition("/")[0], kind) in self._kinds

    def errors(self, doc: dict) -> Optional[list[str]]:
        """Errors of a custom resource against its CRD; None when no CRD of the stack defines its kind."""
        api_version, kind = str(doc.get("apiVersion") or ""), str(doc.get("kind") or "")
        group, _, version = api_version.rpartition("/")
        versions = self._kinds.get((group, kind))
        if versions is None:
            return None
        if version not in versions:
            return [f"apiVersion {api_version}: the CRD defines {kind} only in {', '.join(sorted(versions))}"]
        served, schema = versions[version]
        if not served:
            return [f"apiVersion {api_version}: the CRD no longer serves {version}"]
        if schema is None:
            return []
        return _errors(_crd_validator(id(schema), schema), doc)


def crd_documents(docs: list[Any]) -> Iterator[dict]:
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition":
            yield d
