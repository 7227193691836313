"""Helm release rules (HELM-01..HELM-17) on the inputs of `kubernetes:helm.sh/v3:Release` (and v4 Chart).

A Release is opaque to policies: they see chart, version, repository, options and values, never the
rendered manifests. So these rules judge the values tree by structure: credential-named keys holding
literals, mutable image tags, switches that turn persistence, TLS, auth, security contexts or network
policies off. The namespace's Pod Security level (PSA labels, K-43/ST-03) is the runtime backstop.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterator, Optional

import yaml

from . import credentials as cred
from .base import (
    Cfg, Res, ResourceRule, as_list, dotted, elements, falsy, flag, get, has, is_map, meta, opt, strings, truthy, walk,
)
from .k8s import (
    HELM_TYPES, LEVELS_SCHEMA, MUTABLE_TAGS, level_of, namespace_of, parse_image, registries_schema, registry_allowed, scope_of,
)

RULES: list = []
SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def rule(m, check) -> None:
    RULES.append(ResourceRule(m, "helm", HELM_TYPES, check, namespace_of=scope_of))


def chart_name(res: Res) -> str:
    chart = str(opt(res.props, "chart") or "")
    return chart.rstrip("/").rsplit("/", 1)[-1]


def values(res: Res) -> Any:
    return get(res.props, "values") or {}


def value_nodes(res: Res) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) of the values tree and of each readable valueYamlFiles file."""
    yield from walk(values(res), ())
    for i, doc in enumerate(value_files(res)):
        if doc is not None:
            yield from walk(doc, (f"valueYamlFiles[{i}]",))


def asset_path(asset: Any) -> Optional[str]:
    path = getattr(asset, "path", None)
    if path is None and is_map(asset):
        path = opt(asset, "path")
    return str(path) if path else None


def value_files(res: Res) -> list[Any]:
    out = []
    for a in elements(get(res.props, "valueYamlFiles")):
        path = asset_path(a)
        try:
            with open(path or "", encoding="utf-8") as fh:
                out.append(yaml.safe_load(fh) or {})
        except (OSError, ValueError, yaml.YAMLError):
            out.append(None)
    return out


def relaxed_namespace(res: Res, cfg: Cfg) -> bool:
    return level_of(namespace_of(res), cfg) == "privileged"


def _at(path: tuple, *suffix: str) -> bool:
    keys = [p for p in path if not isinstance(p, int)]
    return tuple(keys[-len(suffix):]) == suffix


# ---------------------------------------------------------------------------------------------
# HELM-01 .. HELM-06: provenance, credentials, images


def _h01(res: Res, cfg: Cfg) -> Iterator[str]:
    v = get(res.props, "version")
    if not v:
        yield f"chart {chart_name(res)} has no version (the newest one would be installed)"
    elif not SEMVER.match(str(v)):
        yield f"chart {chart_name(res)} version {v} is not an exact version"
    if truthy(get(res.props, "devel")):
        yield "`devel: true` lets Helm pick pre-releases"


rule(meta("HELM-01", "high", "Charts are pinned to an exact version", ["COPRS:supply-chain", "CIS-5.5.1"],
          "Set `version` to the exact released chart version (e.g. 1.21.1) and drop `devel`."), _h01)


def _h02(res: Res, cfg: Cfg) -> Iterator[str]:
    chart = str(get(res.props, "chart") or "")
    repo = str(opt(res.props, "repositoryOpts.repo") or "")
    if chart.startswith("http://"):
        yield "the chart is downloaded over plain http"
    if repo:
        if not repo.startswith(("https://", "oci://")):
            yield f"repository {repo} is neither https nor oci"
    elif not chart.startswith(("oci://", "https://")) and not any(
            os.path.normpath(chart).startswith(os.path.normpath(d)) for d in cfg["localChartDirs"]):
        yield f"chart {chart} has no repository and is not under the vendored chart directories"


rule(meta("HELM-02", "high", "Charts come from an https or oci repository (or the vendored charts/ dir)", ["COPRS:supply-chain"],
          "Set `repositoryOpts.repo` to the chart's https repository or use an oci:// chart reference.",
          {"localChartDirs": strings("directories holding vendored charts", ["charts", "./charts"])}), _h02)


