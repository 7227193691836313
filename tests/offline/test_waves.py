"""Dependency waves and critical path: small synthetic graphs, the duration model, and the prod stack."""

from __future__ import annotations

import pytest
import yaml

from offline import waves
from offline.plan import build_plan
from offline.waves import DurationModel, Rule, Step, schedule


def model(**seconds: float) -> DurationModel:
    """Durations per type token (`T_a` → type "a"), 1 s for anything else."""
    return DurationModel(tuple(Rule(type=t, seconds=s) for t, s in seconds.items()), 1.0)


def step(urn: str, *deps: str, type_: str | None = None, parent: str | None = None, custom: bool = True, provider=None) -> Step:
    return Step(urn=urn, type=type_ or urn, name=urn, custom=custom, parent=parent, dependencies=deps, provider=provider)


def test_chain_is_one_resource_per_wave_and_the_whole_chain_is_critical():
    s = schedule([step("a"), step("b", "a"), step("c", "b")], model(a=10, b=20, c=30))
    assert s.waves == [["a"], ["b"], ["c"]]
    assert s.critical_path == ["a", "b", "c"]
    assert s.critical_seconds == s.serial_seconds == 60
    assert s.ratio == 1.0


def test_diamond_takes_the_longer_branch():
    s = schedule([step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c")], model(a=5, b=50, c=10, d=5))
    assert s.waves == [["a"], ["b", "c"], ["d"]]
    assert s.critical_path == ["a", "b", "d"]
    assert s.critical_seconds == 60 and s.serial_seconds == 70
    assert s.start["d"] == 55 and s.finish["c"] == 15


def test_independent_resources_share_the_first_wave():
    s = schedule([step("a"), step("b"), step("c")], model(a=3, b=7, c=5))
    assert s.waves == [["a", "b", "c"]]
    assert s.critical_path == ["b"] and s.critical_seconds == 7
    assert s.ratio == pytest.approx(15 / 7)


def test_depending_on_a_component_waits_for_its_whole_subtree():
    steps = [
        step("C", type_="coprs:x:C", custom=False),
        step("x", parent="C"),
        step("D", type_="coprs:x:D", custom=False, parent="C"),
        step("y", "x", parent="D"),
        step("z", "C"),
    ]
    s = schedule(steps, model(x=10, y=20, z=1))
    assert s.waves == [["x"], ["y"], ["z"]]
    assert s.critical_path == ["x", "y", "z"] and s.critical_seconds == 31
    assert s.seconds["C"] == 0 and s.seconds["D"] == 0


def test_a_child_waits_for_its_component_parents_dependencies_and_its_custom_parent():
    steps = [
        step("a"),
        step("C", "a", type_="coprs:x:C", custom=False),
        step("x", parent="C"),
        step("y", parent="x"),
    ]
    s = schedule(steps, model(a=4, x=6, y=2))
    assert s.waves == [["a"], ["x"], ["y"]]
    assert s.start["x"] == 4 and s.start["y"] == 10
    assert s.critical_seconds == 12


def test_a_child_depending_on_its_own_ancestor_is_no_cycle():
    steps = [step("C", type_="coprs:x:C", custom=False), step("x", "C", parent="C")]
    assert schedule(steps, model()).waves == [["x"]]


def test_a_resource_waits_for_its_explicit_provider():
    steps = [step("k8s", type_="pulumi:providers:kubernetes"), step("ns", provider="k8s")]
    s = schedule(steps, model(**{"pulumi:providers:kubernetes": 0, "ns": 2}))
    assert s.waves == [["k8s"], ["ns"]]


def test_unknown_dependencies_are_ignored_and_cycles_are_errors():
    assert schedule([step("a", "urn:elsewhere")], model()).waves == [["a"]]
    with pytest.raises(waves.CycleError, match="dependency cycle through"):
        schedule([step("a", "b"), step("b", "a")], model())


def test_empty_plan():
    s = schedule([], model())
    assert s.waves == [] and s.critical_path == [] and s.critical_seconds == 0 and s.ratio == 1.0


def test_duration_rules_first_match_wins_on_type_name_and_inputs():
    m = DurationModel.from_document(
        {
            "default": 7,
            "rules": [
                {"type": "command:*", "inputs": {"create": "*scale.yml*"}, "seconds": 600},
                {"type": "command:*", "name": "*kubespray*", "seconds": 1800},
                {"type": "command:*", "seconds": 5},
            ],
        }
    )
    cmd = lambda name, create: Step(urn=name, type="command:local:Command", name=name, inputs={"create": create})  # noqa: E731
    assert m.seconds(cmd("kubespray-scale", "ansible-playbook scale.yml --limit n4")) == 600
    assert m.seconds(cmd("kubespray-cluster", "ansible-playbook cluster.yml")) == 1800
    assert m.seconds(cmd("fetch", "curl ...")) == 5
    assert m.seconds(Step(urn="x", type="other:x:X", name="x")) == 7
    assert m.seconds(Step(urn="c", type="coprs:x:C", name="c", custom=False)) == 0


def test_the_duration_model_file_is_well_formed():
    doc = yaml.safe_load(waves.DURATIONS.read_text())
    assert doc["default"] > 0
    for rule in doc["rules"]:
        assert set(rule) <= {"type", "name", "inputs", "seconds"} and rule["seconds"] >= 0
    m = waves.load_model()
    seconds = lambda t, **inputs: m.seconds(Step(urn=t, type=t, name="n", inputs=inputs))  # noqa: E731
    assert seconds("openstack:compute/instance:Instance") == 90
    assert seconds("command:local:Command", create="ansible-playbook -i inventory cluster.yml") == 1800
    assert seconds("command:local:Command", create="ansible-playbook -i inventory scale.yml --limit x") == 600
    assert seconds("kubernetes:helm.sh/v3:Release", chart="grafana") == 120
    assert seconds("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition") == 5
    assert seconds("kubernetes:ceph.rook.io/v1:CephCluster") == 10
    assert seconds("kubernetes:core/v1:Namespace") == 2
    assert seconds("something:new:Thing") == doc["default"]


def test_prod_waves_respect_every_dependency(prod):
    s = schedule(waves.steps_of(prod))
    custom = [r for r in prod.resources if r.custom]
    placed = [u for wave in s.waves for u in wave]
    assert sorted(placed) == sorted(r.urn for r in custom)  # every resource in exactly one wave
    assert all(s.waves)
    wave = s.wave_of()
    by_urn = prod.by_urn()

    def custom_subtree(urn: str) -> list[str]:
        return [d.urn for d in prod.descendants(urn) if d.custom]

    for r in custom:
        for d in (d for d in r.dependencies if d in by_urn):
            for u in [d] if by_urn[d].custom else custom_subtree(d):
                assert wave[u] < wave[r.urn], (r.name, by_urn[u].name)
        assert s.start[r.urn] >= max((s.finish[d] for d in r.dependencies if d in by_urn), default=0)
    # the critical path is a chain: each step starts when the one before it ends
    chain = s.critical_path
    assert chain and s.start[chain[0]] == 0
    for a, b in zip(chain, chain[1:]):
        assert s.start[b] == s.finish[a]
    assert s.finish[chain[-1]] == s.critical_seconds == max(s.finish.values())
    assert 0 < s.critical_seconds <= s.serial_seconds


def test_plan_carries_waves_and_critical_path(prod):
    plan, lines = build_plan(prod)
    assert sum(len(w) for w in plan["waves"]) == sum(r.custom for r in prod.resources)
    cp = plan["criticalPath"]
    assert cp["seconds"] > 0 and cp["serialSeconds"] >= cp["seconds"]
    assert cp["ratio"] == pytest.approx(cp["serialSeconds"] / cp["seconds"], abs=0.01)
    assert [c["urn"] for c in cp["chain"]] and all(c["urn"] in prod.by_urn() for c in cp["chain"])
    text = "\n".join(lines)
    assert "Critical path:" in text and "all steps one after another" in text and "ratio" in text
    assert "wave  1:" in text


def test_duration_text():
    assert waves.duration_text(59) == "59s"
    assert waves.duration_text(61) == "1m 01s"
    assert waves.duration_text(3 * 3600 + 5) == "3h 00m 05s"
