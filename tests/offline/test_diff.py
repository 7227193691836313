"""`make diff`: resource-level difference of two plans, replacements, aliases, text and Markdown."""

from __future__ import annotations

import copy
import json

import pytest

from offline import diff as plan_diff
from offline.plan import build_plan
from tests.conftest import NO_PLATFORM, stack_run

INSTANCE = "openstack:compute/instance:Instance"
PORT = "openstack:networking/port:Port"


# The platform layer adds nothing these diffs are about (it does not depend on nodes); skipping it keeps runs fast.


def plan_of(stack: str, overrides: dict | None = None) -> dict:
    plan, _ = build_plan(stack_run(stack, {**NO_PLATFORM, **(overrides or {})}))
    return json.loads(json.dumps(plan, default=str))


@pytest.fixture(scope="module")
def dev_plan() -> dict:
    return plan_of("dev")


def _by_urn(plan: dict) -> dict[str, dict]:
    return {r["urn"]: r for r in plan["resources"]}


def test_one_more_worker_shows_exactly_the_new_node_and_what_depends_on_it(dev_plan):
    head = plan_of("dev", {"coprs:nodeGroups.infra.count": 4})
    d = plan_diff.diff_plans(dev_plan, head)
    old, new = _by_urn(dev_plan), _by_urn(head)
    born = set(new) - set(old)

    node = {u for u in born if new[u]["name"].startswith("coprs-dev-infra-4")}
    assert {new[u]["type"] for u in node} >= {PORT, INSTANCE}
    # every other new resource waits (transitively) for the new node: e.g. its load-balancer members
    closure = set(node)
    for r in head["resources"]:
        if set(r["dependencies"]) & closure:
            closure.add(r["urn"])
    assert born <= closure
    assert {r["urn"] for r in d.added} == born
    assert any(r["type"] == "openstack:loadbalancer/member:Member" for r in d.added)

    # what else is reported is exactly what now depends on a new resource
    dependents = {u for u in set(new) & set(old) if set(new[u]["dependencies"]) & born}
    assert {c.urn for c in d.changed} | {w.urn for w in d.rewired} == dependents
    assert not d.removed and not d.moved
    assert [c.name for c in d.replaced] == ["kubespray-scale"]  # the one scale run, for the new node
    assert d.outputs.get("nodes") == "changed" and set(d.outputs.values()) == {"changed"}

    text = plan_diff.render_text(d)
    assert f"{len(born)} to add" in text and "0 to delete" in text
    assert "+ openstack:compute/instance:Instance  coprs-dev-infra-4" in text


def test_two_more_prod_workers_show_one_scale_step_for_exactly_those_two_nodes(tmp_path, capsys):
    """`make diff` of prod with nodeGroups.infra.count 8 → 10."""
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text(json.dumps(plan_of("prod")))
    head.write_text(json.dumps(plan_of("prod", {"coprs:nodeGroups.infra.count": 10})))
    assert plan_diff.main([str(base), str(head)]) == 0
    text = capsys.readouterr().out
    d = plan_diff.diff_plans(json.loads(base.read_text()), json.loads(head.read_text()))
    kubespray = lambda rs: sorted(r["name"] if isinstance(r, dict) else r.name for r in rs  # noqa: E731
                                  if (r["name"] if isinstance(r, dict) else r.name).startswith("kubespray-"))
    assert kubespray(d.added) == ["kubespray-join-coprs-infra-10", "kubespray-join-coprs-infra-9"]
    assert kubespray(d.replaced) == ["kubespray-scale"]  # one scale.yml run...
    assert kubespray(d.updated) == ["kubespray-inventory"]  # ...on the inventory written once
    assert "kubespray-cluster" not in kubespray(d.changed)  # cluster.yml does not run again
    assert "+ command:local:Command  kubespray-join-coprs-infra-9" in text
    assert "+ command:local:Command  kubespray-join-coprs-infra-10" in text
    assert "± command:local:Command  kubespray-scale: create, triggers[0] (replaces on: triggers[0]; create, then delete)" in text
    assert text.count("kubespray-scale") == 1 and text.count("kubespray-join-") == 2


