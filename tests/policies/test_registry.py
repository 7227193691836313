"""The catalogue as code: ≥ 80 rules, each complete, each with passing and failing fixtures (the
gatekeeper `require-suites` check), and a pack entry point that only builds the PolicyPack."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pulumi_policy
import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from policies.coprs_policies.registry import BY_ID, PACK_NAME, RULES

from .cases import load_cases

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"^(OS|K|HELM|ST|CMD|SEC)-\d{2}$")


def test_catalogue_size_and_domains():
    per_domain = Counter(r.rule_id.split("-")[0] for r in RULES)
    assert len(RULES) >= 80
    assert per_domain["OS"] == 34 and per_domain["HELM"] == 22 and per_domain["ST"] == 14
    assert per_domain["K"] >= 45 and per_domain["CMD"] >= 2 and per_domain["SEC"] >= 3
    assert len(BY_ID) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=[r.rule_id for r in RULES])
def test_rule_is_complete(rule):
    assert ID.match(rule.rule_id) and rule.name == rule.rule_id
    assert rule.description and rule.remediation_steps and rule.references
    assert rule.severity is not None and rule.enforcement_level is not None
    if rule.severity_name in ("high", "critical"):
        assert rule.enforcement_level.value == "mandatory"
    schema = {"type": "object", "properties": rule.config_schema.properties}
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = {k: v["default"] for k, v in rule.config_schema.properties.items() if "default" in v}
    jsonschema.validate(defaults, schema)
    assert "exemptions" in rule.config_schema.properties


def test_every_rule_has_a_passing_and_a_failing_fixture():
    verdicts: dict[str, set[str]] = {r.rule_id: set() for r in RULES}
    for case in load_cases():
        assert case.rule_id in verdicts, f"fixture for unknown rule {case.rule_id}"
        verdicts[case.rule_id].add(case.expect)
    missing = {rid: sorted({"pass", "fail"} - v) for rid, v in verdicts.items() if not {"pass", "fail"} <= v}
    assert not missing, f"rules without a passing or failing fixture: {missing}"


def test_importing_the_registry_starts_no_server():
    # PolicyPack's constructor serves forever: a registry that built one would never return.
    done = subprocess.run([sys.executable, "-c", "import policies.coprs_policies.registry as r; print(len(r.RULES))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == len(RULES)


def test_pack_entry_point_only_builds_the_pack(monkeypatch):
    built = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda name, policies, **kw: built.append((name, policies, kw)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved = {k: v for k, v in sys.modules.items() if k == "coprs_policies" or k.startswith("coprs_policies.")}
    try:
        runpy.run_path(str(ROOT / "policies"), run_name="__main__")  # how the Pulumi policy host runs the pack
    finally:
        for k in [k for k in sys.modules if k == "coprs_policies" or k.startswith("coprs_policies.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    assert len(built) == 1
    name, policies, kw = built[0]
    assert name == PACK_NAME and kw.get("description")
    assert [p.name for p in policies] == [r.rule_id for r in RULES]
    assert all(isinstance(p, (ResourceValidationPolicy, StackValidationPolicy)) for p in policies)


def test_pack_manifest():
    import yaml

    manifest = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python" and manifest["runtime"]["options"]["virtualenv"]
    reqs = (ROOT / "policies" / "requirements.txt").read_text()
    assert re.search(r"^pulumi-policy==\d+\.\d+\.\d+$", reqs, re.M)
