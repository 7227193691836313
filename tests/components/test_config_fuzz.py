"""Generated stack files (hypothesis): for every one, "one clear line or a valid plan".

Mutated dev/prod documents (hostile values of every class of issue 17 at every key, typo keys, odd
shapes) and raw YAML-ish text. A ConfigError is one line naming a key; a config that validates renders
everything that leaves the program for a shell or a config file (Kubespray scripts, inventory, cloud-init)
in that sink's syntax, and its nodes get addresses and pod blocks. No whole program run per example:
that is test_config_generated.py's (node groups) and the fixed cases' job.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import re
import subprocess
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from components.cloud import user_data
from components.cluster import inventory as inv
from components.cluster import kubespray
from components.config import NODE_PREFIX, ConfigError, StackConfig, node_name, node_role
from offline.fakes import RecordingMocks
from offline.harness import ROOT, load_stack_input, validate
from offline.stack_input import read_stack_file

PREFIX = "invalid stack configuration: "
BASES = {s: read_stack_file(ROOT / f"Pulumi.{s}.yaml") for s in ("dev", "prod")}
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Where values go: every kind of value of the issue, and keys that do not exist.
PATHS = [
    "coprs:domain", "coprs:environment", "coprs:network.cidr", "coprs:network.externalNetwork",
    "coprs:network.adminCidrs", "coprs:network.dnsNameservers", "coprs:network.availabilityZones",
    "coprs:network.ingressNodeGroup", "coprs:nodeGroups.infra.count", "coprs:nodeGroups.infra.flavor",
    "coprs:nodeGroups.infra.image", "coprs:nodeGroups.infra.labels", "coprs:nodeGroups.infra.taints",
    "coprs:nodeGroups.processing.autoscaling", "coprs:nodeGroups.kube_control_plane.autoscaling",
    "coprs:nodeGroups.processing.autoscaling.maxCount", "coprs:cluster.name", "coprs:cluster.sshUser",
    "coprs:cluster.kubespray.cacheDir", "coprs:cluster.kubespray.repository", "coprs:cluster.kubernetesVersion",
    "coprs:cluster.podCidr", "coprs:cluster.serviceCidr", "coprs:cluster.mode", "coprs:cluster.apiLoadBalancer",
    "coprs:cluster.oidc.clientId", "coprs:cluster.oidc.groupsClaim", "coprs:cluster.oidc.usernamePrefix",
    "coprs:cluster.oidc.realm", "coprs:cluster.oidc.issuerUrl", "coprs:objectStorage.endpoint",
    "coprs:objectStorage.bucketPrefix", "coprs:platform.infraNodeLabel", "coprs:platform.clusterHostCidrs",
    "coprs:platform.namespaces.processing.quota.requestsMemory", "coprs:platform.namespaces.procesing",
    "coprs:platform.apps.rook-ceph.settings.resources", "coprs:platform.issuer",
    "coprs:nodegroups", "copr:platform", "Coprs:cluster", "coprs:cluster.sshuser",
]
TEXT = [
    "", " ", "x", "ubuntu", "root", "Ubuntu", "a\nb", "ubuntu\nAllowUsers root", "x\r", "tab\there", "\x00",
    "$(touch /tmp/pwned)", "`id`", "a;b", "'q'", '"q"', "{{ lookup('pipe', 'id') }}", "{% raw %}", "-lead",
    "trail-", "1.35.\u0664", "1.35.4", "1.35.4\n", "v2.31.0", "\uff16\uff14Gi", "64Gi", "500m", "lots", "1 GB",
    "example.org\n", "coprs.example.org", "Example.Org", "a" * 64, "a" * 300, "~/cache dir/$(x)", "/opt/k s",
    "relative/path", "https://github.com/kubernetes-sigs/kubespray", "http://github.com/k", "not a url",
    "https://iam.example.org/realms/coprs", "https://iam.example.org/realms/coprs?x=1#f", "https://[::1]/x",
    "https://user:pw@h.example.org/", "https://h.example.org:99999/", "ftp://h.example.org/",
    "192.168.0.0/28", "192.168.0.0/27", "10.0.0.0/8", "10.96.0.0/11", "10.96.0.0/25", "2001:db8::/48",
    "fd00::/108", "10.0.0.1/24", "0.0.0.0/0", "1.1.1.1", "fe80::1", "node-role.kubernetes.io/infra",
    "bad label", "dedicated=x:NoSchedule", "k=v:Nope", "copr:platform", "dev", "prod", "provision", "existing",
    "kubernetes", "preferred_username", "oidc:", "co/prs", "eu-west-0a", "s3.xlarge.4", "2024-01-01",
]


# Legitimate values per key: valid plans must be as common as errors.
GOOD = {
    "coprs:domain": ["a.example.org", "x-1.y.example.co"],
    "coprs:network.cidr": ["10.10.0.0/24", "172.16.0.0/20"],
    "coprs:network.externalNetwork": ["ext net (public)", "admin_external_net"],
    "coprs:network.availabilityZones": [["az-1", "az 2"]],
    "coprs:nodeGroups.infra.count": [1, 5],
    "coprs:nodeGroups.infra.flavor": ["s3.xlarge.4", "m1.large (4 vCPU)"],
    "coprs:nodeGroups.infra.labels": [{"node-role.kubernetes.io/infra": "", "example.org/tier": "a.b_c"}],
    "coprs:nodeGroups.infra.taints": [["dedicated=infra:PreferNoSchedule"], []],
    "coprs:nodeGroups.processing.autoscaling": [{"minCount": 0, "maxCount": 20}],
    "coprs:nodeGroups.processing.autoscaling.maxCount": [4, 50],
    "coprs:cluster.name": ["ab", "c" * 21],
    "coprs:cluster.sshUser": ["debian", "_svc-user", "cloud-user"],
    "coprs:cluster.kubespray.cacheDir": ["~/c a/$(touch PWNED)'q\"`x`;&", "/opt/kube spray", "/", "~/"],
    "coprs:cluster.kubespray.repository": ["https://git.example.org/mirror/kubespray(1);a&b=c", "https://10.0.0.5:8443/k"],
    "coprs:cluster.kubernetesVersion": ["1.34.7", "1.33.0"],
    "coprs:cluster.podCidr": ["10.128.0.0/14", "10.244.0.0/20"],
    "coprs:cluster.serviceCidr": ["10.96.0.0/24", "10.96.0.0/12"],
    "coprs:cluster.oidc.clientId": ["k8s:cli@x"],
    "coprs:cluster.oidc.groupsClaim": ["https://example.org/groups"],
    "coprs:cluster.oidc.usernamePrefix": ["", "-"],
    "coprs:cluster.oidc.issuerUrl": ["https://sso.example.org/realms/x", "https://sso.example.org/a;b=(c)?q=1"],
    "coprs:platform.namespaces.processing.quota.requestsMemory": ["1.5Gi", "1e9"],
    "coprs:platform.apps.rook-ceph.settings.resources": [{"operator": {"memory": "512Mi", "cpuLimit": "1"}}],
}


def deep(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


SCALARS = st.one_of(
    st.sampled_from(TEXT),
    st.text(max_size=12),
    st.integers(-2, 2000) | st.sampled_from([10**9, -(10**9)]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(datetime.date(2024, 1, 1)),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(TEXT[:30]) | st.integers(0, 3) | st.none() | st.booleans(), inner, max_size=3)
    | st.integers(10, 40).map(deep),
    max_leaves=6,
)


def set_path(doc: dict, path: str, value) -> None:
    head, *rest = path.split(".")
    node = doc.setdefault("config", {})
    for part in [head, *rest][:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[[head, *rest][-1]] = value


@st.composite
def documents(draw):
    stack = draw(st.sampled_from(sorted(BASES)))
    doc = copy.deepcopy(BASES[stack])
    if draw(st.booleans()):  # only legitimate values: a valid plan unless they clash
        for path in draw(st.lists(st.sampled_from(sorted(GOOD)), min_size=1, max_size=4, unique=True)):
            set_path(doc, path, copy.deepcopy(draw(st.sampled_from(GOOD[path]))))
        return stack, doc
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            doc["config"].pop(draw(st.sampled_from(sorted(doc["config"]))), None)
        elif kind == 1:
            doc = draw(st.sampled_from([[doc], "config", None, {"config": [1]}, {"config": None}, {**doc, "extra": 1}]))
            break
        else:
            path = draw(st.sampled_from(PATHS))
            good = GOOD.get(path)
            set_path(doc, path, copy.deepcopy(draw(st.sampled_from(good))) if good and draw(st.booleans()) else draw(VALUES))
    return stack, doc


def assert_one_clear_line(err: ConfigError) -> str:
    message = str(err)
    assert message.startswith(PREFIX) and "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message and err.problems
    return message


def nodes_of(cfg: StackConfig, pool) -> list[dict]:
    out = []
    for group, g in cfg.node_groups.items():
        for i in range(g.max_nodes):
            name = node_name(cfg.cluster.name, group, i)
            ip = pool.get(f"{name}-port")  # every node of every group at its largest gets an address
            if i < 2:
                out.append({"name": name, "group": group, "role": node_role(group), "privateIp": ip,
                            "publicIp": "203.0.113.7" if g.floating_ip else None,
                            "labels": dict(g.labels), "taints": list(g.taints)})
    return out


JINJA = re.compile(r"\{\{|\{%|\{#")


PARSED: set[tuple[str, ...]] = set()


def bash_parses(scripts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, text in enumerate(scripts):
            (Path(tmp) / f"{i}.sh").write_text(text)
            paths.append(str(Path(tmp) / f"{i}.sh"))
        subprocess.run(["/bin/bash", "-c", 'for f; do bash -n "$f" || exit 1; done', "-", *paths], check=True, timeout=30)


def assert_valid_plan(cfg: StackConfig) -> None:
    """What leaves the program for a shell or a config file is of that sink's syntax."""
    work = kubespray.work_dir(cfg, "coprs", "fuzz")
    scripts = [kubespray.script(cfg, a, work, "coprs-fuzz-infra-1") for a in ("fetch", "venv", "write", "cluster", "scale")]
    if tuple(scripts) not in PARSED:
        bash_parses(scripts)
        PARSED.add(tuple(scripts))
    if cfg.provisions_cloud:

        nodes = nodes_of(cfg, RecordingMocks(cfg).private)
        pods = ipaddress.ip_network(cfg.cluster.pod_cidr)
        assert sum(g.max_nodes for n, g in cfg.node_groups.items() if node_role(n) != "bastion") <= 2 ** (NODE_PREFIX - pods.prefixlen)
        files = inv.render(nodes, cfg, inv.ApiAccess(vip="192.168.0.5"))
        for path, text in files.items():
            yaml.load(text, Loader=yaml.CSafeLoader)
            ours = inv.jump_args(inv._bastion(nodes), cfg.cluster.ssh_user) if inv._bastion(nodes) else ""
            assert not JINJA.search(text.replace(ours, "")), (path, text)  # Ansible would template it
        for n in nodes[:3]:
            doc = yaml.load(user_data.render(n["name"], n["role"], cfg.cluster.ssh_user), Loader=yaml.CSafeLoader)
            sshd = next(f["content"] for f in doc["write_files"] if "sshd_config" in f["path"])
            assert f"AllowUsers {cfg.cluster.ssh_user}\n" in sshd and len(sshd.splitlines()) == 11
    prefix = ipaddress.ip_network(cfg.cluster.service_cidr).prefixlen
    assert 12 <= prefix <= 24


