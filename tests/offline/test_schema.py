"""`make schema`: the committed JSON Schema of the stack file is the one the pydantic models generate; both
stack files carry the editor modeline and validate against it; what an editor would underline is named."""

from __future__ import annotations

import copy

import pytest
import yaml

from offline import schema as schema_mod

from tests.conftest import ROOT


def test_the_committed_schema_is_current():
    assert schema_mod.SCHEMA_FILE.read_text() == schema_mod.render(), "run `make schema` and commit the result"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_carry_the_modeline_and_validate(stack):
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert text.splitlines()[0] == schema_mod.MODELINE
    assert (ROOT / schema_mod.MODELINE.split("$schema=", 1)[1]).resolve() == schema_mod.SCHEMA_FILE
    assert schema_mod.check_document(yaml.safe_load(text)) == []


def test_editor_errors_name_the_key():
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    bad = copy.deepcopy(doc)
    bad["config"]["coprs:s3AccessKey"] = "in-clear"
    bad["config"]["coprs:nodeGroups"]["infra"]["count"] = "three"
    bad["config"]["coprs:nodeGroups"]["infra"]["flavour"] = "s3.xlarge.4"
    bad["config"]["coprs:cluster"]["mode"] = "managed"
    problems = "\n".join(schema_mod.check_document(bad))
    assert "config.coprs:s3AccessKey: a secret must be `{secure: ...}`" in problems and "in-clear" not in problems
    assert "config.coprs:nodeGroups.infra.count: 'three' is not of type 'integer'" in problems
    assert "config.coprs:nodeGroups.infra: Additional properties are not allowed ('flavour'" in problems
    assert "config.coprs:cluster.mode: 'managed' is not one of ['provision', 'existing']" in problems
    ok = copy.deepcopy(doc)
    ok["config"]["coprs:s3AccessKey"] = {"secure": "v1:abc"}
    ok["config"]["openstack:insecure"] = True
    assert schema_mod.check_document(ok) == []


def test_make_schema_writes_the_file(tmp_path):
    out = tmp_path / "s.json"
    assert schema_mod.main(["--out", str(out)]) == 0
    assert out.read_text() == schema_mod.render()
