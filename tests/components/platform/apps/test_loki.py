"""Loki: distributed on the Loki bucket, keys from the storage layer's Secret, compactor retention from config."""

from __future__ import annotations

from tests.components.platform.helpers import platform_run, releases


def _values(result):
    return releases(result)["loki"].inputs["values"]


def test_distributed_components_with_ha_in_prod(prod, dev):
    v = _values(prod)
    assert v["deploymentMode"] == "Distributed"
    for c in ("distributor", "ingester", "querier"):
        assert v[c]["replicas"] == 3, c
    assert v["queryFrontend"]["replicas"] == 2 and v["compactor"]["replicas"] == 1
    assert all(v[c]["replicas"] == 0 for c in ("singleBinary", "read", "write", "backend"))
    assert v["loki"]["commonConfig"]["replication_factor"] == 3
    assert _values(dev)["loki"]["commonConfig"]["replication_factor"] == 1
    claim = v["ingester"]["persistence"]["claims"][0]
    assert (claim["storageClass"], claim["size"]) == ("ceph-block", "250Gi")


def test_storage_is_the_loki_bucket_with_keys_from_the_environment(any_stack):
    v = _values(any_stack)
    st = v["loki"]["storage"]
    bucket = any_stack.outputs["buckets"]["loki"]
    assert st["bucketNames"] == {"chunks": bucket, "ruler": bucket, "admin": bucket}
    assert (st["s3"]["accessKeyId"], st["s3"]["secretAccessKey"]) == ("${AWS_ACCESS_KEY_ID}", "${AWS_SECRET_ACCESS_KEY}")
    assert st["s3"]["insecure"] is False and not st["s3"]["endpoint"].startswith("http")
    assert v["defaults"]["extraEnvFrom"] == [{"secretRef": {"name": "loki-s3-credentials"}}]
    assert v["loki"]["schemaConfig"]["configs"][0]["store"] == "tsdb"


def test_retention_defaults_to_60_days_and_follows_config(any_stack):
    v = _values(any_stack)
    assert v["loki"]["limits_config"]["retention_period"] == "1440h"
    assert v["loki"]["compactor"]["retention_enabled"] is True
    r = platform_run("dev", {"coprs:platform.apps.loki.settings": {"retentionDays": 90}})
    assert _values(r)["loki"]["limits_config"]["retention_period"] == "2160h"


def test_multi_tenant_and_no_unauthenticated_pushers(any_stack):
    v = _values(any_stack)
    assert v["loki"]["auth_enabled"] is True
    assert v["lokiCanary"]["enabled"] is False and v["gateway"]["enabled"] is False


def test_only_the_writers_identities_reach_the_push_api(any_stack):
    by_kind = {}
    for r in any_stack.resources:
        if r.type.startswith("kubernetes:policy.linkerd.io/") and r.inputs.get("metadata", {}).get("namespace") == "logging":
            by_kind[(r.type.rsplit(":", 1)[1], r.inputs["metadata"]["name"])] = r.inputs["spec"]
    server = by_kind[("Server", "loki-distributor-http")]
    assert server["port"] == 3100 and server["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "distributor"
    refs = by_kind[("MeshTLSAuthentication", "loki-writers")]["identityRefs"]
    assert {(x["name"], x["namespace"]) for x in refs} == {("fluent-bit", "logging"), ("kube-prometheus-stack-prometheus", "monitoring")}
    policy = by_kind[("AuthorizationPolicy", "loki-distributor-http")]
    assert policy["requiredAuthenticationRefs"] == [{"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication",
                                                     "name": "loki-writers"}]
