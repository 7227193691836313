"""The runner's bash scripts, run for real against a fake Kubespray checkout and a fake Ansible."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from components.cluster import kubespray
from offline.harness import RunResult

from .fake_kubespray import fake_cache

FAKE_PLAYBOOK = """#!/bin/bash
key=""
for a in "$@"; do case "$prev" in --private-key) key="$a";; esac; prev="$a"; done
echo "argv: $*" >> "$CALLS"
echo "key-mode: $(stat -c %a "$key") key: $(cat "$key")" >> "$CALLS"
echo "keyfile: $key" >> "$CALLS"
"""
FAKE_ANSIBLE = """#!/bin/bash
echo "adhoc: $*" >> "$CALLS"
exit "${JOINED_RC:-1}"
"""


def _cfg(run: RunResult, **kubespray_fields):
    c = run.config.cluster
    ks = c.kubespray.model_copy(update=kubespray_fields)
    return run.config.model_copy(update={"cluster": c.model_copy(update={"kubespray": ks})})


@pytest.fixture
def fake_home(tmp_path: Path, dev: RunResult) -> Path:
    """A cache holding an already fetched Kubespray and its venv, whose Ansible only records calls."""
    fake_cache(tmp_path / ".cache" / "coprs" / "kubespray", {"ansible-playbook": FAKE_PLAYBOOK, "ansible": FAKE_ANSIBLE})
    return tmp_path


def run_script(text: str, home: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    files = {"hosts.yaml": "all: {}\n", "group_vars/all/all.yml": "ansible_user: ubuntu\n"}
    return subprocess.run(
        ["/bin/bash", "-c", text], input=stdin, capture_output=True, text=True, timeout=60,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", "CALLS": str(home / "calls.log"),
             kubespray.FILES_ENV: json.dumps(files), **env},
    )


WORK = "$HOME/.cache/coprs/kubespray/inventories/coprs-dev"


@pytest.mark.parametrize("action", ["fetch", "venv", "write", "cluster", "scale"])
def test_scripts_are_valid_bash(dev: RunResult, action):
    text = kubespray.script(dev.config, action, WORK, "coprs-dev-infra-1")
    subprocess.run(["/bin/bash", "-n", "-c", text], check=True)


def test_cluster_step_writes_the_inventory_and_hands_the_key_over_stdin(dev: RunResult, fake_home: Path):
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----"
    out = run_script(kubespray.script(dev.config, "cluster", WORK), fake_home, stdin=key)
    assert out.returncode == 0, out.stderr
    work = fake_home / ".cache/coprs/kubespray/inventories/coprs-dev"
    assert (work / "hosts.yaml").read_text() == "all: {}\n"
    assert (work / "group_vars/all/all.yml").exists()
    calls = (fake_home / "calls.log").read_text()
    argv = calls.splitlines()[0]
    assert f"-i {work}/hosts.yaml --become --forks 20" in argv and argv.endswith("cluster.yml")
    assert "key-mode: 600 key: -----BEGIN OPENSSH PRIVATE KEY----- fake" in calls.replace("\n", " ")
    assert "BEGIN OPENSSH" not in argv
    keyfile = calls.split("keyfile: ")[1].split()[0]
    assert not Path(keyfile).exists()  # removed when the step ends


def test_scale_step_skips_a_node_that_already_joined(dev: RunResult, fake_home: Path):
    text = kubespray.script(dev.config, "scale", WORK, "coprs-dev-infra-3")
    out = run_script(text, fake_home, stdin="k", JOINED_RC="0")
    assert out.returncode == 0 and "already joined" in out.stdout
    assert "argv:" not in (fake_home / "calls.log").read_text()


def test_scale_step_joins_a_new_node_with_scale_yml_limited_to_it(dev: RunResult, fake_home: Path):
    text = kubespray.script(dev.config, "scale", WORK, "coprs-dev-infra-3")
    out = run_script(text, fake_home, stdin="k", JOINED_RC="2")
    assert out.returncode == 0, out.stderr
    plays = [line.split()[-3:] for line in (fake_home / "calls.log").read_text().splitlines() if line.startswith("argv:")]
    assert [p[-1] for p in plays[:1]] == ["playbooks/facts.yml"]
    assert plays[1][-2:] == ["scale.yml", "--limit=coprs-dev-infra-3"]
    assert plays[2] == ["cluster.yml", "--tags=coredns", "--limit=kube_control_plane"]


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
