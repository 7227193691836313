"""The whole program, as a function of the validated config: config → cloud → cluster → storage → platform."""

from __future__ import annotations

from typing import Any

import pulumi

from .cloud import Cloud
from .cluster import Cluster
from .config import StackConfig
from .platform import Platform
from .platform.app import App
from .platform.apps import APPS
from .platform.platform import layer_roles
from .platform.registry import select
from .storage.storage import Storage, credentials_from_config


def build(cfg: StackConfig, apps: tuple[App, ...] = APPS) -> dict[str, Any]:
    """Declare every layer; return the stack outputs (secrets already wrapped)."""
    # The platform's apps, settings and per-app checks first: a bad app config stops before any resource.
    registry = select(cfg, apps, layer_roles(cfg)) if cfg.platform.enabled else None
    outputs: dict[str, Any] = {"environment": cfg.environment, "domain": cfg.domain}
    cloud = Cloud("cloud", cfg) if cfg.provisions_cloud else None
    if cloud is not None:
        outputs["nodes"] = cloud.node_table
        outputs["bastionAddresses"] = cloud.bastion_addresses
        outputs["ingressAddress"] = cloud.ingress_address
        outputs["apiEndpoint"] = cloud.api_endpoint
        outputs["sshPrivateKey"] = pulumi.Output.secret(cloud.ssh_key.private_key_openssh)
    cluster = Cluster("cluster", cfg, cloud)
    outputs["kubeconfig"] = cluster.kubeconfig
    if cluster.inventory is not None and cluster.inventory_files is not None:
        outputs["inventory"] = cluster.inventory
        outputs["inventoryGroupVars"] = cluster.inventory_files.apply(
            lambda files: {path: text for path, text in files.items() if path.startswith("group_vars/")}
        )
    storage = None
    if cfg.object_storage is not None:
        storage = Storage("storage", cfg.object_storage, credentials_from_config(), k8s_provider=cluster.provider)
        outputs["objectStorageEndpoint"] = storage.store.endpoint
        outputs["buckets"] = storage.bucket_names
    if registry is not None:
        platform = Platform("platform", cfg, cluster.provider, storage=storage, registry=registry)
        outputs["platform"] = platform.summary
        outputs["urls"] = platform.urls
        outputs["credentials"] = platform.credentials
    return outputs
