"""The cluster layer in whole mocked runs: Kubespray steps, triggers, scale-out, secrets, existing mode."""

from __future__ import annotations

import json

import pytest
import yaml

from components.config import ConfigError
from offline.harness import SECRET, RunResult, iter_values, load_stack_input, run_stack, validate
from tests.conftest import NO_PLATFORM, stack_run

LOCAL = "command:local:Command"
REMOTE = "command:remote:Command"
PROVIDER = "pulumi:providers:kubernetes"
EXISTING = {"coprs:cluster.mode": "existing", "coprs:network": None, "coprs:nodeGroups": None}
# Variants that only matter to the cluster layer skip the platform layer: faster runs, same Kubespray steps.


def steps(run: RunResult) -> dict[str, object]:
    return {r.name: r for r in run.of_type(LOCAL, REMOTE)}


def test_kubespray_steps_run_after_the_vms(any_stack: RunResult):
    s = steps(any_stack)
    comp = any_stack.named("kubespray", "coprs:cluster:Kubespray")
    assert {r.urn for r in s.values()} <= {r.urn for r in any_stack.children(comp.urn)}
    fetch, venv, inventory, cluster = (s[f"kubespray-{n}"] for n in ("fetch", "venv", "inventory", "cluster"))
    assert "git -c advice.detachedHead=false clone" in fetch.inputs["create"] and "v2.31.0" in fetch.inputs["create"]
    assert "1c9add48975060f45396b34d8e022c30d7f80dab" in fetch.inputs["create"]
    assert "requirements.txt" in venv.inputs["create"] and venv.urn != fetch.urn
    assert fetch.urn in venv.dependencies and venv.urn in inventory.dependencies and inventory.urn in cluster.dependencies
    assert cluster.inputs["create"].rstrip().endswith("wait_for_nodes all\nplay cluster.yml")
    deps = set(cluster.dependencies)
    for t in ("openstack:compute/instance:Instance", "openstack:networking/port:Port", "openstack:loadbalancer/member:Member"):
        urns = {r.urn for r in any_stack.of_type(t)}
        assert urns and urns <= deps, t
    assert cluster.inputs["logging"] == "stdoutAndStderr"
    # a run's Ansible output never comes back as PULUMI_COMMAND_STDOUT (it would overflow the environment)
    assert all(step.inputs["addPreviousOutputInEnv"] is False for step in any_stack.of_type(LOCAL))


def test_the_inventory_step_carries_the_files_once_and_the_run_steps_only_digests(any_stack: RunResult):
    s = steps(any_stack)
    inventory, cluster, scale = s["kubespray-inventory"], s["kubespray-cluster"], s["kubespray-scale"]
    files = json.loads(inventory.inputs["stdin"])
    assert files == {"hosts.yaml": any_stack.raw_outputs["inventory"], **any_stack.raw_outputs["inventoryGroupVars"]}
    assert inventory.inputs["update"] == inventory.inputs["create"]
    # it is rewritten whenever a run step is to run, so the machine running that step has the files
    cluster_trigger, scale_trigger = cluster.inputs["triggers"][0], scale.inputs["triggers"][0]
    assert inventory.inputs["environment"] == {"COPRS_TRIGGERS": f"{cluster_trigger} {scale_trigger}"}
    for step in (cluster, scale):
        assert "environment" not in step.inputs
        assert step.inputs["triggers"][0] in step.inputs["create"]  # runs only on an inventory written for it
        assert inventory.urn.replace("$", "\\$") in step.inputs["create"]  # and says which step writes it
        assert "ansible-playbook" not in step.inputs["update"]  # a changed script alone re-runs no playbook


def test_one_scale_step_joins_every_worker_without_a_kubelet(any_stack: RunResult):
    s = steps(any_stack)
    workers = [n["name"] for n in any_stack.raw_outputs["nodes"] if n["role"] == "worker"]
    scale = s["kubespray-scale"]
    assert [n for n in s if n.startswith("kubespray-scale")] == ["kubespray-scale"]
    assert s["kubespray-cluster"].urn in scale.dependencies
    assert 'wait_for_nodes kube_node "$RUN/to-join"' in scale.inputs["create"]
    assert 'play scale.yml --limit=@"$RUN/to-join"' in scale.inputs["create"]
    assert "play playbooks/facts.yml --limit=kube_control_plane:etcd" in scale.inputs["create"]
    assert scale.inputs["triggers"][1] == "v2.31.0"
    # a marker per worker, with its own entry only: what the preview shows the scale run will join
    joins = {n[len("kubespray-join-"):]: r for n, r in s.items() if n.startswith("kubespray-join-")}
    assert sorted(joins) == sorted(workers)
    for w, join in joins.items():
        instance = any_stack.named(w, "openstack:compute/instance:Instance")
        assert instance.id in join.inputs["triggers"] and join.inputs["triggers"][2] == "v2.31.0"
        assert "ansible" not in join.inputs["create"] and "remove-node.yml" in join.inputs["delete"]
        assert join.urn in scale.dependencies and instance.urn in scale.dependencies
        port = any_stack.named(f"{w}-port", "openstack:networking/port:Port")
        assert set(join.dependencies) <= {instance.urn, port.urn}  # its own VM only: no quadratic state
        # the per-node scale step of earlier releases, kept (updated in place) rather than deleted and re-created
        assert join.aliases == [join.urn.replace("::kubespray-join-", "::kubespray-scale-")]


