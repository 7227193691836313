"""Custom resources against their operators' CRD schemas (openAPIV3Schema), strictly.

The CRDs come from the pinned charts unpacked under `$CHARTS` (one folder `<chart>-<version>` each, as for
`make render CHARTS=dir`; never committed, default /work/charts): plain files in `crds/`, or the rendered templates (helm-python-sdk)
of charts whose CRDs are templates. Strict means required fields present and no unknown field: every
object schema with properties and no `x-kubernetes-preserve-unknown-fields` gets
`additionalProperties: false`. When the charts are not there the tests using this skip and say so.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import pytest
import yaml

CHARTS = Path(os.environ.get("CHARTS", "/work/charts"))


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if out.get("x-kubernetes-int-or-string"):
            out.pop("type", None)
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields") \
                and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _documents(chart: Path) -> Iterable[Any]:
    for f in sorted((chart / "crds").glob("*.yaml")):
        yield from yaml.safe_load_all(f.read_text())
    templated = [p for p in (chart / "templates").rglob("*crd*")] + [p for p in (chart / "charts").rglob("*crd*.yaml")]
    if templated:
        helm = pytest.importorskip("helm_python", reason="helm-python-sdk renders the charts whose CRDs are templates")
        with helm.Chart.load(str(chart)) as c:
            for path, text in c.render(name="crds", namespace="infra").items():
                if "crd" in path.lower():
                    yield from yaml.safe_load_all(text)


@functools.lru_cache(maxsize=None)
def crd_schemas(charts: tuple[str, ...]) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) → strict schema of the whole object, from the named chart folders."""
    missing = [c for c in charts if not (CHARTS / c / "Chart.yaml").exists()]
    if missing:
        pytest.skip(f"chart sources not unpacked under {CHARTS}: {', '.join(missing)} (set CHARTS to the unpacked pinned charts)")
    out: dict[tuple[str, str], dict] = {}
    for chart in charts:
        for doc in _documents(CHARTS / chart):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                spec = doc["spec"]
                for v in spec["versions"]:
                    schema = copy.deepcopy(v["schema"]["openAPIV3Schema"])
                    schema.get("properties", {}).pop("metadata", None)
                    if "required" in schema:
                        schema["required"] = [r for r in schema["required"] if r != "metadata"]
                    out[(f"{spec['group']}/{v['name']}", spec["names"]["kind"])] = _strict(schema)
    return out


def schema_errors(obj: dict, schemas: dict[tuple[str, str], dict]) -> list[str]:
    key = (obj["apiVersion"], obj["kind"])
    if key not in schemas:
        return [f"no CRD for {key}"]
    body = {k: v for k, v in obj.items() if k != "metadata"}
    validator = jsonschema.Draft7Validator(schemas[key])
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in validator.iter_errors(body)]
