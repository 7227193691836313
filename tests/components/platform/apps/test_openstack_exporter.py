"""Machine usage: the OpenStack exporter, opt-in with a read-only application credential, its secret never in clear."""

from __future__ import annotations

import kubernetes_validate
import pytest

from components.config import ConfigError
from tests.components.platform.helpers import manifest, platform_run

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ON = {"coprs:platform.apps.openstack-exporter.settings": {"applicationCredentialId": "0123456789abcdef0123"}}


def _of(result, kind, name):
    return next((r for r in result.of_type(kind) if r.inputs["metadata"]["name"] == name), None)


def test_nothing_without_an_application_credential(any_stack):
    assert _of(any_stack, DEPLOYMENT, "openstack-exporter") is None


def test_exporter_with_its_credential_from_secret_config():
    r = platform_run("prod", ON)
    d = _of(r, DEPLOYMENT, "openstack-exporter").inputs["spec"]["template"]["spec"]
    c = d["containers"][0]
    assert c["image"] == "ghcr.io/openstack-exporter/openstack-exporter:1.7.0"
    assert c["securityContext"]["runAsNonRoot"] and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert d["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    secret = _of(r, "kubernetes:core/v1:Secret", "openstack-exporter-clouds")
    assert secret.masked_inputs["stringData"] in ("[secret]", {"clouds.yaml": "[secret]"})
    for kind in (DEPLOYMENT, "kubernetes:core/v1:Service"):
        kubernetes_validate.validate(manifest(_of(r, kind, "openstack-exporter")), "1.35", strict=True)
    monitor = _of(r, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "openstack-exporter")
    assert monitor.inputs["spec"]["endpoints"][0]["interval"] == "5m"


def test_a_bad_credential_id_names_the_key():
    with pytest.raises(ConfigError, match=r"openstack-exporter\.settings\.applicationCredentialId"):
        platform_run("dev", {"coprs:platform.apps.openstack-exporter.settings": {"applicationCredentialId": "not hex!"}})
