"""MongoDB (MCK replica set `mongodb`): members + arbiter, SCRAM + TLS, users per claim, Velero backup."""

from __future__ import annotations

from tests.components.platform.apps.data import (assert_no_literal_password, assert_restricted_pod, assert_schema_valid,
                                                 claims_run, one, secret)


def test_replica_set_shape_per_stack():
    prod = one(claims_run("prod"), "MongoDBCommunity", "mongodb")["spec"]
    assert (prod["members"], prod["arbiters"]) == (3, 1)
    pod = prod["statefulSet"]["spec"]["template"]["spec"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in pod["affinity"]["podAntiAffinity"]
    assert_restricted_pod(pod)
    dev = one(claims_run("dev"), "MongoDBCommunity", "mongodb")["spec"]
    assert (dev["members"], dev["arbiters"]) == (1, 0)


def test_authentication_and_tls_on_users_generated():
    r = claims_run("prod")
    spec = one(r, "MongoDBCommunity", "mongodb")["spec"]
    assert spec["security"]["authentication"]["modes"] == ["SCRAM"]
    # TLS on; Graylog's JVMs cannot be handed the CA, so they connect inside the mesh and mongod prefers TLS
    assert spec["security"]["tls"]["enabled"] is True and spec["security"]["tls"]["optional"] is True
    users = {u["name"]: u for u in spec["users"]}
    assert {"name": "readWrite", "db": "graylog"} in users["graylog"]["roles"]
    assert users["graylog"]["passwordSecretRef"] == {"name": "mongodb-user-graylog", "key": "password"}
    d = secret(r, "security", "mongodb-graylog").inputs["stringData"]
    assert d["uri"].startswith("mongodb://graylog:") and "tls=true" not in d["uri"] and "/graylog?replicaSet=mongodb" in d["uri"]
    assert d["ca.crt"]  # for clients that can use it
    cert = one(r, "Certificate", "mongodb-tls")["spec"]
    assert "*.mongodb-svc.database.svc.cluster.local" in cert["dnsNames"]


def test_cr_matches_the_mck_crd_and_holds_no_password():
    for stack in ("dev", "prod"):
        assert_schema_valid(claims_run(stack), ("MongoDBCommunity",))
        assert_no_literal_password(claims_run(stack), ("MongoDBCommunity",))


def test_volumes_backed_up_by_velero():
    schedule = one(claims_run("prod"), "Schedule", "backup-mongodb")["spec"]
    assert schedule["template"]["includedNamespaces"] == ["database"]
    assert schedule["template"]["labelSelector"] == {"matchLabels": {"app": "mongodb-svc"}}
    assert schedule["template"]["defaultVolumesToFsBackup"] is True



def test_a_client_without_tls_needs_the_mesh():
    import pytest

    from components.config import ConfigError
    from tests.components.platform.helpers import platform_run

    with pytest.raises(ConfigError, match="graylog reach MongoDB inside the mesh"):
        platform_run("dev", {"coprs:platform.apps.linkerd.enabled": False})

