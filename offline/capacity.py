"""Capacity and cost at a glance, from what the plan declares (not from the config): VMs per node group and
flavor with their vCPU and RAM, volume GB by type (root and data volumes), floating IPs, load balancers and
buckets; with a price table (`coprs:prices`) a monthly estimate. `make plan` prints it and writes it to
the plan JSON (`capacity`); `make diff` prints the delta of two plans ("+2 × s3.xlarge.4 (infra): +8 vCPU,
+32 GB RAM").
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml

from .recorded import RunResult
from .tables import text_table

INSTANCE = "openstack:compute/instance:Instance"
VOLUME = "openstack:blockstorage/volume:Volume"
FLOATING_IP = "openstack:networking/floatingIp:FloatingIp"
LOAD_BALANCER = "openstack:loadbalancer/loadBalancer:LoadBalancer"
BUCKET = "pulumi-python:dynamic/storage:Bucket"
FLAVORS_FILE = Path(__file__).with_name("flavors.yaml")
DEFAULT_VOLUME_TYPE = "default"  # no volumeType: the cloud's default type
_SIZES = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "16xlarge": 64}
_NAMED = re.compile(r"^[a-z]+\d*\.(\d*x?large)\.(\d+)$")


@lru_cache(maxsize=1)
def flavor_table() -> dict[str, dict[str, float]]:
    return yaml.safe_load(FLAVORS_FILE.read_text()) or {}


def flavor_size(name: str) -> tuple[Optional[float], Optional[float], str]:
    """(vCPUs, RAM GB, where from): the table, else the name's convention, else unknown."""
    known = flavor_table().get(name)
    if known:
        return float(known["vcpus"]), float(known["ramGb"]), "table"
    m = _NAMED.match(name)
    if m and m.group(1) in _SIZES:
        vcpus = _SIZES[m.group(1)]
        return float(vcpus), float(vcpus * int(m.group(2))), "name"
    return None, None, "unknown"


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def capacity(result: RunResult) -> dict[str, Any]:
    """The plan JSON's `capacity` section."""
    groups: Counter = Counter()
    volumes: Counter = Counter()
    for r in result.of_type(INSTANCE):
        meta = r.inputs.get("metadata") if isinstance(r.inputs.get("metadata"), dict) else {}
        groups[(str(meta.get("node_group", "?")), str(r.inputs.get("flavorName", "?")))] += 1
        for bd in r.inputs.get("blockDevices") or []:
            if isinstance(bd, dict) and bd.get("destinationType") == "volume":
                volumes[str(bd.get("volumeType") or DEFAULT_VOLUME_TYPE)] += _num(bd.get("volumeSize"))
    for r in result.of_type(VOLUME):
        volumes[str(r.inputs.get("volumeType") or DEFAULT_VOLUME_TYPE)] += _num(r.inputs.get("size"))
    autoscaling = {name: g.autoscaling for name, g in result.config.node_groups.items() if g.autoscaling}
    vms, unsized = [], []
    for (group, flavor), n in sorted(groups.items()):
        cpu, ram, source = flavor_size(flavor)
        if source != "table":
            unsized.append(flavor)
        row: dict[str, Any] = {"group": group, "flavor": flavor, "count": n,
                               "vcpus": cpu * n if cpu is not None else None, "ramGb": ram * n if ram is not None else None}
        if source == "name":
            row["sizedFrom"] = "flavor name"
        if group in autoscaling:
            row["autoscaling"] = {"min": autoscaling[group].min_count, "max": autoscaling[group].max_count}
        vms.append(row)
    out: dict[str, Any] = {
        "vms": vms,
        "totals": {"vms": sum(v["count"] for v in vms), "vcpus": sum(v["vcpus"] or 0 for v in vms),
                   "ramGb": sum(v["ramGb"] or 0 for v in vms), "volumeGb": sum(volumes.values())},
        "volumeGb": dict(sorted(volumes.items())),
        "floatingIps": len(result.of_type(FLOATING_IP)),
        "loadBalancers": len(result.of_type(LOAD_BALANCER)),
        "buckets": len(result.of_type(BUCKET)),
        "flavorsNotInTable": sorted(set(unsized)),
    }
    if result.config.prices is not None:
        out["monthly"] = monthly(out, result.config.prices)
    return out


def monthly(cap: dict[str, Any], prices) -> dict[str, Any]:
    """The monthly estimate of the capacity figures with a price table; what has no price is listed, not guessed."""
    items: dict[str, float] = {}
    unpriced: list[str] = []
    for v in cap["vms"]:
        hourly = prices.flavors_per_hour.get(v["flavor"])
        if hourly is None:
            unpriced.append(f"flavor {v['flavor']}")
        else:
            items[f"vms {v['flavor']}"] = items.get(f"vms {v['flavor']}", 0) + v["count"] * hourly * prices.hours_per_month
    for vtype, gb in cap["volumeGb"].items():
        price = prices.volume_gb_per_month.get(vtype)
        if price is None:
            unpriced.append(f"volume type {vtype}")
        else:
            items[f"volumes {vtype}"] = gb * price
    items["floating IPs"] = cap["floatingIps"] * prices.floating_ip_per_month
    items["load balancers"] = cap["loadBalancers"] * prices.load_balancer_per_month
    return {"currency": prices.currency, "total": round(sum(items.values()), 2),
            "items": {k: round(v, 2) for k, v in items.items()}, "unpriced": sorted(set(unpriced))}


