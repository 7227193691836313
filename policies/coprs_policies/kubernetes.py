"""Kubernetes rules (K-01..K-45) on typed objects: pod specs (every controller kind, Patch tokens, and the
pod templates of the ECK and Strimzi custom resources), RBAC, Services, NetworkPolicies, namespaces.

Pod Security rules follow the level the namespace enforces (config `namespaceLevels`), like PSA does:
baseline controls apply in baseline and restricted namespaces, restricted controls in restricted ones.
Rules that require a field to be *set* skip operator pod templates (`partial`), which the operator
completes; rules that forbid a value check them too.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator, Optional

from . import credentials as cred
from .base import (
    Cfg, NotApplicable, Res, ResourceRule, StackRule, Violation, as_list, elements, falsy, flag, get, has, is_map, items, key, meta,
    number, opt, strings, truthy,
)
from .k8s import (
    LEVELS, LEVELS_SCHEMA, LONG_RUNNING, MUTABLE_TAGS, PodSpec, at_least, cluster_scoped, containers, has_pods,
    host_covered, image_refs, is_kind, kind_of, level_of, module_of, name_of, namespace_of, parse_image, pod_labels,
    pod_specs, registries_schema, registry_allowed, scope_of, selector_matches, typed_workload,
)
from .netsec import network

RULES: list = []
PodCheck = Callable[[PodSpec, Res, Cfg], Iterator[str]]


def _k8s_object(t: str) -> bool:
    return kind_of(t) is not None


def rule(m, check, applies=_k8s_object) -> None:
    RULES.append(ResourceRule(m, "kubernetes", (), check, applies=applies, namespace_of=scope_of))


def kinds(*names: str, group: Optional[str] = None) -> Callable[[str], bool]:
    return lambda t: is_kind(t, *names, group=group)


def pod_rule(m, floor: Optional[str], check: PodCheck, explicit: bool = False) -> None:
    """A rule over every pod spec, where the namespace's Pod Security level is at least `floor`."""
    m.config = {**LEVELS_SCHEMA, **m.config}

    def run(res: Res, cfg: Cfg) -> Iterator[str]:
        if floor and not at_least(level_of(namespace_of(res), cfg), floor):
            return
        for pod in pod_specs(res):
            if explicit and pod.partial:
                continue
            yield from check(pod, res, cfg)

    rule(m, run, applies=has_pods)


def sc(m: Any) -> Any:
    return opt(m, "securityContext") or {}


def _windows(pod: PodSpec) -> bool:
    return opt(pod.spec, "os.name") == "windows"


# ---------------------------------------------------------------------------------------------
# Pod Security Standards: baseline (K-01 .. K-13)


def _k01(pod, res, cfg):
    for f in ("hostNetwork", "hostPID", "hostIPC"):
        if truthy(get(pod.spec, f)):
            yield f"{pod.where}.{f} is true"


pod_rule(meta("K-01", "high", "Pods do not share the host's network, PID or IPC namespaces",
              ["PSS:baseline/hostNamespaces", "CIS-5.2.3", "CIS-5.2.4", "CIS-5.2.5", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19",
               "NSA:C-0038", "NSA:C-0041"],
              "Remove hostNetwork/hostPID/hostIPC, or run the pod in a namespace whose Pod Security level is privileged."),
         "baseline", _k01)


def _k02(pod, res, cfg):
    for where, c in containers(pod):
        if truthy(get(sc(c), "privileged")):
            yield f"{pod.where}.{where} runs privileged"


pod_rule(meta("K-02", "critical", "No privileged containers", ["PSS:baseline/privileged", "CIS-5.2.2", "CKV_K8S_16", "NSA:C-0057"],
              "Remove `securityContext.privileged: true`; grant the one capability the container needs, or move it to "
              "a namespace allowed privileged pods."), "baseline", _k02)

BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
DANGEROUS_CAPS = {"SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_MODULE", "ALL", "SYS_PTRACE", "BPF", "PERFMON"}


def _k03(pod, res, cfg):
    restricted = level_of(namespace_of(res), cfg) == "restricted"
    for where, c in containers(pod):
        added = {str(x).upper().removeprefix("CAP_") for x in elements(get(sc(c), "capabilities.add"))}
        bad = {a for a in added if a in DANGEROUS_CAPS or a not in BASELINE_CAPS or (restricted and a != "NET_BIND_SERVICE")}
        if bad:
            yield f"{pod.where}.{where} adds capabilities {', '.join(sorted(bad))}"


pod_rule(meta("K-03", "high", "Containers add no capability beyond the Pod Security set (only NET_BIND_SERVICE when restricted)",
              ["PSS:baseline/capabilities", "PSS:restricted/capabilities", "CIS-5.2.9", "CKV_K8S_25", "CKV_K8S_39", "NSA:C-0046"],
              "Remove the added capabilities; only NET_BIND_SERVICE is allowed in restricted namespaces."), "baseline", _k03)


def _k04(pod, res, cfg):
    if _windows(pod):
        return
    for where, c in containers(pod):
        drop = {str(x).upper() for x in elements(get(sc(c), "capabilities.drop"))}
        if "ALL" not in drop:
            yield f"{pod.where}.{where} does not drop ALL capabilities"


