"""`make plan`: the summary and the plan JSON format later tools build on."""

from __future__ import annotations

import json

import pytest

from offline import plan as plan_tool
from offline.harness import SECRET
from tests.conftest import stack_run


@pytest.mark.parametrize("stack, instances", [("dev", 9), ("prod", 20)])
def test_plan_writes_the_stable_format(stack, instances, tmp_path, capsys):
    out = tmp_path / f"plan-{stack}.json"
    assert plan_tool.main(["--stack", stack, "--out", str(out)]) == 0
    plan = json.loads(out.read_text())
    assert plan["stack"] == stack
    assert {"stack", "resources", "outputs"} <= set(plan)
    for r in plan["resources"]:
        assert set(r) >= {"urn", "type", "name", "parent", "inputs", "protect", "dependencies"}
        assert isinstance(r["protect"], bool) and isinstance(r["dependencies"], list)
        assert r["parent"] is None or r["parent"].startswith("urn:pulumi:")
    assert sum(r["type"] == "openstack:compute/instance:Instance" for r in plan["resources"]) == instances
    assert plan["outputs"]["sshPrivateKey"] == SECRET
    text = capsys.readouterr().out
    # one screen by default: count, layers, capacity, apps, policy, secrets, where the JSON is
    assert len(text.splitlines()) <= 45, len(text.splitlines())
    assert text.startswith(f"Stack {stack}: {plan['counts']['resources']} resources (")
    assert "Capacity:" in text and "Apps (" in text and "Policy pack" in text and f"Plan written to {out}" in text
    assert "coprs:s3SecretKey   MISSING" in text or "coprs:s3SecretKey         MISSING" in text
    assert "Resources per layer" not in text
    result = stack_run(stack)
    _, sections = plan_tool.build_sections(result)
    verbose = plan_tool.render_summary(result, [line for lines in sections.values() for line in ["", *lines]])
    assert "Resources per layer" in verbose and "Stack outputs (secrets masked)" in verbose
    outputs = verbose.split("Stack outputs (secrets masked)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert outputs and all(line.startswith("  ") and ": " in line for line in outputs)  # one line per output
    text = out.read_text()
    assert "offline-dummy-coprs-s3SecretKey" not in text
    assert "offline-dummy-openstack-password" not in text
    assert "-private-openssh" not in text


def test_one_resource_count_in_plan_json_summary_and_bench(dev):
    from bench.run import measure

    plan, _ = plan_tool.build_plan(dev)
    assert plan["counts"]["resources"] == len(plan["resources"]) == len(dev.resources)
    assert plan["counts"]["custom"] + plan["counts"]["components"] == plan["counts"]["resources"]
    assert plan_tool.count_line(dev).startswith(f"Stack dev: {len(dev.resources)} resources")
    assert measure("dev", {})["resources"] == plan["counts"]["resources"]


def test_a_new_plan_section_shows_its_headline_in_the_short_summary(dev, monkeypatch):
    def rendering(result, plan):
        plan["render"] = {"charts": 3}
        return ["Rendered charts: 3 (make render)", "  detail only in VERBOSE"]

    rendering.__module__ = "offline.render"
    original = plan_tool.extensions
    monkeypatch.setattr(plan_tool, "extensions", lambda: [*original(), rendering])
    plan, sections = plan_tool.build_sections(dev)
    text = plan_tool.render_short(dev, plan, sections)
    assert "Rendered charts: 3 (make render)" in text and "detail only in VERBOSE" not in text
    assert plan["render"] == {"charts": 3}
