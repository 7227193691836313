"""Workload hygiene: resources, images, probes (K-20 .. K-24), credentials in env and ConfigMaps, legacy images (K-28 .. K-30)."""

from __future__ import annotations

import re
from typing import Any, Iterator

from .. import credentials as cred
from ..base import Cfg, Res, as_list, elements, flag, get, has, items, key, meta, opt
from ..k8s import LONG_RUNNING, MUTABLE_TAGS, containers, image_refs, kind_of, parse_image, registries_schema, registry_allowed

from .common import kinds, pod_rule, rule, has_images


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
          "Pin the image to a released version tag, ideally with its @sha256 digest."), _k21, applies=has_images)


def _k22(res: Res, cfg: Cfg) -> Iterator[str]:
    for where, ref in image_refs(res):
        img = parse_image(ref)
        if not registry_allowed(img, cfg["allowedRegistries"]):
            yield f"{where}: image {ref} comes from {img.registry}, which is not an allowed registry"


rule(meta("K-22", "medium", "Images come from allowed registries", ["KSV-0125", "gatekeeper:allowedrepos", "CIS-5.5.1"],
          "Pull from an allowed registry (or its mirror) and add new registries to `allowedRegistries` after review.",
          {"allowedRegistries": registries_schema()}), _k22, applies=has_images)


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



FILE_PATH = re.compile(r"^/[\w.@/-]+$")  # GOOGLE_APPLICATION_CREDENTIALS=/credentials/cloud names a mounted file


def _env_findings(where: str, c: Any, cfg: Cfg) -> Iterator[str]:
    for e in elements(opt(c, "env")):
        name, value = opt(e, "name"), opt(e, "value")
        if isinstance(value, str) and (cred.secret_shaped(value) or (
                cred.sensitive_key(name) and cred.literal(value) and not FILE_PATH.match(value))):
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
          "Remove it; use the platform UIs behind OIDC and Helm 3."), _k30, applies=has_images)
