"""PostgreSQL (database): the CNPG `Cluster` `postgresql` serving every `Database` claim.

- 3 instances in prod (primary + 2 hot standbys, streaming replication managed by the operator; no
  replication password at all: standbys authenticate with operator-issued client certificates), 1 in
  dev; required pod anti-affinity; PostgreSQL 17;
- TLS required: the server CA is ours (pulumi-tls, `postgresql-server-ca`, the operator issues and
  rotates the server certificate from it), so each client Secret carries `ca.crt` and connects with
  `sslmode=verify-full`; pg_hba rejects every non-TLS connection;
- no network superuser (policy K-49): `postgres` is local-only; a generated `coprs_admin` role
  (CREATEDB, CREATEROLE, pg_monitor; `postgresql-admin`, protected, stack output); per claim a login role and a
  declarative `Database` (owner = role, kept on deletion), the role's password in `postgresql-role-<name>`
  and the connection Secret in the consumer's namespace (claims.py);
- WAL archiving and daily base backups through the Barman Cloud plugin to `<prefix>-backups/postgresql`
  (credentials: the storage layer's `postgresql-backup-s3-credentials`), retention from
  `settings.backupRetentionDays`; PodMonitor when the monitoring stack runs.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field, field_validator

from ...config import NAMESPACE as CONFIG_NS, ConfigError
from ...storage.backups import DEFAULT_RETENTION_DAYS, DEFAULT_SCHEDULE, Backup
from ..app import App, AppContext, AppSettings, Bucket
from ..claims import (POSTGRESQL, POSTGRESQL_HOST, POSTGRESQL_NAMESPACE, POSTGRESQL_PODS, POSTGRESQL_PORT, Database,
                      claimed, serve)
from ..datastore import (InternalCa, credentials, password, restricted_container, restricted_pod, secret,
                         storage_gb)
from ..flows import WORLD, Flow, Port, pods
from ..placement import Resources
from .cloudnative_pg import CRDS, PLUGIN_CRDS, PLUGIN_NAME

API = f"{CRDS}/v1"
IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.8-standard-trixie"
ADMIN_ROLE = "coprs_admin"
ADMIN_SECRET = "postgresql-admin"
SERVER_CA_SECRET = "postgresql-server-ca"
BACKUP_CREDENTIALS = "postgresql-backup-s3-credentials"  # served by the storage layer (Bucket claim)
OBJECT_STORE = "postgresql-backups"
POSTGRES_UID = 26  # the postgres user of the CNPG images


class Settings(AppSettings):
    backup_retention_days: int = Field(DEFAULT_RETENTION_DAYS, ge=1, le=3650)
    # a pinned PostgreSQL operand image: registry/path with a tag other than `latest`, or a digest
    image: str = Field(IMAGE, pattern=r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$")

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if value.endswith(":latest"):
            raise ValueError("must be pinned: a tag other than latest, or a digest")
        return value


def _cron6(cron: str) -> str:
    """CNPG schedules carry a leading seconds field."""
    return f"0 {cron}"


def instances(cfg: Any) -> int:
    """3 in prod (primary + 2 standbys), 1 in dev, or `platform.apps.postgresql.replicas`."""
    replicas = cfg.platform.app(POSTGRESQL).replicas
    return replicas if replicas is not None else (3 if cfg.environment == "prod" else 1)


def cluster_spec(ctx: AppContext, roles: list[dict]) -> dict:
    count = instances(ctx.cfg)
    return {
        "instances": count,
        "imageName": ctx.settings.image,
        "primaryUpdateStrategy": "unsupervised",
        "enablePDB": count > 1,
        # The postgres superuser has no password: only local (peer) access through `kubectl cnpg psql` or
        # exec. Administration over the network uses the generated `coprs_admin` role (no SUPERUSER).
        "enableSuperuserAccess": False,
        "certificates": {"serverCASecret": SERVER_CA_SECRET},
        "postgresql": {
            "parameters": {"ssl_min_protocol_version": "TLSv1.3", "password_encryption": "scram-sha-256",
                           "log_connections": "on", "log_disconnections": "on"},
            # Appended after CNPG's own rules (local socket, streaming_replica by certificate).
            "pg_hba": ["hostssl all all all scram-sha-256", "hostnossl all all all reject"],
        },
        "bootstrap": {"initdb": {"database": "postgres_app", "owner": "postgres_app", "dataChecksums": True}},
        "managed": {"roles": roles},
        "storage": {"size": storage_gb(ctx, 30), "resizeInUseVolumes": True},
        "resources": ctx.resources("postgresql", Resources("50m", "512Mi", "250m", "2Gi")).render(),
        "affinity": {
            "enablePodAntiAffinity": True,
            "podAntiAffinityType": "required" if ctx.prod else "preferred",
            "topologyKey": "kubernetes.io/hostname",
            "nodeAffinity": ctx.affinity()["nodeAffinity"],
        },
        "podSecurityContext": restricted_pod(POSTGRES_UID),
        "securityContext": restricted_container(readOnlyRootFilesystem=True),
        "seccompProfile": {"type": "RuntimeDefault"},
        "plugins": [{"name": PLUGIN_NAME, "enabled": True, "isWALArchiver": True,
                     "parameters": {"barmanObjectName": OBJECT_STORE}}],
    }


def object_store_spec(ctx: AppContext) -> dict:
    store = ctx.cfg.object_storage
    if store is None:
        raise ConfigError([f"{CONFIG_NS}:objectStorage is required while platform.apps.postgresql is enabled "
                           "(WAL archives and base backups go to its backups bucket)"])
    ref = lambda key: {"name": BACKUP_CREDENTIALS, "key": key}  # noqa: E731
    return {
        "retentionPolicy": f"{ctx.settings.backup_retention_days}d",
        "configuration": {
            "destinationPath": f"s3://{store.bucket('backups')}/{POSTGRESQL}",
            "endpointURL": store.endpoint.rstrip("/"),
            "s3Credentials": {"accessKeyId": ref("AWS_ACCESS_KEY_ID"), "secretAccessKey": ref("AWS_SECRET_ACCESS_KEY")},
            "wal": {"compression": "gzip", "maxParallel": 4},
            "data": {"compression": "gzip"},
        },
        "instanceSidecarConfiguration": {
            "resources": ctx.resources("barmanSidecar", Resources("10m", "64Mi", memory_limit="512Mi")).render(),
        },
    }


def _connection(name: str, pw: pulumi.Output[str], ca_pem: pulumi.Output[str]) -> dict:
    """The keys of a Database claim's Secret (see `claims.Database`)."""
    db = f"{POSTGRESQL_HOST}:{POSTGRESQL_PORT}/{name}"
    return {
        "host": POSTGRESQL_HOST, "port": str(POSTGRESQL_PORT), "dbname": name, "user": name, "password": pw,
        "uri": pulumi.Output.concat(f"postgresql://{name}:", pw, f"@{db}?sslmode=verify-full"),
        "jdbc-uri": f"jdbc:postgresql://{db}?sslmode=verify-full",
        "ca.crt": ca_pem,
    }


