"""Rook-Ceph: pinned charts, block and file storage on the rook_ceph nodes, replica counts checked up front."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from tests.components.platform.helpers import pinned, platform_run, releases

REPO, VERSION = "https://charts.rook.io/release", "v1.20.6"


def test_pinned_charts(any_stack):
    assert pinned(any_stack, "rook-ceph") == (REPO, "rook-ceph", VERSION, "rook-ceph")
    assert pinned(any_stack, "rook-ceph-cluster") == (REPO, "rook-ceph-cluster", VERSION, "rook-ceph")


def test_storage_on_the_ceph_nodes(dev, prod):
    for r, size in ((dev, 1), (prod, 3)):
        v = releases(r)["rook-ceph-cluster"].inputs["values"]
        pool = v["cephBlockPools"][0]
        assert pool["spec"]["replicated"] == {"size": size, "requireSafeReplicaSize": size > 1}
        assert pool["storageClass"]["name"] == "ceph-block" and pool["storageClass"]["isDefault"] is True
        fs = v["cephFileSystems"][0]
        assert fs["name"] == "ceph-fs" and fs["storageClass"]["name"] == "ceph-fs"
        for sc in (pool["storageClass"], fs["storageClass"]):
            assert sc["reclaimPolicy"] == "Retain"
        assert v["cephObjectStores"] == []
        placement = v["cephClusterSpec"]["placement"]["all"]
        term = placement["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
        assert term["matchExpressions"][0]["key"] == "node-role.kubernetes.io/rook_ceph"
        assert placement["tolerations"] == [{"key": "node-role.kubernetes.io/rook_ceph", "operator": "Exists",
                                             "effect": "NoSchedule"}]


def test_settings_are_typed_and_replicas_checked_before_any_resource():
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.rook-ceph\.settings\.blockPoolReplica is not a known setting"):
        platform_run("dev", {"coprs:platform.apps.rook-ceph.settings.blockPoolReplica": 2})
    with pytest.raises(ConfigError, match=r"coprs:platform\.apps\.rook-ceph\.settings\.blockPoolReplicas = 5: more replicas") as err:
        platform_run("dev", {"coprs:platform.apps.rook-ceph.settings.blockPoolReplicas": 5})
    assert "\n" not in str(err.value)
