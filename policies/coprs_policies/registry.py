"""Every rule of the pack, in catalogue order; importing this module starts nothing."""

from __future__ import annotations

from . import helm, keymaterial, kubernetes, openstack, rendered, runner, stack
from .base import ResourceRule, StackRule

RULES: list = [*openstack.RULES, *kubernetes.RULES, *helm.RULES, *rendered.RULES, *stack.RULES, *runner.RULES, *keymaterial.RULES]
BY_ID: dict = {r.rule_id: r for r in RULES}
RESOURCE_RULES: list[ResourceRule] = [r for r in RULES if isinstance(r, ResourceRule)]
STACK_RULES: list[StackRule] = [r for r in RULES if isinstance(r, StackRule)]
PACK_NAME = "coprs-security"
PACK_DESCRIPTION = ("COPRS security rules: OpenStack exposure, Pod Security Standards, RBAC, Helm release hygiene and "
                    "whole-stack checks (network isolation, backups, HA), from the project's security catalogue.")

if len(BY_ID) != len(RULES):
    raise RuntimeError("duplicate rule ids in the coprs-security pack")
