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


# Kubespray taints the control-plane nodes with this (kubeadm's default), whatever the node groups say.
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane:NoSchedule"


def node_taints(cfg: Any) -> Optional[list[str]]:
    """Every taint the stack puts on nodes (node groups + control plane); None when the nodes are not ours."""
    if not cfg.node_groups:
        return None
    taints = {t for g in cfg.node_groups.values() if g.count or g.autoscaling for t in g.taints}
    return sorted(taints | {CONTROL_PLANE_TAINT})


def host_agent_tolerations(cfg: Any) -> list[dict]:
    """Tolerations of a per-node agent: each taint of the stack, or every taint when the nodes are not ours."""
    taints = node_taints(cfg)
    if taints is None:
        return [{"operator": "Exists"}]
    return [toleration(t) for t in taints]
