"""Linkerd authorizations for meshed pods whose callers are not meshed.

Meshed namespaces default to `all-authenticated`: only mTLS clients get in. Kubelet probes are
authorized by the policy controller (`policyController.probeNetworks`) and Prometheus scrapes through
its own proxy (the monitoring namespace is meshed). The callers left are the API server (admission
webhooks, aggregated APIs) and NodePort traffic to the gateway: for each such port an app declares a
`MeshInbound`; this module turns it into a Server, an AuthorizationPolicy and the NetworkAuthentication
of the cluster hosts.
"""

from __future__ import annotations

from typing import Callable, Iterable

import pulumi
import pulumi_kubernetes as k8s

from .app import MeshInbound, logical

POLICY_GROUP = "policy.linkerd.io"


def authorize_unmeshed(app: str, namespace: str, inbound: Iterable[MeshInbound], cidrs: Iterable[str],
                       opts: Callable[[], pulumi.ResourceOptions]) -> list[k8s.apiextensions.CustomResource]:
    inbound = list(inbound)
    if not inbound:
        return []
    auth_name = f"{app}-cluster-hosts"
    auth = k8s.apiextensions.CustomResource(
        logical(app, "netauth", namespace),
        api_version=f"{POLICY_GROUP}/v1alpha1",
        kind="NetworkAuthentication",
        metadata={"name": auth_name, "namespace": namespace},
        spec={"networks": [{"cidr": c} for c in cidrs]},
        opts=opts(),
    )
    out = [auth]
    for m in inbound:
        name = f"{app}-{m.name}"
        server = k8s.apiextensions.CustomResource(
            logical(app, "server", namespace, m.name),
            api_version=f"{POLICY_GROUP}/v1beta3",
            kind="Server",
            metadata={"name": name, "namespace": namespace},
            spec={"podSelector": {"matchLabels": dict(m.pods)}, "port": m.port},
            opts=opts(),
        )
        policy = k8s.apiextensions.CustomResource(
            logical(app, "authz", namespace, m.name),
            api_version=f"{POLICY_GROUP}/v1alpha1",
            kind="AuthorizationPolicy",
            metadata={"name": name, "namespace": namespace},
            spec={
                "targetRef": {"group": POLICY_GROUP, "kind": "Server", "name": name},
                "requiredAuthenticationRefs": [
                    {"group": POLICY_GROUP, "kind": "NetworkAuthentication", "name": auth_name}
                ],
            },
            opts=pulumi.ResourceOptions.merge(opts(), pulumi.ResourceOptions(depends_on=[server, auth])),
        )
        out += [server, policy]
    return out


def authorize_identities(app: str, namespace: str, name: str, pods: dict, port: int | str,
                         identities: Iterable[dict],
                         opts: Callable[[], pulumi.ResourceOptions]) -> list[k8s.apiextensions.CustomResource]:
    """Only these mesh identities may reach `port` of `pods` (e.g. trusted proxy headers from the gateway alone).

    `identities` are MeshTLSAuthentication identityRefs: `{"kind": "ServiceAccount", "name", "namespace"}`
    or `{"kind": "Namespace", "name"}`. Once a Server exists for the port, every other client is denied.
    """
    full = f"{app}-{name}"
    server = k8s.apiextensions.CustomResource(
        logical(app, "server", namespace, name),
        api_version=f"{POLICY_GROUP}/v1beta3",
        kind="Server",
        metadata={"name": full, "namespace": namespace},
        spec={"podSelector": {"matchLabels": dict(pods)}, "port": port},
        opts=opts(),
    )
    auth = k8s.apiextensions.CustomResource(
        logical(app, "meshauth", namespace, name),
        api_version=f"{POLICY_GROUP}/v1alpha1",
        kind="MeshTLSAuthentication",
        metadata={"name": full, "namespace": namespace},
        spec={"identityRefs": [dict(i) for i in identities]},
        opts=opts(),
    )
    policy = k8s.apiextensions.CustomResource(
        logical(app, "authz", namespace, name),
        api_version=f"{POLICY_GROUP}/v1alpha1",
        kind="AuthorizationPolicy",
        metadata={"name": full, "namespace": namespace},
        spec={
            "targetRef": {"group": POLICY_GROUP, "kind": "Server", "name": full},
            "requiredAuthenticationRefs": [{"group": POLICY_GROUP, "kind": "MeshTLSAuthentication", "name": full}],
        },
        opts=pulumi.ResourceOptions.merge(opts(), pulumi.ResourceOptions(depends_on=[server, auth])),
    )
    return [server, auth, policy]
