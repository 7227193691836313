"""`coprs:cluster:Kubespray`: runs the pinned Kubespray release against the cloud layer's VMs.

Steps (each a `command.local.Command`, so `pulumi up` shows them and streams Ansible's output):
  fetch    clone the pinned release into the cache directory and check its commit;
  venv     create Kubespray's own virtualenv and install its requirements.txt;
  cluster  write the inventory, run cluster.yml through the bastion (triggers: cluster-wide inventory,
           group_vars, version);
  scale-*  one per worker, after cluster.yml: joins it with scale.yml --limit unless cluster.yml
           already did (a quick check on a fresh cluster), so adding workers never re-runs cluster.yml;
  kubeconfig  reads /etc/kubernetes/admin.conf back from the first control-plane node (secret).
Every run step repeats the idempotent fetch/venv/write preparation, so a step works on any machine
that runs `pulumi up`, not only the one that created the stack. The SSH key reaches Ansible through a
secret stdin and a 0600 temp file, never through the command line or the files.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_command as command

from ..config import KUBESPRAY_RELEASES, StackConfig
from . import inventory as inv

__all__ = ["KubesprayArgs", "KubesprayRun", "rewrite_server", "script", "shell_path", "work_dir"]

FILES_ENV = "COPRS_INVENTORY_FILES"
ADMIN_CONF = "/etc/kubernetes/admin.conf"


@dataclass
class KubesprayArgs:
    cfg: StackConfig
    nodes: pulumi.Output  # Output[list[node dict]] (Cloud.node_table)
    api: pulumi.Output  # Output[inv.ApiAccess]
    api_endpoint: pulumi.Input[str]  # what the kubeconfig's server points at
    ssh_private_key: pulumi.Output[str]  # secret
    workers: Sequence  # cloud Node objects of role worker (name, instance, depends)
    first_control_plane: object  # cloud Node
    bastion: Optional[object]  # cloud Node
    depends_on: Sequence[pulumi.Resource]  # instances, ports, volume attachments, floating IPs, LB members


def shell_path(path: str) -> str:
    """A config path as one shell word, quoted (never pasted), with a leading `~/` as "$HOME"."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def work_dir(cfg: StackConfig, project: str, stack: str) -> str:
    """Where a stack's inventory is written (under the cache directory, one per project and stack): a shell word."""
    return shell_path(f"{cfg.cluster.kubespray.cache_dir.rstrip('/')}/inventories/{project}-{stack}")


def script(cfg: StackConfig, action: str, work: str, node: Optional[str] = None) -> str:
    """The bash script of one step: `fetch`, `venv`, `write`, `cluster` or `scale` (of `node`)."""
    ks = cfg.cluster.kubespray
    commit = KUBESPRAY_RELEASES.get(ks.version, {}).get("commit", "")
    cache = shell_path(ks.cache_dir.rstrip("/") or "/")
    q = shlex.quote
    head = f"""set -euo pipefail
KS_VERSION={q(ks.version)}; KS_REPO={q(ks.repository)}; KS_COMMIT={q(commit)}
KS_CACHE={cache}; WORK={work}
KS_DIR="$KS_CACHE/$KS_VERSION"; KS_VENV="$KS_CACHE/venv-$KS_VERSION"
fetch() {{
  [ -f "$KS_DIR/.coprs-fetched" ] && return 0
  rm -rf "$KS_DIR.tmp" && mkdir -p "$(dirname "$KS_DIR")"
  git -c advice.detachedHead=false clone --quiet --depth 1 --branch "$KS_VERSION" "$KS_REPO" "$KS_DIR.tmp"
  got="$(git -C "$KS_DIR.tmp" rev-parse HEAD)"
  if [ -n "$KS_COMMIT" ] && [ "$got" != "$KS_COMMIT" ]; then
    echo "Kubespray $KS_VERSION from $KS_REPO is commit $got, expected $KS_COMMIT" >&2; exit 1
  fi
  rm -rf "$KS_DIR" && mv "$KS_DIR.tmp" "$KS_DIR" && touch "$KS_DIR/.coprs-fetched"
}}
venv() {{
  [ -f "$KS_VENV/.coprs-installed" ] && return 0
  py="${{KUBESPRAY_PYTHON:-python3}}"
  # Kubespray's ansible (core 2.18) runs on Python 3.11 to 3.13 (docs/ansible/ansible.md).
  "$py" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' || {{
    echo "Kubespray $KS_VERSION needs Python 3.11-3.13; $py is $("$py" -V 2>&1); set KUBESPRAY_PYTHON" >&2; exit 1; }}
  rm -rf "$KS_VENV" && "$py" -m venv "$KS_VENV"
  "$KS_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$KS_DIR/requirements.txt"
  touch "$KS_VENV/.coprs-installed"
}}
write() {{
  mkdir -p "$WORK" && "$KS_VENV/bin/python" -c '
import json, os, pathlib
root = pathlib.Path(os.environ["WORK"])
for rel, text in json.loads(os.environ["{FILES_ENV}"]).items():
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
'
  echo "Kubespray inventory written to $WORK"
}}
export WORK
"""
    if action == "fetch":
        return head + "fetch\n"
    if action == "venv":
        return head + "fetch && venv\n"
    if action == "write":
        return head + "fetch && venv && write\n"
    run = f"""fetch && venv && write
KEY="$(mktemp)"; trap 'rm -f "$KEY"' EXIT
cat > "$KEY"
cd "$KS_DIR"
# Each step has its own fact cache: scale steps of several new nodes run side by side.
export ANSIBLE_CACHE_PLUGIN_CONNECTION="$WORK/facts/{node or 'cluster'}" ANSIBLE_FORCE_COLOR=false PYTHONUNBUFFERED=1
play() {{ "$KS_VENV/bin/ansible-playbook" -i "$WORK/{inv.INVENTORY_FILE}" --become --forks {ks.ansible_forks} \\
  --private-key "$KEY" -e ansible_ssh_private_key_file="$KEY" "$@"; }}
"""
    if action == "cluster":
        return head + run + "play cluster.yml\n"
    if action == "scale":
        assert node is not None
        n = q(node)
        return head + run + f"""if "$KS_VENV/bin/ansible" -i "$WORK/{inv.INVENTORY_FILE}" {n} --become --private-key "$KEY" \\
    -e ansible_ssh_private_key_file="$KEY" -m ansible.builtin.command -a 'test -f /etc/kubernetes/kubelet.conf' >/dev/null 2>&1; then
  echo {q(f"{node} already joined the cluster (cluster.yml); nothing to do")}; exit 0
fi
play playbooks/facts.yml
play scale.yml --limit={n}
play cluster.yml --tags=coredns --limit=kube_control_plane
"""
    raise ValueError(f"unknown Kubespray step {action!r}")