def test_scale_out_replaces_the_one_scale_step_and_adds_the_markers_of_the_new_nodes(prod: RunResult):
    base = stack_run("prod", NO_PLATFORM)
    grown = stack_run("prod", {**NO_PLATFORM, "coprs:nodeGroups.infra.count": 10})
    before, after = steps(base), steps(grown)
    assert set(after) - set(before) == {"kubespray-join-coprs-infra-9", "kubespray-join-coprs-infra-10"}
    assert set(before) <= set(after)
    changed = {n for n in before if after[n].inputs != before[n].inputs}
    assert changed == {"kubespray-inventory", "kubespray-scale"}
    assert after["kubespray-scale"].inputs["triggers"] != before["kubespray-scale"].inputs["triggers"]
    # the inventory step writes the new hosts; cluster.yml does not run again
    assert "coprs-infra-10" in yaml.safe_load(grown.raw_outputs["inventory"])["all"]["children"]["infra"]["hosts"]
    assert after["kubespray-cluster"].inputs == before["kubespray-cluster"].inputs


def test_a_replaced_worker_vm_moves_its_marker_and_the_scale_trigger():
    base = stack_run("prod", NO_PLATFORM)
    before = steps(base)
    join, scale = before["kubespray-join-coprs-infra-3"], before["kubespray-scale"]
    instance = base.named("coprs-infra-3", "openstack:compute/instance:Instance")
    # the marker's and the scale run's triggers hold the VM's id: a new VM (new id) moves both
    assert join.inputs["triggers"][1] == instance.id
    from components.cluster import inventory as inv

    nodes = [n for n in base.raw_outputs["nodes"] if n["role"] == "worker"]
    ids = {r.name: r.id for r in base.of_type("openstack:compute/instance:Instance")}
    entries = [(n["name"], inv.node_fingerprint(n, base.config), ids[n["name"]]) for n in nodes]
    assert inv.scale_fingerprint(entries, "v2.31.0") == scale.inputs["triggers"][0]
    replaced = [(n, fp, "new-vm" if n == "coprs-infra-3" else i) for n, fp, i in entries]
    assert inv.scale_fingerprint(replaced, "v2.31.0") != scale.inputs["triggers"][0]


def test_kubespray_step_inputs_do_not_grow_with_the_node_count():
    """Not timed: only the inventory step carries the node list; every other step's inputs stay the same size."""
    def sizes(count: int) -> dict[str, int]:
        run = stack_run("dev", {**NO_PLATFORM, "coprs:nodeGroups.infra.count": count})
        out = {}
        for r in run.of_type(LOCAL, REMOTE):
            kind = r.name if not r.name.startswith("kubespray-join-") else "kubespray-join"
            out[kind] = max(out.get(kind, 0), len(json.dumps(r.masked_inputs, sort_keys=True)))
            # what reaches a command line or an environment variable (Linux: 128 KiB each) stays small
            argv = [r.inputs.get(k) or "" for k in ("create", "update", "delete")]
            assert max(len(a.encode()) for a in [*argv, *(r.inputs.get("environment") or {}).values()]) < 16 * 1024, r.name
        return out

    small, large = sizes(3), sizes(23)
    assert set(small) == set(large)
    for kind in small:
        if kind == "kubespray-inventory":  # the inventory itself, written once: a few hundred bytes a node
            assert 0 < (large[kind] - small[kind]) / 20 < 500
        else:
            assert large[kind] <= small[kind] + 8, kind  # a longer node name at most


def test_cluster_trigger_follows_group_vars_not_unrelated_config(prod: RunResult):
    base = steps(prod)["kubespray-cluster"].inputs["triggers"]
    audit = steps(stack_run("prod", {**NO_PLATFORM, "coprs:cluster.auditLogMaxAgeDays": 90}))["kubespray-cluster"].inputs["triggers"]
    assert audit != base and audit[1] == base[1] == "v2.31.0"
    flavor = steps(stack_run("prod", {**NO_PLATFORM, "coprs:nodeGroups.infra.flavor": "s3.2xlarge.4"}))["kubespray-cluster"]
    assert flavor.inputs["triggers"] == base