pod_rule(meta("K-04", "medium", "Containers drop ALL capabilities", ["PSS:restricted/capabilities", "CIS-5.2.8", "CKV_K8S_28",
                                                                       "CKV_K8S_37"],
              "Set `securityContext.capabilities.drop: [ALL]` on every container."), "restricted", _k04, explicit=True)

RUNTIME_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
                   "/var/run/containerd/containerd.sock", "/var/run/crio/crio.sock", "/run/crio/crio.sock")


def _k05(pod, res, cfg):
    level = level_of(namespace_of(res), cfg)
    for i, v in enumerate(as_list(get(pod.spec, "volumes"))):
        if not has(v, "hostPath"):
            continue
        path = str(opt(v, "hostPath.path") or "")
        norm = path.rstrip("/") or "/"
        if level != "privileged":
            yield f"{pod.where}.volumes[{i}] mounts host path {path}"
        elif norm in RUNTIME_SOCKETS or norm == "/" or norm.endswith(".sock") and "docker" in norm:
            yield f"{pod.where}.volumes[{i}] mounts {path} (the container runtime or the host root)"


pod_rule(meta("K-05", "high", "No hostPath volumes (never the runtime socket or / even where privileged)",
              ["PSS:baseline/hostPathVolumes", "CIS-5.2.11", "CKV_K8S_27", "kube-linter:sensitive-host-mounts"],
              "Use a PVC, emptyDir or projected volume; node agents that need host paths go to a privileged namespace."),
         None, _k05)


def _k06(pod, res, cfg):
    for where, c in containers(pod):
        for p in elements(get(c, "ports")):
            hp = number(opt(p, "hostPort"))
            if hp:
                yield f"{pod.where}.{where} binds host port {int(hp)}"


pod_rule(meta("K-06", "medium", "No host ports", ["PSS:baseline/hostPorts", "CIS-5.2.12", "CKV_K8S_26", "NSA:C-0044"],
              "Remove `hostPort`; expose the pod through a Service."), "baseline", _k06)


def _k07(pod, res, cfg):
    if str(opt(sc(pod.spec), "appArmorProfile.type") or "") == "Unconfined":
        yield f"{pod.where}.securityContext sets AppArmor Unconfined"
    for where, c in containers(pod):
        if str(opt(sc(c), "appArmorProfile.type") or "") == "Unconfined":
            yield f"{pod.where}.{where} sets AppArmor Unconfined"
    for k, v in items(opt(pod.meta, "annotations")):
        if k.startswith("container.apparmor.security.beta.kubernetes.io/") and str(v) == "unconfined":
            yield f"annotation {k} is unconfined"


pod_rule(meta("K-07", "medium", "AppArmor is never Unconfined", ["PSS:baseline/appArmorProfile", "NSA:C-0055"],
              "Use RuntimeDefault (or a Localhost profile)."), "baseline", _k07)

SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _selinux(where: str, m: Any) -> Iterator[str]:
    se = opt(sc(m), "seLinuxOptions")
    if not is_map(se):
        return
    if str(opt(se, "type") or "") not in SELINUX_TYPES:
        yield f"{where} sets SELinux type {opt(se, 'type')}"
    for f in ("user", "role"):
        if opt(se, f):
            yield f"{where} sets SELinux {f}"


def _k08(pod, res, cfg):
    yield from _selinux(pod.where, pod.spec)
    for where, c in containers(pod):
        yield from _selinux(f"{pod.where}.{where}", c)


pod_rule(meta("K-08", "medium", "SELinux options stay within the container types", ["PSS:baseline/seLinuxOptions"],
              "Remove custom SELinux user/role and use a container_* type."), "baseline", _k08)


def _k09(pod, res, cfg):
    for where, c in containers(pod):
        pm = opt(sc(c), "procMount")
        if pm not in (None, "", "Default"):
            yield f"{pod.where}.{where} uses procMount {pm}"


pod_rule(meta("K-09", "medium", "/proc is mounted with the default mask", ["PSS:baseline/procMount", "PSS:restricted/procMount"],
              "Remove `procMount` or set it to Default."), "baseline", _k09)

SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def _k10(pod, res, cfg):
    pod_type = opt(sc(pod.spec), "seccompProfile.type")
    if pod_type == "Unconfined":
        yield f"{pod.where}.securityContext sets seccomp Unconfined"
    restricted = level_of(namespace_of(res), cfg) == "restricted" and not pod.partial and not _windows(pod)
    for where, c in containers(pod):
        t = opt(sc(c), "seccompProfile.type")
        if t == "Unconfined":
            yield f"{pod.where}.{where} sets seccomp Unconfined"
        elif restricted and t not in SECCOMP_OK and pod_type not in SECCOMP_OK:
            yield f"{pod.where}.{where} has no RuntimeDefault/Localhost seccomp profile (neither pod nor container sets one)"


