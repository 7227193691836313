"""The runner's bash scripts, run for real against a fake Kubespray checkout.

Kubespray's playbooks are faked (a recorder); the program's own wait playbook runs in the real
Ansible of this venv, against hosts on a local connection (and one that is not there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from components.cluster import kubespray
from offline.harness import RunResult

from .fake_kubespray import fake_cache

REAL_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
# Kubespray's playbooks only record their arguments; the program's wait playbook runs for real when
# REAL_PLAYBOOK is set (else it is recorded too, as a wait that found every node up).
FAKE_PLAYBOOK = """#!/bin/bash
for a in "$@"; do case "$a" in *coprs-wait.yml) [ -n "${REAL_PLAYBOOK:-}" ] && exec "$REAL_PLAYBOOK" "$@";; esac; done
key=""
for a in "$@"; do
  case "$prev" in --private-key) key="$a";; esac
  case "$a" in --limit=@*) echo "limit-file: $(paste -sd ' ' "${a#--limit=@}")" >> "$CALLS";; esac
  prev="$a"
done
echo "argv: $*" >> "$CALLS"
echo "key-mode: $(stat -c %a "$key") key: $(cat "$key")" >> "$CALLS"
echo "keyfile: $key" >> "$CALLS"
"""
FAKE_CLOUD_INIT = "#!/bin/bash\necho 'status: done'\nexit 2\n"  # 2: done, with recoverable errors
WORK = "$HOME/.cache/coprs/kubespray/inventories/coprs-dev"
TRIGGERS = "cluster-digest scale-digest"
URN = "urn:pulumi:dev::coprs::coprs:cluster:Kubespray$command:local:Command::kubespray-inventory"


def _cfg(run: RunResult, **kubespray_fields):
    c = run.config.cluster
    ks = c.kubespray.model_copy(update=kubespray_fields)
    return run.config.model_copy(update={"cluster": c.model_copy(update={"kubespray": ks})})


@pytest.fixture
def fake_home(tmp_path: Path) -> Path:
    """A cache holding an already fetched Kubespray and its venv, whose ansible-playbook only records calls."""
    fake_cache(tmp_path / ".cache" / "coprs" / "kubespray", {"ansible-playbook": FAKE_PLAYBOOK})
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "cloud-init").write_text(FAKE_CLOUD_INIT)
    (tools / "cloud-init").chmod(0o755)
    return tmp_path


def run_script(text: str, home: Path, stdin: str = "", real_wait: bool = False, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/bash", "-c", text], input=stdin, capture_output=True, text=True, timeout=90,
        env={"HOME": str(home), "PATH": f"{home / 'tools'}:/usr/bin:/bin", "CALLS": str(home / "calls.log"),
             "ANSIBLE_LOCAL_TEMP": str(home / ".ansible-tmp"), kubespray.TRIGGERS_ENV: TRIGGERS,
             **({"REAL_PLAYBOOK": str(REAL_PLAYBOOK)} if real_wait else {}), **env},
    )


def local_inventory(home: Path, joined: set[str], dead: tuple[str, ...] = ()) -> dict[str, str]:
    """A cluster of local hosts: the joined ones have a kubelet.conf; `dead` hosts refuse SSH."""
    (home / "joined").write_text("")

    def host(name: str) -> dict:
        if name in dead:
            return {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_ssh_retries": 0}
        return {"coprs_kubelet_conf": str(home / ("joined" if name in joined else "absent"))}

    doc = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "children": {
            "kube_control_plane": {"hosts": {"cp-1": host("cp-1")}},
            "kube_node": {"hosts": {n: host(n) for n in ("w-1", "w-2", *dead)}},
            "k8s_cluster": {"children": {"kube_control_plane": {}, "kube_node": {}}},
        },
    }}
    return {"hosts.yaml": json.dumps(doc), "group_vars/all/all.yml": "ansible_user: ubuntu\n"}


def write_inventory(cfg, home: Path, files: dict[str, str]) -> subprocess.CompletedProcess:
    out = run_script(kubespray.script(cfg, "inventory", WORK), home, stdin=json.dumps(files, sort_keys=True))
    assert out.returncode == 0, out.stderr
    return out


def plays(home: Path) -> list[str]:
    """Kubespray playbooks run (the wait, when recorded, left out)."""
    lines = (home / "calls.log").read_text().splitlines() if (home / "calls.log").exists() else []
    return [line[len("argv: "):] for line in lines if line.startswith("argv:") and "coprs-wait.yml" not in line]


@pytest.mark.parametrize("action", ["fetch", "venv", "inventory", "cluster", "scale"])
def test_scripts_are_valid_bash(dev: RunResult, action):
    text = kubespray.script(dev.config, action, WORK, "digest", URN)
    subprocess.run(["/bin/bash", "-n", "-c", text], check=True)


def test_inventory_step_writes_content_addressed_files_and_points_current_at_them(dev: RunResult, fake_home: Path):
    files = {"hosts.yaml": "all: {}\n", "group_vars/all/all.yml": "ansible_user: ubuntu\n"}
    first = write_inventory(dev.config, fake_home, files)
    work = fake_home / ".cache/coprs/kubespray/inventories/coprs-dev"
    current = work / "current"
    assert current.is_symlink() and (current / "hosts.yaml").read_text() == "all: {}\n"
    assert (current / "group_vars/all/all.yml").exists()
    assert (current / kubespray.TRIGGERS_FILE).read_text().split() == TRIGGERS.split()
    digest = os.readlink(current).rsplit("/", 1)[-1]
    assert digest in first.stdout and (work / "inventory" / digest).is_dir()
    # another inventory gets a directory of its own; current follows it
    write_inventory(dev.config, fake_home, {**files, "hosts.yaml": "all: {children: {}}\n"})
    assert os.readlink(current).rsplit("/", 1)[-1] != digest
    assert len([p for p in (work / "inventory").iterdir()]) == 2
    bad = run_script(kubespray.script(dev.config, "inventory", WORK), fake_home, stdin=json.dumps({"../x": "y"}))
    assert bad.returncode != 0 and "refusing to write ../x" in bad.stderr
    assert not (work / "x").exists()


def test_run_steps_refuse_an_inventory_not_written_for_them(dev: RunResult, fake_home: Path):
    write_inventory(dev.config, fake_home, local_inventory(fake_home, joined={"cp-1"}))
    out = run_script(kubespray.script(dev.config, "cluster", WORK, "another-digest", URN), fake_home, stdin="k")
    assert out.returncode == 1
    assert "holds no Kubespray inventory written for this step" in out.stderr and URN in out.stderr
    assert not (fake_home / "calls.log").exists()


def test_cluster_step_waits_for_the_nodes_then_runs_cluster_yml_with_the_key_on_stdin(dev: RunResult, fake_home: Path):
    write_inventory(dev.config, fake_home, local_inventory(fake_home, joined=set()))
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----"
    out = run_script(kubespray.script(dev.config, "cluster", WORK, "cluster-digest", URN), fake_home, stdin=key)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    work = fake_home / ".cache/coprs/kubespray/inventories/coprs-dev"
    calls = (fake_home / "calls.log").read_text()
    wait = next(line for line in calls.splitlines() if "coprs-wait.yml" in line)
    assert "--limit=all" in wait and "-e coprs_to_join= " in wait + " "  # every node, before cluster.yml
    (argv,) = plays(fake_home)
    assert f"-i {work}/current/hosts.yaml --become --forks 20" in argv and argv.endswith("cluster.yml")
    assert "key-mode: 600 key: -----BEGIN OPENSSH PRIVATE KEY----- fake" in calls.replace("\n", " ")
    assert "BEGIN OPENSSH" not in argv
    keyfile = calls.split("keyfile: ")[1].split()[0]
    assert not Path(keyfile).exists()  # removed when the step ends


def test_the_wait_gives_up_after_its_attempts_and_names_the_nodes_that_never_came_up(dev: RunResult, fake_home: Path):
    write_inventory(dev.config, fake_home, local_inventory(fake_home, joined={"cp-1", "w-1", "w-2"}, dead=("w-3",)))
    out = run_script(kubespray.script(dev.config, "scale", WORK, "scale-digest", URN), fake_home, stdin="k",
                     real_wait=True, COPRS_WAIT_ATTEMPTS="2", COPRS_WAIT_DELAY="0", COPRS_WAIT_TIMEOUT="1")
    assert out.returncode == 1
    assert "not ready yet: w-3; attempt 2 of 2" in out.stdout  # the second attempt retries w-3 alone
    last = out.stderr.strip().splitlines()[-1]
    assert last == ("error: 1 node(s) never answered SSH through the bastion or never finished cloud-init "
                    "after 2 attempts: w-3")
    assert not plays(fake_home)  # no Kubespray playbook ran


def test_scale_step_joins_every_node_without_a_kubelet_in_one_limited_run(dev: RunResult, fake_home: Path):
    write_inventory(_cfg(dev, ansible_forks=7), fake_home, local_inventory(fake_home, joined={"cp-1"}))
    out = run_script(kubespray.script(_cfg(dev, ansible_forks=7), "scale", WORK, "scale-digest", URN), fake_home,
                     stdin="k", real_wait=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert "Wait for cloud-init" in out.stdout  # the real wait playbook ran
    assert "joining 2 node(s) in one scale.yml run: w-1 w-2" in out.stdout
    facts, scale, coredns = plays(fake_home)
    assert all("--forks 7" in p for p in (facts, scale, coredns))
    assert facts.endswith("playbooks/facts.yml --limit=kube_control_plane:etcd")
    assert scale.split()[-2] == "scale.yml" and scale.split()[-1].startswith("--limit=@")
    assert "limit-file: w-1 w-2" in (fake_home / "calls.log").read_text()
    assert coredns.endswith("cluster.yml --tags=coredns --limit=kube_control_plane")


def test_scale_step_on_a_cluster_that_joined_every_worker_runs_no_playbook(dev: RunResult, fake_home: Path):
    write_inventory(dev.config, fake_home, local_inventory(fake_home, joined={"cp-1", "w-1", "w-2"}))
    out = run_script(kubespray.script(dev.config, "scale", WORK, "scale-digest", URN), fake_home, stdin="k")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert "nothing to join" in out.stdout
    assert not plays(fake_home)


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={"HOME": str(cwd), "PATH": "/usr/bin:/bin", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}).stdout.strip()


@pytest.fixture
def local_release(tmp_path: Path) -> Path:
    repo = tmp_path / "kubespray-src"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    (repo / "requirements.txt").write_text("")
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "r", cwd=repo)
    _git("tag", "v2.31.0", cwd=repo)
    return repo


def test_fetch_refuses_a_tag_that_is_not_the_pinned_commit(dev: RunResult, tmp_path: Path, local_release: Path):
    cfg = _cfg(dev, repository=f"file://{local_release}")
    out = run_script(kubespray.script(cfg, "fetch", WORK), tmp_path)
    assert out.returncode == 1
    assert "expected 1c9add48975060f45396b34d8e022c30d7f80dab" in out.stderr
    assert not (tmp_path / ".cache/coprs/kubespray/v2.31.0").exists()


def test_kubeconfig_server_is_rewritten_to_the_api_endpoint():
    text = "clusters:\n- cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: x\n"
    assert "    server: https://192.168.0.9:6443\n" in kubespray.rewrite_server(text, "192.168.0.9")


def test_venv_step_names_the_python_it_needs(dev: RunResult, fake_home: Path, tmp_path: Path):
    (fake_home / ".cache/coprs/kubespray/venv-v2.31.0/.coprs-installed").unlink()
    old = tmp_path / "python-old"
    old.write_text("#!/bin/bash\n[ \"$1\" = -V ] && echo 'Python 3.9.2'; exit 1\n")
    old.chmod(0o755)
    out = run_script(kubespray.script(dev.config, "venv", WORK), fake_home, KUBESPRAY_PYTHON=str(old))
    assert out.returncode == 1
    assert "needs Python 3.11-3.13" in out.stderr and "Python 3.9.2" in out.stderr
