"""Kubespray inventory (`hosts.yaml`) and `group_vars/` as pure functions of the node list and the config.

A node is plain data, as in `Cloud.node_table`: `{"name", "group", "role", "privateIp", "publicIp",
"labels", "taints"}`. Nothing here touches Pulumi, so it is unit-tested directly and the Pulumi
component calls it inside `Output.apply`. No secret ever goes into these files: the SSH key is given to
Ansible at run time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import yaml

from ..config import BASTION, CONTROL_PLANE, NODE_PREFIX, StackConfig, oidc_issuer

API_PORT = 6443
INVENTORY_FILE = "hosts.yaml"
# Kubespray's own group names (docs/ansible/inventory.md @ v2.31.0).
ETCD, KUBE_NODE, K8S_CLUSTER = "etcd", "kube_node", "k8s_cluster"

Node = Mapping[str, Any]


@dataclass(frozen=True)
class ApiAccess:
    """How clients reach the API servers: the load balancer VIP (and its public address), if any."""

    vip: Optional[str] = None
    public_ip: Optional[str] = None


def _bastion(nodes: Sequence[Node]) -> Optional[Node]:
    return next((n for n in nodes if n["role"] == "bastion"), None)


def _ssh_address(node: Node) -> str:
    return node.get("publicIp") or node["privateIp"]


def jump_args(bastion: Node, ssh_user: str) -> str:
    """SSH options that reach private nodes through the bastion.

    `ssh -W` is what ProxyJump does; the explicit ProxyCommand (Kubespray's own terraform/openstack
    form) also hands the jump hop the key and host-key options, which `-J` would not.
    """
    return (
        "-o ProxyCommand=\"ssh -W %h:%p -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        f"-p 22 {ssh_user}@{_ssh_address(bastion)}"
        "{% if ansible_ssh_private_key_file is defined %} -i {{ ansible_ssh_private_key_file }}{% endif %}\""
    )


def _host_vars(node: Node) -> dict[str, Any]:
    ip = node["privateIp"]
    # Nodes are reached, bound and addressed on their private IP (through the bastion).
    return {"ansible_host": ip, "ip": ip, "access_ip": ip}


def _group_vars(cfg: StackConfig, group: str) -> dict[str, Any]:
    g = cfg.node_groups.get(group)
    out: dict[str, Any] = {}
    if g is not None and g.labels:
        out["node_labels"] = dict(sorted(g.labels.items()))
    if g is not None and g.taints:
        out["node_taints"] = list(g.taints)
    return out


def inventory(nodes: Sequence[Node], cfg: StackConfig) -> dict[str, Any]:
    """The `hosts.yaml` document: Kubespray groups, one group per node group, bastion jump access."""
    ssh_user = cfg.cluster.ssh_user
    by_group: dict[str, list[Node]] = {}
    for n in nodes:
        by_group.setdefault(n["group"], []).append(n)
    children: dict[str, Any] = {}

    bastions = by_group.get(BASTION, [])
    if bastions:
        children[BASTION] = {"hosts": {n["name"]: {"ansible_host": _ssh_address(n)} for n in bastions}}

    cp_nodes = by_group.get(CONTROL_PLANE, [])
    cp: dict[str, Any] = {"hosts": {n["name"]: _host_vars(n) for n in cp_nodes}}
    if cp_vars := _group_vars(cfg, CONTROL_PLANE):
        cp["vars"] = cp_vars
    children[CONTROL_PLANE] = cp
    # etcd runs on the control plane (stacked), as in Kubespray's sample inventory.
    children[ETCD] = {"children": {CONTROL_PLANE: {}}}

    # Every configured worker group is declared, even when empty, so growing it later only adds hosts.
    worker_groups = [g for g in cfg.node_groups if g not in (BASTION, CONTROL_PLANE)]
    extra = sorted({n["group"] for n in nodes if n["role"] == "worker"} - set(worker_groups))
    for group in [*worker_groups, *extra]:
        entry: dict[str, Any] = {"hosts": {n["name"]: _host_vars(n) for n in by_group.get(group, [])}}
        if gvars := _group_vars(cfg, group):
            entry["vars"] = gvars
        children[group] = entry
    children[KUBE_NODE] = {"children": {g: {} for g in [*worker_groups, *extra]}}

    k8s: dict[str, Any] = {"children": {CONTROL_PLANE: {}, KUBE_NODE: {}}}
    if bastions:
        k8s["vars"] = {"ansible_ssh_common_args": jump_args(bastions[0], ssh_user)}
    children[K8S_CLUSTER] = k8s
    return {"all": {"children": children}}


def dns_records(nodes: Sequence[Node]) -> str:
    """/etc/hosts lines for CoreDNS and nodelocaldns: every node by name, on its private IP."""
    return "".join(f"{n['privateIp']} {n['name']}\n" for n in sorted(nodes, key=lambda n: n["name"]))


def group_vars(nodes: Sequence[Node], cfg: StackConfig, api: ApiAccess) -> dict[str, dict[str, Any]]:
    """`group_vars/<group>/<file>.yml` → variables: every Kubespray setting of architecture §4."""
    c = cfg.cluster
    net = cfg.network
    everyone: dict[str, Any] = {
        "ansible_user": c.ssh_user,
        "ansible_become": True,
    }
    if net is not None:
        everyone["upstream_dns_servers"] = list(net.dns_nameservers)
    if api.vip:
        # External LB mode: Kubespray treats it and the localhost LB as mutually exclusive
        # (docs/operations/ha-mode.md); with both, kubeadm's controlPlaneEndpoint becomes localhost.
        everyone["loadbalancer_apiserver_localhost"] = False
        everyone["loadbalancer_apiserver"] = {"address": api.vip, "port": API_PORT}
    else:
        everyone["loadbalancer_apiserver_localhost"] = True
        everyone["loadbalancer_apiserver_type"] = "nginx"
        everyone["loadbalancer_apiserver_port"] = API_PORT

    sans = [a for a in (api.vip, api.public_ip) if a]
    cluster: dict[str, Any] = {
        "kube_version": c.kubernetes_version,
        "container_manager": "containerd",
        "kube_network_plugin": "calico",
        "kube_pods_subnet": c.pod_cidr,
        "kube_service_addresses": c.service_cidr,
        "kube_network_node_prefix": NODE_PREFIX,  # the config checks the pod CIDR has a block per node
        "kube_apiserver_port": API_PORT,
        "supplementary_addresses_in_ssl_keys": [*sans, f"kube.{cfg.domain}"],
        # API audit log: kept audit_log_maxage days on every control-plane node.
        "kubernetes_audit": True,
        "audit_log_maxage": c.audit_log_max_age_days,
        "audit_log_maxbackups": 10,
        "audit_log_maxsize": 100,
        # Kubelet serving certificates signed by the cluster CA, approved by kubelet-csr-approver.
        "kubelet_rotate_server_certificates": True,
        "kubelet_csr_approver_enabled": True,
        "dns_mode": "coredns",
        "enable_nodelocaldns": True,
        "dns_etchosts": dns_records(nodes),
        # Pod Security Admission for every namespace; the platform labels namespaces that need more.
        "kube_pod_security_use_default": True,
        "kube_pod_security_default_enforce": "baseline",
        "kube_pod_security_default_audit": "restricted",
        "kube_pod_security_default_warn": "restricted",
        "kube_pod_security_exemptions_namespaces": ["kube-system"],
        "kubeconfig_localhost": False,
    }
    if c.oidc.enabled:
        cluster.update(
            {
                "kube_oidc_auth": True,
                "kube_oidc_url": oidc_issuer(cfg),
                "kube_oidc_client_id": c.oidc.client_id,
                "kube_oidc_username_claim": c.oidc.username_claim,
                "kube_oidc_username_prefix": c.oidc.username_prefix,
                "kube_oidc_groups_claim": c.oidc.groups_claim,
                "kube_oidc_groups_prefix": c.oidc.groups_prefix,
            }
        )
    calico = {
        "calico_network_backend": "vxlan",
        "calico_vxlan_mode": "Always",
        "calico_ipip_mode": "Never",
    }
    return {
        "all/all.yml": everyone,
        "all/etcd.yml": {"etcd_deployment_type": "host"},
        "k8s_cluster/k8s-cluster.yml": cluster,
        "k8s_cluster/k8s-net-calico.yml": calico,
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the DNS records) as readable literal blocks."""


