"""The Velero app on the platform's app framework, with a stateful app declaring its Schedule through it."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.platform.app import App, AppDeployment
from components.platform.apps import velero
from components.storage.backups import LABEL, SCHEDULE_TYPE, Backup, declare_backup
from components.storage.storage import CONSUMERS, VELERO_CREDENTIALS
from offline.harness import run_stack
from offline.object_storage import backup_locations, plan_section

RELEASE = "kubernetes:helm.sh/v3:Release"


class _Platform:
    """The part of `Platform` an AppDeployment uses: namespaces, CRD providers, enabled apps."""

    def __init__(self, cfg):
        self.cfg, self.namespaces, self._crds = cfg, {}, {}

    def register_crds(self, group, provider):
        self._crds[group] = provider

    def crd_provider(self, group, for_app):
        return self._crds[group]

    def is_enabled(self, app):
        return app == "velero"


def _openldap_objects(ctx):
    declare_backup(ctx, Backup("openldap", "iam", selector={"app.kubernetes.io/name": "openldap"}, schedule="15 4 * * *"))


@pytest.fixture(scope="module")
def run():
    from components.config import load_stack_config

    def program():
        cfg = load_stack_config()
        opts = pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="offline")])
        platform = _Platform(cfg)
        deployed = AppDeployment(platform, velero.APP, velero.APP.settings(), [], opts=opts)
        stateful = App(name="openldap", namespace="iam", optional=("velero",), objects=_openldap_objects)
        AppDeployment(platform, stateful, stateful.settings(), [deployed], opts=opts)

    return run_stack("prod", program=program)


def _release(run):
    (release,) = [r for r in run.of_type(RELEASE) if r.inputs["chart"] == "velero"]
    return release


def test_pinned_chart_images_and_plugin(run):
    r = _release(run)
    assert (r.inputs["version"], r.inputs["repositoryOpts"]["repo"]) == ("12.1.0", "https://vmware-tanzu.github.io/helm-charts")
    assert r.inputs["namespace"] == "velero" and r.inputs["name"] == "velero"
    v = r.inputs["values"]
    assert v["image"] == {"repository": "docker.io/velero/velero", "tag": "v1.18.1"}
    (plugin,) = v["initContainers"]
    assert plugin["image"] == "docker.io/velero/velero-plugin-for-aws:v1.14.0"
    assert plugin["volumeMounts"] == [{"mountPath": "/target", "name": "plugins"}]


def test_backup_storage_location_on_the_backups_bucket(run):
    v = _release(run).inputs["values"]
    (bsl,) = v["configuration"]["backupStorageLocation"]
    assert bsl["provider"] == "aws" and bsl["default"] is True
    assert bsl["bucket"] == "coprs-prod-backups"
    assert bsl["config"] == {
        "region": "eu-west-0",
        "s3ForcePathStyle": "true",
        "s3Url": "https://oss.eu-west-0.prod-cloud-ocb.orange-business.com",
        "checksumAlgorithm": "",
    }
    # the credentials Secret is the one the storage layer creates, with the key Velero reads
    assert v["credentials"] == {"useSecret": True, "existingSecret": VELERO_CREDENTIALS}
    assert bsl["credential"] == {"name": VELERO_CREDENTIALS, "key": "cloud"}
    assert ("velero", VELERO_CREDENTIALS) in {(c.namespace, c.secret) for c in CONSUMERS}


def test_file_system_backups_with_kopia_and_no_snapshots(run):
    v = _release(run).inputs["values"]
    assert v["deployNodeAgent"] is True
    assert v["configuration"]["uploaderType"] == "kopia"
    assert v["configuration"]["defaultVolumesToFsBackup"] is True
    assert v["snapshotsEnabled"] is False and v["configuration"]["volumeSnapshotLocation"] == []
    assert v["upgradeCRDs"] is True


def test_repository_password_is_generated_protected_and_ready_before_velero(run):
    (password,) = [r for r in run.of_type("random:index/randomPassword:RandomPassword") if "repo-credentials" in r.name]
    assert password.protect
    (secret,) = [r for r in run.of_type("kubernetes:core/v1:Secret")
                 if r.inputs["metadata"]["name"] == velero.REPOSITORY_SECRET]
    assert secret.inputs["metadata"]["namespace"] == "velero"
    assert secret.masked_inputs["stringData"] == "[secret]"
    assert secret.urn in _release(run).dependencies


def test_a_stateful_apps_schedule_waits_for_the_velero_crds(run):
    (schedule,) = run.of_type(SCHEDULE_TYPE)
    assert schedule.inputs["metadata"]["labels"][LABEL] == "openldap"
    assert schedule.inputs["metadata"]["namespace"] == "velero"
    assert _release(run).urn in schedule.dependencies


def test_make_plan_shows_the_backup_storage_location(run):
    assert [(b["bucket"], b["prefix"], b["s3ForcePathStyle"]) for b in backup_locations(run)] == [
        ("coprs-prod-backups", "velero", "true")]
    plan: dict = {}
    lines = plan_section(run, plan)
    assert any("backup storage location default: s3://coprs-prod-backups/velero" in line for line in lines)
    assert plan["objectStorage"]["backups"] == ["openldap"]
