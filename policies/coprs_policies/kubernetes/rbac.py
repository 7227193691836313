"""Service accounts (K-25, K-26) and RBAC (K-31 .. K-37)."""

from __future__ import annotations

import re
from typing import Callable, Iterator, Optional

from ..base import Cfg, Res, StackRule, Violation, as_list, elements, get, key, meta, opt, strings
from ..k8s import is_kind, kind_of, name_of, namespace_of, pod_specs, scope_of, typed_workload

from .common import RULES, kinds, rule


# ---------------------------------------------------------------------------------------------
# service accounts (K-25, K-26)


BINDINGS = ("RoleBinding", "ClusterRoleBinding")


def bound_service_accounts(resources: list[Res]) -> set[tuple[str, str]]:
    out = set()
    for b in resources:
        if not is_kind(b.type, *BINDINGS, group="rbac.authorization.k8s.io"):
            continue
        bns = namespace_of(b)
        for s in elements(opt(b.props, "subjects")):
            if opt(s, "kind") == "ServiceAccount":
                out.add((str(opt(s, "namespace") or bns), str(opt(s, "name"))))
    return out


def _k25(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    bound = bound_service_accounts(resources)
    sas = {(namespace_of(r), name_of(r)): r for r in resources if is_kind(r.type, "ServiceAccount", group="core")}
    workloads = [r for r in resources if typed_workload(r.type)]
    if not sas and not workloads:
        return
    for key, sa in sas.items():
        if key not in bound and opt(sa.props, "automountServiceAccountToken") is not False:
            yield Violation(f"service account {key[0]}/{key[1]} has no role binding but mounts its token", sa)
    for w in workloads:
        ns = namespace_of(w)
        for pod in pod_specs(w):
            sa_name = str(opt(pod.spec, "serviceAccountName") or opt(pod.spec, "serviceAccount") or "default")
            own = opt(pod.spec, "automountServiceAccountToken")
            sa = sas.get((ns, sa_name))
            effective = own if own is not None else (opt(sa.props, "automountServiceAccountToken") if sa else None)
            if effective is not False and (ns, sa_name) not in bound:
                yield Violation(f"{kind_of(w.type)} {ns}/{name_of(w)} mounts the token of {sa_name}, which has no role binding",
                                w)


RULES.append(StackRule(
    meta("K-25", "medium", "Service account tokens are mounted only where the account has permissions",
         ["CIS-5.1.6", "CKV_K8S_38", "NSA:C-0034", "Polaris:automountServiceAccountToken"],
         "Set `automountServiceAccountToken: false` on service accounts and pods that never call the API."),
    "kubernetes", _k25, namespace_of=scope_of,
    subjects=("kubernetes:core/v1:ServiceAccount", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
              "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")))


def _k26(res: Res, cfg: Cfg) -> Iterator[str]:
    if typed_workload(res.type):
        for pod in pod_specs(res):
            sa = opt(pod.spec, "serviceAccountName") or opt(pod.spec, "serviceAccount")
            if not sa or sa == "default":
                yield f"{pod.where} runs as the namespace's default service account"
    elif is_kind(res.type, *BINDINGS, group="rbac.authorization.k8s.io"):
        for s in elements(get(res.props, "subjects")):
            if opt(s, "kind") == "ServiceAccount" and opt(s, "name") == "default":
                yield f"the binding grants {opt(res.props, 'roleRef.name')} to a default service account"


rule(meta("K-26", "medium", "Workloads use their own service account, and nothing is bound to `default`",
          ["CIS-5.1.5", "CKV_K8S_41", "CKV_K8S_42", "kube-linter:default-service-account"],
          "Create a ServiceAccount per workload and set `serviceAccountName`; bind roles to it, not to `default`."),
     _k26, applies=lambda t: typed_workload(t) or is_kind(t, *BINDINGS))




# ---------------------------------------------------------------------------------------------
# RBAC (K-31 .. K-37)

ROLES = ("Role", "ClusterRole")


def role_key(res: Res) -> str:
    ns = namespace_of(res)
    return f"{ns}/{name_of(res)}" if ns else name_of(res)


def role_rules(res: Res) -> Iterator[tuple[int, set, set, set, bool]]:
    """(index, apiGroups, resources, verbs, restricted to resourceNames) per rule of a Role/ClusterRole."""
    for i, r in enumerate(elements(get(res.props, "rules"))):
        yield (i, {str(x) for x in elements(opt(r, "apiGroups"))}, {str(x) for x in elements(opt(r, "resources"))},
               {str(x) for x in elements(opt(r, "verbs"))}, bool(as_list(opt(r, "resourceNames"))))


def allowed_role(res: Res, cfg: Cfg) -> bool:
    return any(re.fullmatch(p, role_key(res)) for p in cfg["allowedRoles"])


# Spring Cloud Data Flow and Skipper deploy tasks and streams as pods and resolve app properties from Secrets.
SCDF_ROLES = ["processing/(scdf|skipper|dataflow|spring-cloud-dataflow).*"]


def _rbac_rule(rule_meta, match: Callable[[set, set, set, bool], Optional[str]], allowed: Optional[list[str]] = None) -> None:
    rule_meta.config = {"allowedRoles": strings("roles allowed this permission, as `namespace/name` (Role) or `name` "
                                                "(ClusterRole) regexes", allowed or []), **rule_meta.config}

    def run(res: Res, cfg: Cfg) -> Iterator[str]:
        if allowed_role(res, cfg):
            return
        for i, groups, resources, verbs, named in role_rules(res):
            found = match(groups, resources, verbs, named)
            if found:
                yield f"{kind_of(res.type)} {role_key(res)} rules[{i}] {found}"

    rule(rule_meta, run, applies=kinds(*ROLES, group="rbac.authorization.k8s.io"))


def _on(resources: set, groups: set, *names: str, core: bool = True) -> bool:
    return bool(resources & {*names, "*"}) and (not core or bool(groups & {"", "*"}) or not groups)


_rbac_rule(meta("K-32", "high", "No wildcard in Role/ClusterRole apiGroups, resources or verbs",
                ["CIS-5.1.3", "CKV_K8S_49", "KSV-0044", "KSV-0045", "KSV-0046"],
                "List the API groups, resources and verbs the workload needs."),
           lambda g, r, v, n: "uses a wildcard" if "*" in g | r | v else None)
_rbac_rule(meta("K-33", "high", "No read access to Secrets beyond allow-listed roles", ["CIS-5.1.2", "CKV2_K8S_5", "KSV-0041"],
                "Grant get on the named Secrets only (`resourceNames`), or allow-list the role with a reason."),
           lambda g, r, v, n: "reads secrets" if _on(r, g, "secrets") and v & {"get", "list", "watch", "*"} and not n else None,
           SCDF_ROLES)
_rbac_rule(meta("K-34", "medium", "No pod creation, exec or attach beyond allow-listed roles", ["CIS-5.1.4", "CKV2_K8S_2", "KSV-0048",
                                                                                               "Polaris:rolePodExecAttach"],
                "Remove create on pods and pods/exec|attach, or allow-list the controller that needs it."),
           lambda g, r, v, n: ("creates pods" if _on(r, g, "pods") and v & {"create", "*"} else
                               "execs or attaches into pods" if _on(r, g, "pods/exec", "pods/attach") and v & {"create", "get", "*"}
                               else None),
           SCDF_ROLES)
_rbac_rule(meta("K-35", "high", "No bind, escalate or impersonate", ["CIS-5.1.8", "CKV_K8S_157", "CKV_K8S_158", "CKV2_K8S_3",
                                                                     "KSV-0043"],
                "Remove the verbs; an operator that must create bindings gets bind on named roles only."),
           lambda g, r, v, n: (f"grants {', '.join(sorted(v & {'bind', 'escalate', 'impersonate'}))}"
                               if v & {"bind", "escalate", "impersonate"} and not n else None))

SENSITIVE_RESOURCES = [
    ({"nodes/proxy"}, {"get", "create", "*"}, "reaches nodes/proxy (kubelet API)"),
    ({"certificatesigningrequests/approval"}, {"update", "patch", "*"}, "approves CSRs"),
    ({"validatingwebhookconfigurations", "mutatingwebhookconfigurations"}, {"create", "update", "patch", "delete", "*"},
     "writes admission webhook configurations"),
    ({"serviceaccounts/token"}, {"create", "*"}, "creates service account tokens"),
    ({"persistentvolumes"}, {"create", "*"}, "creates persistent volumes"),
    ({"services/status"}, {"update", "patch", "*"}, "updates services/status (CVE-2020-8554)"),
]


def _k36(g, r, v, n):
    for res_names, verbs, what in SENSITIVE_RESOURCES:
        if r & res_names and v & verbs:
            return what
    return None


_rbac_rule(meta("K-36", "high", "No access to node proxy, CSR approval, webhooks, token creation, PV creation, services/status",
                ["CIS-5.1.9", "CIS-5.1.10", "CIS-5.1.11", "CIS-5.1.12", "CIS-5.1.13", "CKV_K8S_155", "CKV_K8S_156", "CKV2_K8S_4"],
                "Remove the permission or allow-list the one controller that needs it."), _k36)


def _subjects(res: Res) -> list[str]:
    return [f"{opt(s, 'kind')}:{(str(opt(s, 'namespace')) + '/') if opt(s, 'namespace') else ''}{opt(s, 'name')}"
            for s in elements(get(res.props, "subjects"))]


def _k31(res: Res, cfg: Cfg) -> Iterator[str]:
    if opt(res.props, "roleRef.name") != "cluster-admin":
        return
    for s in _subjects(res):
        if not any(re.fullmatch(p, s) for p in cfg["allowedSubjects"]):
            yield f"binds cluster-admin to {s}"


rule(meta("K-31", "high", "cluster-admin only for allow-listed subjects", ["CIS-5.1.1", "KSV-0111", "Polaris:clusterrolebindingClusterAdmin"],
          "Bind a namespaced admin Role instead, or allow-list the subject (`Kind:[namespace/]name` regex) with a reason.",
          {"allowedSubjects": strings("subjects allowed cluster-admin, `Kind:[namespace/]name` regexes", [])}),
     _k31, applies=kinds(*BINDINGS, group="rbac.authorization.k8s.io"))

PUBLIC_GROUPS = {"system:anonymous", "system:unauthenticated", "system:masters"}
DISCOVERY_ROLES = {"system:discovery", "system:basic-user", "system:public-info-viewer"}


def _k37(res: Res, cfg: Cfg) -> Iterator[str]:
    role = opt(res.props, "roleRef.name")
    for s in elements(get(res.props, "subjects")):
        name = str(opt(s, "name"))
        if name in PUBLIC_GROUPS or (name == "system:authenticated" and role not in DISCOVERY_ROLES):
            yield f"binds {role} to {name}"


rule(meta("K-37", "critical", "Nothing bound to anonymous, unauthenticated, all-authenticated or system:masters",
          ["CIS-5.1.7", "KSV-0122", "KSV-0123"], "Bind to named users, groups or service accounts."),
     _k37, applies=kinds(*BINDINGS, group="rbac.authorization.k8s.io"))
