"""Shared fixtures of the data-service tests: extra consumers, cached runs, checks.

The program's own consumers (Keycloak, Grafana, SCDF, Graylog, Fluent Bit, Fluentd) claim their data services;
`claims_run` is the platform layer of a stack with them (the shared run cache).
"""

from __future__ import annotations

import json
from typing import Optional

import pytest

from offline.harness import Recorded, RunResult
from tests.components.platform.crd_schema import crd_schemas, schema_errors
from tests.components.platform.helpers import manifest, platform_run
from tests.conftest import stack_run

DATA_CHARTS = ("cloudnative-pg-0.29.0", "plugin-barman-cloud-0.7.0", "eck-operator-3.5.0",
               "strimzi-kafka-operator-1.2.0", "mongodb-kubernetes-1.9.1")
SECRET_TYPE = "kubernetes:core/v1:Secret"
RANDOM = "random:index/randomPassword:RandomPassword"

def claims_run(stack: str, overrides: Optional[dict] = None) -> RunResult:
    """A stack with every consumer of the data claims: the whole program's run as the other tests share it, or the
    platform layer alone for a variant (both cached)."""
    return stack_run(stack) if overrides is None else platform_run(stack, overrides)


# One variant run covers the settings: external Kafka, a snapshot retention from config, PostgreSQL off.
EXTERNAL_CREDENTIALS = '{"scdf": {"username": "u-scdf", "password": "p-scdf"}, "graylog": {"username": "u-gl", "password": "p-gl"}, "fluentd": {"username": "u-fd", "password": "p-fd"}, "fluent-bit": {"username": "u-fb", "password": "p-fb"}, "keda-scdf": {"username": "u-kd", "password": "p-kd"}}'
VARIANT = {
    "coprs:platform.apps.kafka.settings": {"external": {
        "bootstrapServers": "kafka-1.managed.example:9094,kafka-2.managed.example:9094",
        "cidrs": ["198.51.100.0/24"], "caCert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}},
    "coprs:kafkaExternalCredentials": EXTERNAL_CREDENTIALS,
    "coprs:platform.apps.postgresql.enabled": False,
    "coprs:platform.apps.elasticsearch-security.settings": {"snapshotRetentionDays": 90},
}


def variant_run() -> RunResult:
    return claims_run("dev", VARIANT)


def of_kind(result: RunResult, kind: str, group: str = "") -> list[Recorded]:
    return [r for r in result.resources if r.type.endswith(f":{kind}") and group in r.type]


def one(result: RunResult, kind: str, name: str) -> dict:
    found = [manifest(r) for r in of_kind(result, kind) if r.inputs.get("metadata", {}).get("name") == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def secret(result: RunResult, namespace: str, name: str) -> Recorded:
    found = [r for r in result.of_type(SECRET_TYPE)
             if (r.inputs["metadata"].get("namespace"), r.inputs["metadata"]["name"]) == (namespace, name)]
    assert len(found) == 1, (namespace, name, len(found))
    return found[0]


def generated_passwords(result: RunResult) -> set[str]:
    return {r.outputs.get("result") or r.inputs.get("result") for r in result.of_type(RANDOM)} - {None}


def assert_no_literal_password(result: RunResult, kinds: tuple[str, ...]) -> None:
    """No generated password appears in a custom resource or release value (only in Secrets)."""
    passwords = generated_passwords(result)
    assert passwords
    for r in result.resources:
        if any(r.type.endswith(f":{k}") for k in kinds) or r.type.startswith("kubernetes:helm.sh/"):
            text = json.dumps(r.inputs)
            leaked = [p for p in passwords if p in text]
            assert not leaked, f"{r.type} {r.name} holds a generated password"


def assert_schema_valid(result: RunResult, kinds: tuple[str, ...]) -> int:
    schemas = crd_schemas(DATA_CHARTS)
    n = 0
    for r in result.resources:
        if r.custom and any(r.type.endswith(f":{k}") for k in kinds):
            obj = manifest(r)
            errors = schema_errors(obj, schemas)
            assert not errors, f"{obj['kind']} {obj['metadata']['name']}: {errors[:5]}"
            n += 1
    assert n
    return n


def assert_restricted_container(c: dict) -> None:
    sc = c.get("securityContext") or {}
    assert sc.get("allowPrivilegeEscalation") is False, c.get("name")
    assert sc.get("capabilities", {}).get("drop") == ["ALL"], c.get("name")
    assert not sc.get("privileged"), c.get("name")
    assert sc.get("runAsUser", 1) != 0, c.get("name")


def assert_restricted_pod(spec: dict) -> None:
    """PSS restricted, as far as the pod template shows it: non-root, seccomp, no privilege, no host access."""
    psc = spec.get("securityContext") or {}
    assert psc.get("runAsNonRoot") is True
    assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert not any("hostPath" in v for v in spec.get("volumes", []))
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        assert_restricted_container(c)


def render_pods(chart: str, values: dict, namespace: str = "infra") -> list[dict]:
    """Pod specs of a chart rendered offline at its pinned version (skips without the chart sources)."""
    import yaml

    from tests.components.platform.crd_schema import CHARTS
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk renders the pinned charts")
    if not (CHARTS / chart / "Chart.yaml").exists():
        pytest.skip(f"{chart} not unpacked under {CHARTS}")
    pods = []
    with helm.Chart.load(str(CHARTS / chart)) as c:
        for path, text in c.render(values, name="r", namespace=namespace).items():
            if not path.endswith((".yaml", ".yml")):
                continue
            for doc in yaml.safe_load_all(text):
                if isinstance(doc, dict) and doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
                    pods.append(doc["spec"]["template"]["spec"])
    assert pods
    return pods
