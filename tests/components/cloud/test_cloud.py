"""Cloud-layer topology of both stacks, asserted on the resources recorded by the whole mocked run."""

from __future__ import annotations

import pytest
import yaml

from components.cloud import security_groups, user_data
from offline.harness import RunResult

INSTANCE = "openstack:compute/instance:Instance"
PORT = "openstack:networking/port:Port"
SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
SG = "openstack:networking/secGroup:SecGroup"
VOLUME = "openstack:blockstorage/volume:Volume"
FIP = "openstack:networking/floatingIp:FloatingIp"
FIP_ASSOC = "openstack:networking/floatingIpAssociate:FloatingIpAssociate"
LB = "openstack:loadbalancer/loadBalancer:LoadBalancer"
LISTENER = "openstack:loadbalancer/listener:Listener"
POOL = "openstack:loadbalancer/pool:Pool"
MEMBER = "openstack:loadbalancer/member:Member"
MONITOR = "openstack:loadbalancer/monitor:Monitor"

SENSITIVE_PORTS = [22, 6443, 2379, 2380, 10250]


def group_of(r) -> str:
    return r.inputs["metadata"]["node_group"]


def test_instances_per_group_match_the_config(any_stack: RunResult):
    instances = any_stack.of_type(INSTANCE)
    expected = {g: c.count for g, c in any_stack.config.node_groups.items() if c.count}
    counted: dict[str, int] = {}
    for r in instances:
        counted[group_of(r)] = counted.get(group_of(r), 0) + 1
    assert counted == expected


def test_prod_has_twenty_instances(prod: RunResult):
    assert len(prod.of_type(INSTANCE)) == 20


def test_every_instance_boots_from_a_volume_on_a_precreated_port(any_stack: RunResult):
    ports = {r.id: r for r in any_stack.of_type(PORT)}
    for inst in any_stack.of_type(INSTANCE):
        (net,) = inst.inputs["networks"]
        assert set(net) == {"port"}, inst.name
        port = ports[net["port"]]
        assert port.inputs["portSecurityEnabled"] is True and port.inputs["securityGroupIds"]
        assert "allowedAddressPairs" in port.ignore_changes
        (bd,) = inst.inputs["blockDevices"]
        assert bd["sourceType"] == "image" and bd["destinationType"] == "volume" and bd["bootIndex"] == 0
        assert inst.inputs["keyPair"] and "adminPass" not in inst.inputs


def test_control_plane_and_ceph_are_spread_by_anti_affinity(any_stack: RunResult):
    groups = {r.id: r for r in any_stack.of_type(SERVER_GROUP)}
    for inst in any_stack.of_type(INSTANCE):
        (hint,) = inst.inputs["schedulerHints"]
        policy = groups[hint["group"]].inputs["policies"]
        if group_of(inst) in ("kube_control_plane", "rook_ceph"):
            assert policy == "anti-affinity", inst.name


def test_kubespray_groups_in_metadata(prod: RunResult):
    by_group = {group_of(r): r.inputs["metadata"]["kubespray_groups"] for r in prod.of_type(INSTANCE)}
    assert by_group["kube_control_plane"] == "etcd,kube_control_plane,k8s_cluster"
    assert by_group["infra"] == "kube_node,k8s_cluster,infra"
    assert by_group["bastion"] == "bastion"


def _overlaps(rule: dict, port: int) -> bool:
    lo, hi = rule.get("portRangeMin"), rule.get("portRangeMax")
    if not rule.get("protocol") or lo in (None, 0) and hi in (None, 0):
        return True
    return lo <= port <= hi


def test_no_world_ingress_to_sensitive_ports(any_stack: RunResult):
    rules = [r.inputs for r in any_stack.of_type(RULE) if r.inputs["direction"] == "ingress"]
    assert rules
    for rule in rules:
        src = rule.get("remoteIpPrefix")
        if src is None and rule.get("remoteGroupId"):
            continue
        assert src not in (None, "0.0.0.0/0", "::/0"), rule
        for port in SENSITIVE_PORTS:
            if _overlaps(rule, port):
                assert src in any_stack.config.network.admin_cidrs or src == any_stack.config.network.cidr, rule


def test_security_groups_drop_default_rules_and_ssh_only_from_admins(any_stack: RunResult):
    assert all(sg.inputs["deleteDefaultRules"] is True for sg in any_stack.of_type(SG))
    ssh = [r for r in security_groups.rules(["198.51.100.0/24"], "192.168.0.0/16") if r.ports == (22, 22)]
    assert {(r.group, r.remote_cidr or r.remote_group) for r in ssh} == {("bastion", "198.51.100.0/24"), ("cluster", "bastion")}