def _h03(res: Res, cfg: Cfg) -> Iterator[str]:
    for key in ("password", "keyFile"):
        if has(get(res.props, "repositoryOpts") or {}, key):
            yield f"repositoryOpts.{key} is set inline"


rule(meta("HELM-03", "low", "Chart repository credentials are not inline", ["COPRS:secrets"],
          "Use a Helm registry config or anonymous public repositories."), _h03)


def _secret_key_pair(res: Res, path: tuple) -> bool:
    """`{secret: <Secret name>, key: <key>}`: a reference in the secretKeyRef shape (e.g. `extraEnvSecrets.X`)."""
    if path[-1] != "secret" or len(path) < 2:
        return False
    parent: Any = values(res)
    for p in path[:-1]:
        parent = parent.get(p) if is_map(parent) else None
    return is_map(parent) and isinstance(parent.get("key"), str) and set(parent) <= {"secret", "key", "optional"}


def _h04(res: Res, cfg: Cfg) -> Iterator[str]:
    for path, v in value_nodes(res):
        if not isinstance(v, str) or not path:
            continue
        where = dotted(path)
        if any(re.fullmatch(a, where) for a in cfg["allowedPaths"]) or _secret_key_pair(res, path):
            continue
        if cred.secret_shaped(v):
            yield f"values {where} holds {cred.describe(v)}"
        elif cred.sensitive_key(path[-1], path[:-1]) and cred.literal(v):
            yield f"values {where} holds a literal credential; pass it by reference (existingSecret / secretKeyRef)"


rule(meta("HELM-04", "critical", "No credential in Release values (secrets by reference only)",
          ["CIS-5.4.1", "NSA:C-0012", "pulumi-kubernetes#999"],
          "Create a Kubernetes Secret from pulumi-random/pulumi-tls outputs and give the chart its name "
          "(`existingSecret`, `*.secretName`, `valueFrom.secretKeyRef`).",
          {"allowedPaths": strings("values paths (regex, dotted) that may hold a credential-named literal",
                                   # openldap-stack-ha: the name of the cert-manager TLS Secret, not a credential
                                   [r"initTLSSecret\.secret"])}), _h04)


def _h05(res: Res, cfg: Cfg) -> Iterator[str]:
    for path, v in value_nodes(res):
        if not path or not isinstance(v, str):
            continue
        key = path[-1]
        if key in ("tag", "imageTag") and v.lower() in MUTABLE_TAGS:
            yield f"values {dotted(path)} uses the mutable tag {v}"
        elif key == "image" and ":" in v.rsplit("/", 1)[-1]:
            img = parse_image(v)
            if img.tag and img.tag.lower() in MUTABLE_TAGS and not img.digest:
                yield f"values {dotted(path)} uses the mutable image {v}"


rule(meta("HELM-05", "high", "No mutable image tags in Release values", ["CKV_K8S_14", "KSV-0013", "Polaris:tagNotSpecified"],
          "Leave the tag empty (the pinned chart's appVersion) or pin a release tag, ideally with a digest."), _h05)


def _image_maps(res: Res) -> Iterator[tuple[tuple, str]]:
    global_registry = opt(values(res), "global.imageRegistry")
    for path, v in value_nodes(res):
        if not path:
            continue
        if is_map(v) and (path[-1] == "image" or str(path[-1]).endswith("Image")):
            repo = opt(v, "repository") or opt(v, "name")
            if isinstance(repo, str) and repo:
                reg = opt(v, "registry") or global_registry
                yield path, f"{reg}/{repo}" if reg and not repo.startswith(str(reg)) else repo
        elif isinstance(v, str) and path[-1] == "image" and "/" in v:
            yield path, v


def _h06(res: Res, cfg: Cfg) -> Iterator[str]:
    for path, ref in _image_maps(res):
        img = parse_image(ref)
        if not registry_allowed(img, cfg["allowedRegistries"]):
            yield f"values {dotted(path)} pulls from {img.registry}, which is not an allowed registry"


