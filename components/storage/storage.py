"""`coprs:storage:Storage`: the platform's buckets (architecture §6) and their consumers' credentials.

The five buckets are created and verified here, never by the apps (restic-style tools must not create
buckets). The storage layer is built before the platform and serves its object-storage claims: for each
app that declares a `Bucket` claim, one Secret in the app's namespace with the credentials in the format
the app reads (`FORMATS`), so the apps only reference a Secret name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s
import yaml

from ..config import BUCKETS, ObjectStorageConfig
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

# The credential formats an app can ask for in its `Bucket` claim.
FORMATS: dict[str, Render] = {
    "thanos-objstore": thanos_objstore,
    "aws-env": aws_environment,
    "eck-keystore": elasticsearch_keystore,
    "aws-credentials-file": aws_credentials_file,
}


class Storage(pulumi.ComponentResource):
    """The five buckets; given a Kubernetes provider, `credentials_secret` serves each app's bucket claim."""

    def __init__(
        self,
        name: str,
        cfg: ObjectStorageConfig,
        credentials: pulumi.Output[Credentials],
        k8s_provider: Optional[pulumi.ProviderResource] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("coprs:storage:Storage", name, None, opts)
        self.store = Store(cfg.endpoint.rstrip("/"), cfg.region, cfg.addressing_style, cfg.verify_tls)
        self.buckets: dict[str, Bucket] = {
            suffix: Bucket(
                f"bucket-{suffix}",
                BucketArgs(
                    bucket=cfg.bucket(suffix),
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
        self.bucket_names: dict[str, str] = {suffix: cfg.bucket(suffix) for suffix in BUCKETS}
        self.credentials = credentials
        self.k8s_provider = k8s_provider
        self.secrets: dict[tuple[str, str], k8s.core.v1.Secret] = {}
        self.register_outputs({"buckets": self.bucket_names, "endpoint": self.store.endpoint})

    def credentials_secret(self, app: str, namespace: str, name: str, suffix: str, format: str,
                           depends_on: Sequence[pulumi.Resource] = ()) -> k8s.core.v1.Secret:
        """The Secret `namespace/name` holding the credentials of bucket `suffix` for `app`, in `format`."""
        if self.k8s_provider is None:
            raise RuntimeError("the storage layer serves credentials only with the cluster's Kubernetes provider")
        if suffix not in self.buckets:
            raise ValueError(f"app {app} claims bucket {suffix!r}; the buckets are {', '.join(BUCKETS)}")
        if format not in FORMATS:
            raise ValueError(f"app {app} asks for object-storage credentials as {format!r}; formats: {', '.join(FORMATS)}")
        render, bucket = FORMATS[format], self.buckets[suffix]
        data = pulumi.Output.secret(self.credentials.apply(lambda c: render(self.store, bucket.args.bucket, c)))
        secret = k8s.core.v1.Secret(
            f"{namespace}-{name}",
            metadata={
                "name": name,
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/part-of": "coprs",
                    "app.kubernetes.io/component": "object-storage-credentials",
                    "coprs.esa.int/consumer": app,
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
                provider=self.k8s_provider,
                # The app must not start before its bucket exists (a restic-style tool would create it).
                depends_on=[bucket.resource, *depends_on],
            ),
        )
        self.secrets[(namespace, name)] = secret
        return secret


def credentials_from_config() -> pulumi.Output[Credentials]:
    """The object-store keys from secret config (coprs:s3AccessKey / coprs:s3SecretKey), as a secret."""
    conf = pulumi.Config("coprs")
    return pulumi.Output.all(conf.require_secret("s3AccessKey"), conf.require_secret("s3SecretKey")).apply(
        lambda keys: Credentials(*keys))

