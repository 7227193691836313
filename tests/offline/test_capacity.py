"""Capacity and cost at a glance: VMs per group and flavor with vCPU/RAM, volume GB by type, floating IPs,
load balancers, buckets, in the plan JSON and `make plan`; the delta in `make diff`; a monthly estimate."""

from __future__ import annotations

import json

import pytest

from components.config import PricesConfig
from offline import capacity as cap_mod
from offline import diff as plan_diff
from offline.plan import build_plan

from tests.conftest import NO_PLATFORM, stack_run

PRICES = {"flavorsPerHour": {"s3.large.2": 0.05, "s3.xlarge.2": 0.1, "s3.xlarge.4": 0.2},
          "volumeGbPerMonth": {"SSD": 0.1, "default": 0.05}, "floatingIpPerMonth": 3, "loadBalancerPerMonth": 20}


def test_dev_capacity_figures(dev):
    cap = cap_mod.capacity(dev)
    rows = {(v["group"], v["flavor"]): (v["count"], v["vcpus"], v["ramGb"]) for v in cap["vms"]}
    assert rows == {
        ("bastion", "s3.large.2"): (1, 2, 4), ("kube_control_plane", "s3.xlarge.2"): (1, 4, 8),
        ("infra", "s3.xlarge.4"): (3, 12, 48), ("rook_ceph", "s3.xlarge.4"): (3, 12, 48),
        ("processing", "s3.xlarge.4"): (1, 4, 16),
    }
    assert cap["totals"] == {"vms": 9, "vcpus": 34, "ramGb": 124, "volumeGb": 660}
    # root volumes: 20 + 60 + 7 × 40 on the default type; Ceph data volumes 3 × 100 GB SSD
    assert cap["volumeGb"] == {"SSD": 300, "default": 360}
    assert (cap["floatingIps"], cap["loadBalancers"], cap["buckets"]) == (2, 1, 5)
    assert "monthly" not in cap and cap["flavorsNotInTable"] == []


def test_prod_capacity_figures(prod):
    cap = cap_mod.capacity(prod)
    assert cap["totals"] == {"vms": 20, "vcpus": 100, "ramGb": 312, "volumeGb": 6880}
    assert cap["volumeGb"]["SSD"] == 3 * 2000
    assert (cap["floatingIps"], cap["loadBalancers"], cap["buckets"]) == (5, 2, 5)
    infra = next(v for v in cap["vms"] if v["group"] == "infra")
    assert infra["autoscaling"] == {"min": 8, "max": 14}


def test_plan_json_and_summary_carry_the_figures(dev):
    plan, lines = build_plan(dev)
    assert plan["capacity"] == json.loads(json.dumps(cap_mod.capacity(dev)))
    text = "\n".join(lines)
    assert "Capacity: 9 VMs, 34 vCPU, 124 GB RAM" in text and "1 load balancer," in text


def test_unknown_flavors_are_sized_from_their_name_or_reported():
    assert cap_mod.flavor_size("s3.xlarge.4") == (4, 16, "table")
    assert cap_mod.flavor_size("s6.4xlarge.2") == (16, 32, "name")
    assert cap_mod.flavor_size("custom-big") == (None, None, "unknown")


def test_price_table_gives_a_monthly_estimate():
    run = stack_run("dev", {**NO_PLATFORM, "coprs:prices": PRICES})
    m = cap_mod.capacity(run)["monthly"]
    vms = (1 * 0.05 + 1 * 0.1 + 7 * 0.2) * 730
    assert m["total"] == pytest.approx(vms + 300 * 0.1 + 360 * 0.05 + 2 * 3 + 20, abs=0.01)
    assert m["unpriced"] == [] and m["currency"] == "EUR"
    partial = cap_mod.monthly(cap_mod.capacity(run), PricesConfig(flavors_per_hour={"s3.xlarge.4": 0.2}))
    assert partial["unpriced"] == ["flavor s3.large.2", "flavor s3.xlarge.2", "volume type SSD", "volume type default"]
    assert "partial" in cap_mod.headline({**cap_mod.capacity(run), "monthly": partial})


def test_diff_prints_the_capacity_delta():
    base, _ = build_plan(stack_run("dev", {**NO_PLATFORM, "coprs:prices": PRICES}))
    head, _ = build_plan(stack_run("dev", {**NO_PLATFORM, "coprs:prices": PRICES, "coprs:nodeGroups.infra.count": 5}))
    d = plan_diff.diff_plans(json.loads(json.dumps(base)), json.loads(json.dumps(head)))
    assert "+2 × s3.xlarge.4 (infra): +8 vCPU, +32 GB RAM" in d.capacity
    assert "volumes default: +80 GB" in d.capacity
    assert any(line.startswith("monthly estimate:") and "(+296.00)" in line for line in d.capacity)
    assert "Capacity\n  +2 × s3.xlarge.4" in plan_diff.render_text(d)
    assert "**Capacity:** +2 × s3.xlarge.4" in plan_diff.render_markdown(d)


def test_a_bad_price_table_is_one_line_naming_the_key():
    from components.config import ConfigError
    from offline.stack_input import load_stack_input, validate

    si = load_stack_input("dev", {"coprs:prices": {"flavorsPerHour": {"s3.xlarge.4": -1}, "currency": "EUR"}})
    with pytest.raises(ConfigError, match=r"coprs:prices\.flavorsPerHour = .*prices must be 0 or more \(check s3\.xlarge\.4\)"):
        validate(si)
    si = load_stack_input("dev", {"coprs:prices": {"flavorPerHour": {}}})
    with pytest.raises(ConfigError, match=r"coprs:prices\.flavorPerHour is not a known key"):
        validate(si)
