"""Alert rules as data: one `Alert` per rule, with its runbook line, rendered for Prometheus or the Thanos ruler.

The same shape serves the `PrometheusRule` objects (evaluated by Prometheus) and the Thanos ruler's
rule files (evaluated over the deduplicated, long-term view of Thanos Query).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    summary: str
    runbook: str  # one line: what the operator does first
    severity: Severity = "warning"
    for_: str = "10m"

    def render(self) -> dict:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "runbook": self.runbook},
        }


def rule_group(name: str, alerts: Iterable[Alert], interval: str = "") -> dict:
    group: dict = {"name": name, "rules": [a.render() for a in alerts]}
    if interval:
        group["interval"] = interval
    return group
