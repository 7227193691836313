"""Strimzi 1.2.0: CRDs from the release bundle, restricted pod security provider, no generated policies."""

from __future__ import annotations

from tests.components.platform.apps.data import assert_restricted_pod, claims_run, render_pods
from tests.components.platform.helpers import CONFIG_FILE, releases


def test_crds_from_the_release_and_chart_skips_them():
    r = claims_run("prod")
    bundle = next(x for x in r.of_type(CONFIG_FILE) if x.name == "strimzi-strimzi-crds")
    assert bundle.inputs["file"].endswith("/releases/download/1.2.0/strimzi-crds-1.2.0.yaml")
    rel = releases(r)["strimzi"]
    assert rel.inputs["skipCrds"] is True and rel.inputs["chart"] == "strimzi-kafka-operator"
    assert bundle.urn in rel.dependencies


def test_operands_use_the_restricted_provider():
    values = releases(claims_run("prod"))["strimzi"].inputs["values"]
    assert {"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"} in values["extraEnvs"]
    assert values["generateNetworkPolicy"] is False and values["watchAnyNamespace"] is False


def test_rendered_operator_pod_is_restricted():
    for pod in render_pods("strimzi-kafka-operator-1.2.0", releases(claims_run("prod"))["strimzi"].inputs["values"]):
        assert_restricted_pod(pod)
