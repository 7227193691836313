"""Kubernetes rules (K-01..K-52) on typed objects: pod specs (every controller kind, Patch tokens, and the
pod templates of the ECK and Strimzi custom resources), RBAC, Services, NetworkPolicies, namespaces.

One module per concern: `pod_security` (Pod Security Standards), `workloads` (resources, images, probes,
credentials in env and ConfigMaps), `rbac` (service accounts and roles), `network` (NetworkPolicies and
Services), `namespaces` (placement, Pod Security labels, budgets, quotas) and `platform_resources` (the custom
resources, Secrets and provider the platform declares); `common` holds the rule builders they share.

Pod Security rules follow the level the namespace enforces (config `namespaceLevels`), like PSA does:
baseline controls apply in baseline and restricted namespaces, restricted controls in restricted ones.
Rules that require a field to be *set* skip operator pod templates (`partial`), which the operator
completes; rules that forbid a value check them too.
"""

from __future__ import annotations

from . import namespaces, network, platform_resources, pod_security, rbac, workloads  # noqa: F401  (each appends its rules)
from .common import RULES as _DECLARED
from .namespaces import PSA
from .network import network_policies

RULES: list = sorted(_DECLARED, key=lambda r: r.rule_id)

__all__ = ["PSA", "RULES", "network_policies"]
