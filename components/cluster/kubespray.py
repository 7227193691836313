"""`coprs:cluster:Kubespray`: runs the pinned Kubespray release against the cloud layer's VMs.

Steps (each a `command.local.Command`, so `pulumi up` shows them and streams Ansible's output):
  fetch      clone the pinned release into the cache directory and check its commit;
  venv       create Kubespray's own virtualenv and install its requirements.txt;
  inventory  the one step that carries the inventory files (on stdin): writes them, content-addressed,
             to <work>/inventory/<digest>/ and points <work>/current at them;
  cluster    waits for every node (SSH through the bastion, cloud-init), runs cluster.yml (trigger:
             the control plane's inventory, the group_vars, the version);
  join-*     one per worker, a marker with nothing but its node's entry: its creation or replacement
             (a new or replaced VM) is how the preview shows which nodes the next scale run joins;
  scale      one run for every worker: waits for them, lists those without a kubelet (new or replaced
             VMs) and joins them all with one `scale.yml --limit` (trigger: a digest of the workers);
  kubeconfig reads /etc/kubernetes/admin.conf back from the first control-plane node (secret).
No step but `inventory` carries more than a digest of the node list, so the state grows linearly with
the nodes; nothing large goes through an environment variable or a command line (Linux caps each at
128 KiB). The run steps check that the inventory on disk was written for them (another machine may
have run the last `pulumi up`). Every step repeats the idempotent fetch/venv preparation, so any
machine can run `pulumi up`. The SSH key reaches Ansible through a secret stdin and a 0600 temp file,
never through the command line or the files.
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

TRIGGERS_ENV = "COPRS_TRIGGERS"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
TRIGGERS_FILE = ".coprs-triggers"
# The wait before cluster.yml and scale.yml: attempts, the first pause (doubling up to 300 s) and the
# per-attempt timeout of SSH and of cloud-init, in seconds. The environment of `pulumi up` may
# override them (COPRS_WAIT_ATTEMPTS, COPRS_WAIT_DELAY, COPRS_WAIT_TIMEOUT).
WAIT_ATTEMPTS, WAIT_DELAY, WAIT_TIMEOUT = 5, 15, 180

# Our own playbook, run by Kubespray's Ansible before its playbooks. `cloud-init status --wait` exits 2
# for "done, with recoverable errors" (deprecated keys...): that node is up. With `coprs_to_join` it
# also lists, in that file, the nodes without a kubelet (new or replaced VMs).
WAIT_PLAYBOOK = """\
- name: Wait until the nodes answer SSH (through the bastion) and cloud-init has finished
  hosts: all
  gather_facts: false
  become: false
  tasks:
    - name: Wait for SSH
      ansible.builtin.wait_for_connection:
        timeout: "{{ coprs_wait_timeout | int }}"
    - name: Wait for cloud-init
      ansible.builtin.command: timeout {{ coprs_wait_timeout | int }} cloud-init status --wait
      register: coprs_cloud_init
      changed_when: false
      failed_when: coprs_cloud_init.rc not in [0, 2]
    - name: Look for the kubelet's kubeconfig
      ansible.builtin.stat:
        path: "{{ coprs_kubelet_conf | default('/etc/kubernetes/kubelet.conf') }}"
      register: coprs_kubelet
      when: coprs_to_join | length > 0
    - name: List the nodes that have to join
      ansible.builtin.copy:
        dest: "{{ coprs_to_join }}"
        mode: "0600"
        content: "# nodes without a kubelet\\n{% for h in ansible_play_hosts | sort %}{% if not hostvars[h].coprs_kubelet.stat.exists %}{{ h }}\\n{% endif %}{% endfor %}"
      delegate_to: localhost
      run_once: true
      vars:
        ansible_become: false
      when: coprs_to_join | length > 0
"""

# Writes the files read from stdin (JSON path → text) under $WORK/inventory/<digest>/, records the
# triggers it was written for and points $WORK/current at it; keeps the five latest inventories.
_WRITER = """
import hashlib, json, os, pathlib, shutil, sys
data = sys.stdin.buffer.read()
files = json.loads(data)
root = pathlib.Path(os.environ["WORK"])
key = hashlib.sha256(data).hexdigest()[:16]
store = root / "inventory"
dest = store / key
if not (dest / ".coprs-complete").exists():
    tmp = store / (key + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, text in files.items():
        if rel.startswith("/") or ".." in pathlib.PurePosixPath(rel).parts:
            sys.exit("refusing to write %s outside the inventory" % rel)
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text)
    (tmp / ".coprs-complete").touch()
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
pending = dest / "TRIGGERS.tmp"
pending.write_text("".join(t + "\\n" for t in os.environ["TRIGGERS_ENV"].split()))
os.replace(pending, dest / "TRIGGERS_FILE")
os.utime(dest)
link = root / "current.tmp"
if link.is_symlink() or link.exists():
    link.unlink()
link.symlink_to(pathlib.Path("inventory") / key)
os.replace(link, root / "current")
old = sorted((p for p in store.iterdir() if p.is_dir() and p.name != key), key=lambda p: p.stat().st_mtime)
for p in old[:-4]:
    shutil.rmtree(p, ignore_errors=True)
