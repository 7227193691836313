"""The shared mechanics of the Kubernetes rules: the rule list they append to and the rule builders."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

from ..base import Cfg, Res, ResourceRule, opt
from ..rendered import inside_releases
from ..k8s import (
    HELM_TYPES, LEVELS_SCHEMA, PodSpec, at_least, cluster_scoped, has_pods, is_kind, kind_of, level_of, namespace_of, pod_specs, scope_of,
)


RULES: list = []
PodCheck = Callable[[PodSpec, Res, Cfg], Iterator[str]]


def _k8s_object(t: str) -> bool:
    return kind_of(t) is not None


def rule(m, check, applies=_k8s_object) -> None:
    """A K-* rule: on the program's objects, and on every object a Helm release renders (`rendered.inside_releases`)."""
    RULES.append(ResourceRule(m, "kubernetes", HELM_TYPES, inside_releases(check, applies), applies=applies,
                              namespace_of=scope_of))


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


def is_windows(pod: PodSpec) -> bool:
    return opt(pod.spec, "os.name") == "windows"


def has_images(t: str) -> bool:
    return kind_of(t) is not None and not cluster_scoped(t)