def rewrite_server(kubeconfig: str, endpoint: str) -> str:
    """Point every cluster entry of a kubeconfig at the API endpoint the operators reach."""
    return re.sub(r"(?m)^(\s*server:\s*).*$", lambda m: f"{m.group(1)}https://{endpoint}:{inv.API_PORT}", kubeconfig)


class KubesprayRun(pulumi.ComponentResource):
    """Bootstraps (and grows) the cluster with Kubespray; exposes the admin kubeconfig as a secret."""

    def __init__(self, name: str, args: KubesprayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("coprs:cluster:Kubespray", name, None, opts)
        cfg = args.cfg
        version = cfg.cluster.kubespray.version
        local = command.local
        work = work_dir(cfg, pulumi.get_project(), pulumi.get_stack())
        files = pulumi.Output.all(args.nodes, args.api).apply(lambda a: inv.render(a[0], cfg, a[1]))
        self.files: pulumi.Output[dict] = files
        files_json = files.apply(lambda f: json.dumps(f, sort_keys=True))
        key = pulumi.Output.secret(args.ssh_private_key)
        env = {FILES_ENV: files_json}
        secret_streams = ["stdout", "stderr"]

        def opts_(*deps: pulumi.Resource, **kw) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(deps), **kw)

        self.fetch = local.Command(
            f"{name}-fetch", create=script(cfg, "fetch", work), triggers=[version], interpreter=["/bin/bash", "-c"],
            logging=local.Logging.STDOUT_AND_STDERR, opts=opts_(),
        )
        self.venv = local.Command(
            f"{name}-venv", create=script(cfg, "venv", work), triggers=[version], interpreter=["/bin/bash", "-c"],
            logging=local.Logging.STDOUT_AND_STDERR, opts=opts_(self.fetch),
        )
        self.cluster_trigger = pulumi.Output.all(args.nodes, args.api).apply(
            lambda a: inv.cluster_fingerprint(a[0], cfg, a[1])
        )
        # Input changes outside the trigger (e.g. a new worker in the files) only refresh the written inventory.
        self.cluster = local.Command(
            f"{name}-cluster",
            create=script(cfg, "cluster", work),
            update=script(cfg, "write", work),
            environment=env,
            stdin=key,
            triggers=[self.cluster_trigger, version],
            interpreter=["/bin/bash", "-c"],
            logging=local.Logging.STDOUT_AND_STDERR,
            opts=opts_(self.venv, *args.depends_on, additional_secret_outputs=secret_streams),
        )
        self.scale: list[command.local.Command] = []
        for node in args.workers:
            trigger = args.nodes.apply(
                lambda ns, name=node.name: inv.node_fingerprint(next(n for n in ns if n["name"] == name), cfg)
            )
            step = local.Command(
                f"{name}-scale-{node.name}",
                create=script(cfg, "scale", work, node.name),
                update=script(cfg, "write", work),
                delete=f"echo {shlex.quote(f'{node.name}: if it left the inventory, drain and remove it with remove-node.yml (see README)')}",
                environment=env,
            stdin=key,
                # A replaced VM is a new, empty machine: join it again.
                triggers=[trigger, node.instance.id, version],
                interpreter=["/bin/bash", "-c"],
                logging=local.Logging.STDOUT_AND_STDERR,
                opts=opts_(self.cluster, *node.depends, additional_secret_outputs=secret_streams),
            )
            self.scale.append(step)

        cp, bastion = args.first_control_plane, args.bastion
        ssh_user = cfg.cluster.ssh_user
        proxy = None
        if bastion is not None:
            proxy = command.remote.ProxyConnectionArgs(
                host=bastion.public_ip or bastion.private_ip, user=ssh_user, private_key=key
            )
        self.admin_conf = command.remote.Command(
            f"{name}-kubeconfig",
            connection=command.remote.ConnectionArgs(host=cp.private_ip, user=ssh_user, private_key=key, proxy=proxy),
            create=f"sudo cat {ADMIN_CONF}",
            triggers=[self.cluster_trigger, version],
            # The kubeconfig holds the cluster-admin credentials: never in the log, secret in the state.
            logging=command.remote.Logging.NONE,
            opts=opts_(self.cluster, additional_secret_outputs=secret_streams),
        )
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.admin_conf.stdout, args.api_endpoint).apply(lambda a: rewrite_server(a[0], a[1]))
        )
        self.register_outputs({"clusterTrigger": self.cluster_trigger, "kubeconfig": self.kubeconfig})
