"""Where platform pods run and what they reserve, in the Kubernetes shapes charts take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional


def node_affinity(label: str) -> dict:
    """Required node affinity on a node-role label (`node-role.kubernetes.io/infra` for platform services)."""
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": label, "operator": "Exists"}]}]
            }
        }
    }


def toleration(taint: str) -> dict:
    """`key[=value]:Effect` (the node-group taint syntax) → a toleration of exactly that taint."""
    kv, _, effect = taint.rpartition(":")
    key, _, value = kv.partition("=")
    out: dict[str, Any] = {"key": key, "effect": effect}
    if value:
        out.update(operator="Equal", value=value)
    else:
        out["operator"] = "Exists"
    return out


@dataclass(frozen=True)
class Resources:
    """Requests → limits of one container (CPU limit optional: throttling hurts more than it protects)."""

    cpu: str
    memory: str
    cpu_limit: Optional[str] = None
    memory_limit: Optional[str] = None

    def render(self) -> dict:
        limits = {"memory": self.memory_limit or self.memory}
        if self.cpu_limit:
            limits["cpu"] = self.cpu_limit
        return {"requests": {"cpu": self.cpu, "memory": self.memory}, "limits": limits}

    def linkerd(self) -> dict:
        """Linkerd's own resource shape: {cpu: {request, limit}, memory: {request, limit}}."""
        return {
            "cpu": {"request": self.cpu, "limit": self.cpu_limit or ""},
            "memory": {"request": self.memory, "limit": self.memory_limit or self.memory},
        }

    def override(self, over: Optional[Mapping[str, str]]) -> "Resources":
        if not over:
            return self
        return Resources(
            over.get("cpu", self.cpu),
            over.get("memory", self.memory),
            over.get("cpuLimit", self.cpu_limit),
            over.get("memoryLimit", self.memory_limit),
        )
