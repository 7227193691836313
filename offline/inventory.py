"""`make inventory`: write the Kubespray inventory (`hosts.yaml` + `group_vars/`) the program would use.

By default it comes from the offline run of the stack (mocked addresses: for reading and diffing). With
`--stack-outputs` it comes from a real stack's outputs (`pulumi stack output --json > outputs.json`),
so operators can run Kubespray's maintenance playbooks (remove-node, upgrade-cluster, reset) by hand
against exactly the inventory `pulumi up` uses. Neither holds a secret.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from components.config import ConfigError

from .gc_pause import one_shot_process
from .harness import run_stack

INVENTORY, GROUP_VARS = "inventory", "inventoryGroupVars"


def files_from_outputs(outputs: Mapping[str, Any], stack: str) -> dict[str, str]:
    """hosts.yaml and group_vars/ from the stack outputs `inventory` and `inventoryGroupVars`."""
    if not isinstance(outputs.get(INVENTORY), str) or not isinstance(outputs.get(GROUP_VARS), dict):
        raise ConfigError(
            [f"stack {stack} has no Kubespray inventory (outputs `{INVENTORY}`, `{GROUP_VARS}`): "
             "it is in cluster.mode 'existing' or was never deployed with this program"]
        )
    return {"hosts.yaml": outputs[INVENTORY], **outputs[GROUP_VARS]}


def write(files: Mapping[str, str], out: Path) -> list[Path]:
    written = []
    for rel, text in sorted(files.items()):
        path = out / rel
        if ".." in Path(rel).parts:
            raise ConfigError([f"refusing to write {rel!r} outside {out}"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def summary(files: Mapping[str, str], out: Path, version: Optional[str]) -> str:
    groups = yaml.safe_load(files["hosts.yaml"])["all"]["children"]
    counts = [(g, len(v.get("hosts") or {})) for g, v in groups.items() if (v or {}).get("hosts") is not None]
    ks = version or "<release>"
    inv = out / "hosts.yaml"
    return "\n".join(
        [
            f"Kubespray inventory written to {out}/ ({', '.join(sorted(files))})",
            "Hosts per group: " + ", ".join(f"{g}={n}" for g, n in counts),
            "",
            f"Run a maintenance playbook from a checkout of Kubespray {ks} (in its own venv):",
            "  pulumi stack output --show-secrets sshPrivateKey > ~/.ssh/coprs && chmod 600 ~/.ssh/coprs",
            f"  ansible-playbook -i {inv} -b -e ansible_ssh_private_key_file=~/.ssh/coprs --private-key ~/.ssh/coprs \\",
            "    remove-node.yml -e node=<name>      # or upgrade-cluster.yml, reset.yml, recover-control-plane.yml",
        ]
    )


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="make inventory", description=__doc__.splitlines()[0])
    ap.add_argument("--stack", default="dev")
    ap.add_argument("--out", default=None, help="directory to write (default inventory-<stack>)")
    ap.add_argument("--stack-outputs", default=None, help="JSON of `pulumi stack output --json` of a deployed stack")
    args = ap.parse_args(argv)
    out = Path(args.out or f"inventory-{args.stack}")
    try:
        version = None
        if args.stack_outputs:
            try:
                outputs = json.loads(Path(args.stack_outputs).read_text())
            except (OSError, json.JSONDecodeError) as err:
                raise ConfigError([f"cannot read stack outputs {args.stack_outputs}: {err}"]) from None
        else:
            result = run_stack(args.stack)
            outputs = result.raw_outputs
            version = result.config.cluster.kubespray.version
        files = files_from_outputs(outputs, args.stack)
        write(files, out)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary(files, out, version))
    return 0


if __name__ == "__main__":
    one_shot_process()
    sys.exit(main())