def test_floating_ips_only_on_bastions_egress_and_ingress_vip(any_stack: RunResult):
    ports = {r.id: r for r in any_stack.of_type(PORT)}
    vip_ports = {r.outputs["vipPortId"]: r for r in any_stack.of_type(LB)}
    assocs = any_stack.of_type(FIP_ASSOC)
    assert len(assocs) == len(any_stack.of_type(FIP))
    for a in assocs:
        port_id = a.inputs["portId"]
        if port_id in vip_ports:
            assert vip_ports[port_id].name.endswith("-ingress")
        else:
            owner = ports[port_id].name
            assert "-bastion-" in owner or "-egress-" in owner, owner
    expected = sum(c.count for n, c in any_stack.config.node_groups.items() if c.floating_ip) + 1
    assert len(assocs) == expected


def test_data_volumes_are_protected_and_attached(any_stack: RunResult):
    volumes = any_stack.of_type(VOLUME)
    ceph = any_stack.config.node_groups["rook_ceph"]
    assert len(volumes) == ceph.count
    assert all(v.protect and v.inputs["size"] == ceph.data_volume.size_gb for v in volumes)
    attached = {a.inputs["volumeId"] for a in any_stack.of_type("openstack:compute/volumeAttach:VolumeAttach")}
    assert attached == {v.id for v in volumes}


def test_hardening_in_user_data(any_stack: RunResult):
    for inst in any_stack.of_type(INSTANCE):
        ud = inst.inputs["userData"]
        assert ud.startswith("#cloud-config")
        for needle in ("PasswordAuthentication no", "PermitRootLogin no", "auditd", "fail2ban", "ssh_pwauth: false",
                       "net.ipv4.conf.all.accept_redirects = 0"):
            assert needle in ud, (inst.name, needle)


def test_user_data_is_deterministic_and_secret_free():
    a = user_data.render("n1", "worker", "ubuntu")
    assert a == user_data.render("n1", "worker", "ubuntu")
    assert "PRIVATE KEY" not in a and "password:" not in a.lower()


@pytest.mark.parametrize("host", ["coprs-infra-10", "n1", "123", "true", "a: b"])
def test_user_data_from_the_role_template_is_what_a_dump_of_its_own_writes(host):
    for role in ("worker", "bastion"):
        text = user_data.render(host, role, "ubuntu")
        assert text == user_data._render(host, role, "ubuntu")
        assert yaml.safe_load(text)["hostname"] == host


def test_load_balancers_forward_to_the_right_nodes(prod: RunResult):
    listeners = {r.inputs["protocolPort"]: r for r in prod.of_type(LISTENER)}
    assert set(listeners) == {80.0, 443.0, 6443.0}
    members = prod.of_type(MEMBER)
    by_port: dict[float, set[str]] = {}
    for m in members:
        by_port.setdefault(m.inputs["protocolPort"], set()).add(m.inputs["name"])
    assert by_port[6443.0] == {f"coprs-kube-control-plane-{i}" for i in (1, 2, 3)}
    assert by_port[32080.0] == by_port[32443.0] == {f"coprs-infra-{i}" for i in range(1, 9)}
    assert len(prod.of_type(MONITOR)) == len(prod.of_type(POOL)) == 3
    assert all(m.inputs["type"] == "TCP" for m in prod.of_type(MONITOR))


def test_dev_has_no_api_load_balancer(dev: RunResult):
    assert [lb.name for lb in dev.of_type(LB)] == ["coprs-dev-ingress"]


def test_component_shape(any_stack: RunResult):
    by_urn = any_stack.by_urn()
    for r in any_stack.resources:
        if r.type.startswith("openstack:"):
            assert r.parent in by_urn and by_urn[r.parent].type.startswith(("coprs:cloud:", "openstack:")), r.urn
        if not r.custom and not r.type.startswith("kubernetes:yaml/"):  # the k8s provider's own ConfigFile component
            assert r.type.split(":")[0] == "coprs", r.type
    named = [r for r in any_stack.resources if r.type in (INSTANCE, SG, LB, PORT, VOLUME, SERVER_GROUP)]
    assert all(r.inputs.get("name") for r in named)


def test_outputs_carry_the_node_table_and_mask_the_ssh_key(any_stack: RunResult):
    nodes = any_stack.outputs["nodes"]
    assert len(nodes) == sum(c.count for c in any_stack.config.node_groups.values())
    assert all(n["privateIp"].startswith("192.168.") for n in nodes)
    assert any_stack.outputs["sshPrivateKey"] == "[secret]"
    assert any_stack.raw_outputs["sshPrivateKey"].startswith("offline-dummy")


@pytest.mark.parametrize("count", [0, 2])
def test_node_group_counts_follow_config(count):
    from tests.conftest import NO_PLATFORM, stack_run

    r = stack_run("dev", {**NO_PLATFORM, "coprs:nodeGroups.processing.count": count})
    assert sum(1 for i in r.of_type(INSTANCE) if group_of(i) == "processing") == count
