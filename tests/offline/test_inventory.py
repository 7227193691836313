"""`make inventory`: the operators' copy of the Kubespray inventory, from an offline run or real outputs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from offline import inventory
from tests.conftest import stack_run


def test_writes_exactly_what_the_program_uses(tmp_path: Path, capsys):
    assert inventory.main(["--stack", "dev", "--out", str(tmp_path)]) == 0
    dev = stack_run("dev")
    assert (tmp_path / "hosts.yaml").read_text() == dev.raw_outputs["inventory"]
    for rel, text in dev.raw_outputs["inventoryGroupVars"].items():
        assert (tmp_path / rel).read_text() == text
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {"hosts.yaml", *dev.raw_outputs["inventoryGroupVars"]}
    out = capsys.readouterr().out
    assert "kube_control_plane=1" in out and "infra=3" in out and "remove-node.yml" in out
    assert "offline-dummy" not in "".join(p.read_text() for p in tmp_path.rglob("*.y*ml"))


def test_takes_a_deployed_stacks_outputs(tmp_path: Path):
    outputs = {
        "inventory": "all:\n  children:\n    kube_control_plane:\n      hosts:\n        cp-1: {ansible_host: 10.1.0.5}\n",
        "inventoryGroupVars": {"group_vars/all/all.yml": "ansible_user: ubuntu\n"},
        "kubeconfig": "[secret]",
    }
    src = tmp_path / "outputs.json"
    src.write_text(json.dumps(outputs))
    out = tmp_path / "inv"
    assert inventory.main(["--stack", "prod", "--out", str(out), "--stack-outputs", str(src)]) == 0
    assert yaml.safe_load((out / "hosts.yaml").read_text())["all"]["children"]["kube_control_plane"]["hosts"]["cp-1"]
    assert (out / "group_vars/all/all.yml").read_text() == "ansible_user: ubuntu\n"


def test_a_stack_without_inventory_gets_one_clear_line(tmp_path: Path, capsys):
    src = tmp_path / "outputs.json"
    src.write_text(json.dumps({"kubeconfig": "[secret]"}))
    assert inventory.main(["--stack", "split", "--out", str(tmp_path / "x"), "--stack-outputs", str(src)]) == 2
    err = capsys.readouterr().err
    assert "stack split has no Kubespray inventory" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