def _gb(x: float) -> str:
    return f"{x:g}"


def _n(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def headline(cap: dict[str, Any]) -> str:
    t = cap["totals"]
    vols = ", ".join(f"{_gb(gb)} GB {vtype}" for vtype, gb in cap["volumeGb"].items()) or "none"
    line = (f"{t['vms']} VMs, {_gb(t['vcpus'])} vCPU, {_gb(t['ramGb'])} GB RAM; volumes {vols}; "
            f"{_n(cap['floatingIps'], 'floating IP')}, {_n(cap['loadBalancers'], 'load balancer')}, {_n(cap['buckets'], 'bucket')}")
    if "monthly" in cap:
        m = cap["monthly"]
        line += f"; about {m['total']:,.0f} {m['currency']}/month" + (" (partial: some items have no price)" if m["unpriced"] else "")
    return line


def lines(cap: dict[str, Any]) -> list[str]:
    """The capacity table of `make plan`."""
    def scale(v: dict) -> str:
        a = v.get("autoscaling")
        return f"{a['min']}..{a['max']}" if a else "-"

    rows = [(v["group"], v["flavor"], v["count"], scale(v), _gb(v["vcpus"]) if v["vcpus"] is not None else "?",
             _gb(v["ramGb"]) if v["ramGb"] is not None else "?") for v in cap["vms"]]
    t = cap["totals"]
    rows.append(("total", "", t["vms"], "", _gb(t["vcpus"]), _gb(t["ramGb"])))
    out = [f"Capacity: {headline(cap)}", text_table(rows, ("group", "flavor", "VMs", "autoscaling", "vCPU", "RAM GB"))]
    unknown = [v["flavor"] for v in cap["vms"] if v["vcpus"] is None]
    if unknown:
        out.append(f"  flavors of unknown size (add them to offline/flavors.yaml): {', '.join(sorted(set(unknown)))}")
    named = sorted({v["flavor"] for v in cap["vms"] if v.get("sizedFrom")})
    if named:
        out.append(f"  sized from the flavor name (add them to offline/flavors.yaml): {', '.join(named)}")
    if "monthly" in cap:
        m = cap["monthly"]
        out.append(f"  monthly estimate: {m['total']:,.2f} {m['currency']} ("
                   + ", ".join(f"{k} {v:,.2f}" for k, v in m["items"].items() if v) + ")")
        if m["unpriced"]:
            out.append(f"  no price for: {', '.join(m['unpriced'])} (coprs:prices)")
    return out


def plan_section(result: RunResult, plan: dict[str, Any]) -> list[str]:
    plan["capacity"] = capacity(result)
    return lines(plan["capacity"])


# ---------------------------------------------------------------------------------------------
# the delta of two plans (`make diff`)


def _signed(x: float, unit: str) -> str:
    return f"{'+' if x > 0 else '-'}{_gb(abs(x))}{unit}"


def delta_lines(base: Optional[dict], head: Optional[dict]) -> list[str]:
    """What changes in capacity between two plans' `capacity` sections (nothing when either has none)."""
    if not base or not head:
        return []
    out = []
    key = lambda v: (v["group"], v["flavor"])  # noqa: E731
    old, new = {key(v): v for v in base["vms"]}, {key(v): v for v in head["vms"]}
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, {}), new.get(k, {})
        n = b.get("count", 0) - a.get("count", 0)
        if not n:
            continue
        cpu = (b.get("vcpus") or 0) - (a.get("vcpus") or 0)
        ram = (b.get("ramGb") or 0) - (a.get("ramGb") or 0)
        out.append(f"{'+' if n > 0 else '-'}{abs(n)} × {k[1]} ({k[0]}): {_signed(cpu, ' vCPU')}, {_signed(ram, ' GB RAM')}")
    for vtype in sorted(set(base["volumeGb"]) | set(head["volumeGb"])):
        d = head["volumeGb"].get(vtype, 0) - base["volumeGb"].get(vtype, 0)
        if d:
            out.append(f"volumes {vtype}: {_signed(d, ' GB')}")
    for field, label in (("floatingIps", "floating IPs"), ("loadBalancers", "load balancers"), ("buckets", "buckets")):
        d = head.get(field, 0) - base.get(field, 0)
        if d:
            out.append(f"{label}: {_signed(d, '')}")
    bm, hm = base.get("monthly"), head.get("monthly")
    if bm and hm and bm["currency"] == hm["currency"] and bm["total"] != hm["total"]:
        out.append(f"monthly estimate: {bm['total']:,.2f} → {hm['total']:,.2f} {hm['currency']} "
                   f"({'+' if hm['total'] > bm['total'] else '-'}{abs(hm['total'] - bm['total']):,.2f})")
    if out:
        t0, t1 = base["totals"], head["totals"]
        out.append(f"total: {t0['vms']} → {t1['vms']} VMs, {_gb(t0['vcpus'])} → {_gb(t1['vcpus'])} vCPU, "
                   f"{_gb(t0['ramGb'])} → {_gb(t1['ramGb'])} GB RAM")
    return out
