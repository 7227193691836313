"""The rules through the engine's own entry points (`validate` with ResourceValidationArgs /
StackValidationArgs): unknown values give "not applicable" and nothing ever crashes; pod rules see the
pod spec of every controller kind (Kyverno style), Patch tokens included."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.coprs_policies.base import ResourceRule, StackRule
from policies.coprs_policies.registry import BY_ID, RESOURCE_RULES, STACK_RULES

from .cases import COMPLIANT_POD, graph, load_cases, resource_of, urn, workload

CASES = load_cases()


def _opts():
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def engine_validate(rule: ResourceRule, typ: str, props: dict, config: Any = None) -> tuple[str, list[str]]:
    messages: list[str] = []
    args = ResourceValidationArgs(typ, unknown_checking_proxy(props), urn(typ, "r"), "r", _opts(), None, config)
    try:
        result = rule.validate(args, lambda m, u=None: messages.append(m))
        if result is not None:
            asyncio.new_event_loop().run_until_complete(result)
    except _NotApplicableError:
        return "na", messages
    return ("fail" if messages else "pass"), messages


def all_unknown(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: all_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [all_unknown(v) for v in value]
    return UNKNOWN_STRING_VALUE


RESOURCE_FAILS = [c for c in CASES if isinstance(BY_ID[c.rule_id], ResourceRule) and c.expect == "fail"]


@pytest.mark.parametrize("case", RESOURCE_FAILS, ids=[c.id for c in RESOURCE_FAILS])
def test_engine_path_reports_the_fixture_and_survives_unknowns(case):
    rule = BY_ID[case.rule_id]
    typ, props, _ = resource_of(case.data, case.name)
    verdict, messages = engine_validate(rule, typ, props, case.data.get("config"))
    assert verdict == "fail" and messages
    verdict, _ = engine_validate(rule, typ, all_unknown(props), case.data.get("config"))
    assert verdict in ("na", "pass", "fail")  # never an exception: preview must not crash on unknowns


STACK_CASES = [c for c in CASES if isinstance(BY_ID[c.rule_id], StackRule)]


@pytest.mark.parametrize("case", STACK_CASES, ids=[c.id for c in STACK_CASES])
def test_stack_rules_through_stack_validation_args(case):
    rule = BY_ID[case.rule_id]
    nodes = [r.node for r in graph(case.data["resources"])]
    messages: list[str] = []
    try:
        rule.validate(StackValidationArgs(nodes, case.data.get("config")), lambda m, u=None: messages.append(m))
        verdict = "fail" if messages else "pass"
    except _NotApplicableError:
        verdict = "na"
    assert verdict == case.expect
    unknown = graph([{**r, "props": all_unknown(r["props"])} if "props" in r else r for r in case.data["resources"]])
    try:
        rule.validate(StackValidationArgs([r.node for r in unknown], case.data.get("config")), lambda m, u=None: None)
    except _NotApplicableError:
        pass


def test_unknown_key_field_is_not_applicable():
    sgr = "openstack:networking/secGroupRule:SecGroupRule"
    props = {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22.0, "portRangeMax": 22.0,
             "remoteIpPrefix": UNKNOWN_STRING_VALUE}
    for rid in ("OS-03", "OS-11", "OS-12"):
        assert engine_validate(BY_ID[rid], sgr, props)[0] == "na"


KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]
BAD_PODS = {
    "K-02": {"containers": [{"securityContext": {"privileged": True}}]},
    "K-01": {"hostNetwork": True},
    "K-05": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
    "K-15": {"initContainers": [{"name": "init", "image": "busybox:1.37", "securityContext": {"runAsNonRoot": True}}]},
    "K-16": {"securityContext": {"runAsNonRoot": False}},
    "K-21": {"containers": [{"image": "nginx"}]},
    "K-28": {"containers": [{"env": [{"name": "API_TOKEN", "value": "tok-123456"}]}]},
}


@pytest.mark.parametrize("patch_token", [False, True])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rule_id", sorted(BAD_PODS))
def test_pod_rules_see_every_controller_kind(rule_id, kind, patch_token):
    rule = BY_ID[rule_id]
    typ, good = workload(kind, "app", "database", patch_token=patch_token)
    assert engine_validate(rule, typ, good)[0] == "pass"
    typ, bad = workload(kind, "app", "database", BAD_PODS[rule_id], patch_token=patch_token)
    assert engine_validate(rule, typ, bad)[0] == "fail"


def test_compliant_pod_passes_every_pod_rule():
    typ, props = workload("Deployment", "app", "processing")
    for rule in RESOURCE_RULES:
        if rule.applies_to(typ):
            assert engine_validate(rule, typ, props)[0] in ("pass", "na"), rule.rule_id
    assert COMPLIANT_POD["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False


def test_stack_rules_are_listed():
    assert {r.rule_id for r in STACK_RULES} >= {f"ST-{i:02d}" for i in range(1, 14)}