@FUZZ
@given(case=documents())
def test_generated_stack_documents_give_one_clear_line_or_a_valid_plan(case):
    stack, doc = case
    try:
        cfg = validate(load_stack_input(stack, document=doc))
    except ConfigError as err:
        message = assert_one_clear_line(err)
        event("one clear line")
        assert re.match(r"[^ ]+", message[len(PREFIX):])
        return
    event("valid: sinks checked")
    assert_valid_plan(cfg)


YAMLISH = st.lists(
    st.sampled_from(["config:", "\n", "  ", "coprs:domain: ", "coprs:network:", "cidr: ", "&a ", "*a", "[", "]",
                     "{", "}", ": ", "- ", "!!binary ", "!!python/name:os.system", "'", '"', "#", "|", ">", "\t",
                     "null", "42", "true", "2024-01-01", "---", "...", "%YAML 1.1", "\ufeff", "\x85", "\u2028",
                     "<<: *a", "? ", "é", "\x00"]) | st.text(max_size=3),
    max_size=40,
).map("".join)


@FUZZ
@given(text=YAMLISH, raw=st.binary(max_size=8))
def test_generated_stack_file_text_gives_one_clear_line_or_a_document(text, raw):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Pulumi.fuzz.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass") + raw)
        try:
            si = load_stack_input("fuzz", root=Path(tmp))
            validate(si)
        except ConfigError as err:
            assert_one_clear_line(err)
            return
        except UnicodeEncodeError:
            return
    raise AssertionError(f"a fuzzed file validated: {text!r}")  # it can never hold a whole valid stack
