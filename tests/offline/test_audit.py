"""`make audit` over the real recorded resources: dev and prod are clean of mandatory violations; a
deliberately broken stack is caught by the right rules; the reports (JSON, SARIF 2.1.0, Markdown) hold
one result per violation; `make plan` prints the same run's policy summary."""

from __future__ import annotations

import copy
import json

import pytest
import sarif_pydantic

from offline import audit as audit_mod
from offline.audit import audit, config_path, load_config, main, to_markdown, to_sarif, write_reports
from offline.harness import Recorded, RunResult
from offline.plan import build_plan
from policies.coprs_policies.registry import BY_ID, RESOURCE_RULES, STACK_RULES

from tests.conftest import stack_run
from tests.policies.cases import workload

PASSWORD = "Pl4intext-Passw0rd"


def run_audit(result: RunResult):
    return audit(result, load_config(config_path(result.stack)), f"policies/config/{result.stack}.json")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stacks_have_no_mandatory_violation(stack):
    report = run_audit(stack_run(stack))
    assert report.mandatory == [], "\n".join(f"{f.rule} {f.name}: {f.message}" for f in report.mandatory)
    assert report.checked["OS-03"] > 10 and report.checked["HELM-04"] >= 1 and report.checked["ST-01"] == 1


def _record(stack: str, typ: str, name: str, inputs: dict) -> Recorded:
    urn = f"urn:pulumi:{stack}::coprs::{typ}::{name}"
    return Recorded(urn=urn, type=typ, name=name, custom=True, parent=None, provider=None, inputs=inputs,
                    masked_inputs=inputs, outputs=copy.deepcopy(inputs))


def broken_dev() -> RunResult:
    """dev with SSH from 0.0.0.0/0 (through config), plus a privileged `latest` pod in `database` and a plaintext
    password in Helm values (declared next to the program's own resources)."""
    base = stack_run("dev", {"coprs:network.adminCidrs": ["0.0.0.0/0"]})
    typ, pod = workload("Deployment", "rogue", "database",
                        {"containers": [{"image": "nginx:latest", "securityContext": {"privileged": True}}]})
    extra = [
        _record("dev", typ, "rogue", pod),
        _record("dev", "kubernetes:helm.sh/v3:Release", "mongodb",
                {"chart": "mongodb", "version": "16.0.0", "namespace": "database", "atomic": True,
                 "repositoryOpts": {"repo": "https://charts.bitnami.com/bitnami"},
                 "values": {"auth": {"rootPassword": PASSWORD}}}),
    ]
    return RunResult(base.stack, base.config, [*base.resources, *extra], base.outputs, base.raw_outputs,
                     base.faked_secrets, base.stack_urn)


@pytest.fixture(scope="module")
def broken():
    return run_audit(broken_dev())


def test_broken_stack_is_caught_by_the_right_rules(broken):
    by_rule: dict[str, set[str]] = {}
    for f in broken.mandatory:
        by_rule.setdefault(f.rule, set()).add(f.name)
    assert "coprs-dev-bastion-ingress-tcp-22" in by_rule["OS-03"]  # SSH from 0.0.0.0/0
    assert {"OS-12", "ST-06", "OS-11", "OS-13"} <= set(by_rule)  # ... and the API from it too
    assert by_rule["K-02"] == {"rogue"}  # privileged pod in database
    assert by_rule["K-21"] == {"rogue"}  # latest image
    assert by_rule["HELM-04"] == {"mongodb"}  # plaintext password in values
    assert all(PASSWORD not in f.message for f in broken.findings)


def test_sarif_loads_and_holds_one_result_per_violation(broken, tmp_path):
    paths = write_reports(broken, tmp_path)
    log = sarif_pydantic.load(paths["sarif"])
    assert log.version == "2.1.0"
    results = log.runs[0].results
    assert len(results) == len(broken.findings)
    rule_ids = {r.id for r in log.runs[0].tool.driver.rules}
    assert rule_ids == set(BY_ID)
    for result, finding in zip(results, broken.findings):
        assert result.rule_id == finding.rule
        assert result.level.value == ("error" if finding.enforcement == "mandatory" else "warning")
    doc = json.loads(paths["json"].read_text())
    assert doc["summary"]["mandatoryViolations"] == len(broken.mandatory)
    assert len(doc["violations"]) == len(broken.findings)
    md = paths["markdown"].read_text()
    assert md.count("\n| ") == len(broken.findings) + 1 and "mandatory" in md


def test_cli_exit_codes_and_reports(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(audit_mod, "run_stack", lambda stack: stack_run(stack))
    assert main(["--stack", "prod", "--out", str(tmp_path / "prod")]) == 0
    assert sorted(p.name for p in (tmp_path / "prod").iterdir()) == ["audit.json", "audit.md", "audit.sarif"]
    assert "0 mandatory" in capsys.readouterr().out
    monkeypatch.setattr(audit_mod, "run_stack", lambda stack: broken_dev())
    assert main(["--stack", "dev", "--out", str(tmp_path / "dev")]) == 1
    out = capsys.readouterr().out
    assert "OS-03" in out and "K-02" in out and PASSWORD not in out
    assert main(["--stack", "dev", "--config", str(tmp_path / "missing.json")]) == 2


def test_plan_prints_the_policy_summary_of_the_same_run():
    plan, lines = build_plan(stack_run("dev"))
    assert plan["policy"]["mandatoryViolations"] == 0 and plan["policy"]["stack"] == "dev"
    assert any(line.startswith("Policy pack coprs-security") for line in lines)


def test_reports_render_without_violations():
    report = run_audit(stack_run("prod"))
    sarif = to_sarif(report)
    assert len(sarif["runs"][0]["results"]) == len(report.findings)
    assert "Policy report" in to_markdown(report)


# Types that only link two declared resources: there is nothing of their own to judge.
LINKS = {"openstack:compute/volumeAttach:VolumeAttach", "openstack:networking/routerInterface:RouterInterface"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_declared_type_is_judged_by_some_rule(stack):
    declared = {r.type for r in stack_run(stack).resources if r.custom}
    judged = {t for t in declared if any(rule.applies_to(t) for rule in RESOURCE_RULES)}
    judged |= {t for rule in STACK_RULES for t in rule.subjects}
    assert declared - judged - LINKS == set()