_Dumper.add_representer(
    str,
    lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None),
)


def to_yaml(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)


def render(nodes: Sequence[Node], cfg: StackConfig, api: ApiAccess) -> dict[str, str]:
    """Every inventory file, path (relative to the inventory directory) → text."""
    header = f"# Rendered by coprs-infra for Kubespray {cfg.cluster.kubespray.version}; edit the stack config, not this file.\n"
    files = {INVENTORY_FILE: header + to_yaml(inventory(nodes, cfg))}
    for path, doc in group_vars(nodes, cfg, api).items():
        files[f"group_vars/{path}"] = header + to_yaml(doc)
    return files


def fingerprint(files: Mapping[str, str], version: str) -> str:
    """sha256 of the files and the Kubespray version: a change of any of them re-runs the playbook."""
    h = hashlib.sha256(version.encode())
    h.update(json.dumps(dict(sorted(files.items()))).encode())
    return h.hexdigest()


def cluster_fingerprint(nodes: Sequence[Node], cfg: StackConfig, api: ApiAccess) -> str:
    """The trigger of cluster.yml: the inventory without its worker hosts, the group_vars, the version.

    Workers are joined one by one with scale.yml, so adding one never re-runs cluster.yml.
    """
    core = [n for n in nodes if n["role"] != "worker"]
    return fingerprint(render(core, cfg, api), cfg.cluster.kubespray.version)


def node_fingerprint(node: Node, cfg: StackConfig) -> str:
    """The trigger of a worker's scale.yml run: its host entry, its group and the version.

    Its group's labels and taints are not in it: they are cluster.yml's (hosts.yaml group vars).
    """
    doc = {"host": _host_vars(node), "group": node["group"]}
    return fingerprint({node["name"]: json.dumps(doc, sort_keys=True)}, cfg.cluster.kubespray.version)
