"""Falco: modern eBPF on every node (tolerations of every taint of the stack), JSON stdout, metrics, our rules."""

from __future__ import annotations

import pytest
import yaml

from components.config import ConfigError
from components.platform.apps import falco
from components.platform.namespace import NAMESPACES
from components.platform.placement import CONTROL_PLANE_TAINT
from components.platform.registry import _settings
from tests.components.platform.helpers import releases, served_run


def _tolerates(tolerations: list[dict], taint: str) -> bool:
    kv, _, effect = taint.rpartition(":")
    key, _, value = kv.partition("=")
    for t in tolerations:
        if t.get("effect") not in (None, effect):
            continue
        if t.get("operator") == "Exists" and t.get("key") in (None, key):
            return True
        if t.get("operator", "Equal") == "Equal" and t.get("key") == key and t.get("value", "") == value:
            return True
    return False


def test_runs_on_every_node_group(any_stack):
    values = releases(any_stack)["falco"].inputs["values"]
    taints = {t for g in any_stack.config.node_groups.values() for t in g.taints} | {CONTROL_PLANE_TAINT}
    assert any_stack.config.node_groups["rook_ceph"].taints  # the stacks do taint a group
    for taint in taints:
        assert _tolerates(values["tolerations"], taint), taint
    assert values["controller"] == {"kind": "daemonset"}
    assert "nodeSelector" not in values and "affinity" not in values
    assert values["podPriorityClassName"] == "system-node-critical"


def test_a_new_taint_is_tolerated_and_unknown_nodes_are_all_tolerated():
    r = served_run("dev")
    tolerations = releases(r)["falco"].inputs["values"]["tolerations"]
    assert {"key": "coprs.esa.int/processing", "operator": "Equal", "value": "batch", "effect": "NoExecute"} in tolerations
    from components.platform.placement import host_agent_tolerations

    class Existing:
        node_groups: dict = {}

    assert host_agent_tolerations(Existing()) == [{"operator": "Exists"}]


def test_driver_outputs_and_metrics(any_stack):
    v = releases(any_stack)["falco"].inputs["values"]
    assert v["image"] == {"registry": "docker.io", "repository": "falcosecurity/falco", "tag": "0.44.1"}
    assert v["driver"]["kind"] == "modern_ebpf"
    assert v["falco"]["json_output"] is True and v["falco"]["stdout_output"] == {"enabled": True}
    assert v["falco"]["webserver"]["prometheus_metrics_enabled"] is True
    assert v["metrics"]["enabled"] is True and v["metrics"]["service"] == {"create": True}
    # no artifact download at start: rules and plugins come from the pinned image
    assert v["falcoctl"]["artifact"] == {"install": {"enabled": False}, "follow": {"enabled": False}}
    assert releases(any_stack)["falco"].inputs["namespace"] == "falco"


def test_the_platform_rules_file_is_loaded_and_covers_the_privileged_namespaces(dev):
    v = releases(dev)["falco"].inputs["values"]
    text = (falco.ROOT / falco.DEFAULT_RULES).read_text()
    assert v["customRules"] == {falco.RULES_KEY: text}
    items = yaml.safe_load(text)
    lists = {i["list"]: set(i["items"]) for i in items if "list" in i}
    privileged = {s.name for s in NAMESPACES if s.pod_security == "privileged"} | {"kube-system"}
    assert privileged <= lists["coprs_privileged_namespaces"]
    # no exception for the namespaces whose alerts matter most
    assert not {"iam", "security", "database"} & (lists["coprs_privileged_namespaces"] | lists["coprs_api_client_namespaces"])
    for i in items:
        if "rule" in i:
            assert i["override"] == {"condition": "append"} and i["condition"].startswith("and not ")


def test_a_bad_rules_file_is_one_clear_line():
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.falco\.settings\.rulesFile = '\.\./etc/passwd'") as err:
        _settings(falco.APP, {"rulesFile": "../etc/passwd"})
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="Falco rule, macro and list items"):
        _settings(falco.APP, {"rulesFile": "Pulumi.dev.yaml"})