def test_kubeconfig_is_read_back_as_a_secret_pointing_at_the_api(any_stack: RunResult):
    read = steps(any_stack)["kubespray-kubeconfig"]
    assert read.type == REMOTE and "/etc/kubernetes/admin.conf" in read.inputs["create"]
    assert "stdout" in read.additional_secret_outputs and read.inputs["logging"] == "none"
    assert read.masked_inputs["connection"] == SECRET
    assert read.inputs["connection"]["proxy"]["host"] == any_stack.raw_outputs["bastionAddresses"][0]
    assert steps(any_stack)["kubespray-cluster"].urn in read.dependencies
    kubeconfig = yaml.safe_load(any_stack.raw_outputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{any_stack.raw_outputs['apiEndpoint']}:6443"
    assert any_stack.outputs["kubeconfig"] == SECRET


def test_provider_uses_the_kubeconfig_and_a_stable_cluster_identifier(any_stack: RunResult):
    (provider,) = any_stack.of_type(PROVIDER)
    assert provider.masked_inputs["kubeconfig"] == SECRET
    assert provider.inputs["kubeconfig"] == any_stack.raw_outputs["kubeconfig"]
    cfg = any_stack.config
    assert provider.inputs["clusterIdentifier"] == f"{cfg.cluster.name}-{cfg.environment}"
    assert provider.parent == any_stack.named("cluster", "coprs:cluster:Cluster").urn


def test_no_secret_in_clear_in_recorded_inputs_or_outputs(any_stack: RunResult):
    key = any_stack.raw_outputs["sshPrivateKey"]
    kubeconfig = any_stack.raw_outputs["kubeconfig"]
    assert key and kubeconfig
    for r in any_stack.resources:
        for value in iter_values(r.masked_inputs):
            if isinstance(value, str):
                assert key not in value and "offline-dummy-token" not in value, r.name
    for name, value in any_stack.outputs.items():
        for v in iter_values(value):
            if isinstance(v, str):
                assert key not in v and "offline-dummy-token" not in v, name
    for step in steps(any_stack).values():
        if step.name in ("kubespray-cluster", "kubespray-scale"):
            assert step.masked_inputs["stdin"] == SECRET and step.inputs["stdin"] == key
            assert "$KEY" in step.inputs["create"] and key not in step.inputs["create"]
            assert {"stdout", "stderr"} <= set(step.additional_secret_outputs)
    assert "offline-dummy" not in any_stack.raw_outputs["inventory"]


def test_existing_mode_declares_no_openstack_resource():
    run = stack_run("prod", EXISTING)
    assert run.config.cluster.mode == "existing" and run.config.network is None
    assert not [r for r in run.resources if r.type.startswith("openstack:") or r.type.startswith("command:")]
    (provider,) = run.of_type(PROVIDER)
    assert provider.masked_inputs["kubeconfig"] == SECRET
    assert provider.inputs["kubeconfig"] == "offline-dummy-coprs-kubeconfig"  # the secret config coprs:kubeconfig
    assert "coprs:kubeconfig" in run.faked_secrets
    assert run.outputs["kubeconfig"] == SECRET and "inventory" not in run.outputs


def test_existing_mode_can_take_the_kubeconfig_from_another_stack():
    run = stack_run("dev", {**EXISTING, "coprs:cluster.kubeconfigFromStack": "coprs-org/coprs-cluster/dev"})
    (ref,) = run.of_type("pulumi:pulumi:StackReference")
    assert ref.name == "coprs-org/coprs-cluster/dev"
    (provider,) = run.of_type(PROVIDER)
    assert "kind: Config" in provider.inputs["kubeconfig"] and provider.masked_inputs["kubeconfig"] == SECRET
    assert not [r for r in run.resources if r.type.startswith("openstack:")]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"coprs:cluster.kubespray.version": "2.31"}, "coprs:cluster.kubespray.version = '2.31': must be a Kubespray release tag like v2.31.0"),
        ({"coprs:cluster.kubespray.version": "v9.9.9"}, "coprs:cluster.kubespray.version = 'v9.9.9': not a Kubespray release this program pins; known: v2.31.0"),
        ({"coprs:cluster.podCidr": "192.168.128.0/17"}, "coprs:cluster.podCidr = '192.168.128.0/17': must not overlap the node network (network.cidr 192.168.0.0/16)"),
        ({"coprs:cluster.kubernetesVersion": "1.36.0"}, "coprs:cluster.kubernetesVersion = '1.36.0': Kubespray v2.31.0 supports 1.33.0-1.33.11, 1.34.0-1.34.7, 1.35.0-1.35.4 (default 1.35.4)"),
        ({"coprs:cluster.kubernetesVersion": "v1.35.4"}, "coprs:cluster.kubernetesVersion = 'v1.35.4': must be a Kubernetes version like 1.35.4 (no leading v)"),
    ],
)
def test_bad_cluster_config_gives_one_clear_line(overrides, message):
    with pytest.raises(ConfigError) as err:
        validate(load_stack_input("dev", overrides))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_existing_mode_config_is_valid_without_cloud_sections():
    cfg = validate(load_stack_input("prod", EXISTING))
    assert cfg.cluster.mode == "existing" and cfg.node_groups == {} and not cfg.provisions_cloud


def test_existing_mode_without_a_kubeconfig_says_what_to_set(monkeypatch):
    import pulumi

    from components.cluster import Cluster

    # the harness fakes every secret key; hide coprs:kubeconfig to see the program's own message
    monkeypatch.setattr(pulumi.Config, "get_secret", lambda self, key: None)
    cfg = validate(load_stack_input("dev", EXISTING))
    with pytest.raises(ConfigError) as err:
        run_stack("dev", EXISTING, program=lambda: Cluster("cluster", cfg))
    assert "coprs:kubeconfig is required when cluster.mode is 'existing'" in str(err.value)
