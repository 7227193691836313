"""PostgreSQL (CNPG Cluster `postgresql`): replicas, anti-affinity, TLS, roles and databases per claim, backups."""

from __future__ import annotations

from types import SimpleNamespace

from components.platform.apps.postgresql import APP, Settings, object_store_spec
from components.platform.claims import POSTGRESQL_HOST
from components.storage.backups import missing_backups
from tests.components.platform.apps.data import (assert_no_literal_password, assert_schema_valid, claims_run, of_kind,
                                                 one, secret, variant_run)
from tests.components.platform.helpers import ancestors, manifest

KINDS = ("Cluster", "Database", "ScheduledBackup", "ObjectStore")


def test_cluster_shape_per_stack():
    for stack, instances, anti in (("dev", 1, "preferred"), ("prod", 3, "required")):
        spec = one(claims_run(stack), "Cluster", "postgresql")["spec"]
        assert spec["instances"] == instances
        assert spec["affinity"]["podAntiAffinityType"] == anti and spec["affinity"]["enablePodAntiAffinity"]
        assert spec["affinity"]["nodeAffinity"]


def test_tls_required_and_no_network_superuser():
    spec = one(claims_run("prod"), "Cluster", "postgresql")["spec"]
    assert spec["enableSuperuserAccess"] is False
    assert spec["postgresql"]["pg_hba"][-1] == "hostnossl all all all reject"
    assert not any("trust" in line for line in spec["postgresql"]["pg_hba"])
    assert spec["certificates"] == {"serverCASecret": "postgresql-server-ca"}
    assert spec["podSecurityContext"]["runAsNonRoot"] and spec["securityContext"]["allowPrivilegeEscalation"] is False


def test_every_database_claim_gets_role_database_and_secret_in_its_namespace():
    r = claims_run("prod")
    spec = one(r, "Cluster", "postgresql")["spec"]
    roles = {x["name"]: x for x in spec["managed"]["roles"]}
    for name, ns in (("keycloak", "iam"), ("dataflow", "processing"), ("skipper", "processing")):
        assert roles[name]["login"] and roles[name]["passwordSecret"] == {"name": f"postgresql-role-{name}"}
        assert not roles[name].get("superuser")
        db = one(r, "Database", f"postgresql-{name}")["spec"]
        assert (db["name"], db["owner"], db["cluster"], db["databaseReclaimPolicy"]) == (name, name, {"name": "postgresql"}, "retain")
        s = secret(r, ns, f"{name}-postgresql")
        data = s.inputs["stringData"]
        assert set(data) == {"host", "port", "dbname", "user", "password", "uri", "jdbc-uri", "ca.crt"}
        assert data["host"] == POSTGRESQL_HOST and data["port"] == "5432" and "sslmode=verify-full" in data["uri"]
        assert data["password"] not in data["jdbc-uri"]
        assert s.masked_inputs["stringData"] == "[secret]"
        database = next(x for x in of_kind(r, "Database") if x.inputs["metadata"]["name"] == f"postgresql-{name}")
        assert database.urn in ancestors(r, s)
    assert roles["coprs_admin"]["createrole"] and not roles["coprs_admin"].get("superuser")


def test_crs_match_the_cnpg_crds_and_hold_no_password():
    for stack in ("dev", "prod"):
        r = claims_run(stack)
        assert assert_schema_valid(r, KINDS) >= 6
        assert_no_literal_password(r, KINDS)


def test_backup_retention_comes_from_config(prod):
    ctx = SimpleNamespace(cfg=prod.config, settings=Settings(backupRetentionDays=14),
                          resources=lambda name, default: default, app=APP)
    store = object_store_spec(ctx)
    assert store["retentionPolicy"] == "14d"
    assert store["configuration"]["endpointURL"] == prod.config.object_storage.endpoint.rstrip("/")


