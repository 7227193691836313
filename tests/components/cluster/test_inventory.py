"""The Kubespray inventory and group_vars, as pure functions and as Ansible itself reads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.cluster import inventory as inv
from components.platform import routes
from offline.harness import RunResult

ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"  # the venv running the tests (make test VENV=...)


def nodes_of(run: RunResult) -> list[dict]:
    return run.raw_outputs["nodes"]


def api_of(run: RunResult) -> inv.ApiAccess:
    """The API access the program used, read back from its loadBalancer_apiserver setting."""
    lb = yaml.safe_load(run.raw_outputs["inventoryGroupVars"]["group_vars/all/all.yml"]).get("loadbalancer_apiserver")
    return inv.ApiAccess(vip=lb["address"]) if lb else inv.ApiAccess()


def hosts(group: dict) -> dict:
    return group.get("hosts") or {}


def test_groups_and_host_vars_follow_the_node_list(any_stack: RunResult):
    nodes, cfg = nodes_of(any_stack), any_stack.config
    doc = inv.inventory(nodes, cfg)["all"]["children"]
    by_role = {r: [n for n in nodes if n["role"] == r] for r in ("bastion", "control-plane", "worker")}
    assert set(hosts(doc["kube_control_plane"])) == {n["name"] for n in by_role["control-plane"]}
    assert doc["etcd"] == {"children": {"kube_control_plane": {}}}
    assert doc["k8s_cluster"]["children"] == {"kube_control_plane": {}, "kube_node": {}}
    assert set(hosts(doc["bastion"])) == {n["name"] for n in by_role["bastion"]}
    workers = [g for g in cfg.node_groups if g not in ("bastion", "kube_control_plane")]
    assert list(doc["kube_node"]["children"]) == workers
    for n in by_role["worker"] + by_role["control-plane"]:
        entry = hosts(doc[n["group"]])[n["name"]]
        assert entry == {"ansible_host": n["privateIp"], "ip": n["privateIp"], "access_ip": n["privateIp"]}
    for n in by_role["bastion"]:
        assert hosts(doc["bastion"])[n["name"]] == {"ansible_host": n["publicIp"]}
    for group in workers:
        g = cfg.node_groups[group]
        gvars = doc[group].get("vars", {})
        assert gvars.get("node_labels", {}) == g.labels
        assert gvars.get("node_taints", []) == g.taints


def test_private_nodes_are_reached_through_the_first_bastion(any_stack: RunResult):
    nodes = nodes_of(any_stack)
    bastion = next(n for n in nodes if n["role"] == "bastion")
    args = inv.inventory(nodes, any_stack.config)["all"]["children"]["k8s_cluster"]["vars"]["ansible_ssh_common_args"]
    assert "ProxyCommand=" in args and "ssh -W %h:%p" in args
    assert f"{any_stack.config.cluster.ssh_user}@{bastion['publicIp']}" in args
    assert "ansible_ssh_private_key_file" in args


def test_prod_rook_ceph_group_carries_its_taint(prod: RunResult):
    doc = inv.inventory(nodes_of(prod), prod.config)["all"]["children"]
    assert doc["rook_ceph"]["vars"]["node_taints"] == ["node-role.kubernetes.io/rook_ceph=:NoSchedule"]
    assert len(hosts(doc["rook_ceph"])) == 3
    assert hosts(doc["processing"]) == {}  # declared though empty, so growing it only adds hosts


def write_inventory(run: RunResult, where: Path) -> Path:
    for rel, text in inv.render(nodes_of(run), run.config, api_of(run)).items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_text(text)
    return where / inv.INVENTORY_FILE


def ansible_inventory(path: Path) -> dict:
    out = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(path), "--list"],
        capture_output=True, text=True, check=True, timeout=120,
        env={"ANSIBLE_LOCAL_TEMP": str(path.parent / ".tmp"), "HOME": str(path.parent), "PATH": "/usr/bin:/bin"},
    )
    assert "WARNING" not in out.stderr.upper(), out.stderr
    return json.loads(out.stdout)


def members(listing: dict, group: str) -> set[str]:
    """Hosts of a group and of its children, as Ansible resolves them."""
    entry = listing.get(group, {})
    found = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        found |= members(listing, child)
    return found


@pytest.mark.parametrize("stack, control_plane, workers", [("prod", 3, 15), ("dev", 1, 7)])
def test_ansible_inventory_parses_the_rendered_inventory(request, tmp_path, stack, control_plane, workers):
    run: RunResult = request.getfixturevalue(stack)
    listing = ansible_inventory(write_inventory(run, tmp_path))
    cp, etcd, node = (members(listing, g) for g in ("kube_control_plane", "etcd", "kube_node"))
    assert len(cp) == control_plane and etcd == cp
    assert len(node) == workers and not node & cp
    bastions = members(listing, "bastion")
    assert bastions and not bastions & members(listing, "k8s_cluster")
    assert members(listing, "k8s_cluster") == cp | node
    hostvars = listing["_meta"]["hostvars"]
    # group_vars/ next to hosts.yaml are loaded by Ansible too.
    some_worker = sorted(node)[0]
    assert hostvars[some_worker]["kube_version"] == run.config.cluster.kubernetes_version
    assert hostvars[some_worker]["calico_network_backend"] == "vxlan"
    assert hostvars[some_worker]["ansible_user"] == run.config.cluster.ssh_user
    for name in members(listing, "rook_ceph"):
        assert hostvars[name]["node_taints"] == ["node-role.kubernetes.io/rook_ceph=:NoSchedule"]


def k8s_vars(run: RunResult, api: inv.ApiAccess) -> tuple[dict, dict]:
    gv = inv.group_vars(nodes_of(run), run.config, api)
    return gv["all/all.yml"], {**gv["k8s_cluster/k8s-cluster.yml"], **gv["k8s_cluster/k8s-net-calico.yml"]}


def test_group_vars_hold_every_setting_of_the_architecture(any_stack: RunResult):
    cfg = any_stack.config
    everyone, k8s = k8s_vars(any_stack, api_of(any_stack))
    assert k8s["kube_version"] == "1.35.4" and cfg.cluster.kubespray.version == "v2.31.0"
    assert k8s["container_manager"] == "containerd"
    assert (k8s["kube_network_plugin"], k8s["calico_network_backend"], k8s["calico_vxlan_mode"], k8s["calico_ipip_mode"]) == (
        "calico", "vxlan", "Always", "Never",
    )
    assert (k8s["kube_pods_subnet"], k8s["kube_service_addresses"]) == ("10.244.0.0/16", "10.96.0.0/12")
    assert inv.group_vars(nodes_of(any_stack), cfg, inv.ApiAccess())["all/etcd.yml"] == {"etcd_deployment_type": "host"}
    assert (k8s["kubernetes_audit"], k8s["audit_log_maxage"]) == (True, 30)
    assert k8s["kube_oidc_auth"] is True
    assert k8s["kube_oidc_url"] == f"https://iam.{cfg.domain}/realms/{cfg.cluster.oidc.realm}"
    assert k8s["kube_oidc_client_id"] and k8s["kube_oidc_username_claim"] and k8s["kube_oidc_groups_claim"]
    assert k8s["kubelet_rotate_server_certificates"] is True and k8s["kubelet_csr_approver_enabled"] is True
    assert k8s["dns_mode"] == "coredns" and k8s["enable_nodelocaldns"] is True
    assert k8s["kube_pod_security_use_default"] is True and k8s["kube_pod_security_default_enforce"] == "baseline"
    assert everyone["ansible_user"] == cfg.cluster.ssh_user


def test_coredns_has_a_static_record_for_every_node(any_stack: RunResult):
    _, k8s = k8s_vars(any_stack, api_of(any_stack))
    records = dict(line.split(" ")[::-1] for line in k8s["dns_etchosts"].splitlines())
    assert records == {n["name"]: n["privateIp"] for n in nodes_of(any_stack)}


def test_without_api_lb_nodes_use_the_localhost_nginx(dev: RunResult):
    assert dev.config.cluster.api_load_balancer.enabled is False
    everyone, k8s = k8s_vars(dev, inv.ApiAccess())
    assert everyone["loadbalancer_apiserver_localhost"] is True and everyone["loadbalancer_apiserver_type"] == "nginx"
    assert "loadbalancer_apiserver" not in everyone
    assert k8s["supplementary_addresses_in_ssl_keys"] == [f"kube.{dev.config.domain}"]


def test_with_api_lb_it_is_the_apiserver_endpoint_and_in_the_certificates(prod: RunResult):
    vip = prod.raw_outputs["apiEndpoint"]
    everyone, k8s = k8s_vars(prod, inv.ApiAccess(vip=vip, public_ip="203.0.113.9"))
    assert everyone["loadbalancer_apiserver"] == {"address": vip, "port": 6443}
    assert everyone["loadbalancer_apiserver_localhost"] is False
    assert k8s["supplementary_addresses_in_ssl_keys"] == [vip, "203.0.113.9", f"kube.{prod.config.domain}"]
    # and that is what the program itself rendered
    assert api_of(prod).vip == vip


def test_oidc_issuer_can_be_overridden(dev: RunResult):
    cfg = dev.config.model_copy(
        update={"cluster": dev.config.cluster.model_copy(
            update={"oidc": dev.config.cluster.oidc.model_copy(update={"issuer_url": "https://sso.example.org/realms/x/"})}
        )}
    )
    # one issuer for the API server and the gateway: a trailing `/` would make them disagree
    assert inv.oidc_issuer(cfg) == "https://sso.example.org/realms/x"
    assert inv.oidc_issuer is routes.oidc_issuer


def test_rendered_files_hold_no_secret_and_name_the_kubespray_release(any_stack: RunResult):
    files = inv.render(nodes_of(any_stack), any_stack.config, api_of(any_stack))
    assert set(files) == {
        "hosts.yaml", "group_vars/all/all.yml", "group_vars/all/etcd.yml",
        "group_vars/k8s_cluster/k8s-cluster.yml", "group_vars/k8s_cluster/k8s-net-calico.yml",
    }
    text = "".join(files.values())
    assert "offline-dummy" not in text and "PRIVATE KEY" not in text
    assert all("Kubespray v2.31.0" in t.splitlines()[0] for t in files.values())
    assert files["hosts.yaml"] == any_stack.raw_outputs["inventory"]


# ---- triggers ------------------------------------------------------------------------------


def _node(name: str, group: str, role: str, ip: str, **extra) -> dict:
    return {"name": name, "group": group, "role": role, "privateIp": ip, "publicIp": extra.get("public"),
            "labels": {}, "taints": []}


def test_cluster_trigger_changes_when_and_only_when_inventory_vars_or_version_change(dev: RunResult):
    cfg, api = dev.config, inv.ApiAccess()
    nodes = nodes_of(dev)
    base = inv.cluster_fingerprint(nodes, cfg, api)
    assert inv.cluster_fingerprint([dict(n) for n in nodes], cfg, api) == base  # deterministic
    # a new worker joins with scale.yml: cluster.yml is not re-run
    grown = [*nodes, _node("coprs-dev-infra-4", "infra", "worker", "192.168.7.7")]
    assert inv.cluster_fingerprint(grown, cfg, api) == base
    # the control plane moved: inventory changed
    moved = [dict(n, privateIp="192.168.9.9") if n["role"] == "control-plane" else n for n in nodes]
    assert inv.cluster_fingerprint(moved, cfg, api) != base
    # group_vars changed
    audit = cfg.model_copy(update={"cluster": cfg.cluster.model_copy(update={"audit_log_max_age_days": 90})})
    assert inv.cluster_fingerprint(nodes, audit, api) != base
    assert inv.cluster_fingerprint(nodes, cfg, inv.ApiAccess(vip="192.168.0.5")) != base
    # a group's labels changed (node_labels are group vars in hosts.yaml)
    groups = dict(cfg.node_groups)
    groups["infra"] = groups["infra"].model_copy(update={"labels": {"x": "y"}})
    assert inv.cluster_fingerprint(nodes, cfg.model_copy(update={"node_groups": groups}), api) != base
    # version changed
    files = inv.render(nodes, cfg, api)
    assert inv.fingerprint(files, "v2.31.0") != inv.fingerprint(files, "v2.30.0")


def test_node_trigger_covers_its_host_entry_only(dev: RunResult):
    cfg = dev.config
    node = next(n for n in nodes_of(dev) if n["group"] == "infra")
    base = inv.node_fingerprint(node, cfg)
    assert inv.node_fingerprint(dict(node, publicIp="203.0.113.50"), cfg) == base
    assert inv.node_fingerprint(dict(node, privateIp="192.168.9.9"), cfg) != base
    assert inv.node_fingerprint(dict(node, group="prometheus"), cfg) != base
    # a group's taints are applied by cluster.yml, whose trigger they change
    groups = dict(cfg.node_groups)
    groups["infra"] = groups["infra"].model_copy(update={"taints": ["a=b:NoSchedule"]})
    tainted = cfg.model_copy(update={"node_groups": groups})
    assert inv.node_fingerprint(node, tainted) == base
    assert inv.cluster_fingerprint(nodes_of(dev), tainted, inv.ApiAccess()) != inv.cluster_fingerprint(
        nodes_of(dev), cfg, inv.ApiAccess()
    )
