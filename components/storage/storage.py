"""`coprs:storage:Storage`: the platform's buckets (architecture §6) and their consumers' credentials.

The five buckets are created and verified here, never by the apps (restic-style tools must not create
buckets). Each consumer namespace gets one Secret with the object-store credentials in the format its
app reads, so the apps only reference a Secret name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s
import yaml

from ..config import BUCKETS, ObjectStorageConfig
from .backups import VELERO_NAMESPACE
from .bucket import Bucket, BucketArgs, Lifecycle

# Days the backups bucket keeps a deleted or overwritten backup object: the default backup retention,
# so a backup deleted by mistake (or by an attacker with the key) can be recovered for as long as it
# would have been kept anyway.
BACKUP_RETENTION_DAYS = 30

# Per bucket: who writes it and what the store may drop on its own. The apps own current-object
# retention (Thanos and Loki compactors, Elasticsearch SLM, Velero TTL), so no bucket expires current
# objects; non-current versions are kept for a grace period only.
LIFECYCLES: dict[str, Lifecycle] = {
    "thanos": Lifecycle(noncurrent_version_expiration_days=7),
    "loki": Lifecycle(noncurrent_version_expiration_days=7),
    "es-processing": Lifecycle(noncurrent_version_expiration_days=30),
    "es-security": Lifecycle(noncurrent_version_expiration_days=30),
    "backups": Lifecycle(noncurrent_version_expiration_days=BACKUP_RETENTION_DAYS),
}


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class Store:
    """Where the buckets live, as each consumer needs to be told."""

    endpoint: str
    region: str
    addressing_style: str
    verify_tls: bool

    @property
    def host(self) -> str:
        """host[:port] without scheme (Thanos wants it so)."""
        return urlparse(self.endpoint).netloc

    @property
    def insecure(self) -> bool:
        return urlparse(self.endpoint).scheme == "http"


def thanos_objstore(store: Store, bucket: str, c: Credentials) -> dict[str, str]:
    """Thanos objstore.yml (thanos-io/objstore providers/s3: strict YAML, these keys only)."""
    config = {
        "bucket": bucket,
        "endpoint": store.host,
        "region": store.region,
        "access_key": c.access_key,
        "secret_key": c.secret_key,
        "insecure": store.insecure,
        "bucket_lookup_type": "path" if store.addressing_style == "path" else "virtual-hosted",
    }
    if not store.verify_tls:
        config["http_config"] = {"insecure_skip_verify": True}
    return {"objstore.yml": yaml.safe_dump({"type": "S3", "config": config}, sort_keys=False)}


def aws_environment(store: Store, bucket: str, c: Credentials) -> dict[str, str]:
    """AWS SDK environment variables (Loki with -config.expand-env, CNPG Barman's s3Credentials keys)."""
    return {"AWS_ACCESS_KEY_ID": c.access_key, "AWS_SECRET_ACCESS_KEY": c.secret_key}


def elasticsearch_keystore(store: Store, bucket: str, c: Credentials) -> dict[str, str]:
    """ECK `spec.secureSettings`: every key becomes an Elasticsearch keystore entry."""
    return {"s3.client.default.access_key": c.access_key, "s3.client.default.secret_key": c.secret_key}


def aws_credentials_file(store: Store, bucket: str, c: Credentials) -> dict[str, str]:
    """Velero `credentials.existingSecret`: key `cloud`, an AWS shared-credentials file."""
    return {"cloud": f"[default]\naws_access_key_id={c.access_key}\naws_secret_access_key={c.secret_key}\n"}


Render = Callable[[Store, str, Credentials], dict[str, str]]


@dataclass(frozen=True)
class Consumer:
    namespace: str
    secret: str
    bucket: str  # suffix
    render: Render
    app: str


VELERO_CREDENTIALS = "velero-s3-credentials"

CONSUMERS: tuple[Consumer, ...] = (
    Consumer("monitoring", "thanos-objstore", "thanos", thanos_objstore, "thanos"),
    Consumer("logging", "loki-s3-credentials", "loki", aws_environment, "loki"),
    Consumer("database", "es-processing-s3-keystore", "es-processing", elasticsearch_keystore, "elasticsearch-processing"),
    Consumer("security", "es-security-s3-keystore", "es-security", elasticsearch_keystore, "elasticsearch-security"),
    Consumer(VELERO_NAMESPACE, VELERO_CREDENTIALS, "backups", aws_credentials_file, "velero"),
    Consumer("database", "postgresql-backup-s3-credentials", "backups", aws_environment, "postgresql"),
)


def bucket_name(cfg: ObjectStorageConfig, suffix: str) -> str:
    return f"{cfg.bucket_prefix}-{suffix}"


class Storage(pulumi.ComponentResource):
    """The five buckets, and (given a Kubernetes provider) one credentials Secret per consumer."""

    def __init__(
        self,
        name: str,
        cfg: ObjectStorageConfig,
        credentials: pulumi.Output[Credentials],
        k8s_provider: Optional[pulumi.ProviderResource] = None,
        namespaces: Optional[Mapping[str, pulumi.Resource]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("coprs:storage:Storage", name, None, opts)
        self.store = Store(cfg.endpoint.rstrip("/"), cfg.region, cfg.addressing_style, cfg.verify_tls)
        self.buckets: dict[str, Bucket] = {
            suffix: Bucket(
                f"bucket-{suffix}",
                BucketArgs(
                    bucket=bucket_name(cfg, suffix),
                    endpoint=self.store.endpoint,
                    region=cfg.region,
                    lifecycle=LIFECYCLES[suffix],
                    force_destroy=suffix in cfg.force_destroy,
                    addressing_style=cfg.addressing_style,
                    verify_tls=cfg.verify_tls,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for suffix in BUCKETS
        }
        self.bucket_names: dict[str, str] = {suffix: bucket_name(cfg, suffix) for suffix in BUCKETS}
        self.secrets: dict[tuple[str, str], k8s.core.v1.Secret] = {}
        if k8s_provider is not None:
            for consumer in CONSUMERS:
                self.secrets[(consumer.namespace, consumer.secret)] = self._secret(
                    consumer, credentials, k8s_provider, (namespaces or {}).get(consumer.namespace))
        self.register_outputs({"buckets": self.bucket_names, "endpoint": self.store.endpoint})

    def _secret(self, consumer: Consumer, credentials: pulumi.Output[Credentials],
                provider: pulumi.ProviderResource, namespace: Optional[pulumi.Resource]) -> k8s.core.v1.Secret:
        bucket = self.buckets[consumer.bucket]
        data = pulumi.Output.secret(credentials.apply(
            lambda c: consumer.render(self.store, bucket.args.bucket, c)))
        return k8s.core.v1.Secret(
            f"{consumer.namespace}-{consumer.secret}",
            metadata={
                "name": consumer.secret,
                "namespace": consumer.namespace,
                "labels": {
                    "app.kubernetes.io/part-of": "coprs",
                    "app.kubernetes.io/component": "object-storage-credentials",
                    "coprs.esa.int/consumer": consumer.app,
                },
                "annotations": {
                    "coprs.esa.int/bucket": bucket.args.bucket,
                    "coprs.esa.int/endpoint": self.store.endpoint,
                },
            },
            type="Opaque",
            string_data=data,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                # The app must not start before its bucket exists (a restic-style tool would create it).
                depends_on=[bucket.resource] + ([namespace] if namespace is not None else []),
            ),
        )


def credentials_from_config() -> pulumi.Output[Credentials]:
    """The object-store keys from secret config (coprs:s3AccessKey / coprs:s3SecretKey), as a secret."""
    conf = pulumi.Config("coprs")
    return pulumi.Output.all(conf.require_secret("s3AccessKey"), conf.require_secret("s3SecretKey")).apply(
        lambda keys: Credentials(*keys))

