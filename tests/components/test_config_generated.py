"""Generated node-group configs (hypothesis, 500 examples): valid ones run the cloud layer under mocks
and keep the topology invariants; invalid ones give one clear line naming the key."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from components.cloud import Cloud
from components.config import ANSIBLE_GROUP, RESERVED_GROUPS, ConfigError, load_stack_config
from offline.harness import ROOT, load_stack_input, run_stack, validate

BASE = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
INFRA = "node-role.kubernetes.io/infra"
NAMES = ["bastion", "kube_control_plane", "infra", "egress", "rook_ceph", "processing", "gpu_a100",
         "Infra", "infra-2", "kube_node", "2nodes", "etcd"]


@st.composite
def node_group(draw, name: str, clean: bool):
    """A node group; `clean` ones only use allowed values, the others may break any rule."""
    control = name == "kube_control_plane"
    pick = (lambda good, bad: draw(st.sampled_from(good))) if clean else (lambda good, bad: draw(st.sampled_from(good + bad)))
    g = {
        "count": draw(st.integers(0, 5 if control else 2)),
        "flavor": pick(["s3.xlarge.4", "s3.large.2"], ["", "  "]),
        "image": pick(["coprs-ubuntu-24.04"], [""]),
        "rootVolumeGb": pick([20, 40], [5]),
        "serverGroupPolicy": pick(["anti-affinity", "soft-anti-affinity"], ["affinity"]),
        "floatingIp": pick([name in ("bastion", "egress")], [True, False]),
    }
    if name == "infra" and (clean or draw(st.booleans())):
        g["labels"] = {INFRA: ""}
    if (name == "rook_ceph" and clean) or (name not in ("bastion", "kube_control_plane") or not clean) and draw(st.integers(0, 2)) == 0:
        g["dataVolume"] = {"sizeGb": draw(st.sampled_from([50, 2000]))}
    # Clean groups stay small: the mocked run costs a few milliseconds per resource.
    if clean and name == "rook_ceph":
        g["count"] = 3
    elif clean and name in ("bastion", "infra"):
        g["count"] = draw(st.integers(1, 2))
    elif clean and control:
        g["count"] = draw(st.sampled_from([1, 3]))
    return g


@st.composite
def node_groups(draw):
    clean = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(NAMES[:7] if clean else NAMES), min_size=1, max_size=6, unique=True))
    # Clean examples are plausible clusters: they always have the essential groups.
    if clean or draw(st.booleans()):
        names = list(dict.fromkeys(["bastion", "kube_control_plane", "infra", "rook_ceph", *names]))
    return {n: draw(node_group(n, clean and draw(st.integers(0, 5)) > 0)) for n in names}


def expected_valid(groups: dict, ceph: bool) -> bool:
    """An independent statement of the rules the config must enforce."""
    for name, g in groups.items():
        if not ANSIBLE_GROUP.fullmatch(name) or name in RESERVED_GROUPS:
            return False
        if not g["flavor"].strip() or not g["image"].strip() or g["rootVolumeGb"] < 10:
            return False
        if g["floatingIp"] and name not in ("bastion", "egress"):
            return False
        if "dataVolume" in g and name in ("bastion", "kube_control_plane"):
            return False
    cp = groups.get("kube_control_plane")
    if cp is None or cp["count"] not in (1, 3, 5) or cp["serverGroupPolicy"] == "affinity":
        return False
    if groups.get("bastion", {}).get("count", 0) < 1:
        return False
    if groups.get("infra", {}).get("count", 0) < 1:
        return False
    if not any(INFRA in g.get("labels", {}) and g["count"] for g in groups.values()):
        return False
    rook = groups.get("rook_ceph")
    if ceph and (rook is None or rook["count"] < 3 or "dataVolume" not in rook):
        return False
    return True


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(groups=node_groups(), ceph=st.booleans())
def test_generated_node_groups(groups, ceph):
    doc = copy.deepcopy(BASE)
    doc["config"]["coprs:nodeGroups"] = groups
    doc["config"]["coprs:platform"] = {"enabled": True, "apps": {"rook-ceph": {"enabled": ceph}}}
    want = expected_valid(groups, ceph)
    try:
        validate(load_stack_input("dev", document=doc))
    except ConfigError as err:
        message = str(err)
        assert not want, message
        event("invalid")
        assert "\n" not in message and message.startswith("invalid stack configuration: coprs:")
        return
    assert want, groups
    event("valid: ran under mocks")
    result = run_stack("dev", document=doc, program=lambda: Cloud("cloud", load_stack_config()))
    instances = result.of_type("openstack:compute/instance:Instance")
    assert len(instances) == sum(g["count"] for g in groups.values())
    fips = result.of_type("openstack:networking/floatingIp:FloatingIp")
    assert len(fips) == sum(g["count"] for n, g in groups.items() if g["floatingIp"]) + 1
    volumes = result.of_type("openstack:blockstorage/volume:Volume")
    assert len(volumes) == sum(g["count"] for g in groups.values() if "dataVolume" in g)
    assert all(v.protect for v in volumes)
    assert len(result.of_type("openstack:networking/port:Port")) == len(instances)
