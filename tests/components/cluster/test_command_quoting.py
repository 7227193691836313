"""No config string reaches a command unquoted: every Command of a whole mocked run of a stack whose
strings hold every character their types allow keeps them as quoted words, and the Kubespray steps run
for real with a hostile cache directory create no file the value names and work at the literal path."""

from __future__ import annotations

import json
import re
import shlex
import subprocess

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components.cluster import kubespray
from offline.harness import load_stack_input, validate
from tests.conftest import stack_run

from .fake_kubespray import fake_cache

# Valid values with as many shell metacharacters as their types allow.
HOSTILE = {
    "coprs:cluster.kubespray.cacheDir": "~/ca che/$(touch PWNED)`touch PWNED2`;'q\"&|<>*?[x]{a,b}!#~\\",
    "coprs:cluster.kubespray.repository": "https://git.example.org/mirror/kube(spray);a&b=c!*+,@:",
    "coprs:network.externalNetwork": "ext net (public)",
    "coprs:nodeGroups.infra.flavor": "m1.large (4 vCPU)",
    "coprs:platform.enabled": False,
    "coprs:objectStorage": None,
}
SHELL_INERT = r"[A-Za-z0-9._/:@%+=,~-]*"


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def command_texts(run) -> list[str]:
    return [r.inputs[k] for r in run.resources if r.type.startswith("command:")
            for k in ("create", "update", "delete") if isinstance(r.inputs.get(k), str)]


def test_no_config_string_reaches_a_command_unquoted():
    run = stack_run("dev", HOSTILE)
    texts = command_texts(run)
    assert len(texts) >= 5
    values = {v for v in strings(run.config.model_dump(by_alias=True)) if not re.fullmatch(SHELL_INERT, v)}
    assert HOSTILE["coprs:cluster.kubespray.cacheDir"] in values
    for text in texts:
        subprocess.run(["/bin/bash", "-n", "-c", text], check=True)
        for v in values:
            # Quoted words are cut out; what is left must not hold the value (nor its ~/ tail) raw.
            rest = text
            for word in (shlex.quote(v), shlex.quote(v[2:]) if v.startswith("~/") else None):
                if word:
                    rest = rest.replace(word, "")
            tail = v[2:] if v.startswith("~/") else v
            assert tail not in rest, (v, text)


RECORD_PLAYBOOK = '#!/bin/bash\nprintf "%s\\n" "$PWD" "$@" > "$CALLS"\n'


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(st.sampled_from(" !\"#$%&'()*;<>?[\\]^`{|}~abc"), min_size=1, max_size=10))
@example(name="$(touch PWNED)")
@example(name="`touch PWNED`")
@example(name="x'; touch PWNED; '")
@example(name='" ; touch PWNED ; "')
@example(name="~")
def test_kubespray_steps_run_at_a_hostile_cache_dir_and_run_nothing_it_names(tmp_path_factory, name):
    home = tmp_path_factory.mktemp("home")
    cache_dir = f"~/{name.strip() or 'x'}/ks"
    cfg = validate(load_stack_input("dev", {"coprs:cluster.kubespray.cacheDir": cache_dir}))
    literal = home / cache_dir[2:]
    fake_cache(literal, {"ansible-playbook": RECORD_PLAYBOOK})
    work = kubespray.work_dir(cfg, "coprs", "dev")
    files = {"hosts.yaml": "all: {}\n"}
    out = subprocess.run(
        ["/bin/bash", "-c", kubespray.script(cfg, "cluster", work)], input="key", capture_output=True, text=True,
        timeout=60, cwd=home,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", "CALLS": str(home / "calls"), "GIT_ALLOW_PROTOCOL": "file",
             kubespray.FILES_ENV: json.dumps(files)},
    )
    assert out.returncode == 0, out.stderr
    assert (literal / "inventories/coprs-dev/hosts.yaml").read_text() == "all: {}\n"
    calls = (home / "calls").read_text().splitlines()
    assert calls[0] == str(literal / "v2.31.0") and calls[1:3] == ["-i", str(literal / "inventories/coprs-dev/hosts.yaml")]
    assert not list(home.rglob("PWNED*"))


def test_a_config_path_is_one_shell_word_with_home_for_a_leading_tilde():
    paths = ["~", "~/", "~/a b", "~/~", "/", "/x y/$(id)", "~/'q\"`z`"]
    words = " ".join(kubespray.shell_path(p.rstrip("/") or "/") for p in paths)
    out = subprocess.run(["/bin/bash", "-c", f'printf "%s\\n" {words}'], capture_output=True, text=True, check=True,
                         env={"HOME": "/home/op", "PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out == ["/home/op", "/home/op", "/home/op/a b", "/home/op/~", "/", "/x y/$(id)", "/home/op/'q\"`z`"]
