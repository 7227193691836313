"""The registry (`registry.py`): which apps run and in which order, roles, claims, and one-line config errors."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.config import ConfigError
from components.platform.app import AppSettings
from components.platform.apps import APPS
from components.platform.registry import enabled_apps, select
from tests.components.platform.helpers import platform_run, releases, waiting_apps
from tests.components.platform.sample_apps import CORE_APPS, MONITORING, QUEUE, SAMPLE, SAMPLES

ROUTE = "kubernetes:apisix.apache.org/v2:ApisixRoute"


def _app_names(result) -> set[str]:
    return {r.name for r in result.of_type("coprs:platform:App")}


def test_all_core_apps_are_on_by_default(any_stack):
    assert any_stack.outputs["platform"]["disabledApps"] == {}  # every claim has its server
    assert {a.name for a in APPS} == _app_names(any_stack)


def test_app_registry_is_consistent():
    names = [a.name for a in APPS]
    assert len(names) == len(set(names))
    for a in APPS:
        assert set(a.depends_on) | set(a.optional) <= set(names), a.name
        assert issubclass(a.settings, AppSettings)
        for r in a.releases:
            assert r.chart.version and r.chart.repository.startswith(("https://", "oci://"))
        assert not a.stateful or a.backups, f"{a.name} holds data but declares no backup"
    roles = [r for a in APPS for r in a.roles]
    assert len(roles) == len(set(roles)) and {"gateway", "mesh", "backups"} <= set(roles)


def test_disabling_an_app_removes_it_and_what_depends_on_it():
    r = platform_run("dev", {"coprs:platform.apps.cert-manager.enabled": False})
    names = _app_names(r)
    assert not {"cert-manager", "linkerd", "linkerd-viz", "apisix"} & names
    assert {"rook-ceph", "metrics-server", "keda", "gateway-api", "velero"} <= names
    assert not r.of_type("kubernetes:cert-manager.io/v1:ClusterIssuer") and not r.of_type(ROUTE)
    assert {"rook-ceph", "rook-ceph-cluster", "metrics-server", "keda"} <= set(releases(r))
    off = r.outputs["platform"]["disabledApps"]
    assert off["cert-manager"] == "disabled in config" and off["linkerd-viz"] == "needs linkerd"
    assert len(r.of_type("coprs:platform:Namespace")) >= 10  # namespaces stay


def test_disabling_a_leaf_removes_only_it():
    r = platform_run("dev", {"coprs:platform.apps.linkerd-viz.enabled": False})
    assert "linkerd-viz" not in releases(r) and "linkerd-control-plane" in releases(r)
    routes = {x.inputs["metadata"]["name"] for x in r.of_type(ROUTE)}
    assert {"apisix", "ceph"} <= routes and "linkerd" not in routes


def test_unknown_apps_and_settings_give_one_line_errors(dev):
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.graphana is not a known app"):
        platform_run("dev", {"coprs:platform.apps.graphana.enabled": False})
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.keda\.settings\.resources = 'big': "):
        select(dev.config.model_copy(update={"platform": dev.config.platform.model_copy(
            update={"apps": {"keda": dev.config.platform.app("keda").model_copy(update={"settings": {"resources": "big"}})}})}),
            APPS)


def test_a_dependency_cycle_is_reported(dev):
    cycle = tuple(replace(a, depends_on=("keda",)) if a.name == "cert-manager" else
                  replace(a, depends_on=("linkerd",)) if a.name == "keda" else a for a in APPS)
    with pytest.raises(RuntimeError, match="dependency cycle"):
        enabled_apps(dev.config, cycle)


def test_two_apps_cannot_play_one_role(dev):
    with pytest.raises(RuntimeError, match="both play the role mesh"):
        enabled_apps(dev.config, CORE_APPS + (replace(QUEUE, roles=("mesh",)),))


def test_a_claim_nobody_serves_disables_the_consumer(dev):
    waiting = waiting_apps(CORE_APPS)  # apps of the registry still waiting for a role (e.g. Graylog for kafka)
    order, off = enabled_apps(dev.config, CORE_APPS + (SAMPLE,), {"object-storage": "storage"})
    off = {k: v for k, v in off.items() if k not in waiting}
    assert off == {"sample": "needs queue"} and "sample" not in {a.name for a in order}
    _, off = enabled_apps(dev.config, CORE_APPS + (SAMPLE, QUEUE))  # no storage layer: no object storage
    off = {k: v for k, v in off.items() if k not in waiting}
    data = {a: "needs object-storage" for a in ("postgresql", "elasticsearch-processing", "elasticsearch-security")}
    assert off == {"sample": "needs object-storage", "velero": "needs object-storage", "keycloak": "needs database",
                   "scdf": "needs database",
                   **data}
    optional = replace(SAMPLE, claims=tuple(replace(c, optional=True) for c in SAMPLE.claims))
    order, off = enabled_apps(dev.config, CORE_APPS + (optional,))
    assert "sample" in {a.name for a in order} and "sample" not in off


def test_roles_order_the_apps(dev):
    registry = select(dev.config, CORE_APPS + SAMPLES, {"object-storage": "storage"})
    after = registry.after
    assert {"sample-queue", "velero", "sample-monitoring", "linkerd"} <= after["sample"]  # server, backups, monitoring, mesh
    assert "sample-monitoring" in after["keda"] and "sample-monitoring" in after["metrics-server"]
    assert "sample-monitoring" not in after["linkerd"] and "sample-monitoring" not in after["cert-manager"]  # its upstream
    assert "linkerd" in after["sample-monitoring"]  # meshed namespace
    opted_out = select(dev.config, CORE_APPS + (MONITORING, replace(QUEUE, monitoring=False)))
    assert "sample-monitoring" not in opted_out.after["sample-queue"]
    assert registry.app_for("monitoring") is MONITORING and registry.app_for("object-storage") is None
    assert registry.has_role("object-storage") and not registry.has_role("no-such-role")