pod_rule(meta("K-10", "medium", "Seccomp is never Unconfined, and RuntimeDefault is explicit in restricted namespaces",
              ["PSS:baseline/seccompProfile", "PSS:restricted/seccompProfile", "CIS-5.6.2", "CKV_K8S_31"],
              "Set `securityContext.seccompProfile.type: RuntimeDefault` at pod level."), "baseline", _k10)

SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
                "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
                "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _k11(pod, res, cfg):
    for s in elements(opt(sc(pod.spec), "sysctls")):
        name = opt(s, "name")
        if name not in SAFE_SYSCTLS:
            yield f"{pod.where}.securityContext sets unsafe sysctl {name}"


pod_rule(meta("K-11", "medium", "Only safe sysctls", ["PSS:baseline/sysctls", "kube-linter:unsafe-sysctls"],
              "Remove the sysctl or set it on the node (cloud-init) instead."), "baseline", _k11)


def _k12(pod, res, cfg):
    if truthy(opt(sc(pod.spec), "windowsOptions.hostProcess")):
        yield f"{pod.where} is a Windows HostProcess pod"
    for where, c in containers(pod):
        if truthy(opt(sc(c), "windowsOptions.hostProcess")):
            yield f"{pod.where}.{where} is a Windows HostProcess container"


pod_rule(meta("K-12", "low", "No Windows HostProcess containers", ["PSS:baseline/windowsHostProcess", "CIS-5.2.10"],
              "Remove `windowsOptions.hostProcess`."), "baseline", _k12)


def _k13(pod, res, cfg):
    for where, c in containers(pod):
        for probe in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle.postStart", "lifecycle.preStop"):
            for h in ("httpGet", "tcpSocket"):
                if opt(c, f"{probe}.{h}.host"):
                    yield f"{pod.where}.{where}.{probe}.{h}.host points the kubelet at another host"


pod_rule(meta("K-13", "medium", "Probes and lifecycle hooks target the pod itself", ["PSS:baseline/hostProbesAndHostLifecycle"],
              "Remove `host` from httpGet/tcpSocket probes and hooks."), "baseline", _k13)

# ---------------------------------------------------------------------------------------------
# Pod Security Standards: restricted (K-14 .. K-19)

RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
                      "projected", "secret"}


def _k14(pod, res, cfg):
    for i, v in enumerate(as_list(get(pod.spec, "volumes"))):
        kinds_ = [k for k, _ in items(v) if k != "name"]
        bad = [k for k in kinds_ if k not in RESTRICTED_VOLUMES]
        if bad:
            yield f"{pod.where}.volumes[{i}] uses volume type {', '.join(bad)}"


pod_rule(meta("K-14", "medium", "Only restricted volume types in restricted namespaces", ["PSS:restricted/volumes"],
              "Use configMap, secret, projected, emptyDir, PVC, CSI or ephemeral volumes."), "restricted", _k14)


def _k15(pod, res, cfg):
    if _windows(pod):
        return
    for where, c in containers(pod):
        if get(sc(c), "allowPrivilegeEscalation") is not False:
            yield f"{pod.where}.{where} does not set allowPrivilegeEscalation: false"


pod_rule(meta("K-15", "high", "Containers set allowPrivilegeEscalation: false", ["PSS:restricted/allowPrivilegeEscalation",
                                                                                   "CIS-5.2.6", "CKV_K8S_20", "NSA:C-0016"],
              "Set `securityContext.allowPrivilegeEscalation: false` on every container."), "restricted", _k15, explicit=True)


def _k16(pod, res, cfg):
    pod_level = get(sc(pod.spec), "runAsNonRoot")
    for where, c in containers(pod):
        own = get(sc(c), "runAsNonRoot")
        if own is False or (own is not True and pod_level is not True):
            yield f"{pod.where}.{where} may run as root (runAsNonRoot is not true at pod or container level)"


pod_rule(meta("K-16", "high", "Pods run as non-root", ["PSS:restricted/runAsNonRoot", "CIS-5.2.7", "CKV_K8S_23", "NSA:C-0013"],
              "Set `securityContext.runAsNonRoot: true` (and a non-zero runAsUser) at pod level."), "restricted", _k16,
         explicit=True)


def _k17(pod, res, cfg):
    floor = int(cfg["minimumUid"])
    for where, m in [(pod.where, pod.spec), *[(f"{pod.where}.{w}", c) for w, c in containers(pod)]]:
        uid = number(opt(sc(m), "runAsUser"))
        if uid is not None and uid < floor:
            yield f"{where} runs as uid {int(uid)}" + (" (root)" if uid == 0 else f" (below {floor})")


pod_rule(meta("K-17", "medium", "No container runs as uid 0", ["PSS:restricted/runAsUser", "CKV_K8S_40"],
              "Set a non-zero `runAsUser` (10000+ avoids clashing with host users).",
              {"minimumUid": {"type": "integer", "minimum": 1, "default": 1, "description": "lowest uid allowed"}}),
         "restricted", _k17)


