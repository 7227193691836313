"""One node group: a server group and, per node, a pre-created port, an instance booting from a
volume, an optional raw data volume (Ceph OSD) and an optional floating IP.

Any combination (count, flavor, volume, floating IP, placement, labels, taints) is config, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from ..config import NodeGroupConfig, node_name, node_role
from . import user_data
from .floating_ips import FloatingIp


@dataclass
class Node:
    """What the cluster layer needs to know of a VM."""

    name: str
    group: str
    role: str
    private_ip: pulumi.Output[str]
    labels: dict[str, str]
    taints: list[str]
    instance: openstack.compute.Instance
    port: openstack.networking.Port
    public_ip: Optional[pulumi.Output[str]] = None
    depends: list[pulumi.Resource] = field(default_factory=list)


def kubespray_groups(group: str) -> list[str]:
    role = node_role(group)
    if role == "bastion":
        return ["bastion"]
    if role == "control-plane":
        return ["etcd", "kube_control_plane", "k8s_cluster"]
    return ["kube_node", "k8s_cluster", group]


@dataclass
class NodeGroupArgs:
    cluster_name: str
    group: str
    cfg: NodeGroupConfig
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    security_group_ids: list[pulumi.Input[str]]
    key_pair: pulumi.Input[str]
    ssh_user: str
    availability_zones: list[str]
    floating_ip_pool: str


class NodeGroup(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("coprs:cloud:NodeGroup", name, None, opts)
        cfg, group = args.cfg, args.group
        child = pulumi.ResourceOptions(parent=self)
        self.server_group = openstack.compute.ServerGroup(
            f"{name}-servers", name=f"{args.cluster_name}-{group}", policies=cfg.server_group_policy, opts=child
        )
        image = openstack.images.get_image_output(
            name=cfg.image, most_recent=True, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        role = node_role(group)
        self.nodes: list[Node] = []
        for i in range(cfg.count):
            self.nodes.append(self._node(args, image.id, role, i))
        self.register_outputs({"nodes": [n.name for n in self.nodes]})

    def _node(self, args: NodeGroupArgs, image_id: pulumi.Output[str], role: str, i: int) -> Node:
        cfg, group = args.cfg, args.group
        host = node_name(args.cluster_name, group, i)
        child = pulumi.ResourceOptions(parent=self)
        az = args.availability_zones[i % len(args.availability_zones)] if args.availability_zones else None
        port = openstack.networking.Port(
            f"{host}-port",
            name=f"{host}-port",
            network_id=args.network_id,
            admin_state_up=True,
            port_security_enabled=True,
            security_group_ids=args.security_group_ids,
            fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=args.subnet_id)],
            # Calico and kube-vip edit the allowed address pairs: never fight them.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["allowedAddressPairs"]),
        )
        instance = openstack.compute.Instance(
            host,
            name=host,
            flavor_name=cfg.flavor,
            key_pair=args.key_pair,
            availability_zone=az,
            networks=[openstack.compute.InstanceNetworkArgs(port=port.id)],
            block_devices=[
                openstack.compute.InstanceBlockDeviceArgs(
                    source_type="image",
                    uuid=image_id,
                    destination_type="volume",
                    volume_size=cfg.root_volume_gb,
                    volume_type=cfg.root_volume_type,
                    boot_index=0,
                    delete_on_termination=True,
                )
            ],
            scheduler_hints=[openstack.compute.InstanceSchedulerHintArgs(group=self.server_group.id)],
            metadata={
                "ssh_user": args.ssh_user,
                "kubespray_groups": ",".join(kubespray_groups(group)),
                "node_group": group,
                "use_access_ip": "0",
            },
            user_data=user_data.render(host, role, args.ssh_user),
            config_drive=True,
            stop_before_destroy=True,
            # Images are rebuilt regularly; a new image must not silently replace running nodes.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["blockDevices[0].uuid"]),
        )
        depends: list[pulumi.Resource] = [instance, port]
        if cfg.data_volume:
            volume = openstack.blockstorage.Volume(
                f"{host}-data",
                name=f"{host}-data",
                size=cfg.data_volume.size_gb,
                volume_type=cfg.data_volume.type,
                availability_zone=az,
                description=f"raw data volume of {host} (Ceph OSD); never formatted by the program",
                opts=pulumi.ResourceOptions(parent=self, protect=True),
            )
            attach = openstack.compute.VolumeAttach(
                f"{host}-data-attach", instance_id=instance.id, volume_id=volume.id, opts=child
            )
            depends.append(attach)
        public_ip = None
        if cfg.floating_ip:
            fip = FloatingIp(f"{host}-fip", args.floating_ip_pool, port.id, opts=child)
            public_ip = fip.address
            depends.append(fip)
        private_ip = port.all_fixed_ips.apply(lambda ips: ips[0])
        return Node(
            name=host,
            group=group,
            role=role,
            private_ip=private_ip,
            labels=dict(cfg.labels),
            taints=list(cfg.taints),
            instance=instance,
            port=port,
            public_ip=public_ip,
            depends=depends,
        )
