"""The per-stack policy configs: every rule listed, values valid against the rule's schema (as
`pulumi policy validate-config` would check), prod strict, allow-lists consistent with the stack files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from policies.coprs_policies.registry import BY_ID, RULES

ROOT = Path(__file__).resolve().parents[2]
STACKS = ["dev", "prod"]
# Medium rules that stay advisory in prod, each for a reason docs/policy-pack.md gives.
PROD_ADVISORY_MEDIUM = {"OS-01", "OS-26"}


def config(stack: str) -> dict:
    return json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())


def stack_file(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


@pytest.mark.parametrize("stack", STACKS)
def test_config_lists_every_rule_with_valid_values(stack):
    cfg = config(stack)
    assert set(cfg) == set(BY_ID), set(cfg) ^ set(BY_ID)
    for rid, entry in cfg.items():
        rule = BY_ID[rid]
        schema = {"type": "object", "additionalProperties": False,
                  "properties": {**rule.config_schema.properties,
                                 "enforcementLevel": {"enum": ["advisory", "mandatory", "remediate", "disabled"]}},
                  "required": ["enforcementLevel"]}
        jsonschema.validate(entry, schema)


@pytest.mark.parametrize("stack", STACKS)
def test_high_and_critical_rules_are_mandatory(stack):
    cfg = config(stack)
    for rule in RULES:
        if rule.severity_name in ("high", "critical"):
            assert cfg[rule.rule_id]["enforcementLevel"] == "mandatory", rule.rule_id


def test_prod_makes_medium_rules_mandatory_except_documented_ones():
    cfg = config("prod")
    advisory = {r.rule_id for r in RULES if r.severity_name == "medium" and cfg[r.rule_id]["enforcementLevel"] != "mandatory"}
    assert advisory == PROD_ADVISORY_MEDIUM
    readme = (ROOT / "docs" / "policy-pack.md").read_text()
    assert all(rid in readme for rid in PROD_ADVISORY_MEDIUM)


@pytest.mark.parametrize("stack", STACKS)
def test_allow_lists_follow_the_stack_file(stack):
    cfg, net = config(stack), stack_file(stack)["coprs:network"]
    for rid, entry in cfg.items():
        if "adminCidrs" in entry:
            assert entry["adminCidrs"] == net["adminCidrs"], rid
        if "internalCidrs" in entry:
            assert net.get("cidr", "192.168.0.0/16") in entry["internalCidrs"], rid
    domain = stack_file(stack)["coprs:domain"]
    assert cfg["ST-12"]["publicDomains"] == [domain]
    assert cfg["ST-09"]["requireHa"] is (stack == "prod")
    assert cfg["OS-27"]["allowForceDestroy"] is bool(stack_file(stack)["coprs:objectStorage"].get("forceDestroy"))