def test_reordering_node_groups_in_the_stack_file_changes_nothing(tmp_path):
    """An editor that sorts YAML keys (or a hand reorder) re-runs no playbook: the plan is the same."""
    import yaml

    from offline.harness import ROOT, run_stack

    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    groups = doc["config"]["coprs:nodeGroups"]
    doc["config"]["coprs:nodeGroups"] = dict(reversed(list(groups.items())))
    doc["config"]["coprs:platform"] = {**doc["config"].get("coprs:platform", {}), "enabled": False}
    reordered, _ = build_plan(run_stack("prod", document=doc))
    d = plan_diff.diff_plans(plan_of("prod"), json.loads(json.dumps(reordered, default=str)))
    assert d.empty, plan_diff.render_text(d)


def test_no_change_is_no_change(dev_plan):
    d = plan_diff.diff_plans(dev_plan, copy.deepcopy(dev_plan))
    assert d.empty
    assert "no changes" in plan_diff.render_text(d)
    assert "No resource changes" in plan_diff.render_markdown(d)


def test_image_change_is_ignored_as_ignore_changes_says_and_flavor_change_resizes(dev_plan):
    head = plan_of("dev", {"coprs:nodeGroups.infra.image": "coprs-ubuntu-26.04"})
    image = plan_diff.diff_plans(dev_plan, head)
    # Instances ignore blockDevices[0].uuid (node_group.py): a real preview shows no change for them.
    assert not image.replaced and not image.updated
    assert {c.type for c in image.ignored} == {INSTANCE} and len(image.ignored) == 3
    assert all(plan_diff.path_text(p) == "blockDevices[0].uuid" for c in image.ignored for p in c.ignored)
    text = plan_diff.render_text(image)
    assert "0 to replace" in text and "3 with ignored changes only" in text
    assert "= openstack:compute/instance:Instance  coprs-dev-infra-1: blockDevices[0].uuid" in text
    assert "Ignored changes" in plan_diff.render_markdown(image)

    # without the option recorded in the plan, the same change is a replacement (the provider's table)
    for r in head["resources"]:
        r.get("options", {}).pop("ignoreChanges", None)
    bare = plan_diff.diff_plans(dev_plan, head)
    assert {c.type for c in bare.replaced} == {INSTANCE} and len(bare.replaced) == 3
    assert all(plan_diff.path_text(p).startswith("blockDevices[0].uuid") for c in bare.replaced for p in c.replace)

    flavor = plan_diff.diff_plans(dev_plan, plan_of("dev", {"coprs:nodeGroups.infra.flavor": "s3.2xlarge.4"}))
    assert not flavor.replaced
    assert {(c.type, tuple(map(plan_diff.path_text, c.paths))) for c in flavor.updated} == {(INSTANCE, ("flavorName",))}


def test_the_plan_records_resource_options(dev_plan):
    by_type = {}
    for r in dev_plan["resources"]:
        by_type.setdefault(r["type"], []).append(r["options"])
    assert all(o["ignoreChanges"] == ["blockDevices[0].uuid"] for o in by_type[INSTANCE])
    assert all(o["ignoreChanges"] == ["allowedAddressPairs"] for o in by_type[PORT])
    assert all(o["protect"] for o in by_type["openstack:blockstorage/volume:Volume"])


@pytest.mark.parametrize(
    "pattern, path, covered",
    [
        ("blockDevices[0].uuid", ("blockDevices", 0, "uuid"), True),
        ("blockDevices[*].uuid", ("blockDevices", 2, "uuid"), True),
        ("blockDevices", ("blockDevices", 0, "uuid"), True),
        ("blockDevices[0].uuid", ("blockDevices",), False),
        ("blockDevices[1].uuid", ("blockDevices", 0, "uuid"), False),
        ('metadata.labels["app.kubernetes.io/name"]', ("metadata", "labels", "app.kubernetes.io/name"), True),
        ("spec.*", ("spec", "replicas"), True),
        ("spec[", ("spec",), False),
    ],
)
def test_property_paths_as_the_options_spell_them(pattern, path, covered):
    from offline.property_paths import covered_by_any

    assert covered_by_any([pattern], path) is covered