def _k18(pod, res, cfg):
    psc = sc(pod.spec)
    for f in ("runAsGroup", "fsGroup"):
        if number(opt(psc, f)) == 0:
            yield f"{pod.where}.securityContext.{f} is 0 (root group)"
    if any(number(g) == 0 for g in elements(opt(psc, "supplementalGroups"))):
        yield f"{pod.where}.securityContext.supplementalGroups contains 0"
    for where, c in containers(pod):
        if number(opt(sc(c), "runAsGroup")) == 0:
            yield f"{pod.where}.{where}.securityContext.runAsGroup is 0"


pod_rule(meta("K-18", "low", "No root group", ["PSS:restricted/non-root-groups(optional)", "KSV-0116"],
              "Set non-zero runAsGroup/fsGroup and drop group 0 from supplementalGroups."), "restricted", _k18)


def _k19(pod, res, cfg):
    for where, c in containers(pod):
        if where.startswith("ephemeralContainers"):
            continue
        if get(sc(c), "readOnlyRootFilesystem") is not True:
            yield f"{pod.where}.{where} has a writable root filesystem"


pod_rule(meta("K-19", "medium", "Containers have a read-only root filesystem", ["CKV_K8S_22", "NSA:C-0017", "KSV-0014"],
              "Set `readOnlyRootFilesystem: true` and mount an emptyDir where the app writes (/tmp, caches)."),
         "baseline", _k19, explicit=True)

# ---------------------------------------------------------------------------------------------
# resources, images, probes (K-20 .. K-24)


def _k20(pod, res, cfg):
    for where, c in containers(pod):
        if where.startswith("ephemeralContainers"):
            continue
        r = opt(c, "resources") or {}
        missing = [k for k in ("requests.cpu", "requests.memory", "limits.memory") if not opt(r, k)]
        if cfg["requireCpuLimit"] and not opt(r, "limits.cpu"):
            missing.append("limits.cpu")
        if missing:
            yield f"{pod.where}.{where} sets no {', '.join(missing)}"


pod_rule(meta("K-20", "medium", "Containers request CPU and memory and cap memory",
              ["CKV_K8S_10", "CKV_K8S_12", "CKV_K8S_13", "NSA:C-0270", "NSA:C-0271", "kube-score:container-resources"],
              "Set resources.requests.cpu/memory and resources.limits.memory on every container.",
              {"requireCpuLimit": flag("also require limits.cpu", False)}), None, _k20, explicit=True)


def _has_images(t: str) -> bool:
    return kind_of(t) is not None and not cluster_scoped(t)


def _k21(res: Res, cfg: Cfg) -> Iterator[str]:
    for where, ref in image_refs(res):
        img = parse_image(ref)
        if img.digest:
            continue
        if not img.tag:
            yield f"{where}: image {ref} has no tag (implicit latest)"
        elif img.tag.lower() in MUTABLE_TAGS:
            yield f"{where}: image {ref} uses the mutable tag {img.tag}"


rule(meta("K-21", "high", "Images are pinned (a version tag or a digest, never latest)",
          ["CKV_K8S_14", "CKV_K8S_43", "KSV-0013", "kube-linter:latest-tag", "CIS-5.5.1"],
          "Pin the image to a released version tag, ideally with its @sha256 digest."), _k21, applies=_has_images)


def _k22(res: Res, cfg: Cfg) -> Iterator[str]:
    for where, ref in image_refs(res):
        img = parse_image(ref)
        if not registry_allowed(img, cfg["allowedRegistries"]):
            yield f"{where}: image {ref} comes from {img.registry}, which is not an allowed registry"


rule(meta("K-22", "medium", "Images come from allowed registries", ["KSV-0125", "gatekeeper:allowedrepos", "CIS-5.5.1"],
          "Pull from an allowed registry (or its mirror) and add new registries to `allowedRegistries` after review.",
          {"allowedRegistries": registries_schema()}), _k22, applies=_has_images)


def _k23(pod, res, cfg):
    for where, c in containers(pod):
        img = parse_image(str(opt(c, "image") or ""))
        if opt(c, "imagePullPolicy") != "Always" and not img.digest:
            yield f"{pod.where}.{where} does not pull its image Always (and has no digest)"


pod_rule(meta("K-23", "low", "Tag-pinned images are pulled Always", ["CKV_K8S_15", "Polaris:pullPolicyNotAlways"],
              "Set `imagePullPolicy: Always`, or pin by digest (conflicts with offline mirrors: advisory)."),
         None, _k23, explicit=True)


def _k24(pod, res, cfg):
    if kind_of(res.type) not in LONG_RUNNING:
        return
    for i, c in enumerate(as_list(get(pod.spec, "containers"))):
        missing = [p for p in ("readinessProbe", "livenessProbe") if not has(c, p)]
        if missing:
            yield f"{pod.where}.containers[{i}] '{opt(c, 'name')}' has no {' or '.join(missing)}"


pod_rule(meta("K-24", "low", "Long-running containers have readiness and liveness probes", ["CKV_K8S_8", "CKV_K8S_9",
                                                                                              "kube-score:pod-probes"],
              "Add readinessProbe and livenessProbe (an HTTP health endpoint or a TCP check)."), None, _k24, explicit=True)

# ---------------------------------------------------------------------------------------------
# service accounts, namespaces, secrets in env and ConfigMaps (K-25 .. K-30)

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


