"""`make plan`: the summary and the plan JSON format later tools build on."""

from __future__ import annotations

import json

import pytest

from offline import plan as plan_tool
from offline.harness import SECRET


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
    assert f"Stack {stack}:" in text and "Resources per layer" in text and "Stack outputs (secrets masked)" in text
    assert "coprs:s3SecretKey" in text  # says which secrets it faked
    text = out.read_text()
    assert "offline-dummy-coprs-s3SecretKey" not in text
    assert "offline-dummy-openstack-password" not in text
    assert "-private-openssh" not in text