def test_delete_before_replace_and_retain_on_delete_are_shown(dev_plan):
    head = copy.deepcopy(dev_plan)
    rule = next(r for r in head["resources"] if r["type"] == "openstack:networking/secGroupRule:SecGroupRule")
    rule["inputs"]["description"] = "changed"
    rule["options"]["deleteBeforeReplace"] = True
    base = copy.deepcopy(dev_plan)
    vol = next(r for r in base["resources"] if r["type"] == "openstack:blockstorage/volume:Volume")
    vol["options"]["retainOnDelete"] = True
    head["resources"] = [r for r in head["resources"] if r["urn"] != vol["urn"]]
    text = plan_diff.render_text(plan_diff.diff_plans(base, head))
    assert "deleteBeforeReplace" in text and "retainOnDelete: left in the cloud" in text


def test_lists_are_sorted_and_a_closed_pipe_is_quiet(dev_plan, tmp_path):
    import subprocess
    import sys

    head = plan_of("dev", {"coprs:nodeGroups.infra.flavor": "s3.2xlarge.4", "coprs:nodeGroups.processing.flavor": "s3.2xlarge.4",
                           "coprs:nodeGroups.infra.count": 5})
    d = plan_diff.diff_plans(dev_plan, head)
    assert [(c.type, c.name) for c in d.updated] == sorted((c.type, c.name) for c in d.updated)
    assert [(r["type"], r["name"]) for r in d.added] == sorted((r["type"], r["name"]) for r in d.added)
    # a diff far larger than a pipe's buffer, read only up to its first line
    many = [{"urn": f"urn:pulumi:dev::coprs::test:index:Thing::thing-{i}", "type": "test:index:Thing",
             "name": f"thing-{i}", "parent": None, "inputs": {}, "protect": False, "dependencies": []} for i in range(20000)]
    base_f, head_f = tmp_path / "base.json", tmp_path / "head.json"
    base_f.write_text(json.dumps({"stack": "dev", "resources": many, "outputs": {}}))
    head_f.write_text(json.dumps({"stack": "dev", "resources": [], "outputs": {}}))
    proc = subprocess.run(f"{sys.executable} -m offline.diff {base_f} {head_f} | head -1", shell=True,
                          capture_output=True, text=True, cwd=plan_diff.Path(plan_diff.__file__).parent.parent)
    assert proc.stdout.startswith("Plan diff dev → dev:") and proc.stderr == ""


