"""The Makefile: ARGS forwarded by every tool target, VERBOSE switches the plan to every section, the
offline targets install only the offline requirements, and a too-old Python is named before pip runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def make(*args: str, venv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", f"VENV={venv}", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture
def ready_venv(tmp_path) -> Path:
    """A venv whose stamps are newer than the requirement files (nothing to install)."""
    venv = tmp_path / "venv"
    venv.mkdir()
    for stamp in (".offline", ".installed"):
        (venv / stamp).touch()
        os.utime(venv / stamp, (4e9, 4e9))
    return venv


@pytest.mark.parametrize("target, module", [("bench", "bench.run"), ("audit", "offline.audit"), ("plan", "offline.plan"),
                                            ("inventory", "offline.inventory"), ("render", "offline.render"),
                                            ("test", "pytest")])
def test_args_are_forwarded(ready_venv, target, module):
    out = make(target, "ARGS=--marker-arg", venv=ready_venv).stdout
    line = next(line for line in out.splitlines() if module in line)
    assert line.rstrip().endswith("--marker-arg"), line


def test_verbose_and_the_offline_requirements(ready_venv, tmp_path):
    assert "--verbose" in make("plan", "VERBOSE=1", venv=ready_venv).stdout
    assert "--verbose" not in make("plan", "VERBOSE=0", venv=ready_venv).stdout
    fresh = make("plan", venv=tmp_path / "new").stdout
    assert "requirements-offline.txt" in fresh and "requirements-dev.txt" not in fresh
    assert "First run: creating" in fresh


def test_a_too_old_python_is_named(tmp_path):
    old = tmp_path / "python3"
    old.write_text("#!/bin/sh\ncase \"$1\" in -c) exit 1;; -V) echo 'Python 3.10.13';; esac\n")
    old.chmod(0o755)
    proc = subprocess.run(["make", f"VENV={tmp_path / 'v'}", f"PYTHON={old}", "plan"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"error: Python 3.11 or newer is needed; {old} is Python 3.10.13" in proc.stderr
    assert not (tmp_path / "v").exists()