rule(meta("HELM-06", "medium", "Release images come from allowed registries", ["KSV-0125", "gatekeeper:allowedrepos"],
          "Use an allowed registry (or its mirror) or add the registry to `allowedRegistries` after review.",
          {"allowedRegistries": registries_schema()}), _h06)

# ---------------------------------------------------------------------------------------------
# HELM-07 .. HELM-13: what the chart is told to turn off

STATEFUL_CHARTS = ["kube-prometheus-stack", "thanos", "loki", "graylog", "openldap-stack-ha", "grafana", "mongodb",
                   "postgresql", "elasticsearch", "kafka", "etcd", "apisix", "keycloakx", "rook-ceph-cluster"]


def _in(res: Res, charts: list[str]) -> bool:
    return chart_name(res) in charts


def _h07(res: Res, cfg: Cfg) -> Iterator[str]:
    stateful = _in(res, cfg["statefulCharts"])
    for path, v in value_nodes(res):
        if stateful and _at(path, "persistence", "enabled") and falsy(v):
            yield f"values {dotted(path)} turns persistence off for a stateful chart"
        if _at(path, "storageClass") or _at(path, "storageClassName"):
            if isinstance(v, str) and v and v not in cfg["storageClasses"]:
                yield f"values {dotted(path)} uses storage class {v}, not one of {', '.join(cfg['storageClasses'])}"
    for key in cfg["requiredPersistence"].get(chart_name(res), []):
        if not opt(values(res), key):
            yield f"values {key} is not set: the chart would keep its data on an emptyDir"


rule(meta("HELM-07", "high", "Stateful charts keep persistence on, on the platform's storage classes", ["COPRS:data-protection"],
          "Enable persistence with a size and a `ceph-block`/`ceph-fs` storage class.",
          {"statefulCharts": strings("charts that hold data", STATEFUL_CHARTS),
           "storageClasses": strings("storage classes data may use", ["ceph-block", "ceph-fs"]),
           "requiredPersistence": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                                   "default": {"kube-prometheus-stack": ["prometheus.prometheusSpec.storageSpec"]},
                                   "description": "chart → values paths that must be set for its data to persist"}}), _h07)

INSECURE_KEYS = {"insecure", "insecureSkipVerify", "insecureSkipTLSVerify", "tlsInsecure", "skipTLSVerify",
                 "insecure_skip_verify", "tlsSkipVerify"}


def _h08(res: Res, cfg: Cfg) -> Iterator[str]:
    tls_chart = _in(res, cfg["tlsCharts"])
    for path, v in value_nodes(res):
        if not path:
            continue
        if path[-1] in INSECURE_KEYS and truthy(v):
            yield f"values {dotted(path)} turns certificate verification off"
        elif tls_chart and (_at(path, "tls", "enabled") or _at(path, "ssl", "enabled")) and falsy(v):
            yield f"values {dotted(path)} turns TLS off"


rule(meta("HELM-08", "high", "TLS stays on and verified (databases, brokers, LDAP, Elasticsearch, Keycloak)",
          ["NSA:encrypt-in-transit"],
          "Enable TLS (certificates from cert-manager) and keep certificate verification on.",
          {"tlsCharts": strings("charts whose TLS must stay on", ["postgresql", "mongodb", "openldap-stack-ha", "elasticsearch",
                                                                 "keycloakx", "kafka", "etcd", "graylog"])}), _h08)

DEFAULT_PASSWORDS = {"admin", "password", "changeme", "prom-operator", "secret", "root", "guest"}


def _h09(res: Res, cfg: Cfg) -> Iterator[str]:
    for path, v in value_nodes(res):
        if not path:
            continue
        where = dotted(path)
        if (_at(path, "auth", "enabled") or _at(path, "authentication", "enabled") or _at(path, "security", "enabled")
                or _at(path, "rbac", "create") and "auth" in path) and falsy(v):
            yield f"values {where} turns authentication off"
        elif (path[-1] in ("allowAnonymous", "anonymousAuth") or _at(path, "anonymous", "enabled")) and truthy(v):
            yield f"values {where} allows anonymous access"
        elif isinstance(v, str) and cred.sensitive_key(path[-1], path[:-1]) and v.strip().lower() in DEFAULT_PASSWORDS:
            yield f"values {where} is a well-known default credential"


