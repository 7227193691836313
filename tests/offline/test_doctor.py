"""`make doctor`: one ok/warn/fail line per check; a too-old Python, a CLI older than the SDK pin, a secret in
clear, a missing needed secret, a bad policy config are each named."""

from __future__ import annotations

import subprocess
import sys

import pytest

from offline import doctor

from tests.conftest import ROOT


def lines(fn, *args) -> tuple[list[str], bool]:
    r = doctor.Report()
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(r, *args)
    return buf.getvalue().splitlines(), r.failed


def test_python_version():
    out, failed = lines(doctor.check_python, (3, 10, 12), "/usr/bin/python3")
    assert failed and out == ["fail  Python: 3.10.12 (/usr/bin/python3) is too old: 3.11 or newer is needed; install one "
                              "and run `make doctor PYTHON=python3.11` (or python3.12, python3.13)"]
    out, failed = lines(doctor.check_python, (3, 12, 1), "/usr/bin/python3")
    assert not failed and out[0].startswith("ok    Python: 3.12.1")


@pytest.mark.parametrize("cli, level", [(None, "warn"), ("v3.100.0", "warn"), ("v3.272.0", "ok"), ("v3.280.1", "ok"),
                                        ("v4.0.0", "fail")])
def test_pulumi_cli_against_the_sdk_pin(cli, level):
    pin = doctor.sdk_pin()
    assert pin == (3, 272, 0)  # requirements.txt
    out, _ = lines(doctor.check_pulumi_cli, cli, pin)
    assert out[0].startswith(f"{level:<5} Pulumi CLI")


def test_the_shipped_stacks_pass_with_missing_secrets_as_warnings():
    for stack in ("dev", "prod"):
        out, failed = lines(doctor.check_stack, stack)
        assert not failed, out
        assert f"ok    Pulumi.{stack}.yaml: valid" in out[0]
        assert any(line.startswith("warn  secret coprs:s3SecretKey: missing") for line in out)
    out, _ = lines(doctor.check_stack, "prod")
    assert any(line.startswith("warn  secret coprs:acmeDnsCredentials: missing (platform.issuer is ACME") for line in out)
    out, failed = lines(doctor.check_policy_config, "dev")
    assert not failed and out[0].startswith("ok    policy config: policies/config/dev.json")


def test_a_secret_in_clear_fails_without_showing_it(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text().replace(
        "  coprs:environment: dev", "  coprs:environment: dev\n  coprs:s3AccessKey: AKIAEXAMPLE"))
    out, failed = lines(doctor.check_stack, "dev", tmp_path)
    assert failed
    assert any(line.startswith("fail  secret in clear: coprs:s3AccessKey is in clear in Pulumi.dev.yaml") for line in out)
    assert not any("AKIAEXAMPLE" in line for line in out)


def test_host_stage_runs_on_the_standard_library_alone():
    proc = subprocess.run([sys.executable, "-S", "-m", "offline.doctor", "host"], cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout.splitlines()
    assert [line.split(":")[0].split(None, 1)[1] for line in out[:2]] == ["Python", "venv module"]
    assert all(line.split()[0] in ("ok", "warn", "fail") for line in out)


def test_a_venv_of_an_older_python_is_named(tmp_path):
    out, failed = lines(doctor.check_existing_venv, tmp_path / "venv")
    assert not failed and "not created yet" in out[0]
    bin_ = tmp_path / "venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").write_text("#!/bin/sh\necho 3.10.13\n")
    (bin_ / "python").chmod(0o755)
    out, failed = lines(doctor.check_existing_venv, tmp_path / "venv")
    assert failed and "made with 3.10.13: remove it" in out[0]
