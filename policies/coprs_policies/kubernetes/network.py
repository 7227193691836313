"""Network policies and Services (K-38 .. K-42)."""

from __future__ import annotations

import re
from typing import Iterator

from ..base import Cfg, NotApplicable, Res, StackRule, Violation, as_list, elements, flag, get, has, is_map, meta, opt, strings
from ..k8s import (
    host_covered, is_kind, kind_of, name_of, namespace_of, pod_labels, pod_specs, scope_of, selector_matches, typed_workload,
)
from ..netsec import network

from .common import RULES, kinds, rule


# ---------------------------------------------------------------------------------------------
# network policies and services (K-38 .. K-42)


def network_policies(resources: list[Res]) -> list[Res]:
    return [r for r in resources if is_kind(r.type, "NetworkPolicy", group="networking.k8s.io")]


def _k38(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    nps = network_policies(resources)
    if not nps:
        raise NotApplicable("the program declares no NetworkPolicy yet (ST-01 asks for them per namespace)")
    for w in resources:
        if not typed_workload(w.type):
            continue
        ns = namespace_of(w)
        for pod in pod_specs(w):
            labels = pod_labels(pod)
            if not any(namespace_of(np) == ns and selector_matches(opt(np.props, "spec.podSelector") or {}, labels)
                       for np in nps):
                yield Violation(f"{kind_of(w.type)} {ns}/{name_of(w)} is selected by no NetworkPolicy", w)


RULES.append(StackRule(
    meta("K-38", "high", "Every pod is isolated by a NetworkPolicy", ["CIS-5.3.2", "CKV2_K8S_6", "NSA:C-0030", "kube-score:pod-networkpolicy"],
         "Declare a default-deny NetworkPolicy (podSelector {}) in the namespace, then the allowed flows."),
    "kubernetes", _k38, namespace_of=scope_of, subjects=("kubernetes:networking.k8s.io/v1:NetworkPolicy",)))

METADATA_IP = "169.254.169.254"


def _k39(res: Res, cfg: Cfg) -> Iterator[str]:
    spec = get(res.props, "spec") or {}
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, r in enumerate(elements(opt(spec, direction))):
            peers, ports = as_list(opt(r, peers_key)), as_list(opt(r, "ports"))
            if not peers and not ports:
                yield f"spec.{direction}[{i}] allows all traffic (empty rule)"
            for j, p in enumerate(peers):
                cidr = opt(p, "ipBlock.cidr")
                if cidr in ("0.0.0.0/0", "::/0") and not as_list(opt(p, "ipBlock.except")) and not ports:
                    yield f"spec.{direction}[{i}].{peers_key}[{j}] allows {cidr} on every port"
                if is_map(opt(p, "namespaceSelector")) and not as_list(opt(p, "namespaceSelector.matchExpressions")) \
                        and not opt(p, "namespaceSelector.matchLabels") and not has(p, "podSelector") and not ports:
                    yield f"spec.{direction}[{i}].{peers_key}[{j}] allows every namespace on every port"
                if direction == "egress" and cidr:
                    net = network(str(cidr))
                    meta_net = network(METADATA_IP + "/32")
                    excepted = any(network(str(x)) and meta_net.subnet_of(network(str(x)))
                                   for x in elements(opt(p, "ipBlock.except")))
                    if net is not None and net.version == 4 and meta_net.subnet_of(net) and not excepted and \
                            not any(re.fullmatch(a, f"{namespace_of(res)}/{name_of(res)}") for a in cfg["metadataAccess"]):
                        yield f"spec.egress[{i}].to[{j}] lets pods reach the cloud metadata service {METADATA_IP}"


rule(meta("K-39", "medium", "NetworkPolicies are not allow-all and keep pods off the cloud metadata API",
          ["NSA:metadata-api", "KSV-0038"],
          "Narrow the peers and ports; add 169.254.169.254/32 to `ipBlock.except` of wide egress blocks.",
          {"metadataAccess": strings("NetworkPolicies (`namespace/name` regexes) allowed to reach the metadata API "
                                     "(cloud controller, CSI)", [])}),
     _k39, applies=kinds("NetworkPolicy", group="networking.k8s.io"))


def _k40(res: Res, cfg: Cfg) -> Iterator[str]:
    t = opt(res.props, "spec.type")
    if t in ("LoadBalancer", "NodePort") and \
            not any(re.fullmatch(p, f"{namespace_of(res)}/{name_of(res)}") for p in cfg["allowedServices"]):
        yield f"Service {namespace_of(res)}/{name_of(res)} is of type {t}"


rule(meta("K-40", "high", "No NodePort/LoadBalancer Service outside the gateway allow-list",
          ["gatekeeper:block-nodeport-services", "gatekeeper:block-loadbalancer-services", "kube-score:service-type"],
          "Use ClusterIP and route through the APISIX gateway; allow-list a gateway Service (`namespace/name` regex).",
          {"allowedServices": strings("Services allowed NodePort/LoadBalancer, `namespace/name` regexes", ["networking/apisix.*"])}),
     _k40, applies=kinds("Service", group="core"))


def _k41(res: Res, cfg: Cfg) -> Iterator[str]:
    if as_list(get(res.props, "spec.externalIPs")):
        yield "the Service sets externalIPs (CVE-2020-8554)"


rule(meta("K-41", "high", "Services set no externalIPs", ["gatekeeper:externalip", "KSV-0108"],
          "Remove `spec.externalIPs`; publish through the load balancer and the gateway."), _k41,
     applies=kinds("Service", group="core"))


def _k42(res: Res, cfg: Cfg) -> Iterator[str]:
    if kind_of(res.type) == "Ingress":
        tls_hosts = [h for t in elements(get(res.props, "spec.tls")) for h in elements(opt(t, "hosts"))]
        if not as_list(get(res.props, "spec.tls")):
            yield "the Ingress has no tls section"
            return
        for r in elements(get(res.props, "spec.rules")):
            h = opt(r, "host")
            if h and not host_covered(str(h), [str(x) for x in tls_hosts]):
                yield f"host {h} is not covered by the Ingress tls hosts"
    else:
        for i, lst in enumerate(elements(get(res.props, "spec.listeners"))):
            proto = opt(lst, "protocol")
            if proto in ("HTTPS", "TLS") and opt(lst, "tls.mode", "Terminate") == "Terminate" and \
                    not as_list(opt(lst, "tls.certificateRefs")):
                yield f"spec.listeners[{i}] ({proto}) has no certificateRefs"
            if proto == "HTTP" and not cfg["allowHttpListeners"]:
                yield f"spec.listeners[{i}] serves plain HTTP"


rule(meta("K-42", "medium", "Ingresses and Gateways serve TLS for every host", ["gatekeeper:httpsonly", "Polaris:tlsSettingsMissing"],
          "Add a tls section (or certificateRefs) backed by a cert-manager Certificate for each host.",
          {"allowHttpListeners": flag("allow plain-HTTP Gateway listeners (redirects to https)", True)}),
     _k42, applies=lambda t: is_kind(t, "Ingress", group="networking.k8s.io") or is_kind(t, "Gateway", group="gateway.networking.k8s.io"))
