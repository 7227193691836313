"""Stack rules (ST-01..ST-13): properties of the whole graph, joined through parents, dependencies and
property dependencies (IDs are unknown during preview, so joins never compare IDs).

A rule whose subject is not declared at all (no Namespace objects yet, no stateful app, no hostname)
is not applicable; once the subject exists, it must be right.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from .base import (
    Cfg, NotApplicable, Res, StackRule, Violation, as_list, dotted, elements, flag, has, is_map, items, key, meta, number,
    opt,
    strings, truthy,
)
from .helm import chart_name, value_nodes
from .k8s import (
    HELM_TYPES, LEVELS, SYSTEM_NAMESPACES, at_least, host_covered, is_kind, kind_of, name_of, namespace_of, pod_specs,
    scope_of, typed_workload,
)
from .kubernetes import PSA, network_policies
from .netsec import never_public_hits, sg_rule, within
from .openstack import (
    FIP, INSTANCE, LB, MEMBER, PORT, SERVER_GROUP, SG, SGR, by_type, groups_of_instance, groups_of_port, instance_groups,
    rules_of_group,
)

RULES: list = []


def stack_rule(m, check, subjects=()) -> None:
    RULES.append(StackRule(m, "stack", check, namespace_of=scope_of, subjects=subjects))


NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


EXEMPT_NAMESPACES = strings("namespaces the rule does not ask for", SYSTEM_NAMESPACES)


def declared_namespaces(resources: list[Res], cfg: Cfg) -> dict[str, Res]:
    out = {name_of(r): r for r in resources if is_kind(r.type, "Namespace", group="core")}
    if not out:
        raise NotApplicable("the program declares no Namespace yet")
    return {n: r for n, r in out.items() if n not in cfg["exemptNamespaces"]}


def in_namespace(resources: list[Res], ns: str, *kinds: str, group: Optional[str] = None) -> list[Res]:
    return [r for r in resources if is_kind(r.type, *kinds, group=group) and namespace_of(r) == ns]


# ---------------------------------------------------------------------------------------------
# namespaces: ST-01 .. ST-03, ST-13


def _policy_types(np: Res) -> set[str]:
    types = {str(t) for t in elements(opt(np.props, "spec.policyTypes"))}
    if not types:
        types = {"Ingress"} | ({"Egress"} if has(opt(np.props, "spec") or {}, "egress") else set())
    return types


def _selects_all(np: Res) -> bool:
    sel = opt(np.props, "spec.podSelector")
    return sel is None or (is_map(sel) and not opt(sel, "matchLabels") and not as_list(opt(sel, "matchExpressions")))


def _allows_dns(nps: list[Res]) -> bool:
    for np in nps:
        for r in elements(opt(np.props, "spec.egress")):
            ports = as_list(opt(r, "ports"))
            if not ports or any(number(opt(p, "port")) == 53 or opt(p, "port") in ("dns", "dns-tcp") for p in ports):
                return True
    return False


def _st01(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    nps = network_policies(resources)
    for ns, nsres in declared_namespaces(resources, cfg).items():
        mine = [np for np in nps if namespace_of(np) == ns]
        for t in cfg["requiredPolicyTypes"]:
            if not any(_selects_all(np) and t in _policy_types(np) and not as_list(opt(np.props, f"spec.{t.lower()}"))
                       for np in mine):
                yield Violation(f"namespace {ns} has no default-deny {t} NetworkPolicy (podSelector {{}}, no {t.lower()} rules)",
                                nsres)
        if "Egress" in cfg["requiredPolicyTypes"] and mine and not _allows_dns(mine):
            yield Violation(f"namespace {ns} denies egress but no NetworkPolicy allows DNS (port 53)", nsres)


stack_rule(meta("ST-01", "high", "Every namespace has a default-deny NetworkPolicy, then explicit allows (DNS included)",
                ["CIS-5.3.2", "NSA:appendix-E", "CKV2_K8S_6", "NSA:C-0030"],
                "Declare in each namespace a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no rules, "
                "then the allowed flows (DNS to kube-system:53, scraping, the gateway, Linkerd 4143).",
                {"exemptNamespaces": EXEMPT_NAMESPACES,
                 "requiredPolicyTypes": {"type": "array", "items": {"type": "string", "enum": ["Ingress", "Egress"]},
                                         "default": ["Ingress", "Egress"], "description": "directions denied by default"}}),
           _st01, (NAMESPACE, NETWORK_POLICY))


def _st02(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    for ns, nsres in declared_namespaces(resources, cfg).items():
        for kind in ("ResourceQuota", "LimitRange"):
            if not in_namespace(resources, ns, kind, group="core"):
                yield Violation(f"namespace {ns} has no {kind}", nsres)


stack_rule(meta("ST-02", "medium", "Every namespace has a ResourceQuota and a LimitRange", ["NSA:appendix-F", "NSA:appendix-G",
                                                                                          "KSV-0039", "KSV-0040"],
                "Declare a ResourceQuota and a LimitRange in the namespace baseline.",
                {"exemptNamespaces": EXEMPT_NAMESPACES}), _st02,
           (NAMESPACE, "kubernetes:core/v1:ResourceQuota", "kubernetes:core/v1:LimitRange"))


def _st03(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    declared = declared_namespaces(resources, cfg)
    for ns, nsres in declared.items():
        labels = opt(nsres.props, "metadata.labels") or {}
        enforce = key(labels, PSA + "enforce")
        if enforce not in LEVELS:
            continue  # K-43 reports the enforce label itself
        if not key(labels, PSA + "enforce-version"):
            yield Violation(f"namespace {ns} does not pin {PSA}enforce-version", nsres)
        want = max(cfg["auditWarnLevel"] or enforce, enforce, key=LEVELS.index)
        for mode in ("audit", "warn"):
            lvl = key(labels, PSA + mode)
            if lvl not in LEVELS or not at_least(lvl, want):
                yield Violation(f"namespace {ns} {mode} level is {lvl or 'unset'} (expected {want})", nsres)
    seen: set[str] = set()
    for r in resources:
        if not (kind_of(r.type) or r.type in HELM_TYPES):
            continue
        ns = namespace_of(r)
        if ns and ns not in declared and ns not in cfg["exemptNamespaces"] and ns not in seen and \
                not is_kind(r.type, "Namespace"):
            seen.add(ns)
            yield Violation(f"{kind_of(r.type) or 'Release'} {name_of(r)} uses namespace {ns}, which the program does not "
                            "declare (it would have no Pod Security labels)", r)


stack_rule(meta("ST-03", "high", "Every namespace in use is declared with its Pod Security enforce/audit/warn labels",
                ["CIS-5.2.1", "CIS-5.6.1", "NSA:pod-security"],
                "Declare each namespace in the program with enforce, enforce-version, audit and warn labels.",
                {"exemptNamespaces": EXEMPT_NAMESPACES,
                 "auditWarnLevel": {"type": "string", "enum": ["", *LEVELS], "default": "restricted",
                                    "description": "level audit/warn must reach ('' = at least the enforce level)"}}), _st03,
           (NAMESPACE, *HELM_TYPES))


LINKERD_CHARTS = ("linkerd-control-plane",)


def _inject(ns: Res) -> Optional[str]:
    for section in ("annotations", "labels"):
        for k, v in items(opt(ns.props, f"metadata.{section}")):
            if k == "linkerd.io/inject":
                return str(v)
    return None


def _st13(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    declared = declared_namespaces(resources, cfg)
    meshed = any(r.type in HELM_TYPES and chart_name(r) in LINKERD_CHARTS for r in resources)
    annotated = {n for n, r in declared.items() if _inject(r) is not None}
    if not meshed and not annotated:
        raise NotApplicable("Linkerd is not part of this stack")
    for ns, r in declared.items():
        if ns in cfg["unmeshedNamespaces"]:
            continue
        if _inject(r) != "enabled":
            yield Violation(f"namespace {ns} is not meshed (linkerd.io/inject: enabled): its traffic has no mTLS", r)


stack_rule(meta("ST-13", "medium", "Every app namespace is meshed by Linkerd (mTLS)", ["NSA:encrypt-in-transit"],
                "Annotate the namespace `linkerd.io/inject: enabled`, or list it in `unmeshedNamespaces` with a reason.",
                {"exemptNamespaces": EXEMPT_NAMESPACES,
                 "unmeshedNamespaces": strings("namespaces left out of the mesh: the mesh itself, storage, and node agents "
                                               "that use the host network or host paths (Falco, Fluent Bit, Velero, node-exporter)",
                                               ["rook-ceph", "linkerd", "linkerd-viz", "falco", "logging", "velero",
                                                "monitoring-node"])}), _st13,
           (NAMESPACE,))

# ---------------------------------------------------------------------------------------------
# ST-04: backups for every stateful app

STATEFUL_CRS = {
    ("postgresql.cnpg.io", "Cluster"), ("elasticsearch.k8s.elastic.co", "Elasticsearch"), ("kafka.strimzi.io", "Kafka"),
    ("kafka.strimzi.io", "KafkaNodePool"), ("mongodbcommunity.mongodb.com", "MongoDBCommunity"), ("mongodb.com", "MongoDB"),
    ("ceph.rook.io", "CephCluster"), ("grafana.integreatly.org", "Grafana"), ("monitoring.coreos.com", "Prometheus"),
}


def _state_elsewhere(r: Res, kind: str) -> bool:
    """A Grafana keeping its state in an SQL server (its database's own backup covers it), not on a volume."""
    return kind == "Grafana" and str(opt(r.props, "spec.config.database.type") or "") in ("postgres", "mysql") \
        and not has(opt(r.props, "spec") or {}, "persistentVolumeClaim")


def stateful_items(resources: list[Res], cfg: Cfg) -> list[tuple[Res, str, str]]:
    """(resource, namespace, what) for everything that holds data."""
    out = []
    for r in resources:
        kind = kind_of(r.type)
        if r.type in HELM_TYPES and chart_name(r) in cfg["statefulCharts"]:
            out.append((r, namespace_of(r), f"release {name_of(r)} ({chart_name(r)})"))
        elif is_kind(r.type, "StatefulSet", group="apps") or is_kind(r.type, "PersistentVolumeClaim", group="core"):
            out.append((r, namespace_of(r), f"{kind} {name_of(r)}"))
        elif kind and (r.type.split(":")[1].split("/")[0], kind) in STATEFUL_CRS and not _state_elsewhere(r, kind):
            out.append((r, namespace_of(r), f"{kind} {name_of(r)}"))
    return [x for x in out if kind_of(x[0].type) not in cfg["exemptKinds"] and x[1] not in cfg["exemptNamespaces"]]


def _schedule_namespaces(template: Any) -> tuple[set[str], set[str]]:
    inc = {str(n) for n in elements(opt(template, "includedNamespaces"))} or {"*"}
    exc = {str(n) for n in elements(opt(template, "excludedNamespaces"))}
    return inc, exc


def backup_schedules(resources: list[Res]) -> list[tuple[Res, Any, Any]]:
    """(declaring resource, schedule spec, template) of every Velero schedule (CRs and velero chart values)."""
    out = []
    for r in resources:
        if is_kind(r.type, "Schedule", group="velero.io"):
            out.append((r, opt(r.props, "spec"), opt(r.props, "spec.template")))
        elif r.type in HELM_TYPES and chart_name(r) == "velero":
            for _, s in items(opt(r.props, "values.schedules")):
                if is_map(s) and not truthy(opt(s, "disabled")):
                    out.append((r, s, opt(s, "template")))
    return out


def _cnpg_backed(cluster: Res, resources: list[Res]) -> bool:
    has_store = has(opt(cluster.props, "spec") or {}, "backup") or any(
        "barman" in str(opt(p, "name") or "") for p in elements(opt(cluster.props, "spec.plugins")))
    scheduled = any(is_kind(r.type, "ScheduledBackup", group="postgresql.cnpg.io") and
                    opt(r.props, "spec.cluster.name") == name_of(cluster) and namespace_of(r) == namespace_of(cluster)
                    for r in resources)
    return has_store and scheduled


BACKUP_LABEL = "backup.coprs.esa.int/app"  # the storage layer's backup declarations (components/storage/backups.py)
NATIVE_METHODS = {"cnpg-barman": {"Cluster"}, "elasticsearch-snapshot": {"Elasticsearch"}}


def backup_records(resources: list[Res]) -> list[Res]:
    """Record ConfigMaps of app-native backups (CNPG Barman, Elasticsearch snapshots, exports)."""
    return [r for r in resources if is_kind(r.type, "ConfigMap", group="core")
            and key(opt(r.props, "metadata.labels") or {}, BACKUP_LABEL)]


def _record_covers(record: Res, item: Res, ns: str) -> bool:
    method = str(key(opt(record.props, "metadata.annotations") or {}, "backup.coprs.esa.int/method") or "")
    kinds = NATIVE_METHODS.get(method)
    return namespace_of(record) == ns and (kinds is None or kind_of(item.type) in kinds)


def _st04(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    stateful = stateful_items(resources, cfg)
    if not stateful:
        raise NotApplicable("the program declares no stateful app yet")
    schedules = backup_schedules(resources)
    for r, spec, template in schedules:
        if not opt(spec, "schedule"):
            yield Violation(f"backup schedule in {r.name} has no cron `schedule`", r)
        if not opt(template, "ttl"):
            yield Violation(f"backup schedule in {r.name} sets no retention (`template.ttl`)", r)
    if schedules and not any(is_kind(r.type, "BackupStorageLocation", group="velero.io") or
                             (r.type in HELM_TYPES and chart_name(r) == "velero" and
                              as_list(opt(r.props, "values.configuration.backupStorageLocation")))
                             for r in resources):
        yield Violation("backup schedules exist but no BackupStorageLocation is declared", schedules[0][0])
    records = backup_records(resources)
    for rec in records:
        ann = opt(rec.props, "metadata.annotations") or {}
        for what in ("schedule", "retention-days"):
            if not key(ann, f"backup.coprs.esa.int/{what}"):
                yield Violation(f"backup record {namespace_of(rec)}/{name_of(rec)} states no {what}", rec)
    for r, ns, what in stateful:
        if is_kind(r.type, "Cluster", group="postgresql.cnpg.io") and _cnpg_backed(r, resources):
            continue
        if any(("*" in inc or ns in inc) and ns not in exc for inc, exc in (_schedule_namespaces(t) for _, _, t in schedules)):
            continue
        if any(_record_covers(rec, r, ns) for rec in records):
            continue
        yield Violation(f"{what} in namespace {ns} has no backup (no Velero schedule covers {ns}, no app-native "
                        "backup record)", r)


stack_rule(meta("ST-04", "high", "Every stateful app has a scheduled backup with retention, to a declared location",
                ["COPRS:data-protection", "NSA:backups"],
                "Declare the app's backup (components/storage/backups.py `declare_backup`): a Velero Schedule covering "
                "the namespace (with ttl), or the app's own backup with its record (CNPG ScheduledBackup to Barman "
                "Cloud, Elasticsearch snapshots); document exemptions with their reason.",
                {"exemptNamespaces": EXEMPT_NAMESPACES,
                 "statefulCharts": strings("charts whose data only lives in the cluster (architecture §6; Thanos and "
                                           "Loki keep theirs in buckets)",
                                           ["openldap-stack-ha", "keycloakx", "grafana", "mongodb", "postgresql"]),
                 "exemptKinds": strings("kinds whose durability is elsewhere (the storage itself, metrics in Thanos)",
                                        ["CephCluster", "Prometheus"])}), _st04,
           ("kubernetes:velero.io/v1:Schedule", "kubernetes:velero.io/v1:BackupStorageLocation",
            "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup", "kubernetes:apps/v1:StatefulSet",
            "kubernetes:core/v1:PersistentVolumeClaim", *HELM_TYPES))

# ---------------------------------------------------------------------------------------------
# cloud exposure: ST-05 .. ST-09


def _st05(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    fips = by_type(resources, FIP)
    if len(fips) > cfg["maxPublicIps"]:
        yield Violation(f"{len(fips)} floating IPs exceed the budget of {cfg['maxPublicIps']}", None)
    for inst in by_type(resources, INSTANCE):
        for n in elements(opt(inst.props, "networks")):
            if opt(n, "name") in cfg["externalNetworks"] or opt(n, "uuid") in cfg["externalNetworks"]:
                yield Violation(f"instance {inst.name} is plugged straight into the external network", inst)


stack_rule(meta("ST-05", "high", "Public addresses stay within budget; no instance sits on the external network",
                ["COPRS:minimal-exposure", "NSA:network-separation"],
                "Reach nodes through the bastion; publish services through the ingress load balancer.",
                {"maxPublicIps": {"type": "integer", "minimum": 0, "default": 5, "description": "most floating IPs the stack may hold"},
                 "externalNetworks": strings("names/ids of external (public) networks", ["admin_external_net"])}), _st05,
           (FIP, INSTANCE))


def _instance_ingress(inst: Res, resources: list[Res]) -> Iterator[tuple[Res, Res, Any]]:
    for sg in groups_of_instance(inst, resources):
        for r in rules_of_group(sg, resources):
            rule_ = sg_rule(r.props)
            if rule_.direction == "ingress":
                yield sg, r, rule_


def _st06(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    insts = by_type(resources, INSTANCE)
    if not insts:
        raise NotApplicable("the program declares no instance")
    for inst in insts:
        bastion = bool(instance_groups(inst) & set(cfg["bastionGroups"]))
        for sg, r, rule_ in _instance_ingress(inst, resources):
            if not rule_.covers("tcp", 22, 22):
                continue
            remotes = r.deps("remoteGroupId")
            if rule_.remote_group:
                if any(re.search(p, x.name) for x in remotes for p in cfg["bastionSecurityGroups"]) or \
                        any(x.urn == sg.urn for x in remotes):
                    continue
                yield Violation(f"instance {inst.name} takes SSH from security group "
                                f"{', '.join(x.name for x in remotes) or '?'} (not the bastions) via {r.name}", r)
            elif rule_.prefix and within(rule_.prefix, cfg["adminCidrs"]):
                if not bastion:
                    yield Violation(f"instance {inst.name} is not a bastion but takes SSH from the admin CIDRs via {r.name}", r)
            else:
                yield Violation(f"instance {inst.name} takes SSH from {rule_.prefix or 'any source'} via {r.name}", r)


stack_rule(meta("ST-06", "high", "SSH reaches nodes only from the bastions, and bastions only from the admin CIDRs",
                ["NSA:network-separation", "COPRS:bastion"],
                "Allow tcp/22 on node groups only from the bastion security group; on bastions only from the admin CIDRs.",
                {"adminCidrs": strings("CIDRs of the administrators"),
                 "bastionGroups": strings("node groups that are bastions", ["bastion"]),
                 "bastionSecurityGroups": strings("name regexes of the bastion security groups", ["bastion"])}), _st06,
           (INSTANCE, PORT, SG, SGR))


def _st07(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    insts = by_type(resources, INSTANCE)
    if not insts:
        raise NotApplicable("the program declares no instance")
    for inst in insts:
        for sg, r, rule_ in _instance_ingress(inst, resources):
            if rule_.world:
                hits = never_public_hits(rule_)
                if hits:
                    yield Violation(f"instance {inst.name} is open to the world on {', '.join(hits[:4])} via {r.name}", r)


stack_rule(meta("ST-07", "critical", "etcd, the API, kubelets and every never-public port are closed to the world on every instance",
                ["NSA:control-plane-firewall", "CIS-1.2", "k8s:ports-and-protocols"],
                "Remove world sources from the security groups attached to the instance."), _st07, (INSTANCE, PORT, SG, SGR))


def _st08(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    sgs, insts, ports = by_type(resources, SG), by_type(resources, INSTANCE), by_type(resources, PORT)
    if not sgs and not insts:
        raise NotApplicable("the program declares no instance or security group")
    used: set[str] = set()
    for p in ports:
        gs = groups_of_port(p)
        used |= {g.urn for g in gs}
        if not gs and not has(p.props, "securityGroupIds"):
            yield Violation(f"port {p.name} has no security group", p)
    for inst in insts:
        gs = groups_of_instance(inst, resources)
        used |= {g.urn for g in gs}
        if not gs:
            yield Violation(f"instance {inst.name} has no security group", inst)
    for lb in by_type(resources, LB):
        used |= {d.urn for d in lb.deps("securityGroupIds")}
    for sg in sgs:
        if sg.urn not in used:
            yield Violation(f"security group {sg.name} is attached to nothing", sg)


stack_rule(meta("ST-08", "low", "Every instance and port has a security group; every security group is used",
                ["COPRS:minimal-exposure"], "Attach the group or delete it."), _st08, (INSTANCE, PORT, SG, LB))


def _st09(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    if not cfg["requireHa"]:
        raise NotApplicable("this stack is not required to be highly available")
    masters = [i for i in by_type(resources, INSTANCE) if instance_groups(i) & {"kube_control_plane", "etcd"}]
    if masters:
        if len(masters) < 3 or len(masters) % 2 == 0:
            yield Violation(f"{len(masters)} control-plane/etcd instances: an HA etcd quorum needs an odd number ≥ 3", None)
        groups = {d.urn for m in masters for d in m.deps("schedulerHints") if d.type == SERVER_GROUP}
        if len(groups) != 1:
            yield Violation(f"control-plane instances are spread over {len(groups)} server groups, not one anti-affinity group",
                            masters[0])
    for r in resources:
        kind = kind_of(r.type)
        want = cfg["minReplicas"].get(kind or "")
        if want is None:
            continue
        if kind == "Elasticsearch":
            count = sum(number(opt(n, "count")) or 0 for n in elements(opt(r.props, "spec.nodeSets")))
        else:
            count = number(opt(r.props, "spec.instances") if kind == "Cluster" else opt(r.props, "spec.replicas"))
        if count is not None and count < want:
            yield Violation(f"{kind} {namespace_of(r)}/{name_of(r)} runs {int(count)} replicas; HA needs {want}", r)


stack_rule(meta("ST-09", "medium", "Production is highly available: 3 masters in one anti-affinity group, replicated data services",
                ["COPRS:ha", "Kubespray:etcd-quorum"],
                "Run 3 (or 5) control-plane nodes in one anti-affinity server group and ≥ 3 replicas of data services.",
                {"requireHa": flag("this stack must be highly available (prod)", False),
                 "minReplicas": {"type": "object", "additionalProperties": {"type": "integer"},
                                 "default": {"Cluster": 3, "Elasticsearch": 3, "KafkaNodePool": 3},
                                 "description": "kind → minimum replicas (CNPG Cluster.instances, ECK node count, replicas)"}}),
           _st09, (INSTANCE, SERVER_GROUP))

# ---------------------------------------------------------------------------------------------
# ST-10 .. ST-12: services, secret references, certificates

NODE_PORTS = range(30000, 32768)


def declared_node_ports(resources: list[Res]) -> dict[int, Res]:
    out: dict[int, Res] = {}
    for r in resources:
        if is_kind(r.type, "Service", group="core") and opt(r.props, "spec.type") in ("NodePort", "LoadBalancer"):
            for p in elements(opt(r.props, "spec.ports")):
                n = number(opt(p, "nodePort"))
                if n:
                    out[int(n)] = r
        elif r.type in HELM_TYPES:
            for path, v in value_nodes(r):
                n = number(v) if path and path[-1] == "nodePort" else None
                if n:
                    out[int(n)] = r
    return out


def _st10(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    if not any(kind_of(r.type) or r.type in HELM_TYPES for r in resources):
        raise NotApplicable("the program declares no Kubernetes object yet")
    declared = declared_node_ports(resources)
    targeted: dict[int, Res] = {}
    for m in by_type(resources, MEMBER):
        p = number(opt(m.props, "protocolPort"))
        if p is not None and int(p) in NODE_PORTS:
            targeted[int(p)] = m
    for port, m in sorted(targeted.items()):
        if port not in declared:
            yield Violation(f"load balancer members target NodePort {port}, which no Service or Release declares", m)
    for port, r in sorted(declared.items()):
        if targeted and port not in targeted and port not in cfg["internalNodePorts"]:
            yield Violation(f"NodePort {port} of {r.name} is not behind the load balancer (exposed on every node)", r)


stack_rule(meta("ST-10", "medium", "NodePorts and the load balancer pools agree", ["COPRS:correctness", "kube-score:service-type"],
                "Pin the gateway Service's nodePorts to the ports the Octavia pools target (32080/32443).",
                {"internalNodePorts": {"type": "array", "items": {"type": "integer"}, "default": [],
                                       "description": "NodePorts used only from inside the node network (e.g. LDAP for PAM)"}}),
           _st10, (MEMBER, "kubernetes:core/v1:Service", *HELM_TYPES))

REF_KEYS = re.compile(r"^(existingSecret|existingSecretName|existingObjstoreSecret|secretName|[A-Za-z]*SecretName)$")


def secret_references(resources: list[Res]) -> Iterator[tuple[Res, str, str, str]]:
    """(resource, namespace, secret name, where) for Secrets a Release or a workload names."""
    for r in resources:
        ns = namespace_of(r)
        if r.type in HELM_TYPES:
            for path, v in value_nodes(r):
                if path and isinstance(path[-1], str) and isinstance(v, str) and v:
                    if REF_KEYS.match(path[-1]) or (path[-1] == "name" and len(path) > 1 and path[-2] == "secretKeyRef"):
                        yield r, ns, v, f"values {dotted(path)}"
        elif typed_workload(r.type):
            for pod in pod_specs(r):
                for i, v in enumerate(elements(opt(pod.spec, "volumes"))):
                    if opt(v, "secret.secretName") and not truthy(opt(v, "secret.optional")):
                        yield r, ns, str(opt(v, "secret.secretName")), f"{pod.where}.volumes[{i}]"
                for lst in ("initContainers", "containers"):
                    for c in elements(opt(pod.spec, lst)):
                        for e in elements(opt(c, "env")):
                            ref = opt(e, "valueFrom.secretKeyRef")
                            if is_map(ref) and opt(ref, "name") and not truthy(opt(ref, "optional")):
                                yield r, ns, str(opt(ref, "name")), f"{pod.where}.{lst} env {opt(e, 'name')}"
                        for e in elements(opt(c, "envFrom")):
                            if opt(e, "secretRef.name") and not truthy(opt(e, "secretRef.optional")):
                                yield r, ns, str(opt(e, "secretRef.name")), f"{pod.where}.{lst} envFrom"


def _st11(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    refs = list(secret_references(resources))
    if not refs:
        raise NotApplicable("nothing references a Secret by name")
    provided = {(namespace_of(r), name_of(r)) for r in resources if is_kind(r.type, "Secret", group="core")}
    provided |= {(namespace_of(r), str(opt(r.props, "spec.secretName"))) for r in resources
                 if is_kind(r.type, "Certificate", group="cert-manager.io") and opt(r.props, "spec.secretName")}
    for r, ns, name, where in refs:
        if (ns, name) in provided or any(re.fullmatch(p, f"{ns}/{name}") for p in cfg["externalSecrets"]):
            continue
        yield Violation(f"{where} of {r.name} names Secret {ns}/{name}, which nothing in the program creates", r)


stack_rule(meta("ST-11", "medium", "Every Secret a Release or workload names is created by the program (same namespace)",
                ["COPRS:correctness", "COPRS:secrets"],
                "Create the Secret (from pulumi-random/pulumi-tls outputs) in the release's namespace, or list Secrets "
                "created by operators in `externalSecrets`.",
                {"externalSecrets": strings("`namespace/name` regexes of Secrets created outside the program (operators)", [])}),
           _st11, ("kubernetes:core/v1:Secret", *HELM_TYPES))


def public_hosts(resources: list[Res]) -> Iterator[tuple[Res, str]]:
    for r in resources:
        kind = kind_of(r.type)
        if is_kind(r.type, "Ingress", group="networking.k8s.io"):
            for rule_ in elements(opt(r.props, "spec.rules")):
                if opt(rule_, "host"):
                    yield r, str(opt(rule_, "host"))
        elif kind == "ApisixRoute":
            for h in elements(opt(r.props, "spec.http")):
                for host in elements(opt(h, "match.hosts")):
                    yield r, str(host)
        elif kind in ("HTTPRoute", "GRPCRoute", "TLSRoute"):
            for host in elements(opt(r.props, "spec.hostnames")):
                yield r, str(host)
        elif kind == "Gateway":
            for lst in elements(opt(r.props, "spec.listeners")):
                if opt(lst, "hostname"):
                    yield r, str(opt(lst, "hostname"))


def certificate_names(resources: list[Res]) -> list[str]:
    out: list[str] = []
    for r in resources:
        kind = kind_of(r.type)
        if is_kind(r.type, "Certificate", group="cert-manager.io"):
            out += [str(x) for x in elements(opt(r.props, "spec.dnsNames"))]
            if opt(r.props, "spec.commonName"):
                out.append(str(opt(r.props, "spec.commonName")))
        elif kind == "ApisixTls":
            out += [str(x) for x in elements(opt(r.props, "spec.hosts"))]
        elif is_kind(r.type, "Ingress", group="networking.k8s.io"):
            out += [str(h) for t in elements(opt(r.props, "spec.tls")) for h in elements(opt(t, "hosts"))]
    return out


def _st12(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    hosts = [(r, h) for r, h in public_hosts(resources)
             if not cfg["publicDomains"] or any(h == d or h.endswith("." + d) for d in cfg["publicDomains"])]
    if not hosts:
        raise NotApplicable("no public hostname is declared")
    names = certificate_names(resources)
    for r, h in hosts:
        if not host_covered(h, names):
            yield Violation(f"hostname {h} ({r.name}) has no certificate covering it", r)


stack_rule(meta("ST-12", "medium", "Every public hostname has a certificate covering it", ["gatekeeper:httpsonly", "NSA:encrypt-in-transit"],
                "Add the hostname to the wildcard Certificate's dnsNames (or an ApisixTls/Certificate of its own).",
                {"publicDomains": strings("public DNS domains (empty: every hostname counts)", [])}), _st12,
           ("kubernetes:cert-manager.io/v1:Certificate", "kubernetes:apisix.apache.org/v2:ApisixTls",
            "kubernetes:apisix.apache.org/v2:ApisixRoute", "kubernetes:networking.k8s.io/v1:Ingress"))


# ---------------------------------------------------------------------------------------------
# identity: ST-14

REALM_LABEL = "coprs.esa.int/realm"
_DISCOVERY = re.compile(r"^https://[^/]+/realms/([^/]+)/\.well-known/openid-configuration$")


def realm_documents(resources: list[Res]) -> list[tuple[Res, dict]]:
    """(ConfigMap, realm) for every realm document the program imports (ConfigMaps labelled with the realm)."""
    import json

    out = []
    for r in resources:
        labels = opt(r.props, "metadata.labels")
        if not is_kind(r.type, "ConfigMap", group="core") or not is_map(labels) or not labels.get(REALM_LABEL):
            continue
        for _, text in items(opt(r.props, "data")):
            try:
                doc = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                doc = None
            if is_map(doc) and doc.get("realm"):
                out.append((r, doc))
    return out


def oidc_route_clients(resources: list[Res]) -> Iterator[tuple[Res, str, str, str]]:
    """(route, client_id, realm of its discovery URL, redirect_uri) of every openid-connect plugin on a route."""
    for r in resources:
        if kind_of(r.type) != "ApisixRoute":
            continue
        for h in elements(opt(r.props, "spec.http")):
            for p in elements(opt(h, "plugins")):
                if opt(p, "name") == "openid-connect" and not falsy_enable(p):
                    conf = opt(p, "config") or {}
                    m = _DISCOVERY.match(str(opt(conf, "discovery") or ""))
                    yield r, str(opt(conf, "client_id")), (m.group(1) if m else ""), str(opt(conf, "redirect_uri") or "")


def falsy_enable(plugin: Any) -> bool:
    return opt(plugin, "enable") is False


def claim_clients(resources: list[Res]) -> set[str]:
    """Client ids handed to apps doing their own OAuth (Secrets with a `client-id` key)."""
    out = set()
    for r in resources:
        if is_kind(r.type, "Secret", group="core"):
            cid = opt(r.props, "stringData.client-id")
            if isinstance(cid, str) and cid:
                out.add(cid)
    return out


def _st14(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    realms = realm_documents(resources)
    routes = list(oidc_route_clients(resources))
    if not realms and not routes:
        raise NotApplicable("no realm and no route behind OIDC")
    clients: dict[tuple[str, str], dict] = {}
    for _, doc in realms:
        for c in elements(doc.get("clients")):
            clients[(str(doc["realm"]), str(opt(c, "clientId")))] = c
    used: set[tuple[str, str]] = set()
    for r, cid, realm, redirect in routes:
        c = clients.get((realm, cid))
        if c is None:
            yield Violation(f"route {r.name} signs in with client {cid!r} of realm {realm or '?'}, which no realm "
                            "document declares", r)
            continue
        used.add((realm, cid))
        if redirect and redirect not in elements(opt(c, "redirectUris")):
            yield Violation(f"route {r.name}: client {cid!r} does not list its redirect URI {redirect}", r)
    for_apps = claim_clients(resources)
    for cm, doc in realms:
        for c in elements(doc.get("clients")):
            cid = str(opt(c, "clientId"))
            for uri in elements(opt(c, "redirectUris")):
                if "*" in str(uri):
                    yield Violation(f"realm {doc['realm']}: client {cid!r} has a wildcard redirect URI {uri}", cm)
            if truthy(opt(c, "publicClient")):
                if (opt(c, "attributes") or {}).get("pkce.code.challenge.method") != "S256":
                    yield Violation(f"realm {doc['realm']}: public client {cid!r} does not require PKCE (S256)", cm)
                continue  # public clients serve CLIs (kubectl) the stack cannot see
            if (str(doc["realm"]), cid) not in used and cid not in for_apps and \
                    not any(re.fullmatch(p, cid) for p in cfg["externalClients"]):
                yield Violation(f"realm {doc['realm']}: client {cid!r} is used by no route and no app", cm)


stack_rule(meta("ST-14", "high", "Every route's OIDC client is declared in the realm, and every realm client is used",
                ["COPRS:correctness", "COPRS:ui-behind-oidc"],
                "Declare the client in the realm (routes register theirs in Platform.oidc_clients, apps through an "
                "OidcClient claim) or remove the unused client; no wildcard redirect, PKCE on public clients.",
                {"externalClients": strings("client ids (regexes) used from outside the stack", [])}),
           _st14, ("kubernetes:core/v1:ConfigMap", "kubernetes:apisix.apache.org/v2:ApisixRoute"))