rule(meta("HELM-09", "high", "Authentication stays on; no anonymous access or default credentials",
          ["NSA:authn", "CIS-5.1"], "Keep auth enabled, disable anonymous access and use generated credentials."), _h09)

METRICS_KEYS = {
    "cert-manager": ["prometheus.servicemonitor.enabled"],
    "apisix": ["apisix.prometheus.enabled", "metrics.serviceMonitor.enabled"],
    "metrics-server": ["metrics.enabled", "serviceMonitor.enabled"],
    "keda": ["prometheus.operator.enabled"],
    "velero": ["metrics.serviceMonitor.enabled"],
    "linkerd-control-plane": ["podMonitor.enabled"],
    "rook-ceph": ["monitoring.enabled"],
    "rook-ceph-cluster": ["monitoring.enabled"],
    "thanos": ["serviceMonitor.enabled"],
    "loki": ["monitoring.serviceMonitor.enabled"],
    "fluent-bit": ["serviceMonitor.enabled"],
    "fluentd": ["metrics.serviceMonitor.enabled"],
    "grafana-operator": ["serviceMonitor.enabled"],
    "prometheus-blackbox-exporter": ["serviceMonitor.selfMonitor.enabled"],
}


def _h10(res: Res, cfg: Cfg) -> Iterator[str]:
    for key in cfg["metricsKeys"].get(chart_name(res), []):
        if not truthy(opt(values(res), key)):
            yield f"values {key} is not true: Prometheus does not scrape {chart_name(res)}"


rule(meta("HELM-10", "low", "Charts expose metrics to Prometheus (ServiceMonitor/PodMonitor)", ["NSA:logging-and-monitoring"],
          "Turn on the chart's metrics and ServiceMonitor switches.",
          {"metricsKeys": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                           "default": METRICS_KEYS, "description": "chart → values paths that must be true"}}), _h10)


def _h11(res: Res, cfg: Cfg) -> Iterator[str]:
    if relaxed_namespace(res, cfg):
        return
    for path, v in value_nodes(res):
        if not path or isinstance(path[-1], int):
            continue
        where, key = dotted(path), path[-1]
        if key == "enabled" and len(path) > 1 and str(path[-2]).endswith(("podSecurityContext", "containerSecurityContext")) \
                and falsy(v):
            yield f"values {where} turns the chart's security context off"
        elif key == "runAsUser" and v == 0:
            yield f"values {where} runs as root"
        elif key in ("privileged", "allowPrivilegeEscalation") and truthy(v):
            yield f"values {where} is true"
        elif key in ("runAsNonRoot", "readOnlyRootFilesystem") and falsy(v):
            yield f"values {where} is false"


rule(meta("HELM-11", "high", "Release values do not switch security contexts off (outside privileged namespaces)",
          ["PSS:restricted", "CIS-5.2", "NSA:pod-security"],
          "Leave the chart's security contexts on; run as non-root with a read-only root filesystem.",
          dict(LEVELS_SCHEMA)), _h11)


def _h12(res: Res, cfg: Cfg) -> Iterator[str]:
    for path, v in value_nodes(res):
        if is_map(v) and str(opt(v, "resourcesPreset") or "") == "none" and not opt(v, "resources"):
            yield f"values {dotted(path + ('resourcesPreset',))} is none and no resources are set (BestEffort pods)"
    for key in cfg["requiredResources"].get(chart_name(res), []):
        if not opt(values(res), key):
            yield f"values {key} is not set: the pods run without requests and limits"


rule(meta("HELM-12", "medium", "Release pods get resource requests and limits", ["CKV_K8S_10", "CKV_K8S_12", "NSA:C-0270"],
          "Set the chart's `resources` (or a bitnami `resourcesPreset` other than none).",
          {"requiredResources": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                                 "default": {}, "description": "chart → values paths of resources that must be set"}}), _h12)


