"""Gateway API CRDs (cluster-scoped), one owner for the cluster: Linkerd and the APISIX controller need them.

Disable this app when the cluster already provides them (e.g. an existing cluster); Linkerd and APISIX
only order themselves after it when it is enabled.
"""

from __future__ import annotations

from ..app import App, CrdBundle

VERSION = "v1.5.1"
URL = f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{VERSION}/standard-install.yaml"
CRDS = "gateway.networking.k8s.io"

APP = App(
    name="gateway-api",
    namespace="kube-system",
    crd_bundles=(CrdBundle("gateway-api-crds", URL, (CRDS,)),),
    description=f"Gateway API {VERSION} CRDs (standard channel)",
)