print("Kubespray inventory %s (%d files) written to %s; %s/current points at it" % (key, len(files), dest, root))
""".replace("TRIGGERS_ENV", TRIGGERS_ENV).replace("TRIGGERS_FILE", TRIGGERS_FILE)
assert "'" not in _WRITER  # it goes into a single-quoted bash string


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


def script(cfg: StackConfig, action: str, work: str, trigger: str = "", inventory_urn: str = "") -> str:
    """The bash script of one step: `fetch`, `venv`, `inventory`, `cluster` or `scale`.

    `cluster` and `scale` run only against an inventory written for their `trigger`; the error that
    says otherwise names `inventory_urn`, the step to replace to write it on this machine.
    """
    ks = cfg.cluster.kubespray
    commit = KUBESPRAY_RELEASES.get(ks.version, {}).get("commit", "")
    cache = shell_path(ks.cache_dir.rstrip("/") or "/")
    q = shlex.quote
    urn = re.sub(r'([\\"$`])', r"\\\1", inventory_urn)  # for a double-quoted string
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
export WORK
"""
    if action == "fetch":
        return head + "fetch\n"
    if action == "venv":
        return head + "fetch && venv\n"
    if action == "inventory":
        return head + f"fetch && venv && mkdir -p \"$WORK/inventory\"\n\"$KS_VENV/bin/python\" -c '{_WRITER}'\n"
    if action not in ("cluster", "scale"):
        raise ValueError(f"unknown Kubespray step {action!r}")
    run = f"""INV="$WORK/current"
if ! grep -qxF {q(trigger)} "$INV/{TRIGGERS_FILE}" 2>/dev/null; then
  echo "error: $INV holds no Kubespray inventory written for this step (the kubespray-inventory step last ran on another machine?); write it here: pulumi up --replace '{urn}'" >&2
  exit 1
fi
fetch && venv
RUN="$(mktemp -d)"; KEY="$RUN/key"; trap 'rm -rf "$RUN"' EXIT
(umask 077 && cat > "$KEY")
cd "$KS_DIR"
# One fact cache for the cluster and scale runs (they never run at the same time).
export ANSIBLE_CACHE_PLUGIN_CONNECTION="$WORK/facts" ANSIBLE_FORCE_COLOR=false PYTHONUNBUFFERED=1
play() {{ "$KS_VENV/bin/ansible-playbook" -i "$INV/{inv.INVENTORY_FILE}" --become --forks {ks.ansible_forks} \\
  --private-key "$KEY" -e ansible_ssh_private_key_file="$KEY" "$@"; }}
cat > "$RUN/coprs-wait.yml" <<'WAIT'
{WAIT_PLAYBOOK}WAIT
# Every node of $1 answers SSH and has finished cloud-init: bounded attempts with a doubling pause,
# each on the nodes the last one left behind (Ansible's retry file), then one error naming them.
# With $2, that file lists the nodes without a kubelet.
wait_for_nodes() {{
  local limit="$1" to_join="${{2:-}}" try=1 pending
  local attempts="${{COPRS_WAIT_ATTEMPTS:-{WAIT_ATTEMPTS}}}" pause="${{COPRS_WAIT_DELAY:-{WAIT_DELAY}}}"
  while :; do
    rm -f "$RUN/coprs-wait.retry"
    if ANSIBLE_RETRY_FILES_ENABLED=true ANSIBLE_RETRY_FILES_SAVE_PATH="$RUN" play "$RUN/coprs-wait.yml" --limit="$limit" \\
        -e coprs_wait_timeout="${{COPRS_WAIT_TIMEOUT:-{WAIT_TIMEOUT}}}" -e coprs_to_join="${{to_join:+$RUN/to-join-$try}}"; then
      break
    fi
    if [ ! -s "$RUN/coprs-wait.retry" ]; then
      echo "error: the wait for the nodes failed before reaching them (see Ansible's output above)" >&2; exit 1
    fi
    sort -u "$RUN/coprs-wait.retry" > "$RUN/pending"
    pending="$(paste -sd ' ' "$RUN/pending")"
    if [ "$try" -ge "$attempts" ]; then
      echo "error: $(wc -l < "$RUN/pending") node(s) never answered SSH through the bastion or never finished cloud-init after $attempts attempts: $pending" >&2
      exit 1
    fi
    echo "not ready yet: $pending; attempt $((try + 1)) of $attempts in ${{pause}}s"
    sleep "$pause"; pause=$((pause * 2 > 300 ? 300 : pause * 2)); try=$((try + 1)); limit="@$RUN/pending"
  done
  if [ -n "$to_join" ]; then
    {{ cat "$RUN"/to-join-* 2>/dev/null || true; }} | {{ grep -v '^#' || true; }} | sort -u > "$to_join"
  fi
}}
"""
    if action == "cluster":
        return head + run + "wait_for_nodes all\nplay cluster.yml\n"
    return head + run + """wait_for_nodes kube_node "$RUN/to-join"
if [ ! -s "$RUN/to-join" ]; then
  echo "every worker already runs a kubelet (cluster.yml joined them): nothing to join"; exit 0
fi
echo "joining $(wc -l < "$RUN/to-join") node(s) in one scale.yml run: $(paste -sd ' ' "$RUN/to-join")"
# Hosts outside --limit are known from the fact cache: refresh it for those the new nodes need
# (control plane and etcd); scale.yml gathers the new nodes' own facts.
play playbooks/facts.yml --limit=kube_control_plane:etcd
play scale.yml --limit=@"$RUN/to-join"
play cluster.yml --tags=coredns --limit=kube_control_plane
"""


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
        nodes_api = pulumi.Output.all(args.nodes, args.api)
        self.files: pulumi.Output[dict] = nodes_api.apply(lambda a: inv.render(a[0], cfg, a[1]))
        key = pulumi.Output.secret(args.ssh_private_key)
        secret_streams = ["stdout", "stderr"]

        def step(step_name: str, *deps: pulumi.Resource, secret: bool = False, aliases=None, **kw) -> command.local.Command:
            # Never PULUMI_COMMAND_STDOUT: a run's Ansible output would overflow the environment of the next.
            return local.Command(
                f"{name}-{step_name}", interpreter=["/bin/bash", "-c"], logging=local.Logging.STDOUT_AND_STDERR,
                add_previous_output_in_env=False,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=list(deps), aliases=aliases,
                    additional_secret_outputs=secret_streams if secret else None,
                ),
                **kw,
            )

        self.fetch = step("fetch", create=script(cfg, "fetch", work), triggers=[version])
        self.venv = step("venv", self.fetch, create=script(cfg, "venv", work), triggers=[version])

        self.cluster_trigger = nodes_api.apply(lambda a: inv.cluster_fingerprint(a[0], cfg, a[1]))
        workers = list(args.workers)
        # Each from its own node's outputs only: an Output of the whole node list would make every
        # marker depend on every VM (quadratic state).
        node_triggers = [
            w.private_ip.apply(lambda ip, w=w: inv.node_fingerprint({"name": w.name, "group": w.group, "privateIp": ip}, cfg))
            for w in workers
        ]
        self.scale_trigger = pulumi.Output.all(*node_triggers, *(w.instance.id for w in workers)).apply(
            lambda a: inv.scale_fingerprint(
                [(w.name, a[i], a[len(workers) + i]) for i, w in enumerate(workers)], version
            )
        )
        # The inventory, once: every other step carries digests. It is rewritten whenever a run step's
        # trigger moves, so the machine running that step has the files.
        self.inventory = step(
            "inventory", self.venv,
            create=script(cfg, "inventory", work), update=script(cfg, "inventory", work),
            stdin=self.files.apply(lambda f: json.dumps(f, sort_keys=True)),
            environment={TRIGGERS_ENV: pulumi.Output.concat(self.cluster_trigger, " ", self.scale_trigger)},
        )

        def run_script(action: str, trigger: pulumi.Output[str]) -> pulumi.Output[str]:
            return pulumi.Output.all(trigger, self.inventory.urn).apply(lambda a: script(cfg, action, work, a[0], a[1]))

        def unchanged(what: str) -> str:
            return f"echo {shlex.quote(f'{what}: its trigger did not change, nothing to run')}"

        self.cluster = step(
            "cluster", self.inventory, *args.depends_on, secret=True,
            create=run_script("cluster", self.cluster_trigger), update=unchanged("cluster.yml"),
            stdin=key, triggers=[self.cluster_trigger, version],
        )
        # A marker per worker, carrying only its own entry: created (or replaced with its VM) when the
        # next scale run has to join it, which is what the preview shows. It runs nothing.
        self.joins: list[command.local.Command] = []
        for node, node_trigger in zip(workers, node_triggers):
            removal = f"{node.name}: if it left the inventory, drain and remove it with remove-node.yml (see README)"
            self.joins.append(step(
                f"join-{node.name}",
                create=f"echo {shlex.quote(f'{node.name}: joins the cluster in the next kubespray-scale run')}",
                delete=f"echo {shlex.quote(removal)}",
                triggers=[node_trigger, node.instance.id, version],
                # the per-node scale steps of earlier releases: updated in place, never deleted and re-created
                aliases=[pulumi.Alias(name=f"{name}-scale-{node.name}")],
            ))
        self.scale: Optional[command.local.Command] = None
        if workers:
            self.scale = step(
                "scale", self.cluster, *self.joins, *(d for w in workers for d in w.depends), secret=True,
                create=run_script("scale", self.scale_trigger), update=unchanged("scale.yml"),
                stdin=key, triggers=[self.scale_trigger, version],
            )

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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster], additional_secret_outputs=secret_streams),
        )
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.admin_conf.stdout, args.api_endpoint).apply(lambda a: rewrite_server(a[0], a[1]))
        )
        self.register_outputs(
            {"clusterTrigger": self.cluster_trigger, "scaleTrigger": self.scale_trigger, "kubeconfig": self.kubeconfig}
        )
