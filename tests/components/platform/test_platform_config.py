"""Platform config keys give one-line errors naming the key."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from offline.harness import load_stack_input, validate


def _check(overrides: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as err:
        validate(load_stack_input("dev", overrides))
    assert "\n" not in str(err.value)


def test_quota_quantities_are_checked():
    _check({"coprs:platform.namespaces.infra.quota.requestsCpu": "lots"},
           r"coprs:platform\.namespaces\.infra\.quota\.requestsCpu = 'lots'")
    _check({"coprs:platform.namespaces.infra.quota.limitsCpu": "4"},
           r"coprs:platform\.namespaces\.infra\.quota\.limitsCpu is not a known key")


def test_network_keys_are_checked():
    _check({"coprs:platform.clusterHostCidrs": ["10.0.0.1/8"]}, r"coprs:platform\.clusterHostCidrs")
    _check({"coprs:platform.nodeLocalDns": "nowhere"}, r"coprs:platform\.nodeLocalDns")


def test_issuer_keys_are_checked():
    _check({"coprs:platform.issuer": {"type": "acme", "email": "ops@example.org",
                                      "dns01": {"provider": "designate"}}},
           r"coprs:platform\.issuer\.dns01\.provider")
    _check({"coprs:platform.issuer": {"type": "acme", "email": "ops@example.org", "server": "http://acme"}},
           r"coprs:platform\.issuer\.server")


def test_a_valid_acme_issuer_passes():
    cfg = validate(load_stack_input("dev", {"coprs:platform.issuer": {
        "type": "acme", "email": "ops@example.org", "dns01": {"provider": "cloudflare", "settings": {}}}}))
    assert cfg.platform.issuer.dns01.provider == "cloudflare"
