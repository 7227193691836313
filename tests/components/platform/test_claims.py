"""Every claim of every deployed app, on both stacks: its Secret is served in the consumer's namespace before the
consumer's workloads, and its flow exists — nothing claimed is left unserved."""

from __future__ import annotations

from components.platform.apps import APPS
from tests.components.platform.helpers import ancestors

SECRET = "kubernetes:core/v1:Secret"


def _children(result, app: str) -> list:
    comp = next(r for r in result.of_type("coprs:platform:App") if r.name == app)
    return [r for r in result.descendants(comp.urn) if r.custom]


def test_every_claim_is_served_before_its_consumer(any_stack):
    off = any_stack.outputs["platform"]["disabledApps"]
    secrets = {(s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s for s in any_stack.of_type(SECRET)}
    checked = 0
    for app in APPS:
        if app.name in off:
            continue
        workloads = [r for r in _children(any_stack, app.name)
                     if r.type in ("kubernetes:helm.sh/v3:Release", "kubernetes:apps/v1:Deployment",
                                   "kubernetes:apps/v1:StatefulSet")]
        for claim in app.claims:
            ns = claim.namespace or app.namespace
            served = secrets.get((ns, claim.secret))
            if served is None:
                assert claim.optional, f"{app.name}: {type(claim).__name__} {claim.secret} not served in {ns}"
                continue
            for w in workloads:
                assert served.urn in ancestors(any_stack, w), f"{app.name}: {w.name} does not wait for {claim.secret}"
            checked += 1
    # both stacks have object storage and every data service: all 22 claims (data, bucket, OIDC) are served
    assert checked == sum(len(a.claims) for a in APPS if a.name not in off) == 22