@pytest.mark.parametrize(
    "type_, path, replaced",
    [
        (INSTANCE, ("flavorName",), False),
        (INSTANCE, ("name",), False),
        (INSTANCE, ("metadata", "group"), False),
        (INSTANCE, ("keyPair",), True),
        (INSTANCE, ("userData",), True),
        (INSTANCE, ("availabilityZone",), True),
        (INSTANCE, ("networks", 0, "port"), True),
        (INSTANCE, ("blockDevices",), True),
        (INSTANCE, ("schedulerHints", 0, "group"), True),
        (PORT, ("networkId",), True),
        (PORT, ("fixedIps", 0, "ipAddress"), False),
        (PORT, ("securityGroupIds",), False),
        ("openstack:blockstorage/volume:Volume", ("size",), False),
        ("openstack:blockstorage/volume:Volume", ("availabilityZone",), True),
        ("openstack:networking/secGroupRule:SecGroupRule", ("remoteIpPrefix",), True),
        ("openstack:networking/secGroupRule:SecGroupRule", ("description",), True),
        ("openstack:networking/subnet:Subnet", ("cidr",), True),
        ("openstack:networking/subnet:Subnet", ("dnsNameservers",), False),
        ("openstack:compute/serverGroup:ServerGroup", ("policies",), True),
        ("openstack:networking/floatingIp:FloatingIp", ("pool",), True),
        ("openstack:loadbalancer/loadBalancer:LoadBalancer", ("vipSubnetId",), True),
        ("openstack:loadbalancer/loadBalancer:LoadBalancer", ("description",), False),
        ("openstack:loadbalancer/listener:Listener", ("protocolPort",), True),
        ("openstack:loadbalancer/pool:Pool", ("lbMethod",), False),
        ("openstack:loadbalancer/member:Member", ("address",), True),
        ("openstack:loadbalancer/monitor:Monitor", ("delay",), False),
        ("kubernetes:helm.sh/v3:Release", ("namespace",), True),
        ("kubernetes:helm.sh/v3:Release", ("values", "replicas"), False),
        ("kubernetes:helm.sh/v3:Release", ("version",), False),
        ("kubernetes:apps/v1:Deployment", ("spec", "selector", "matchLabels", "app"), True),
        ("kubernetes:apps/v1:Deployment", ("spec", "replicas"), False),
        ("kubernetes:core/v1:ConfigMap", ("data", "config.yaml"), True),
        ("kubernetes:core/v1:Secret", ("stringData", "password"), True),
        ("kubernetes:core/v1:Namespace", ("metadata", "labels", "team"), False),
        ("kubernetes:core/v1:Namespace", ("metadata", "name"), True),
        ("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", ("metadata", "namespace"), True),
        ("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", ("spec", "endpoints"), False),
        ("command:local:Command", ("triggers", 0), True),
        ("command:local:Command", ("create",), False),
        ("random:index/randomPassword:RandomPassword", ("length",), True),
        ("tls:index/privateKey:PrivateKey", ("algorithm",), True),
        ("tls:index/selfSignedCert:SelfSignedCert", ("earlyRenewalHours",), False),
        ("tls:index/selfSignedCert:SelfSignedCert", ("dnsNames",), True),
        ("coprs:cloud:NodeGroup", ("anything",), False),
    ],
)
def test_replacement_table(type_, path, replaced):
    assert plan_diff.is_replacement(type_, path) is replaced


def test_a_resources_own_replace_on_changes_option_counts():
    assert plan_diff.is_replacement("pulumi-python:dynamic:Resource", ("bucket",), ["bucket"])
    assert not plan_diff.is_replacement("pulumi-python:dynamic:Resource", ("tags",), ["bucket"])
    assert plan_diff.is_replacement("pulumi-python:dynamic:Resource", ("tags",), ["*"])


def _edit(plan: dict, name: str, **changes) -> dict:
    out = copy.deepcopy(plan)
    hits = [r for r in out["resources"] if r["name"] == name]
    assert len(hits) == 1
    hits[0].update(changes)
    return out


def test_changed_keys_are_listed_and_protected_replacements_flagged(dev_plan):
    vol = next(r for r in dev_plan["resources"] if r["type"] == "openstack:blockstorage/volume:Volume")
    assert vol["protect"]
    head = _edit(dev_plan, vol["name"], inputs={**vol["inputs"], "size": 200, "availabilityZone": "eu-west-0b"})
    d = plan_diff.diff_plans(dev_plan, head)
    (c,) = d.changed
    assert [plan_diff.path_text(p) for p in c.paths] == ["availabilityZone", "size"]
    assert [plan_diff.path_text(p) for p in c.replace] == ["availabilityZone"]
    assert "WARNING: protected resource would be replaced" in plan_diff.render_text(d)
    assert "[!WARNING]" in plan_diff.render_markdown(d)


def test_secrets_stay_masked(dev_plan):
    key = next(r for r in dev_plan["resources"] if r["type"] == "openstack:compute/keypair:Keypair")
    head = _edit(dev_plan, key["name"], inputs={**key["inputs"], "publicKey": "[secret]", "name": "other"})
    text = plan_diff.render_text(plan_diff.diff_plans(dev_plan, head))
    assert "publicKey" in text and "name" in text
    assert "ssh-ed25519" not in text