def test_wal_archiving_and_daily_backups_to_the_backups_bucket():
    r = claims_run("prod")
    store = one(r, "ObjectStore", "postgresql-backups")["spec"]
    assert store["configuration"]["destinationPath"] == f"s3://{r.config.object_storage.bucket_prefix}-backups/postgresql"
    assert store["retentionPolicy"] == "30d"
    plugin = one(r, "Cluster", "postgresql")["spec"]["plugins"][0]
    assert plugin["isWALArchiver"] and plugin["parameters"] == {"barmanObjectName": "postgresql-backups"}
    backup = one(r, "ScheduledBackup", "postgresql")["spec"]
    assert backup["method"] == "plugin" and backup["schedule"] == "0 0 4 * * *"
    record = one(r, "ConfigMap", "backup-postgresql")
    assert record["data"]["retentionDays"] == "30" and record["data"]["method"] == "cnpg-barman"


def test_every_stateful_data_service_declares_its_backup():
    for stack in ("dev", "prod"):
        assert missing_backups(claims_run(stack).resources) == []


def test_disabling_postgresql_disables_its_claimants():
    r = variant_run()
    off = r.outputs["platform"]["disabledApps"]
    assert off["keycloak"] == "needs database" and off["scdf"] == "needs database"
    assert "graylog" not in off and not of_kind(r, "Cluster", "postgresql.cnpg.io")


def test_clients_reach_postgresql_and_nothing_else():
    r = claims_run("prod")
    policies = {(p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): manifest(p)["spec"]
                for p in of_kind(r, "NetworkPolicy")}
    from components.platform.apps.keycloak import PODS as KEYCLOAK_PODS
    from components.platform.apps.scdf import SKIPPER_PODS

    ingress = policies[("database", "allow-postgresql-client-keycloak-postgresql-from-iam")]
    assert ingress["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "postgresql"}}
    assert {p["port"] for p in ingress["ingress"][0]["ports"]} == {5432, 4143}
    assert ingress["ingress"][0]["from"][0]["podSelector"] == {"matchLabels": KEYCLOAK_PODS}  # Keycloak's pods only
    assert ("iam", "allow-postgresql-client-keycloak-postgresql-to-database") in policies
    skipper = policies[("database", "allow-postgresql-client-skipper-postgresql-from-processing")]
    assert skipper["ingress"][0]["from"][0]["podSelector"] == {"matchLabels": SKIPPER_PODS}
    # nothing else of the database namespace's clients reaches PostgreSQL: one policy per claim
    clients = {n for ns, n in policies if ns == "database" and n.startswith("allow-postgresql-client-")}
    assert clients == {f"allow-postgresql-client-{d}-postgresql-from-{ns}" for d, ns in
                       (("keycloak", "iam"), ("dataflow", "processing"), ("skipper", "processing"),
                        ("grafana", "monitoring"))}


def test_admin_credentials_are_secret_stack_outputs(prod):
    assert prod.outputs["credentials"] == "[secret]"
    creds = prod.raw_outputs["credentials"]
    for key in ("postgresql/postgresql-admin", "kafka/kafka-user-coprs-admin", "mongodb/mongodb-user-coprs-admin",
                "elasticsearch-processing/elasticsearch-processing-user-operator",
                "elasticsearch-security/elasticsearch-security-user-operator"):
        assert creds[key]["password"], key


def test_claims_check_their_names_and_default_their_secrets():
    import pytest

    from components.platform.claims import Database, ElasticsearchUser, KafkaAccess, MongoUser

    assert Database("keycloak").secret == "keycloak-postgresql"
    assert KafkaAccess("fluent-bit").secret == "kafka-fluent-bit"
    assert MongoUser("graylog", "graylog").secret == "mongodb-graylog"
    assert ElasticsearchUser.security("graylog").role == "elasticsearch-security"
    assert Database("dataflow", secret="scdf-db").secret == "scdf-db"
    for bad in (lambda: Database("Key-Cloak"), lambda: Database("postgres"), lambda: KafkaAccess("Fluent_Bit"),
                lambda: MongoUser("a b", "x"), lambda: Database("ok", secret="Bad_Secret")):
        with pytest.raises(ValueError, match="must be|reserved"):
            bad()


def test_the_operand_image_must_be_pinned():
    import pytest

    from components.config import ConfigError
    from tests.components.platform.helpers import platform_run

    with pytest.raises(ConfigError, match=r"platform\.apps\.postgresql\.settings\.image.*pinned"):
        platform_run("dev", {"coprs:platform.apps.postgresql.settings": {"image": "ghcr.io/cloudnative-pg/postgresql:latest"}})
