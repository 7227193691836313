"""`make plan` shows the namespaces with their baselines and the apps with their pinned charts."""

from __future__ import annotations

from offline.platform_plan import plan_section
from tests.components.platform.helpers import platform_run


def test_plan_lists_namespaces_baselines_and_apps(prod):
    plan: dict = {}
    text = "\n".join(plan_section(prod, plan))
    names = {n["name"] for n in plan["platform"]["namespaces"]}
    assert {"infra", "networking", "rook-ceph", "database", "monitoring", "logging", "processing", "security",
            "falco", "iam"} <= names
    assert all(n["defaultDeny"] and n["limitRange"] and n["quota"] and n["podSecurity"] for n in plan["platform"]["namespaces"])
    order = [a["name"] for a in plan["platform"]["apps"]]
    assert order.index("cert-manager") < order.index("linkerd") < order.index("linkerd-viz")
    for needle in ("cert-manager v1.21.1", "linkerd-control-plane 2026.8.3", "apisix 2.14.0", "rook-ceph-cluster v1.20.6",
                   "metrics-server 3.13.1", "keda 2.20.2", "networking  baseline"):
        assert needle in text


def test_plan_says_which_apps_are_off():
    r = platform_run("dev", {"coprs:platform.apps.cert-manager.enabled": False})
    text = "\n".join(plan_section(r, {}))
    assert "off: linkerd (needs cert-manager)" in text
