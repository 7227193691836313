"""Stack config validation: every rule gives one clear line naming the key, the value and what is allowed."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from components.config import ConfigError
from offline.harness import ROOT, load_stack_input, validate


def check(stack: str, overrides: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate(load_stack_input(stack, overrides))
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_are_valid(stack):
    cfg = validate(load_stack_input(stack))
    assert cfg.environment == stack


def test_prod_topology_is_the_designed_one():
    cfg = validate(load_stack_input("prod"))
    counts = {name: g.count for name, g in cfg.node_groups.items()}
    assert counts == {"bastion": 2, "kube_control_plane": 3, "infra": 8, "prometheus": 2,
                      "rook_ceph": 3, "egress": 2, "processing": 0}
    assert all(cfg.node_groups["rook_ceph"].data_volume.size_gb == 2000 for _ in [0])
    assert cfg.node_groups["egress"].floating_ip and cfg.node_groups["bastion"].floating_ip


def test_dev_topology():
    cfg = validate(load_stack_input("dev"))
    counts = {name: g.count for name, g in cfg.node_groups.items()}
    assert counts == {"bastion": 1, "kube_control_plane": 1, "infra": 3, "rook_ceph": 3, "processing": 1}


@pytest.mark.parametrize(
    "stack, overrides, expected",
    [
        ("prod", {"coprs:nodeGroups.kube_control_plane.count": 2}, "coprs:nodeGroups.kube_control_plane.count = 2: the control plane (and etcd) needs an odd count"),
        ("dev", {"coprs:nodeGroups.kube_control_plane.count": 4}, "needs an odd count: 1, 3, 5 or 7"),
        ("dev", {"coprs:nodeGroups.infra-nodes": {"count": 1, "flavor": "f", "image": "i"}}, "coprs:nodeGroups.infra-nodes = 'infra-nodes': a node group name must be a valid Ansible group name"),
        ("dev", {"coprs:nodeGroups.kube_node": {"count": 1, "flavor": "f", "image": "i"}}, "coprs:nodeGroups.kube_node = 'kube_node'"),
        ("prod", {"coprs:nodeGroups.rook_ceph.count": 2}, "coprs:nodeGroups.rook_ceph.count = 2: Ceph needs at least 3 rook_ceph nodes"),
        ("dev", {"coprs:network.cidr": "192.168.0.0/33"}, "coprs:network.cidr = '192.168.0.0/33'"),
        ("dev", {"coprs:network.cidr": "10.244.0.0/16"}, "coprs:cluster.podCidr = '10.244.0.0/16': must not overlap the node network"),
        ("dev", {"coprs:cluster.serviceCidr": "192.168.128.0/20"}, "coprs:cluster.serviceCidr = '192.168.128.0/20': must not overlap the node network"),
        ("prod", {"coprs:network.adminCidrs": ["0.0.0.0/0"]}, "coprs:network.adminCidrs[0] = '0.0.0.0/0': the whole Internet is not allowed in prod"),
        ("prod", {"coprs:nodeGroups.infra.flavor": ""}, "coprs:nodeGroups.infra.flavor = '': must be an OpenStack name"),
        ("prod", {"coprs:nodeGroups.infra.image": "   "}, "coprs:nodeGroups.infra.image = '   ': must be an OpenStack name"),
        ("prod", {"coprs:nodeGroups.infra.floatingIp": True}, "coprs:nodeGroups.infra.floatingIp = true: only the bastion and egress groups get floating IPs"),
        ("prod", {"coprs:nodeGroups.rook_ceph.autoscaling": {"minCount": 3, "maxCount": 5}}, "coprs:nodeGroups.rook_ceph.autoscaling: groups with data volumes are not autoscaled"),
        ("dev", {"coprs:nodeGroups.infra.count": "three"}, "coprs:nodeGroups.infra.count = 'three': Input should be a valid integer"),
        ("dev", {"coprs:nodeGroups.infra.flavour": "x"}, "coprs:nodeGroups.infra.flavour is not a known key"),
        ("dev", {"coprs:nodeGroups.infra.taints": ["dedicated"]}, "coprs:nodeGroups.infra.taints[0] = 'dedicated': must be a taint key[=value]:NoSchedule"),
        ("dev", {"coprs:environment": "staging"}, "coprs:environment = 'staging': Input should be 'dev' or 'prod'"),
        ("dev", {"coprs:domain": "Not A Domain"}, "coprs:domain = 'Not A Domain': must be a lower-case DNS name"),
        ("dev", {"coprs:network": None}, "coprs:network is required when cluster.mode is 'provision'"),
        ("dev", {"coprs:clusterr": {}}, "coprs:clusterr is not a known key"),
    ],
)
def test_rule_gives_one_clear_line(stack, overrides, expected):
    assert expected in check(stack, overrides)


def test_several_problems_are_reported_together_on_one_line():
    message = check("prod", {"coprs:nodeGroups.kube_control_plane.count": 4, "coprs:nodeGroups.rook_ceph.count": 1})
    assert "kube_control_plane.count = 4" in message and "rook_ceph.count = 1" in message


def test_plan_exits_nonzero_with_one_line_for_a_broken_stack(tmp_path):
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc["config"]["coprs:nodeGroups"]["kube_control_plane"]["count"] = 2
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text(yaml.safe_dump(doc))
    proc = subprocess.run(
        [sys.executable, "-m", "offline.plan", "--stack", "broken", "--stack-file", str(broken), "--out", str(tmp_path / "p.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "coprs:nodeGroups.kube_control_plane.count = 2" in lines[0]
    assert "Traceback" not in proc.stderr and not (tmp_path / "p.json").exists()


def test_unknown_stack_is_a_clear_error():
    with pytest.raises(ConfigError, match="no stack file Pulumi.nope.yaml; known stacks: dev, prod"):
        load_stack_input("nope")