def _k27(res: Res, cfg: Cfg) -> Iterator[str]:
    ns = namespace_of(res)
    if ns == "default":
        yield f"{kind_of(res.type)} {name_of(res)} is in the default namespace"
    elif ns in ("kube-system", "kube-public", "kube-node-lease") and has_pods(res.type) and \
            not any(re.fullmatch(p, name_of(res)) for p in cfg["allowedSystemWorkloads"]):
        yield f"workload {name_of(res)} runs in {ns}, which is reserved for the cluster's own components"


rule(meta("K-27", "medium", "Nothing in `default`; no user workloads in kube-system",
          ["CIS-5.6.4", "CKV_K8S_21", "kube-linter:use-namespace"],
          "Set `metadata.namespace` to the app's namespace (the provider's default namespace is `default`).",
          {"allowedSystemWorkloads": strings("workload name regexes allowed in kube-system", [])}),
     _k27, applies=lambda t: kind_of(t) is not None and not cluster_scoped(t))


def _env_findings(where: str, c: Any, cfg: Cfg) -> Iterator[str]:
    for e in elements(opt(c, "env")):
        name, value = opt(e, "name"), opt(e, "value")
        if isinstance(value, str) and (cred.secret_shaped(value) or (cred.sensitive_key(name) and cred.literal(value))):
            yield f"{where} sets env {name} to {cred.describe(value)}"
        elif cfg["flagSecretEnv"] and has(e, "valueFrom") and has(opt(e, "valueFrom"), "secretKeyRef"):
            yield f"{where} reads secret into env {name} (prefer a mounted file)"
    if cfg["flagSecretEnv"]:
        for i, e in enumerate(elements(opt(c, "envFrom"))):
            if has(e, "secretRef"):
                yield f"{where}.envFrom[{i}] loads a whole Secret into the environment"


def _k28(pod, res, cfg):
    for where, c in containers(pod):
        yield from _env_findings(f"{pod.where}.{where}", c, cfg)


pod_rule(meta("K-28", "high", "No credential literal in container env (Secrets by reference, files preferred)",
              ["CIS-5.4.1", "CKV_K8S_35", "Polaris:sensitiveContainerEnvVar", "kube-linter:env-var-secret", "NSA:C-0012"],
              "Move the value into a Secret and use `valueFrom.secretKeyRef` (or mount it as a file).",
              {"flagSecretEnv": flag("also report secretKeyRef/envFrom secretRef (CIS 5.4.1: secrets as files)", False)}),
         None, _k28)


def _k29(res: Res, cfg: Cfg) -> Iterator[str]:
    for section in ("data", "binaryData"):
        for key, value in items(get(res.props, section)):
            if cred.secret_shaped(value):
                yield f"ConfigMap key '{key}' holds {cred.describe(value)}"
            elif cred.sensitive_key(key) and cred.literal(value):
                yield f"ConfigMap key '{key}' holds a literal credential"
            else:
                keys = cred.embedded_credentials(value)
                if keys:
                    yield f"ConfigMap key '{key}' sets credentials in clear: {', '.join(sorted(set(keys))[:5])}"


rule(meta("K-29", "high", "ConfigMaps hold no credentials", ["Polaris:sensitiveConfigmapContent", "KSV-0109", "NSA:C-0012"],
          "Move the credential into a Secret; reference it from the config as ${ENV_VAR} or a mounted file."),
     _k29, applies=kinds("ConfigMap", group="core"))

LEGACY_IMAGES = re.compile(r"(kubernetes-dashboard|kubernetesui/dashboard|/tiller|^tiller|git-sync)")


def _k30(res: Res, cfg: Cfg) -> Iterator[str]:
    for where, ref in image_refs(res):
        if LEGACY_IMAGES.search(parse_image(ref).repository):
            yield f"{where}: {ref} (Kubernetes dashboard, Tiller or git-sync) is deployed"


rule(meta("K-30", "low", "No Kubernetes dashboard, Tiller or git-sync", ["CKV_K8S_33", "CKV_K8S_34", "CKV_K8S_159", "KSV-0102"],
          "Remove it; use the platform UIs behind OIDC and Helm 3."), _k30, applies=_has_images)

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

# ---------------------------------------------------------------------------------------------
# namespaces, disruption budgets, quotas (K-43 .. K-45)

PSA = "pod-security.kubernetes.io/"


def _k43(res: Res, cfg: Cfg) -> Iterator[str]:
    name = name_of(res)
    labels = get(res.props, "metadata.labels") or {}
    level = key(labels, PSA + "enforce")
    want = level_of(name, cfg)
    if level is None:
        yield f"namespace {name} has no {PSA}enforce label (expected {want})"
    elif level not in LEVELS:
        yield f"namespace {name} enforces an unknown level {level}"
    elif not at_least(level, want):
        yield f"namespace {name} enforces {level}, weaker than its expected level {want}"


rule(meta("K-43", "high", "Every namespace enforces its Pod Security level", ["CIS-5.2.1", "NSA:pod-security", "PSS"],
          "Label the namespace `pod-security.kubernetes.io/enforce` with its level (restricted unless the namespace "
          "is allow-listed in `namespaceLevels`).", dict(LEVELS_SCHEMA)),
     _k43, applies=kinds("Namespace", group="core"))


