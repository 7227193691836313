"""Secrets: a secret in clear in a stack file stops `make plan` and `make audit` with one line naming the key
and the command; the summary lists the secrets the stack needs; a configured stack lacking one is an error."""

from __future__ import annotations

import copy

import pytest
import yaml

from components.config import ConfigError
from components.secret_config import is_secret_name, needed_secrets, plaintext_secrets
from offline import audit as audit_mod
from offline import plan as plan_tool
from offline.stack_input import load_stack_input

from tests.conftest import ROOT

CLEAR = "AKIA" + "EXAMPLEKEY0NOTREAL"


def stack_doc(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())


@pytest.mark.parametrize("name, secret", [
    ("coprs:s3AccessKey", True), ("openstack:password", True), ("coprs:acmeDnsCredentials", True),
    ("adminPassword", True), ("apiToken", True), ("sshPrivateKey", True), ("clientSecret", True),
    ("tsigKeyName", False), ("accessKeyID", False), ("publicKey", False), ("apiTokenSecretRef", False),
    ("keyPair", False), ("userName", False), ("bucketPrefix", False),
])
def test_which_names_must_be_secret(name, secret):
    assert is_secret_name(name) is secret


def test_the_shipped_stack_files_hold_no_secret_in_clear():
    for stack in ("dev", "prod"):
        assert plaintext_secrets(stack_doc(stack)["config"]) == []


def test_nested_and_listed_keys_are_found_but_encrypted_values_pass():
    config = {"coprs:s3AccessKey": CLEAR, "coprs:s3SecretKey": {"secure": "AAABAJ..."},
              "coprs:platform": {"apps": {"x": {"settings": {"adminPassword": "hunter2", "tsigKeyName": "k"}}}}}
    assert plaintext_secrets(config) == ["coprs:s3AccessKey", "coprs:platform.apps.x.settings.adminPassword"]


def _plan(tmp_path, doc, *extra) -> int:
    f = tmp_path / "Pulumi.dev.yaml"
    f.write_text(yaml.safe_dump(doc))
    return plan_tool.main(["--stack", "dev", "--stack-file", str(f), "--out", str(tmp_path / "plan.json"), *extra])


def test_a_plaintext_secret_stops_make_plan_with_one_line(tmp_path, capsys):
    doc = stack_doc("dev")
    doc["config"]["coprs:s3AccessKey"] = CLEAR
    assert _plan(tmp_path, doc) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and CLEAR not in err
    assert "coprs:s3AccessKey is in clear in Pulumi.dev.yaml" in err
    assert "pulumi config set --secret coprs:s3AccessKey <value> --stack dev" in err
    assert not (tmp_path / "plan.json").exists()


def test_a_plaintext_secret_stops_make_audit(tmp_path, capsys):
    doc = stack_doc("dev")
    doc["config"]["openstack:password"] = "Plain-Passw0rd"
    f = tmp_path / "Pulumi.dev.yaml"
    f.write_text(yaml.safe_dump(doc))
    assert audit_mod.main(["--stack", "dev", "--stack-file", str(f), "--out", str(tmp_path / "audit")]) == 2
    err = capsys.readouterr().err
    assert "openstack:password is in clear" in err and "Plain-Passw0rd" not in err
    assert not (tmp_path / "audit").exists()


def test_the_secrets_a_stack_needs():
    dev, prod = stack_doc("dev")["config"], stack_doc("prod")["config"]
    assert set(needed_secrets(dev)) == {"openstack:password", "coprs:s3AccessKey", "coprs:s3SecretKey"}
    assert set(needed_secrets(prod)) == set(needed_secrets(dev)) | {"coprs:acmeDnsCredentials"}
    existing = {**dev, "coprs:cluster": {"mode": "existing"}}
    del existing["coprs:objectStorage"]
    assert set(needed_secrets(existing)) == {"coprs:kubeconfig"}
    registry = {**dev, "coprs:platform": {"apps": {"scdf": {"settings": {"registry": {"host": "r.example.org"}}}}}}
    assert "coprs:scdfRegistryPassword" in needed_secrets(registry)
    external = {**dev, "coprs:platform": {"apps": {"kafka": {"settings": {"external": {"bootstrapServers": "k:9094"}}}}}}
    assert "coprs:kafkaExternalCredentials" in needed_secrets(external)
    off = {**dev, "coprs:platform": {"apps": {"kafka": {"enabled": False, "settings": {"external": {"bootstrapServers": "k:9094"}}}}}}
    assert "coprs:kafkaExternalCredentials" not in needed_secrets(off)
    assert load_stack_input("dev").faked_secrets == ["openstack:password", "coprs:s3AccessKey", "coprs:s3SecretKey"]


def test_prod_summary_says_acme_credentials_are_required(prod):
    lines = "\n".join(plan_tool.secrets_lines(prod))
    assert "coprs:acmeDnsCredentials  MISSING" in lines and "ACME" in lines
    assert "coprs:kubeconfig" not in lines


def test_a_configured_prod_without_acme_credentials_is_a_clear_error(tmp_path, capsys):
    doc = copy.deepcopy(stack_doc("prod"))
    for key in ("openstack:password", "coprs:s3AccessKey", "coprs:s3SecretKey"):
        doc["config"][key] = {"secure": "v1:ZmFrZQ==:ZmFrZQ=="}
    f = tmp_path / "Pulumi.prod.yaml"
    f.write_text(yaml.safe_dump(doc))
    assert plan_tool.main(["--stack", "prod", "--stack-file", str(f), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "lacks coprs:acmeDnsCredentials" in err
    assert "pulumi config set --secret coprs:acmeDnsCredentials <value> --stack prod" in err
    # the template stack (no secret set at all) is previewed with dummies, unless told to require them
    with pytest.raises(ConfigError, match="lacks openstack:password"):
        load_stack_input("dev", require_secrets=True)
