"""Thanos: the seed's retention, 30-minute blocks, dedup over the Prometheus replicas, ruler → Alertmanager."""

from __future__ import annotations

import pytest
import yaml

from components.config import ConfigError
from components.storage.storage import LIFECYCLES
from tests.components.platform.helpers import platform_run, releases


def _values(result):
    return releases(result)["thanos"].inputs["values"]


def test_compactor_keeps_the_seeds_retention(any_stack):
    v = _values(any_stack)
    args = v["compact"]["extraArgs"]
    assert {"--retention.resolution-raw=30d", "--retention.resolution-5m=120d", "--retention.resolution-1h=10y"} <= set(args)
    assert v["compact"]["enabled"] is True and v["compact"]["persistence"]["storageClass"] == "ceph-block"
    # The bucket never drops current objects before the compactor does.
    assert LIFECYCLES["thanos"].expiration_days is None


def test_query_deduplicates_the_replicas_and_reads_the_sidecars(any_stack):
    v = _values(any_stack)
    assert v["additionalReplicaLabels"] == ["prometheus_replica"]
    assert v["additionalEndpoints"] == ["dnssrv+_grpc._tcp.kube-prometheus-stack-thanos-discovery.monitoring.svc.cluster.local"]
    assert v["objstoreConfig"] == {"create": False, "name": "thanos-objstore", "key": "objstore.yml"}
    assert "--web.external-prefix=/thanos" in v["query"]["extraArgs"]


def test_ruler_sends_to_every_alertmanager_and_rules_have_runbooks(any_stack):
    rule = _values(any_stack)["rule"]
    am = yaml.safe_load(rule["alertmanagersConfig"]["value"])["alertmanagers"][0]
    assert am["static_configs"] == ["dnssrv+_http-web._tcp.alertmanager-operated.monitoring.svc.cluster.local"]
    assert am["path_prefix"] == "/alertmanager"
    groups = yaml.safe_load(rule["rules"]["value"])["groups"]
    alerts = [r for g in groups for r in g["rules"]]
    assert alerts and all(r["annotations"]["runbook"] and r["labels"]["severity"] for r in alerts)
    assert rule["configReloader"] == {"enabled": False} and rule["podAnnotations"]["checksum/rules"]


def test_retention_is_configurable_and_checked():
    r = platform_run("dev", {"coprs:platform.apps.thanos.settings": {"retention1h": "0d"}})
    assert "--retention.resolution-1h=0d" in releases(r)["thanos"].inputs["values"]["compact"]["extraArgs"]  # forever
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.thanos\.settings\.retention5m = '7d': shorter than retentionRaw"):
        platform_run("dev", {"coprs:platform.apps.thanos.settings": {"retention5m": "7d"}})