def pdbs(resources: list[Res]) -> list[Res]:
    return [r for r in resources if is_kind(r.type, "PodDisruptionBudget", group="policy")]


def _k44(resources: list[Res], cfg: Cfg) -> Iterator[Violation]:
    budgets = pdbs(resources)
    for w in resources:
        if not is_kind(w.type, "Deployment", "StatefulSet", group="apps"):
            continue
        replicas = number(opt(w.props, "spec.replicas"))
        if replicas is None or replicas < 2:
            continue
        ns = namespace_of(w)
        labels = next((pod_labels(p) for p in pod_specs(w)), {})
        if not any(namespace_of(b) == ns and selector_matches(opt(b.props, "spec.selector") or {}, labels) for b in budgets):
            yield Violation(f"{kind_of(w.type)} {ns}/{name_of(w)} runs {int(replicas)} replicas without a PodDisruptionBudget", w)


RULES.append(StackRule(
    meta("K-44", "low", "Multi-replica workloads have a PodDisruptionBudget",
         ["kube-score:deployment-has-poddisruptionbudget", "Polaris:missingPodDisruptionBudget"],
         "Add a PodDisruptionBudget (maxUnavailable: 1) selecting the workload's pods."),
    "kubernetes", _k44, namespace_of=scope_of, subjects=("kubernetes:policy/v1:PodDisruptionBudget",)))


def _k45(res: Res, cfg: Cfg) -> Iterator[str]:
    if kind_of(res.type) == "ResourceQuota":
        hard = {k for k, _ in items(get(res.props, "spec.hard"))}
        for what in ("cpu", "memory"):
            if not hard & {what, f"requests.{what}", f"limits.{what}"}:
                yield f"the ResourceQuota sets no {what} cap"
    else:
        ok = False
        for lim in elements(get(res.props, "spec.limits")):
            if opt(lim, "type") == "Container" and has(lim, "default") and has(lim, "defaultRequest"):
                ok = True
        if not ok:
            yield "the LimitRange gives containers no default requests and limits"


rule(meta("K-45", "medium", "Quotas cap CPU and memory; LimitRanges give containers default requests and limits",
          ["NSA:appendix-F", "NSA:appendix-G", "KSV-0039", "KSV-0040"],
          "Set cpu/memory in the ResourceQuota's spec.hard and a Container item with default/defaultRequest in the LimitRange."),
     _k45, applies=lambda t: is_kind(t, "ResourceQuota", "LimitRange", group="core"))

# ---------------------------------------------------------------------------------------------
# the custom resources and Secrets the platform declares (K-46 .. K-51, beyond the reference table)


def _k46(res: Res, cfg: Cfg) -> Iterator[str]:
    annotations = opt(res.props, "metadata.annotations") or {}
    if get(res.props, "type") == "kubernetes.io/service-account-token" or key(annotations, "kubernetes.io/service-account.name"):
        yield f"Secret {namespace_of(res)}/{name_of(res)} is a long-lived service account token"


rule(meta("K-46", "high", "No long-lived service account token Secrets", ["NSA:short-lived-tokens", "CIS-5.1.6", "KSV-0036"],
          "Use projected, bound tokens (the default) or the TokenRequest API; delete legacy token Secrets."),
     _k46, applies=kinds("Secret", group="core"))

RSA_MIN, EC_MIN = 2048, 256


def _duration_hours(value: Any) -> Optional[float]:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", str(value or ""))
    if not m or not any(m.groups()):
        return None
    h, mi, s = (int(x or 0) for x in m.groups())
    return h + mi / 60 + s / 3600


def _k47(res: Res, cfg: Cfg) -> Iterator[str]:
    spec = get(res.props, "spec") or {}
    if kind_of(res.type) == "Certificate":
        algo = str(opt(spec, "privateKey.algorithm") or "RSA").upper()
        size = number(opt(spec, "privateKey.size"))
        if algo == "RSA" and size is not None and size < RSA_MIN:
            yield f"the certificate key is RSA {int(size)} (minimum {RSA_MIN})"
        if algo == "ECDSA" and size is not None and size < EC_MIN:
            yield f"the certificate key is ECDSA {int(size)} (minimum {EC_MIN})"
        ca = truthy(opt(spec, "isCA"))
        hours = _duration_hours(opt(spec, "duration"))
        limit = cfg["maxCaDurationHours"] if ca else cfg["maxDurationHours"]
        if hours is not None and hours > limit:
            yield f"the {'CA ' if ca else ''}certificate lasts {int(hours)}h (maximum {limit}h)"
        if not ca and opt(spec, "privateKey.rotationPolicy") == "Never":
            yield "the certificate never rotates its private key"
    else:
        acme = opt(spec, "acme")
        if is_map(acme):
            server = str(opt(acme, "server") or "")
            if not server.startswith("https://"):
                yield f"the ACME server {server or '(unset)'} is not https"
            if truthy(opt(acme, "skipTLSVerify")):
                yield "the issuer skips TLS verification of the ACME server"
        if truthy(opt(spec, "vault.skipTLSVerify")):
            yield "the issuer skips TLS verification of Vault"


