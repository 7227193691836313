"""ECK operator 3.5.0: pinned, manages the two ES namespaces, restricted, webhook authorized, metrics."""

from __future__ import annotations

from tests.components.platform.apps.data import assert_restricted_pod, claims_run, render_pods
from tests.components.platform.helpers import releases


def test_pinned_and_scoped():
    values = releases(claims_run("prod"))["eck-operator"].inputs["values"]
    assert values["managedNamespaces"] == ["database", "security"]
    assert values["installCRDs"] is True and values["telemetry"] == {"disabled": True}
    assert values["webhook"]["failurePolicy"] == "Fail"


def test_operator_reaches_the_clusters_and_the_api_server_reaches_its_webhook():
    r = claims_run("prod")
    names = {(p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]) for p in r.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert {("infra", "allow-eck-operator-webhook-in"), ("database", "allow-eck-elasticsearch-from-infra"),
            ("security", "allow-eck-elasticsearch-from-infra")} <= names


def test_rendered_operator_pod_is_restricted():
    for pod in render_pods("eck-operator-3.5.0", releases(claims_run("prod"))["eck-operator"].inputs["values"]):
        assert_restricted_pod(pod)
