"""A Kubespray cache as the runner's steps leave it: a fetched checkout and an installed venv, whose
Ansible tools are test scripts (they record their calls)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def fake_cache(cache: Path, tools: dict[str, str], version: str = "v2.31.0") -> None:
    checkout, venv = cache / version, cache / f"venv-{version}"
    (venv / "bin").mkdir(parents=True)
    checkout.mkdir(parents=True)
    (checkout / ".coprs-fetched").touch()
    (venv / ".coprs-installed").touch()
    os.symlink(sys.executable, venv / "bin" / "python")
    for name, body in tools.items():
        (venv / "bin" / name).write_text(body)
        (venv / "bin" / name).chmod(0o755)
