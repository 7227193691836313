"""The seed's exporter tables: every row mapped to what scrapes it in the recorded stack (or why nothing does)."""

from __future__ import annotations

from typing import Any

from components.platform.apps import APPS
from components.platform.exporters import GENERIC, SPECIFIC, TABLE, Declared, Switch
from tests.components.platform.helpers import api_of, is_custom_resource, platform_run, releases

# Settings that switch the opt-in exporters on (test values: the secret is the harness's dummy).
OPT_IN = {"coprs:platform.apps.openstack-exporter.settings": {"applicationCredentialId": "0123456789abcdef0123"},
          "coprs:platform.apps.openldap.settings": {"metrics": True}}

MONITOR_KINDS = {"ServiceMonitor", "PodMonitor", "Probe", "ScrapeConfig"}


def _at(values: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values


def _declared(result, app: str) -> list[tuple[str, str]]:
    comp = next((r for r in result.of_type("coprs:platform:App") if r.name == app), None)
    if comp is None:
        return []
    return [(api_of(r.type)[2], r.inputs["metadata"]["name"]) for r in result.descendants(comp.urn)
            if is_custom_resource(r) and api_of(r.type)[0] == "monitoring.coreos.com" and api_of(r.type)[2] in MONITOR_KINDS]


def _scraped(result, row) -> bool:
    rel = releases(result)
    for m in row.monitors:
        if isinstance(m, Switch) and _at(rel[m.release].inputs["values"], m.path) is not True:
            return False
        if isinstance(m, Declared) and not any(k == m.kind and (not m.name or n == m.name)
                                               for k, n in _declared(result, row.app)):
            return False
    return True


def test_the_table_is_the_seeds():
    assert len(GENERIC) == 50 and [r.exporter for r in SPECIFIC] == ["Machine-usage", "Object-storage", "Endpoint"]
    assert len({r.exporter for r in TABLE}) == len(TABLE)


def test_every_row_is_mapped_to_what_scrapes_it(any_stack):
    registry = {a.name for a in APPS}
    assert any_stack.outputs["platform"]["disabledApps"] == {}  # every app of the table is deployed
    scraped, unscraped = [], []
    for row in TABLE:
        if row.app is None:
            assert row.note, row.exporter  # not deployed: says why
            unscraped.append(row.exporter)
            continue
        assert row.app in registry and row.monitors, row.exporter  # an app of the program, and what scrapes it
        result = platform_run(any_stack.stack, OPT_IN) if row.opt_in else any_stack
        assert _scraped(result, row), f"{row.exporter}: nothing scrapes it ({row.app})"
        scraped.append(row.exporter)
    assert unscraped == ["Etcd (Apisix)", "Object-storage"]
    assert {"Node", "Api server", "Etcd (Kubernetes)", "Linkerd Proxy", "Fluentbit", "Loki", "Grafana", "Endpoint",
            "Stash Operator", "Thanos Query", "Machine-usage", "Kafka", "PostgreSQL", "MongoDB",
            "Elasticsearch Security", "Spring Cloud Data Flow"} <= set(scraped)


def test_kibana_rows_are_its_ui_probes(any_stack):
    probes = [r.inputs["spec"] for r in any_stack.of_type("kubernetes:monitoring.coreos.com/v1:Probe")]
    urls = {u for p in probes for u in p["targets"]["staticConfig"]["static"]}
    domain = any_stack.config.domain
    assert {f"https://processing.{domain}/kibana/", f"https://security.{domain}/kibana/"} <= urls, sorted(urls)


def test_replaced_components_map_to_their_replacement():
    by = {r.exporter: r for r in TABLE}
    assert by["Zookeeper"].app == "kafka" and "KRaft" in by["Zookeeper"].replaced_by
    assert by["Stash Operator"].app == by["Stash PushGateway"].app == "velero"