rule(meta("K-47", "medium", "Certificates use strong, rotated keys and bounded lifetimes; issuers verify TLS",
          ["NSA:encrypt-in-transit", "cert-manager:best-practice"],
          "Use RSA ≥ 2048 or ECDSA ≥ 256 keys, rotationPolicy Always for leaf certificates, durations within the "
          "limits, and https ACME servers with verification on.",
          {"maxDurationHours": {"type": "integer", "minimum": 1, "default": 8760, "description": "longest leaf certificate"},
           "maxCaDurationHours": {"type": "integer", "minimum": 1, "default": 87600, "description": "longest CA certificate"}}),
     _k47, applies=lambda t: is_kind(t, "Certificate", "Issuer", "ClusterIssuer", group="cert-manager.io"))


def _k48(res: Res, cfg: Cfg) -> Iterator[str]:
    spec = get(res.props, "spec") or {}
    if not opt(spec, "objectStorage.bucket"):
        yield "the backup storage location names no bucket"
    url = opt(spec, "config.s3Url")
    if isinstance(url, str) and url and not url.startswith("https://"):
        yield f"the backup storage location reaches {url} without TLS"
    if truthy(opt(spec, "config.insecureSkipTLSVerify")):
        yield "the backup storage location skips TLS verification"


rule(meta("K-48", "medium", "Backup storage locations name their bucket and use verified TLS", ["COPRS:data-protection",
                                                                                             "NSA:encrypt-in-transit"],
          "Point the BackupStorageLocation at the program's backups bucket over https with verification on."),
     _k48, applies=kinds("BackupStorageLocation", group="velero.io"))


def _k49(res: Res, cfg: Cfg) -> Iterator[str]:
    kind, spec = kind_of(res.type), get(res.props, "spec") or {}
    if kind == "Kafka":
        for i, lst in enumerate(elements(opt(spec, "kafka.listeners"))):
            name = opt(lst, "name")
            if opt(lst, "tls") is not True and name not in cfg["plainListeners"]:
                yield f"spec.kafka.listeners[{i}] '{name}' is not TLS"
            if not has(lst, "authentication"):
                yield f"spec.kafka.listeners[{i}] '{name}' has no authentication"
        if not has(opt(spec, "kafka") or {}, "authorization"):
            yield "spec.kafka has no authorization (any client may do anything)"
    elif kind == "KafkaNodePool":
        if str(opt(spec, "storage.type") or "") == "ephemeral":
            yield "the node pool keeps its log on ephemeral storage"
    elif kind in ("Elasticsearch", "Kibana"):
        if truthy(opt(spec, "http.tls.selfSignedCertificate.disabled")):
            yield f"the {kind} HTTP layer has TLS disabled"
        for i, ns in enumerate(elements(opt(spec, "nodeSets"))):
            conf = opt(ns, "config") or {}
            if falsy(key(conf, "xpack.security.enabled")):
                yield f"spec.nodeSets[{i}] turns security off"
            roles = key(conf, "xpack.security.authc.anonymous.roles")
            if roles:
                yield f"spec.nodeSets[{i}] gives anonymous users roles"
    elif kind == "Cluster":
        if truthy(opt(spec, "enableSuperuserAccess")):
            yield "the PostgreSQL superuser is reachable over the network"
        for line in elements(opt(spec, "postgresql.pg_hba")):
            if re.search(r"\btrust\b", str(line)):
                yield "pg_hba allows password-less (trust) connections"
    elif kind in ("MongoDBCommunity", "MongoDB"):
        if not as_list(opt(spec, "security.authentication.modes")) and not truthy(opt(spec, "security.authentication.enabled")):
            yield "MongoDB authentication is not configured"
        if falsy(opt(spec, "security.tls.enabled")):
            yield "MongoDB TLS is off"


DATA_CRS = {("kafka.strimzi.io", "Kafka"), ("kafka.strimzi.io", "KafkaNodePool"), ("elasticsearch.k8s.elastic.co", "Elasticsearch"),
            ("kibana.k8s.elastic.co", "Kibana"), ("postgresql.cnpg.io", "Cluster"),
            ("mongodbcommunity.mongodb.com", "MongoDBCommunity"), ("mongodb.com", "MongoDB")}


def _data_cr(t: str) -> bool:
    return (module_of(t), kind_of(t)) in DATA_CRS


rule(meta("K-49", "high", "Data services keep TLS, authentication and authorization on (Kafka, Elasticsearch, PostgreSQL, MongoDB)",
          ["NSA:encrypt-in-transit", "NSA:authn", "COPRS:data-protection"],
          "Kafka: TLS listeners with authentication and authorization; ECK: keep HTTP TLS and security on, no anonymous "
          "roles; CNPG: no superuser access, no trust in pg_hba; MongoDB: authentication and TLS on.",
          {"plainListeners": strings("Kafka listener names allowed without TLS (in-mesh traffic, with authentication)", [])}),
     _k49, applies=_data_cr)


