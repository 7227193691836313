"""cert-manager: pinned chart, internal CA and public issuer, the wildcard certificate, its webhook."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from tests.components.platform.helpers import (INFRA_AFFINITY, authorized_ports, pinned, platform_run, policy_names,
                                               releases)

CLUSTER_ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"


def test_pinned_chart_on_the_infra_nodes(any_stack):
    assert pinned(any_stack, "cert-manager") == ("https://charts.jetstack.io", "cert-manager", "v1.21.1", "infra")
    assert releases(any_stack)["cert-manager"].inputs["values"]["affinity"]["nodeAffinity"] == INFRA_AFFINITY


def test_wildcard_certificate_and_issuers(dev, prod):
    for r, issuer in ((dev, "internal-ca"), (prod, "public")):
        wildcard = next(c for c in r.of_type(CERTIFICATE) if c.inputs["metadata"]["name"] == "ingress-tls")
        spec = wildcard.inputs["spec"]
        assert wildcard.inputs["metadata"]["namespace"] == "networking"
        assert spec["dnsNames"] == [f"*.{r.config.domain}"] and spec["secretName"] == "ingress-tls"
        assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer}


def test_acme_dns_credentials_come_from_secret_config(prod):
    public = next(c for c in prod.of_type(CLUSTER_ISSUER) if c.inputs["metadata"]["name"] == "public")
    solver = public.inputs["spec"]["acme"]["solvers"][0]["dns01"]["rfc2136"]
    assert solver["tsigSecretSecretRef"] == {"name": "acme-dns-credentials", "key": "credentials"}
    (creds,) = [s for s in prod.of_type("kubernetes:core/v1:Secret") if s.inputs["metadata"]["name"] == "acme-dns-credentials"]
    assert creds.masked_inputs["stringData"] in ("[secret]", {"credentials": "[secret]"})
    assert creds.urn in public.dependencies
    # from config, not generated: not in the generated credentials output
    assert not any(k.startswith("cert-manager/") for k in prod.raw_outputs["credentials"])


def test_acme_issuer_needs_email_and_dns01():
    with pytest.raises(ConfigError, match=r"coprs:platform\.issuer: an ACME issuer needs email and dns01"):
        platform_run("dev", {"coprs:platform.issuer": {"type": "acme"}})


def test_the_webhook_is_reachable_from_the_api_server(dev):
    assert "allow-cert-manager-webhook-in" in policy_names(dev, "infra")
    assert 10250 in authorized_ports(dev, "infra")