def _h13(res: Res, cfg: Cfg) -> Iterator[str]:
    if _in(res, cfg["allowedCharts"]):
        return
    for path, v in value_nodes(res):
        if (_at(path, "networkPolicy", "enabled") or (path and path[-1] == "generateNetworkPolicy")) and falsy(v):
            yield f"values {dotted(path)} turns the chart's network policies off"


rule(meta("HELM-13", "medium", "Charts keep their own NetworkPolicies on (unless the namespace baseline replaces them)",
          ["NSA:network-separation", "CIS-5.3.2"],
          "Enable the chart's NetworkPolicy, or list the chart in `allowedCharts` when the namespace baseline covers its flows.",
          {"allowedCharts": strings("charts whose flows the program's namespace policies declare", [])}), _h13)

# ---------------------------------------------------------------------------------------------
# HELM-14 .. HELM-17: release options, exposure, catalogue, value files

RISKY_OPTIONS = ("disableWebhooks", "disableOpenapiValidation", "replace", "forceUpdate", "takeOwnership")


def _h14(res: Res, cfg: Cfg) -> Iterator[str]:
    if truthy(get(res.props, "createNamespace")):
        yield "`createNamespace: true`: the namespace would miss its PSA labels, NetworkPolicies and quota"
    ns = namespace_of(res)
    if ns == "default" or (ns in ("kube-system", "kube-public") and chart_name(res) not in cfg["systemCharts"]):
        yield f"the release installs into {ns}"
    if cfg["forbidRiskyOptions"]:
        for o in RISKY_OPTIONS:
            if truthy(get(res.props, o)):
                yield f"`{o}: true` bypasses Helm/Kubernetes safety checks"
    if has(res.props, "postrender") and str(get(res.props, "postrender")) not in cfg["allowedPostrenderers"]:
        yield "the release runs a postrender binary that is not allow-listed"
    if cfg["requireAtomic"] and not truthy(get(res.props, "atomic")):
        yield "`atomic` is not true: a failed install leaves a half-deployed release"


rule(meta("HELM-14", "medium", "Release options: namespaces from the program, no safety bypass, atomic installs",
          ["COPRS:platform-baseline", "CIS-5.6.1"],
          "Create the namespace in the program (with its baseline), set `namespace`, drop the bypass options, set `atomic`.",
          {"systemCharts": strings("charts allowed in kube-system", ["metrics-server", "linkerd2-cni"]),
           "forbidRiskyOptions": flag("forbid disableWebhooks/disableOpenapiValidation/replace/forceUpdate/takeOwnership", True),
           "allowedPostrenderers": strings("allowed postrender commands", []),
           "requireAtomic": flag("require `atomic: true`", True)}), _h14)


def _h15(res: Res, cfg: Cfg) -> Iterator[str]:
    chart = chart_name(res)
    for path, v in value_nodes(res):
        if not path or isinstance(path[-1], int):
            continue
        where = dotted(path)
        if _at(path, "service", "type") and v in ("LoadBalancer", "NodePort") and \
                not any(re.fullmatch(a, f"{chart}:{where}") for a in cfg["allowedExposures"]):
            yield f"values {where} exposes a {v} Service"
        elif path[-1] == "externalIPs" and as_list(v):
            yield f"values {where} sets externalIPs"
        elif _at(path, "ingress", "enabled") and truthy(v):
            parent = opt(values(res), ".".join(str(p) for p in path[:-1]))
            if not as_list(opt(parent, "tls")) and not truthy(opt(parent, "tls")):
                yield f"values {where} enables an Ingress without tls"


rule(meta("HELM-15", "high", "Charts expose no NodePort/LoadBalancer/externalIPs outside the gateway; Ingresses have TLS",
          ["gatekeeper:block-nodeport-services", "gatekeeper:httpsonly", "KSV-0108"],
          "Keep Services ClusterIP and route through APISIX; allow-list the gateway's own Service.",
          {"allowedExposures": strings("`chart:values.path` regexes allowed to expose a Service", [r"apisix:service\.type"])}), _h15)

