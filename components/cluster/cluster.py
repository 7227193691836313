"""`coprs:cluster:Cluster`: the Kubernetes cluster the platform layer deploys to.

`mode: provision` bootstraps it with Kubespray from the cloud layer's VMs; `mode: existing` takes the
kubeconfig of a cluster made elsewhere, from the secret config `coprs:kubeconfig` or from another
stack's `kubeconfig` output (`cluster.kubeconfigFromStack`). Either way it exposes `provider`
(a Kubernetes provider with a stable `cluster_identifier`) and `kubeconfig` (secret).
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from ..config import NAMESPACE, ConfigError, StackConfig
from . import inventory as inv
from .kubespray import KubesprayArgs, KubesprayRun

__all__ = ["Cluster"]


def _api_access(cloud) -> pulumi.Output:
    if cloud.api_lb is None:
        return pulumi.Output.from_input(inv.ApiAccess())
    return pulumi.Output.all(cloud.api_lb.vip_address, cloud.api_lb.public_ip).apply(
        lambda a: inv.ApiAccess(vip=a[0], public_ip=a[1])
    )


class Cluster(pulumi.ComponentResource):
    def __init__(self, name: str, cfg: StackConfig, cloud=None, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("coprs:cluster:Cluster", name, None, opts)
        c = cfg.cluster
        self.kubespray: Optional[KubesprayRun] = None
        self.inventory: Optional[pulumi.Output[str]] = None
        self.inventory_files: Optional[pulumi.Output[dict]] = None
        if c.mode == "provision":
            if cloud is None:
                raise ConfigError([f"{NAMESPACE}:cluster.mode = 'provision' needs the cloud layer"])
            self.kubespray = KubesprayRun(
                "kubespray",
                KubesprayArgs(
                    cfg=cfg,
                    nodes=cloud.node_table,
                    api=_api_access(cloud),
                    api_endpoint=cloud.api_endpoint,
                    ssh_private_key=cloud.ssh_key.private_key_openssh,
                    workers=[n for n in cloud.nodes if n.role == "worker"],
                    first_control_plane=next(n for n in cloud.nodes if n.role == "control-plane"),
                    bastion=next((n for n in cloud.nodes if n.role == "bastion"), None),
                    depends_on=[*(d for n in cloud.nodes for d in n.depends), *cloud.lb_members],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            kubeconfig = self.kubespray.kubeconfig
            self.inventory_files = self.kubespray.files
            self.inventory = self.kubespray.files.apply(lambda f: f[inv.INVENTORY_FILE])
        elif c.kubeconfig_from_stack:
            ref = pulumi.StackReference(c.kubeconfig_from_stack, opts=pulumi.ResourceOptions(parent=self))
            kubeconfig = ref.require_output("kubeconfig")
        else:
            kubeconfig = pulumi.Config(NAMESPACE).get_secret("kubeconfig")
            if kubeconfig is None:
                raise ConfigError(
                    [
                        f"{NAMESPACE}:kubeconfig is required when cluster.mode is 'existing' without "
                        "cluster.kubeconfigFromStack (pulumi config set --secret coprs:kubeconfig < kubeconfig)"
                    ]
                )
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(kubeconfig)
        # Only a change of cluster_identifier replaces the provider: a rotated kubeconfig never does.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            cluster_identifier=f"{c.name}-{cfg.environment}",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "inventory": self.inventory})