def _rename(plan: dict, urn: str, name: str | None = None, parent: str | None = None) -> dict:
    """What the plan looks like after renaming a resource or moving it under another parent."""
    out = copy.deepcopy(plan)
    by_urn = _by_urn(out)
    r = by_urn[urn]
    new_parent = by_urn[parent] if parent else by_urn[r["parent"]] if r["parent"] in by_urn else None
    chain = new_parent["urn"].split("::")[2] + "$" if new_parent else ""
    new_urn = "::".join(urn.split("::")[:2] + [chain + r["type"], name or r["name"]])
    r.update(urn=new_urn, name=name or r["name"], parent=new_parent["urn"] if new_parent else r["parent"])
    for other in out["resources"]:
        other["dependencies"] = [new_urn if u == urn else u for u in other["dependencies"]]
        if other["parent"] == urn:
            other["parent"] = new_urn
    return out


def test_a_renamed_resource_is_reported_with_its_alias(dev_plan):
    rule = next(r for r in dev_plan["resources"] if r["type"] == "openstack:networking/secGroupRule:SecGroupRule")
    d = plan_diff.diff_plans(dev_plan, _rename(dev_plan, rule["urn"], name="renamed-rule"))
    assert not d.added and not d.removed and not d.changed
    (m,) = d.moved
    assert m.renamed and not m.reparented
    assert m.alias() == f'aliases=[pulumi.Alias(name="{rule["name"]}")]'
    assert "renamed-rule" in plan_diff.render_text(d) and "pulumi.Alias" in plan_diff.render_markdown(d)


def test_a_reparented_resource_is_reported_with_its_alias(dev_plan):
    rule = next(r for r in dev_plan["resources"] if r["type"] == "openstack:networking/secGroupRule:SecGroupRule")
    cloud = next(r for r in dev_plan["resources"] if r["type"] == "coprs:cloud:Cloud")
    d = plan_diff.diff_plans(dev_plan, _rename(dev_plan, rule["urn"], parent=cloud["urn"]))
    (m,) = d.moved
    assert m.reparented and not m.renamed
    assert m.old_parent == rule["parent"] and m.new_parent == cloud["urn"]
    assert f'parent="{rule["parent"]}"' in m.alias()


def test_a_renamed_component_is_one_alias_not_a_move_of_each_child(dev_plan):
    group = next(r for r in dev_plan["resources"] if r["type"] == "coprs:cloud:NodeGroup" and r["name"].endswith("infra"))
    kids = [r for r in dev_plan["resources"] if r["parent"] == group["urn"]]
    assert kids
    d = plan_diff.diff_plans(dev_plan, _rename(dev_plan, group["urn"], name="coprs-dev-workers"))
    assert [(m.old_name, m.new_name) for m in d.moved] == [(group["name"], "coprs-dev-workers")]
    assert not d.added and not d.removed and not d.changed


def test_same_type_different_inputs_is_delete_and_create(dev_plan):
    rule = next(r for r in dev_plan["resources"] if r["type"] == "openstack:networking/secGroupRule:SecGroupRule")
    head = _rename(dev_plan, rule["urn"], name="other-rule")
    next(r for r in head["resources"] if r["name"] == "other-rule")["inputs"]["portRangeMin"] = 1
    d = plan_diff.diff_plans(dev_plan, head)
    assert not d.moved and len(d.added) == 1 and len(d.removed) == 1


def test_command_line_text_and_markdown(dev_plan, tmp_path, capsys):
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text(json.dumps(dev_plan))
    head.write_text(json.dumps(plan_of("dev", {"coprs:nodeGroups.infra.count": 4})))
    assert plan_diff.main([str(base), str(head)]) == 0
    assert "Added" in capsys.readouterr().out
    out = tmp_path / "diff.md"
    assert plan_diff.main([str(base), str(head), "--format", "markdown", "--out", str(out)]) == 0
    md = out.read_text()
    assert md.startswith("### Offline plan diff") and "<details><summary>Added" in md and "| add |" in md


def test_a_missing_plan_is_a_one_line_error(tmp_path):
    with pytest.raises(SystemExit) as err:
        plan_diff.main([str(tmp_path / "nope.json"), str(tmp_path / "nope.json")])
    assert str(err.value).startswith("error: cannot read plan") and "\n" not in str(err.value)
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(SystemExit, match="is not a plan JSON"):
        plan_diff.main([str(bad), str(bad)])
