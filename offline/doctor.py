"""`make doctor`: a preflight of this machine and one stack, one line per check: ok, warn or fail.

`host` needs nothing installed (it runs on the system Python, so a too-old one is named, not a pip error):
the Python version, its venv module, the Pulumi CLI against the SDK pin of requirements.txt, and what the
Kubespray runner needs (a Python 3.11-3.13 for its venv, ssh, git). `stack` runs in the offline venv: the
stack file against the config models and the committed JSON Schema, its secrets (in clear, set, missing),
the policy config, the flavors' sizes. Exit 1 when any check fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 11)
KUBESPRAY_PYTHONS = ((3, 11), (3, 13))  # components/cluster/kubespray.py: Kubespray's ansible-core
SDK_PIN = re.compile(r"^pulumi==(\d+)\.(\d+)\.(\d+)\s*$", re.M)


class Report:
    def __init__(self) -> None:
        self.failed = False

    def line(self, level: str, what: str, detail: str) -> None:
        self.failed = self.failed or level == "fail"
        print(f"{level:<5} {what}: {detail}", flush=True)

    ok = lambda self, what, detail: self.line("ok", what, detail)  # noqa: E731
    warn = lambda self, what, detail: self.line("warn", what, detail)  # noqa: E731
    fail = lambda self, what, detail: self.line("fail", what, detail)  # noqa: E731


def _version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(x) for x in m.groups()) if m else None


def _run(*cmd: str) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout or proc.stderr).strip() if proc.returncode == 0 else None


def sdk_pin(requirements: Path = ROOT / "requirements.txt") -> tuple[int, ...] | None:
    m = SDK_PIN.search(requirements.read_text()) if requirements.exists() else None
    return tuple(int(x) for x in m.groups()) if m else None


def check_python(r: Report, version: tuple[int, ...] = tuple(sys.version_info[:3]), exe: str = sys.executable) -> None:
    text = ".".join(map(str, version))
    if version[:2] >= MIN_PYTHON:
        r.ok("Python", f"{text} ({exe})")
    else:
        r.fail("Python", f"{text} ({exe}) is too old: 3.11 or newer is needed; install one and run "
                         "`make doctor PYTHON=python3.11` (or python3.12, python3.13)")


def check_venv_module(r: Report) -> None:
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        r.fail("venv module", "missing: install it (Debian/Ubuntu: apt-get install python3-venv)")
    else:
        r.ok("venv module", "present")


def check_pulumi_cli(r: Report, cli_output: str | None, pin: tuple[int, ...] | None) -> None:
    pin_text = ".".join(map(str, pin)) if pin else "?"
    if cli_output is None:
        r.warn("Pulumi CLI", "not found: only `pulumi preview`/`up` need it (https://www.pulumi.com/docs/install/); "
                             "the offline tools do not")
        return
    cli = _version(cli_output)
    if cli is None or pin is None:
        r.warn("Pulumi CLI", f"{cli_output!r}: cannot compare with the SDK pin pulumi=={pin_text}")
    elif cli[0] != pin[0]:
        r.fail("Pulumi CLI", f"v{'.'.join(map(str, cli))} is another major version than the SDK pin pulumi=={pin_text}")
    elif cli < pin:
        r.warn("Pulumi CLI", f"v{'.'.join(map(str, cli))} is older than the SDK pin pulumi=={pin_text}: "
                             "upgrade it (the CI uses the pin's version)")
    else:
        r.ok("Pulumi CLI", f"v{'.'.join(map(str, cli))} (SDK pin pulumi=={pin_text})")


def check_kubespray_runner(r: Report) -> None:
    py = os.environ.get("KUBESPRAY_PYTHON", "python3")
    out = _run(py, "-c", "import sys, venv; print('%d.%d.%d' % sys.version_info[:3])")
    lo, hi = KUBESPRAY_PYTHONS
    version = _version(out or "")
    if version is None:
        r.warn("Kubespray Python", f"{py} cannot create a venv; provisioning needs Python 3.11-3.13 with venv "
                                   "(set KUBESPRAY_PYTHON)")
    elif not lo <= version[:2] <= hi:
        r.warn("Kubespray Python", f"{py} is {'.'.join(map(str, version))}; Kubespray's ansible needs 3.11-3.13 "
                                   "(set KUBESPRAY_PYTHON)")
    else:
        r.ok("Kubespray Python", f"{py} {'.'.join(map(str, version))}")
    for tool, why in (("ssh", "Kubespray reaches the nodes over SSH (through the bastion)"),
                      ("git", "the Kubespray release is fetched with git")):
        path = shutil.which(tool)
        if path:
            r.ok(tool, path)
        else:
            r.warn(tool, f"not found: {why} (provision mode only)")


def check_existing_venv(r: Report, venv: Path) -> None:
    """A venv left by an older Python keeps failing in odd ways: name it."""
    py = venv / "bin" / "python"
    if not py.exists():
        r.ok(f"{venv}/", "not created yet: the first `make plan` creates it")
        return
    version = _version(_run(str(py), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])") or "")
    if version is None or version[:2] < MIN_PYTHON:
        found = ".".join(map(str, version)) if version else "a broken interpreter"
        r.fail(f"{venv}/", f"made with {found}: remove it (`rm -rf {venv}`) and run `make plan` again")
    else:
        r.ok(f"{venv}/", f"Python {'.'.join(map(str, version))}")


def host(venv: str) -> int:
    r = Report()
    check_python(r)
    check_venv_module(r)
    check_existing_venv(r, ROOT / venv if not Path(venv).is_absolute() else Path(venv))
    check_pulumi_cli(r, _run("pulumi", "version") if shutil.which("pulumi") else None, sdk_pin())
    check_kubespray_runner(r)
    if r.failed:
        print("The stack checks need the offline venv (make venv-offline); fix the failures above first.", file=sys.stderr)
    return 1 if r.failed else 0


# ---------------------------------------------------------------------------------------------
# the stack (offline venv)


def check_stack(r: Report, stack: str, root: Path = ROOT) -> None:
    import yaml

    from components.config import ConfigError
    from components.secret_config import encrypted_keys, needed_secrets, plaintext_problems, set_secret_command

    from .capacity import flavor_size
    from .schema import MODELINE, check_document
    from .stack_input import load_stack_input, validate

    name = f"Pulumi.{stack}.yaml"
    path = root / name
    try:
        text = path.read_text()
        doc = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as err:
        r.fail(name, f"cannot read it: {err}".replace("\n", " "))
        return
    config = doc.get("config") or {}
    problems = plaintext_problems(config, stack, name)
    for p in problems:
        r.fail("secret in clear", p)
    try:
        cfg = validate(load_stack_input(stack, root=root, require_secrets=False)) if not problems else None
    except ConfigError as err:
        r.fail(name, str(err))
        cfg = None
    if cfg is not None:
        r.ok(name, f"valid ({cfg.environment}, cluster {cfg.cluster.mode}, {len(cfg.node_groups)} node groups)")
    schema_problems = check_document(doc)
    if schema_problems:
        r.fail(f"{name} against the JSON Schema", "; ".join(schema_problems[:5]))
    else:
        r.ok(f"{name} against the JSON Schema", "valid")
    if MODELINE not in text:
        r.warn("editor validation", f"{name} lacks the line `{MODELINE}`")
    configured = bool(encrypted_keys(config))
    for key, why in needed_secrets(config).items():
        if key in config:
            r.ok(f"secret {key}", "set (encrypted)")
        else:
            level = r.fail if configured else r.warn
            level(f"secret {key}", f"missing ({why}): {set_secret_command(key, stack)}"
                  + ("" if configured else "; faked for the offline preview"))
    if cfg is not None:
        for group, g in sorted(cfg.node_groups.items()):
            if flavor_size(g.flavor)[2] != "table":
                r.warn(f"flavor {g.flavor}", f"(node group {group}) not in offline/flavors.yaml: capacity figures "
                                             "are sized from its name or unknown")


def check_policy_config(r: Report, stack: str) -> None:
    from components.config import ConfigError

    from .audit import config_path, load_config

    path = config_path(stack)
    try:
        doc = load_config(path)
    except ConfigError as err:
        r.fail("policy config", str(err))
        return
    r.ok("policy config", f"{path.relative_to(ROOT)}: {len(doc)} rule entries, valid against every rule's schema")


def stack_checks(stack: str) -> int:
    r = Report()
    check_stack(r, stack)
    check_policy_config(r, stack)
    return 1 if r.failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make doctor", description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=("host", "stack"))
    ap.add_argument("--stack", default="dev")
    ap.add_argument("--venv", default="venv")
    args = ap.parse_args(argv)
    return host(args.venv) if args.stage == "host" else stack_checks(args.stack)


if __name__ == "__main__":
    sys.exit(main())
