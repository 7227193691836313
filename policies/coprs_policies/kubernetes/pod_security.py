"""Pod Security Standards on every pod spec: baseline (K-01 .. K-13) and restricted (K-14 .. K-19) controls."""

from __future__ import annotations

from typing import Any, Iterator

from ..base import as_list, elements, get, has, is_map, items, meta, number, opt, truthy
from ..k8s import containers, level_of, namespace_of

from .common import pod_rule, sc, is_windows


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
    if is_windows(pod):
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
    restricted = level_of(namespace_of(res), cfg) == "restricted" and not pod.partial and not is_windows(pod)
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
    if is_windows(pod):
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
