"""`make audit` refuses a policy config the engine would refuse (each rule's entry against its schema), and
the entries that configure nothing (unknown rule, unknown key): exit 2, one line naming rule and key."""

from __future__ import annotations

import json

import pytest

from offline import audit as audit_mod
from offline.policy_config import check
from policies.coprs_policies.registry import RULES

from tests.conftest import ROOT


def shipped(stack: str) -> dict:
    return json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_configs_pass(stack):
    assert check(shipped(stack), RULES) == []


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d["OS-07"].update(adminCidrs="198.51.100.0/24"), "OS-07.adminCidrs = '198.51.100.0/24': '198.51.100.0/24' is not of type 'array'"),
        (lambda d: d["OS-07"].update(adminCidrs=[24]), "OS-07.adminCidrs[0] = 24: 24 is not of type 'string'"),
        (lambda d: d.update({"OS-99": {"enforcementLevel": "mandatory"}}), "OS-99 is not a rule of the pack"),
        (lambda d: d["OS-07"].update(adminCidr=["198.51.100.0/24"]), "OS-07.adminCidr is not a config key of OS-07; allowed: enforcementLevel, adminCidrs"),
        (lambda d: d["OS-03"].update(enforcementLevel="strict"), "OS-03.enforcementLevel = 'strict': must be one of mandatory, advisory"),
        (lambda d: d.update({"OS-03": 3}), "OS-03 = 3: must be an enforcement level or an object"),
        (lambda d: d.update({"all": "loud"}), "all.enforcementLevel = 'loud'"),
        (lambda d: d["OS-07"].update(exemptions=[{"resource": "x"}]), "OS-07.exemptions[0] = {'resource': 'x'}: 'reason' is a required property"),
    ],
)
def test_a_bad_entry_is_named(edit, expected):
    doc = shipped("dev")
    edit(doc)
    problems = check(doc, RULES)
    assert any(p.startswith(expected) for p in problems), problems


def test_make_audit_exits_2_with_one_line_naming_each_problem(tmp_path, capsys):
    doc = shipped("dev")
    doc["OS-07"].update(adminCidrs="198.51.100.0/24", stray=True)
    doc["OS-99"] = "mandatory"
    bad = tmp_path / "policy.json"
    bad.write_text(json.dumps(doc))
    assert audit_mod.main(["--stack", "dev", "--config", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"error: invalid policy config {bad}")
    assert "OS-07.adminCidrs" in err and "OS-07.stray" in err and "OS-99" in err
    assert not (tmp_path / "out").exists()
