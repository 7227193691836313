"""MCK 1.9.1: CRDs from the tag's bundle, watches database, restricted, webhook 1993, telemetry off."""

from __future__ import annotations

from tests.components.platform.apps.data import assert_restricted_pod, claims_run, render_pods
from tests.components.platform.helpers import CONFIG_FILE, releases


def test_values_and_crds():
    r = claims_run("prod")
    values = releases(r)["mongodb-kubernetes"].inputs["values"]
    assert values["operator"]["watchNamespace"] == "database"
    assert values["operator"]["telemetry"]["enabled"] is False
    bundle = next(x for x in r.of_type(CONFIG_FILE) if x.name == "mongodb-kubernetes-mck-crds")
    assert bundle.inputs["file"].endswith("/mongodb-kubernetes/1.9.1/public/crds.yaml")
    names = {p.inputs["metadata"]["name"] for p in r.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert "allow-mongodb-kubernetes-webhook-in" in names


def test_rendered_operator_pod_is_restricted():
    pods = render_pods("mongodb-kubernetes-1.9.1", releases(claims_run("prod"))["mongodb-kubernetes"].inputs["values"])
    for pod in pods:
        assert_restricted_pod(pod)
    env = {e["name"]: e.get("value") for e in pods[0]["containers"][0]["env"]}
    assert env["WATCH_NAMESPACE"] == "database" and env["MDB_OPERATOR_TELEMETRY_SEND_ENABLED"] == "false"