def _k50(res: Res, cfg: Cfg) -> Iterator[str]:
    kind = kind_of(res.type)
    if kind == "NetworkAuthentication":
        for i, n in enumerate(elements(get(res.props, "spec.networks"))):
            if opt(n, "cidr") in ("0.0.0.0/0", "::/0") and not as_list(opt(n, "except")):
                yield f"spec.networks[{i}] authenticates every address ({opt(n, 'cidr')})"
    elif kind == "AuthorizationPolicy":
        if not as_list(get(res.props, "spec.requiredAuthenticationRefs")):
            yield f"AuthorizationPolicy {namespace_of(res)}/{name_of(res)} requires no authentication"
    elif kind == "Server":
        policy = opt(res.props, "spec.accessPolicy")
        if policy in ("all-unauthenticated", "cluster-unauthenticated") and \
                not any(re.fullmatch(p, f"{namespace_of(res)}/{name_of(res)}") for p in cfg["openServers"]):
            yield f"Server {namespace_of(res)}/{name_of(res)} admits {policy} clients"


rule(meta("K-50", "medium", "Linkerd policy admits no unauthenticated clients from everywhere", ["NSA:network-separation",
                                                                                                 "NSA:encrypt-in-transit"],
          "Use MeshTLSAuthentication, or NetworkAuthentication limited to the node and pod CIDRs; allow-list a Server that "
          "must take unauthenticated traffic (kubelet probes, the gateway).",
          {"openServers": strings("Servers (`namespace/name` regexes) allowed an unauthenticated access policy", [])}),
     _k50, applies=lambda t: is_kind(t, "NetworkAuthentication", "Server", "AuthorizationPolicy", group="policy.linkerd.io"))

AUTH_PLUGINS = {"openid-connect", "jwt-auth", "key-auth", "basic-auth", "hmac-auth", "authz-keycloak", "forward-auth", "ldap-auth"}


def _k51(res: Res, cfg: Cfg) -> Iterator[str]:
    route = f"{namespace_of(res)}/{name_of(res)}"
    own_auth = any(re.fullmatch(p, route) for p in cfg["ownAuthentication"])
    for i, h in enumerate(elements(get(res.props, "spec.http"))):
        plugins = [p for p in elements(opt(h, "plugins")) if opt(p, "enable") is not False]
        names = {str(opt(p, "name")) for p in plugins}
        if not names & AUTH_PLUGINS and not own_auth:
            yield f"spec.http[{i}] '{opt(h, 'name')}' reaches its backend without authentication"
        for p in plugins:
            conf = opt(p, "config") or {}
            if falsy(opt(conf, "ssl_verify")):
                yield f"spec.http[{i}] plugin {opt(p, 'name')} does not verify TLS"
            for k, v in items(conf):
                if isinstance(v, str) and cred.sensitive_key(k) and cred.literal(v):
                    yield f"spec.http[{i}] plugin {opt(p, 'name')} holds `{k}` in clear (use secretRef)"


rule(meta("K-51", "high", "Gateway routes authenticate users (OIDC) and keep plugin secrets by reference",
          ["NSA:authn", "COPRS:ui-behind-oidc"],
          "Add the openid-connect plugin (Keycloak) with `secretRef`, or allow-list a route whose app does its own OAuth.",
          {"ownAuthentication": strings("ApisixRoutes (`namespace/name` regexes) whose app authenticates users itself "
                                        "(components.md: Grafana and SCDF do their own OAuth)",
                                        ["monitoring/grafana.*", "processing/(processing|scdf.*|dataflow.*|spring-cloud-dataflow.*)",
                                         # the identity provider's own realm pages (login, OIDC endpoints)
                                         "iam/iam"])}),
     _k51, applies=lambda t: is_kind(t, "ApisixRoute", group="apisix.apache.org"))


K8S_PROVIDER = "pulumi:providers:kubernetes"
_INSECURE_KUBECONFIG = re.compile(r"insecure-skip-tls-verify\s*:\s*true", re.I)


def _k52(res: Res, cfg: Cfg) -> Iterator[str]:
    kubeconfig = get(res.props, "kubeconfig")
    if isinstance(kubeconfig, str):
        if _INSECURE_KUBECONFIG.search(kubeconfig):
            yield "the kubeconfig skips verification of the API server certificate"
        if re.search(r"server:\s*http://", kubeconfig):
            yield "the kubeconfig reaches the API server over plain http"
    if not has(res.props, "clusterIdentifier") and cfg["requireClusterIdentifier"]:
        yield "the provider sets no clusterIdentifier (a rotated kubeconfig would replace every object)"


rule(meta("K-52", "high", "The Kubernetes provider verifies the API server and is pinned to its cluster",
          ["NSA:encrypt-in-transit", "COPRS:architecture-1"],
          "Keep certificate-authority-data in the kubeconfig (no insecure-skip-tls-verify) and set `clusterIdentifier`.",
          {"requireClusterIdentifier": flag("require clusterIdentifier on explicit providers", True)}),
     _k52, applies=lambda t: t == K8S_PROVIDER)
