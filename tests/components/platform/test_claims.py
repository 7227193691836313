"""Every claim of every deployed app, on both stacks: its Secret is served in the consumer's namespace before
whatever of the consumer reads it, and its flow exists — nothing claimed is left unserved."""

from __future__ import annotations

import json
import re

from components.platform.apps import APPS
from components.platform.apps.scdf import KEDA_LAG
from tests.components.platform.helpers import ancestors

SECRET = "kubernetes:core/v1:Secret"


def _children(result, app: str) -> list:
    comp = next(r for r in result.of_type("coprs:platform:App") if r.name == app)
    return [r for r in result.descendants(comp.urn) if r.custom]


def test_every_claim_is_served_before_what_reads_it(any_stack):
    off = any_stack.outputs["platform"]["disabledApps"]
    secrets = {(s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s for s in any_stack.of_type(SECRET)}
    checked = 0
    for app in APPS:
        if app.name in off:
            continue
        children = [r for r in _children(any_stack, app.name) if r.type != SECRET]
        for claim in app.claims:
            ns = claim.namespace or app.namespace
            served = secrets.get((ns, claim.secret))
            if served is None:
                assert claim.optional, f"{app.name}: {type(claim).__name__} {claim.secret} not served in {ns}"
                continue
            # what names the Secret (a release's values, a Deployment, an operator's CR) waits for it
            named = re.compile(rf"(?<![\w.-]){re.escape(claim.secret)}(?![\w.-])")  # also inside YAML text values
            readers = [r for r in children if named.search(json.dumps(r.inputs))]
            checked += 1
            if claim is KEDA_LAG and not any_stack.config.platform.app("scdf").settings.get("streamApps"):
                continue  # read by the ClusterTriggerAuthentication of the stream apps, none configured here
            assert readers, f"{app.name}: nothing of it reads {claim.secret}"
            for r in readers:
                assert served.urn in ancestors(any_stack, r), f"{app.name}: {r.name} does not wait for {claim.secret}"
    # both stacks have object storage and every data service: all 22 claims (data, bucket, OIDC) are served
    assert checked == sum(len(a.claims) for a in APPS if a.name not in off) == 22
