"""Malformed and hostile stack files, one class of the issue at a time: each gives one clear line naming
the key (never a traceback, never a hang), or a valid config where the value is legitimate."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pulumi.runtime import config as runtime_config

from components.config import (
    HOST_LABEL_MAX, MAX_NODES_PER_GROUP, ConfigError, load_stack_config, node_name, parse_config_map,
)
from offline.fakes import RecordingMocks
from offline.harness import ROOT, load_stack_input, validate
from offline.stack_input import read_stack_file

PREFIX = "invalid stack configuration: "


def one_line(fn, *args) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message and message.startswith(PREFIX), message
    return message


def check(stack: str, overrides: dict) -> str:
    return one_line(lambda: validate(load_stack_input(stack, overrides)))


def from_text(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return one_line(lambda: validate(load_stack_input("broken", root=tmp_path)))


def dev_text(**replace: str) -> str:
    text = (ROOT / "Pulumi.dev.yaml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


# --- tracebacks while loading ------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("config:\n  coprs:platform: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than 16 levels (line 2)"),
    ("config:\n  coprs:platform: " + "[" * 50000 + "]" * 50000 + "\n", "(line 2"),  # libyaml has its own limit
    ("config:\n  coprs:platform: " + "{a: " * 40 + "1" + "}" * 40 + "\n", "nested deeper than 16 levels"),
    ("config:\n  42: x\n", "config: key 42 is a int, not a namespace:key string"),
    ("config:\n  null: x\n", "config: key None is a NoneType"),
    ("config:\n  coprs:nodeGroups:\n    true: {count: 1}\n", "coprs:nodeGroups: key True is a bool, not a string"),
    ("config:\n  coprs:platform:\n    apps:\n      1.5: {}\n", "coprs:platform.apps: key 1.5 is a float"),
    ("- config\n- x\n", "Pulumi.broken.yaml must be a mapping with a config: section, not list"),
    ("just a scalar\n", "must be a mapping with a config: section, not str"),
    ("config: [coprs:domain, x]\n", "config must be a mapping of namespace:key to values, not list"),
    ("config: 3\n", "config must be a mapping of namespace:key to values, not int"),
    ("confg:\n  coprs:domain: x\n", "confg is not a key of a stack file"),
    ("config: {a: 1}\n---\nconfig: {b: 2}\n", "is not valid YAML: but found another document"),
    ("config:\n  coprs:domain: [unclosed\n", "is not valid YAML"),
    ("config:\n  coprs:x: !!python/object:os.system {}\n", "is not valid YAML"),
    ("config:\n  coprs:network: {cidr: 1}\n  coprs:network: {cidr: 2}\n", "duplicate key coprs:network (line 3)"),
    ("config:\n  coprs:platform: &a [*a]\n", "a recursive alias"),
    ("config:\n  coprs:platform: {x: !!binary aGVsbG8=}\n", "coprs:platform.x is YAML binary; quote it"),
    ("config:\n  coprs:platform: {x: .nan}\n", "coprs:platform.x = nan: not a finite number"),
])
def test_loading_problems_are_one_line(tmp_path, text, expected):
    assert expected in from_text(tmp_path, text)


def test_a_file_that_is_not_utf8(tmp_path):
    assert "is not UTF-8 text: byte 0xff at offset 8" in from_text(tmp_path, b"config:\n\xff\xfe")


def test_a_file_larger_than_a_megabyte(tmp_path):
    assert "is larger than 1000000 bytes" in from_text(tmp_path, "config: {}\n" + "#" * 1_000_001)


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    text = "config:\n  coprs:platform:\n" + "".join(f"    {line}\n" for line in lines)
    assert "too large: more than 50000 values once its aliases are expanded" in from_text(tmp_path, text)


def test_a_small_alias_is_fine(tmp_path):
    text = dev_text(**{"    image: coprs-ubuntu-24.04\n      rootVolumeGb: 20\n      floatingIp: true":
                       "    image: &img coprs-ubuntu-24.04\n      rootVolumeGb: 20\n      floatingIp: true",
                       "      image: coprs-ubuntu-24.04\n      rootVolumeGb: 60": "      image: *img\n      rootVolumeGb: 60"})
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text)
    assert validate(load_stack_input("dev", root=tmp_path)).node_groups["kube_control_plane"].image == "coprs-ubuntu-24.04"


def test_yaml_dates_stay_the_strings_they_are_written_as(tmp_path):
    text = dev_text(**{"coprs:domain: dev.coprs.example.org": "coprs:domain: 2024-01-01"})
    assert "coprs:domain = '2024-01-01': must be a lower-case DNS name" in from_text(tmp_path, text)
    # Where a date-looking string is a legitimate value, it is one (an image named by its build date).
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(dev_text(**{"      image: coprs-ubuntu-24.04\n      rootVolumeGb: 60": "      image: 2026-11-30\n      rootVolumeGb: 60"}))
    assert validate(load_stack_input("dev", root=tmp_path)).node_groups["kube_control_plane"].image == "2026-11-30"


def test_a_date_object_in_a_given_document_is_named():
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"]["coprs:nodeGroups"]["infra"]["image"] = datetime.date(2024, 1, 1)
    message = one_line(lambda: load_stack_input("dev", document=doc))
    assert "coprs:nodeGroups.infra.image is a YAML date; quote it to make it a string" in message


def test_ipv6_cidrs_in_existing_mode_are_refused_clearly():
    message = check("dev", {"coprs:cluster.mode": "existing", "coprs:cluster.podCidr": "fd00:10::/56",
                            "coprs:cluster.serviceCidr": "fd00:20::/108"})
    assert "coprs:cluster.podCidr = 'fd00:10::/56': IPv6 is not supported" in message
    assert "coprs:cluster.serviceCidr = 'fd00:20::/108': IPv6 is not supported" in message


# --- hangs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack, cidr, fits", [("dev", "192.168.0.0/28", 27), ("prod", "192.168.0.0/27", 26)])
def test_a_node_network_too_small_for_the_nodes(stack, cidr, fits):
    message = check(stack, {"coprs:network.cidr": cidr})
    assert f"coprs:network.cidr = '{cidr}': room for" in message and f"use /{fits} or larger" in message


def test_the_offline_address_pool_errors_when_full():
    cfg = validate(load_stack_input("dev"))
    pool = RecordingMocks(cfg.model_copy(update={"network": cfg.network.model_copy(update={"cidr": "10.0.0.0/28"})})).private
    got = {pool.get(f"port-{i}") for i in range(pool.size)}
    assert len(got) == pool.size == 5
    with pytest.raises(ConfigError, match=r"coprs:network.cidr = '10.0.0.0/28': no address left for port-99"):
        pool.get("port-99")


# --- unclear ---------------------------------------------------------------------------------------


def test_a_key_with_a_newline_is_shown_escaped_on_one_line():
    message = check("dev", {"coprs:nodeGroups": {"in\nfra": {"count": 1, "flavor": "f", "image": "i"}}})
    assert "coprs:nodeGroups.in\\nfra = 'in\\nfra': a node group name must be a valid Ansible group name" in message


def test_non_ascii_in_keys_and_values_is_escaped():
    message = check("dev", {"coprs:cluster.kubernetesVersion": "1.35.\u0664", "coprs:cluster.n\u00e4me": "x"})
    assert "coprs:cluster.kubernetesVersion = '1.35.\\u0664'" in message
    assert "coprs:cluster.n\\xe4me is not a known key" in message


# --- accepted but wrong: free-form strings -------------------------------------------------------


@pytest.mark.parametrize("key, value, expected", [
    ("cluster.sshUser", "ubuntu\nAllowUsers root", "must be a Unix user name"),
    ("cluster.sshUser", "root", "other than root"),
    ("cluster.sshUser", "Ubuntu", "must be a Unix user name"),
    ("cluster.kubespray.cacheDir", "cache/kubespray", "an absolute path or one under ~/"),
    ("cluster.kubespray.cacheDir", "~/cache\n", "an absolute path or one under ~/"),
    ("cluster.kubespray.repository", "http://github.com/kubernetes-sigs/kubespray", "https:// URL (TLS required)"),
    ("cluster.kubespray.repository", "not a url", "https:// URL"),
    ("cluster.kubespray.repository", "https://github.com/$(id)", "https:// URL"),
    ("cluster.kubespray.repository", "https://user:pw@github.com/k", "https:// URL"),
    ("cluster.oidc.clientId", "kube rnetes", "an OIDC client id"),
    ("cluster.oidc.groupsClaim", "groups\n", "a JWT claim name"),
    ("cluster.oidc.usernamePrefix", "{{ lookup('pipe', 'id') }}", "a prefix of letters"),
    ("cluster.oidc.realm", "co/prs", "a Keycloak realm name"),
    ("cluster.oidc.issuerUrl", "not a url", "an https:// issuer URL"),
    ("cluster.oidc.issuerUrl", "http://iam.example.org/realms/coprs", "an https:// issuer URL"),
    ("cluster.oidc.issuerUrl", "https://iam.example.org/realms/coprs#x", "without query or fragment"),
    ("network.externalNetwork", "", "an OpenStack name"),
    ("network.externalNetwork", "ext\x07net", "an OpenStack name"),
    ("network.externalNetwork", "x" * 300, "1 to 255 characters (got 300)"),
    ("network.availabilityZones", ["eu-west-0a", ""], "coprs:network.availabilityZones[1] = ''"),
    ("nodeGroups.infra.flavor", "s3.xlarge.4\n", "an OpenStack name"),
    ("nodeGroups.infra.image", "\u00fcbuntu", "an OpenStack name"),
    ("nodeGroups.infra.rootVolumeType", " SSD", "an OpenStack name"),
    ("objectStorage.endpoint", "oss.example.org", "an http:// or https:// URL"),
    ("objectStorage.region", "eu west", "a region name"),
    ("platform.issuer.server", "http://acme.example.org/directory", "https:// URL (TLS required)"),
    ("platform.issuer.email", "ops@localhost", "an e-mail address"),
])
def test_free_form_strings_are_typed(key, value, expected):
    message = check("dev", {f"coprs:{key}": value})
    assert f"coprs:{key}" in message and expected in message
    assert len(message) < 1000


@pytest.mark.parametrize("key, value", [
    ("domain", "example.org\n"),
    ("cluster.kubernetesVersion", "1.35.\u0664"),
    ("cluster.kubernetesVersion", "1.35.4\n"),
    ("namespaces", None),
])
def test_patterns_match_in_full_and_in_ascii(key, value):
    if key == "namespaces":
        message = check("dev", {"coprs:platform.namespaces.processing.quota.requestsMemory": "\uff16\uff14Gi"})
        assert "coprs:platform.namespaces.processing.quota.requestsMemory = '\\uff16\\uff14Gi': must be a Kubernetes quantity" in message
        return
    assert f"coprs:{key} = " in check("dev", {f"coprs:{key}": value})


# --- accepted but wrong: Kubernetes syntax --------------------------------------------------------


@pytest.mark.parametrize("overrides, expected", [
    ({"coprs:nodeGroups.infra.labels": {"has space": ""}}, "coprs:nodeGroups.infra.labels.has space = 'has space': must be a Kubernetes label key"),
    ({"coprs:nodeGroups.infra.labels": {"-lead": ""}}, "must be a Kubernetes label key"),
    ({"coprs:nodeGroups.infra.labels": {"x" * 64: ""}}, "must be a Kubernetes label key"),
    ({"coprs:nodeGroups.infra.labels": {"Bad_Prefix.io/x": ""}}, "must be a Kubernetes label key"),
    ({"coprs:nodeGroups.infra.labels": {"node-role.kubernetes.io/infra": "v" * 64}}, "must be a Kubernetes label value"),
    ({"coprs:nodeGroups.infra.labels": {"node-role.kubernetes.io/infra": "a b"}}, "must be a Kubernetes label value"),
    ({"coprs:nodeGroups.infra.taints": ["bad key=x:NoSchedule"]}, "coprs:nodeGroups.infra.taints[0] = 'bad key=x:NoSchedule': must be a taint"),
    ({"coprs:nodeGroups.infra.taints": ["k=-v:NoSchedule"]}, "must be a taint"),
    ({"coprs:nodeGroups.infra.taints": ["k=v:NoSchedul"]}, "must be a taint"),
    ({"coprs:platform.namespaces.processing.quota.requestsCpu": "lots"}, "requestsCpu = 'lots': must be a Kubernetes quantity"),
    ({"coprs:platform.namespaces.processing.quota.limitsMemory": "1 GB"}, "limitsMemory = '1 GB': must be a Kubernetes quantity"),
    ({"coprs:platform.namespaces.processing.limits.defaultMemory": "-1Gi"}, "must be a Kubernetes quantity"),
    ({"coprs:platform.infraNodeLabel": "node-role.kubernetes.io/platform"},
     "coprs:platform.infraNodeLabel = 'node-role.kubernetes.io/platform': no node group carries this label"),
    ({"coprs:platform.infraNodeLabel": "bad label"}, "must be a Kubernetes label key"),
])
def test_kubernetes_syntax(overrides, expected):
    assert expected in check("dev", overrides)


def test_legitimate_kubernetes_values_are_accepted():
    cfg = validate(load_stack_input("dev", {
        "coprs:nodeGroups.infra.labels": {"node-role.kubernetes.io/infra": "", "example.org/tier": "a.b_c-1"},
        "coprs:nodeGroups.infra.taints": ["dedicated=infra:PreferNoSchedule", "example.org/x:NoExecute"],
        "coprs:platform.namespaces.processing.quota": {"requestsCpu": "500m", "requestsMemory": "1.5Gi", "limitsMemory": "1e9"},
    }))
    assert cfg.platform.namespaces["processing"].quota.limits_memory == "1e9"


# --- accepted but wrong: keys silently ignored ----------------------------------------------------


@pytest.mark.parametrize("overrides, expected", [
    ({"coprs:platform.namespaces.procesing": {}}, "coprs:platform.namespaces.procesing is not a namespace of the platform (did you mean processing?)"),
    ({"coprs:platform.namespaces.processing.quota.requestCpu": "1"}, "coprs:platform.namespaces.processing.quota.requestCpu is not a known key"),
    ({"coprs:platform.apps.rook-ceph.settings.resources": {"operator": {"memroy": "1Gi"}}},
     "coprs:platform.apps.rook-ceph.settings.resources.operator.memroy is not a known key"),
    ({"coprs:platform.apps.rook-ceph.settings.resources": {"operator": {"memory": "lots"}}},
     "coprs:platform.apps.rook-ceph.settings.resources.operator.memory = 'lots': must be a Kubernetes quantity"),
    ({"coprs:platform.apps.rook-ceph.settings.resources": {"operator": "1Gi"}}, "settings.resources.operator = '1Gi'"),
    ({"coprs:platform.issuer": {"type": "acme", "email": "ops@example.org",
                                "dns01": {"provider": "rfc2136", "settings": {"nameservr": "192.0.2.53:53"}}}},
     "coprs:platform.issuer.dns01.settings.nameservr is not a known key"),
    ({"coprs:platform.issuer": {"type": "acme", "email": "ops@example.org",
                                "dns01": {"provider": "rfc2136", "settings": {"nameserver": "192.0.2.53:99999"}}}},
     "coprs:platform.issuer.dns01.settings.nameserver = '192.0.2.53:99999': must be host[:port]"),
    ({"coprs:platform.issuer": {"type": "acme", "email": "ops@example.org",
                                "dns01": {"provider": "cloudflare", "settings": {"apiTokenSecretRef": {"name": "x"}}}}},
     "coprs:platform.issuer.dns01.settings.apiTokenSecretRef is not a known key"),
    ({"coprs:platform.issuer.dns01": {"provider": "designate"}}, "coprs:platform.issuer.dns01.provider = 'designate': must be one of"),
    ({"copr:platform": {}}, "copr:platform: unknown config namespace copr (did you mean coprs?)"),
    ({"Coprs:cluster": {}}, "Coprs:cluster: unknown config namespace Coprs (did you mean coprs?)"),
    ({"coprs:nodegroups": {}}, "coprs:nodegroups is not a known key (did you mean nodeGroups?)"),
    ({"domain": "x"}, "domain is not a config key of the form namespace:key"),
])
def test_closed_key_sets(overrides, expected):
    assert expected in check("dev", overrides)


def engine_config(stack: str, **extra: str) -> dict[str, str]:
    """The config map `pulumi up` passes the program: every key, objects as JSON strings."""
    return {**load_stack_input(stack).config_map(), **extra}


def test_pulumi_up_reads_every_coprs_key_and_refuses_unknown_ones(monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    runtime_config.set_all_config(engine_config("prod", **{"coprs:nodegroups": json.dumps({"infra": {}})}))
    try:
        message = one_line(load_stack_config)
    finally:
        runtime_config.set_all_config({})
    assert "coprs:nodegroups is not a known key (did you mean nodeGroups?)" in message


def test_pulumi_up_reads_the_engine_environment_too(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(engine_config("dev", **{"Coprs:cluster": "{}"})))
    runtime_config.set_all_config({})
    assert "Coprs:cluster: unknown config namespace Coprs" in one_line(load_stack_config)
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(engine_config("dev")))
    assert load_stack_config().environment == "dev"


def test_the_engine_path_survives_deep_json():
    config = engine_config("dev", **{"coprs:platform": "[" * 100_000 + "]" * 100_000})
    assert "coprs:platform is nested deeper than 16 levels" in one_line(parse_config_map, config)


def test_offline_and_engine_paths_give_the_same_line():
    si = load_stack_input("dev", {"coprs:cluster.sshUser": "x y", "coprs:platform.namespaces.nope": {}})
    assert one_line(validate, si) == one_line(parse_config_map, si.config_map())


# --- semantics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack, overrides, expected", [
    ("dev", {"coprs:network.cidr": "2001:db8::/48"}, "coprs:network.cidr = '2001:db8::/48': IPv6 is not supported"),
    ("dev", {"coprs:network.adminCidrs": ["2001:db8::/32"]}, "coprs:network.adminCidrs[0] = '2001:db8::/32': IPv6 is not supported"),
    ("dev", {"coprs:network.dnsNameservers": ["2606:4700::1111"]}, "IPv6 is not supported"),
    ("dev", {"coprs:platform.nodeLocalDns": "fe80::1"}, "IPv6 is not supported"),
    ("dev", {"coprs:cluster.serviceCidr": "10.64.0.0/11"}, "coprs:cluster.serviceCidr = '10.64.0.0/11': must be /12 to /24: kube-apiserver refuses"),
    ("dev", {"coprs:cluster.serviceCidr": "10.96.0.0/25"}, "must be /12 to /24"),
    ("dev", {"coprs:cluster.podCidr": "10.244.0.0/25"}, "coprs:cluster.podCidr = '10.244.0.0/25': must be /24 or larger"),
    ("dev", {"coprs:cluster.podCidr": "10.244.0.0/22"}, "coprs:cluster.podCidr = '10.244.0.0/22': 4 pod blocks of /24 (Kubespray's kube_network_node_prefix), but the cluster reaches 10 nodes; use /20 or larger"),
    ("dev", {"coprs:cluster.apiLoadBalancer": {"enabled": False, "public": True}}, "coprs:cluster.apiLoadBalancer = {\"enabled\": false, \"public\": true}: public: true needs enabled: true"),
    ("dev", {"coprs:nodeGroups.kube_control_plane.autoscaling": {"minCount": 1, "maxCount": 3}}, "coprs:nodeGroups.kube_control_plane.autoscaling: only worker groups are autoscaled"),
    ("dev", {"coprs:nodeGroups.bastion.autoscaling": {"minCount": 1, "maxCount": 2}}, "coprs:nodeGroups.bastion.autoscaling: only worker groups"),
    ("dev", {"coprs:nodeGroups.processing.autoscaling.maxCount": 100000}, "coprs:nodeGroups.processing.autoscaling.maxCount = 100000: Input should be less than or equal to 1000"),
    ("dev", {"coprs:nodeGroups.processing.autoscaling": {"minCount": 3, "maxCount": 2}}, "minCount 3 must not exceed maxCount 2"),
    ("dev", {"coprs:nodeGroups.processing.autoscaling.maxCount": 900}, "coprs:cluster.podCidr = '10.244.0.0/16': 256 pod blocks"),
    ("dev", {"coprs:domain": ".".join(["a" * 63] * 4) + ".org"}, "must be a lower-case DNS name like coprs.example.org, 1 to 253 characters (got 259)"),
    ("dev", {"coprs:domain": ".".join(["a" * 62] * 3) + ".org"}, "192 characters; at most 189, so that every host name"),
    ("dev", {"coprs:domain": ".".join(["a" * 63] * 3) + ".o"}, "must be a lower-case DNS name"),
    ("dev", {"coprs:nodeGroups": {"g" * 33: {"count": 1, "flavor": "f", "image": "i"}}}, "up to 32 lower-case letters"),
    ("dev", {"coprs:cluster.name": "c" * 22}, "coprs:cluster.name = '" + "c" * 22 + "': must be 2-21"),
])
def test_semantics(stack, overrides, expected):
    assert expected in check(stack, overrides)


def test_a_5mb_value_is_refused_by_size():
    assert "coprs:network.externalNetwork is a string of 5000000 characters; at most 65536" in check(
        "dev", {"coprs:network.externalNetwork": "x" * 5_000_000})
    assert "coprs:network is too large (5000023 characters; at most 1000000)" in one_line(
        parse_config_map, engine_config("dev", **{"coprs:network": json.dumps({"externalNetwork": "x" * 5_000_000})}))


def test_the_longest_node_name_the_limits_allow_is_a_host_name():
    longest = node_name("c" * 21, "g" * 32, MAX_NODES_PER_GROUP - 1)
    assert len(longest) <= HOST_LABEL_MAX and validate(load_stack_input("dev", {"coprs:cluster.name": "c" * 21}))


def test_a_long_but_fitting_domain_is_valid():
    domain = ".".join(["a" * 60, "b" * 60, "c" * 60]) + ".org"
    assert len(domain) == 186 and validate(load_stack_input("dev", {"coprs:domain": domain})).domain == domain


def test_read_stack_file_gives_the_document():
    assert read_stack_file(ROOT / "Pulumi.prod.yaml")["config"]["coprs:environment"] == "prod"


def test_make_plan_prints_one_line_for_an_unreadable_stack_file(tmp_path):
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_bytes(b"config:\n  coprs:domain: \xff\n")
    proc = subprocess.run(
        [sys.executable, "-m", "offline.plan", "--stack", "broken", "--stack-file", str(broken), "--out", str(tmp_path / "p.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == ["error: invalid stack configuration: Pulumi.broken.yaml is not UTF-8 text: byte 0xff at offset 24"]