def objects(ctx: AppContext) -> None:
    ca = InternalCa(ctx, "server", "coprs PostgreSQL server CA")
    ca_secret = secret(ctx, SERVER_CA_SECRET, {"ca.crt": ca.cert_pem, "ca.key": ca.key_pem})
    admin = password(ctx, ADMIN_SECRET, protect=True)
    admin_secret = secret(ctx, ADMIN_SECRET, {"username": ADMIN_ROLE, "password": admin},
                          type_="kubernetes.io/basic-auth", labels={"cnpg.io/reload": "true"})
    credentials(ctx, ADMIN_SECRET, {"username": ADMIN_ROLE, "password": admin, "host": POSTGRESQL_HOST})

    consumers = claimed(ctx, Database)
    names = sorted({c.name for _, c in consumers})
    passwords, role_secrets = {}, []
    for name in names:
        passwords[name] = password(ctx, f"role-{name}")
        role_secrets.append(secret(ctx, f"postgresql-role-{name}", {"username": name, "password": passwords[name]},
                                   type_="kubernetes.io/basic-auth", labels={"cnpg.io/reload": "true"}))
    roles = [{"name": ADMIN_ROLE, "ensure": "present", "login": True, "createdb": True, "createrole": True,
              "inRoles": ["pg_monitor", "pg_signal_backend"], "passwordSecret": {"name": ADMIN_SECRET},
              "comment": "coprs administrator (not a superuser)"}]
    roles += [{"name": n, "ensure": "present", "login": True, "inherit": True, "connectionLimit": -1,
              "passwordSecret": {"name": f"postgresql-role-{n}"}, "comment": "coprs app role"} for n in names]

    store = ctx.custom_resource(OBJECT_STORE, f"{PLUGIN_CRDS}/v1", "ObjectStore", object_store_spec(ctx))
    cluster = ctx.custom_resource(POSTGRESQL, API, "Cluster", cluster_spec(ctx, roles),
                                  depends_on=(ca_secret, admin_secret, store, *role_secrets))
    databases = {
        n: ctx.custom_resource(f"{POSTGRESQL}-{n}", API, "Database",
                               {"name": n, "owner": n, "cluster": {"name": POSTGRESQL}, "ensure": "present",
                                "databaseReclaimPolicy": "retain"}, depends_on=(cluster,))
        for n in names
    }
    for consumer, claim in consumers:
        serve(ctx, consumer, claim, _connection(claim.name, passwords[claim.name], ca.cert_pem),
              depends_on=(databases[claim.name],))

    ctx.custom_resource(POSTGRESQL, API, "ScheduledBackup", {
        "cluster": {"name": POSTGRESQL},
        "schedule": _cron6(DEFAULT_SCHEDULE),
        "method": "plugin",
        "pluginConfiguration": {"name": PLUGIN_NAME},
        "backupOwnerReference": "self",
        "target": "prefer-standby",
        "immediate": True,
    }, depends_on=(cluster,))
    ctx.monitor(POSTGRESQL, POSTGRESQL_PODS, {"port": "metrics", "interval": "2m"})


APP = App(
    name=POSTGRESQL,
    namespace=POSTGRESQL_NAMESPACE,
    roles=("database",),
    claims=(Bucket(suffix="backups", secret=BACKUP_CREDENTIALS, format="aws-env"),),
    stateful=True,
    backups=(Backup(method="cnpg-barman", restore="Cluster bootstrapped with recovery from the ObjectStore "
                    "postgresql-backups; retention settings.backupRetentionDays (README: Restore)"),),
    backup_retention=lambda ctx: ctx.settings.backup_retention_days,
    flows=(
        Flow("postgresql-object-store", pods(POSTGRESQL_NAMESPACE, POSTGRESQL_PODS), WORLD, (Port(443),),
             "Barman Cloud → S3 (WAL archive, base backups)"),
    ),
    depends_on=("cloudnative-pg",),
    settings=Settings,
    objects=objects,
    description="PostgreSQL cluster (CNPG): Keycloak, SCDF and every Database claim",
)