CATALOGUE = {
    "cert-manager": ["https://charts.jetstack.io", "oci://quay.io/jetstack/charts"],
    "linkerd-crds": ["https://helm.linkerd.io/edge"],
    "linkerd-control-plane": ["https://helm.linkerd.io/edge"],
    "linkerd2-cni": ["https://helm.linkerd.io/edge"],
    "linkerd-viz": ["https://helm.linkerd.io/edge"],
    "apisix": ["https://apache.github.io/apisix-helm-chart"],
    "rook-ceph": ["https://charts.rook.io/release"],
    "rook-ceph-cluster": ["https://charts.rook.io/release"],
    "metrics-server": ["https://kubernetes-sigs.github.io/metrics-server"],
    "keda": ["https://kedacore.github.io/charts"],
    "velero": ["https://vmware-tanzu.github.io/helm-charts"],
    "eck-operator": ["https://helm.elastic.co"],
    "strimzi-kafka-operator": ["https://strimzi.io/charts", "oci://quay.io/strimzi-helm"],
    "cloudnative-pg": ["https://cloudnative-pg.github.io/charts"],
    "plugin-barman-cloud": ["https://cloudnative-pg.github.io/charts"],
    "mongodb-kubernetes": ["https://mongodb.github.io/helm-charts"],
    "kube-prometheus-stack": ["https://prometheus-community.github.io/helm-charts"],
    "prometheus-operator-crds": ["https://prometheus-community.github.io/helm-charts"],
    "prometheus-blackbox-exporter": ["https://prometheus-community.github.io/helm-charts"],
    "prometheus-elasticsearch-exporter": ["https://prometheus-community.github.io/helm-charts"],
    "thanos": ["https://stevehipwell.github.io/helm-charts"],
    "grafana-operator": ["oci://ghcr.io/grafana/helm-charts", "https://grafana.github.io/helm-charts"],
    "loki": ["https://grafana-community.github.io/helm-charts", "https://grafana.github.io/helm-charts"],
    "fluent-bit": ["https://fluent.github.io/helm-charts"],
    "fluentd": ["https://fluent.github.io/helm-charts"],
    "graylog": ["https://graylog2.github.io/graylog-helm"],  # the official chart's README (graylog-1.0.0)
    "falco": ["https://falcosecurity.github.io/charts"],
    "keycloakx": ["https://codecentric.github.io/helm-charts"],
    "openldap-stack-ha": ["https://jp-gouin.github.io/helm-openldap"],
}
BLOCKED_CHARTS = ["kubernetes-dashboard", "tiller", "helm-tiller"]


def _h16(res: Res, cfg: Cfg) -> Iterator[str]:
    chart = chart_name(res)
    if chart in cfg["blockedCharts"]:
        yield f"chart {chart} is blocked"
        return
    catalogue = cfg["catalogue"]
    if chart not in catalogue:
        yield f"chart {chart} is not in the approved catalogue"
        return
    chart_ref = str(opt(res.props, "chart") or "")
    repo = str(opt(res.props, "repositoryOpts.repo") or (chart_ref.rsplit("/", 1)[0] if "://" in chart_ref else ""))
    if repo and repo.rstrip("/") not in [r.rstrip("/") for r in catalogue[chart]]:
        yield f"chart {chart} comes from {repo}, not from its catalogued repository"


rule(meta("HELM-16", "medium", "Charts come from the approved catalogue and its repositories", ["COPRS:supply-chain", "CKV_K8S_33"],
          "Add the chart and its repository to `catalogue` after review; never deploy the Kubernetes dashboard or Tiller.",
          {"catalogue": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                         "default": CATALOGUE, "description": "chart → allowed repositories"},
           "blockedCharts": strings("charts never allowed", BLOCKED_CHARTS)}), _h16)


def _h17(res: Res, cfg: Cfg) -> Iterator[str]:
    for i, (a, doc) in enumerate(zip(elements(get(res.props, "valueYamlFiles")), value_files(res))):
        if doc is None:
            yield f"valueYamlFiles[{i}] ({asset_path(a) or 'no path'}) cannot be read, so no rule checked it"


rule(meta("HELM-17", "low", "Value files are readable by the policies", ["COPRS:auditability"],
          "Keep value files next to the program (relative paths) or pass the values inline."), _h17)
