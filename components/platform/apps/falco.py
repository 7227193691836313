"""Falco (namespace `falco`, privileged, unmeshed): runtime security on every node.

- chart falcosecurity `falco` 9.1.0 (Falco 0.44.1) as a DaemonSet with the modern eBPF driver (CO-RE,
  BTF kernels ≥ 5.8 such as Ubuntu 24.04: no kernel module, no driver download, no loader init container);
- alerts as JSON on stdout: Fluent Bit ships the container log to the Kafka topic `fluentbit.falco`;
- built-in Prometheus metrics on the web server port 8765 (falco-exporter no longer exists), scraped
  through the chart's ServiceMonitor;
- rules: Falco's default rules (falco-rules 5.1.0, in the image) plus the platform's own file
  (`config/falco/coprs-rules.yaml`, or `settings.rulesFile`), which excepts the privileged system pods
  the platform runs on purpose. falcoctl is off: no rules or plugins fetched from the Internet at start,
  everything comes from the pinned image (the container plugin is bundled with Falco since 0.41);
- tolerations of every taint the stack config puts on nodes (node groups and the control plane), so it
  runs on every node, Ceph nodes included; `system-node-critical` so it is never evicted first.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import field_validator

from ..app import App, AppContext, AppSettings, Chart, ChartRelease
from ..placement import Resources, host_agent_tolerations

CHART = Chart("falco", "https://falcosecurity.github.io/charts", "9.1.0")
IMAGE = {"registry": "docker.io", "repository": "falcosecurity/falco", "tag": "0.44.1"}
NAMESPACE = "falco"
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_RULES = "config/falco/coprs-rules.yaml"
RULES_KEY = "coprs-rules.yaml"
METRICS_PORT = 8765
PODS = {"app.kubernetes.io/name": "falco", "app.kubernetes.io/instance": "falco"}


class Settings(AppSettings):
    rules_file: str = DEFAULT_RULES  # a Falco rules file of this repository, relative to its root
    metrics_interval: str = "15m"  # Falco's internal stats snapshot interval (the endpoint is live)

    @field_validator("rules_file")
    @classmethod
    def _rules_file(cls, v: str) -> str:
        load_rules(v)
        return v


def load_rules(relative: str) -> str:
    """The text of a rules file of the repository: a YAML list of Falco rule, macro and list items."""
    path = (ROOT / relative).resolve()
    if ROOT not in path.parents or not path.is_file():
        raise ValueError("must name a Falco rules file inside the repository")
    text = path.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"is not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(doc, list) or not all(
        isinstance(i, dict) and len({"rule", "macro", "list"} & set(i)) == 1 for i in doc
    ):
        raise ValueError("must be a YAML list of Falco rule, macro and list items")
    return text


def values(ctx: AppContext) -> dict:
    return {
        "image": IMAGE,
        "controller": {"kind": "daemonset"},
        "driver": {"enabled": True, "kind": "modern_ebpf", "modernEbpf": {"leastPrivileged": False}},
        "collectors": {"enabled": True, "kubernetes": {"enabled": False}},
        "falcoctl": {"artifact": {"install": {"enabled": False}, "follow": {"enabled": False}}},
        "tolerations": host_agent_tolerations(ctx.cfg),
        "podPriorityClassName": "system-node-critical",
        "resources": ctx.resources("falco", Resources("100m", "512Mi", memory_limit="1Gi")).render(),
        "customRules": {RULES_KEY: load_rules(ctx.settings.rules_file)},
        "metrics": {"enabled": True, "interval": ctx.settings.metrics_interval, "service": {"create": True}},
        "serviceMonitor": {"create": ctx.service_monitors, "interval": "2m"},
        "falco": {
            "json_output": True,
            "json_include_output_property": True,
            "json_include_tags_property": True,
            "stdout_output": {"enabled": True},
            "syslog_output": {"enabled": False},
            "log_syslog": False,
            "priority": "notice",
            "webserver": {"enabled": True, "listen_port": METRICS_PORT, "prometheus_metrics_enabled": True},
        },
    }


APP = App(
    name="falco",
    namespace=NAMESPACE,
    releases=(ChartRelease(CHART, values),),
    settings=Settings,
    description="runtime security: modern eBPF on every node, JSON alerts, metrics",
)
