"""Velero: pinned chart and plugin, its backups bucket claim served by the storage layer, the protected Kopia
password, and the "backups" role: a stateful app's declared backup becomes a Schedule after Velero."""

from __future__ import annotations

from components.platform.apps import velero
from components.storage.backups import LABEL, SCHEDULE_TYPE, missing_backups
from offline.object_storage import backup_locations, plan_section
from tests.components.platform.helpers import pinned, platform_run, releases
from tests.components.platform.sample_apps import extended_run


def test_pinned_chart_images_and_plugin(prod):
    assert pinned(prod, "velero") == ("https://vmware-tanzu.github.io/helm-charts", "velero", "12.1.0", "velero")
    v = releases(prod)["velero"].inputs["values"]
    assert v["image"] == {"repository": "docker.io/velero/velero", "tag": "v1.18.1"}
    (plugin,) = v["initContainers"]
    assert plugin["image"] == "docker.io/velero/velero-plugin-for-aws:v1.14.0"
    assert plugin["volumeMounts"] == [{"mountPath": "/target", "name": "plugins"}]


def test_backup_storage_location_on_the_backups_bucket(prod):
    v = releases(prod)["velero"].inputs["values"]
    (bsl,) = v["configuration"]["backupStorageLocation"]
    assert bsl["provider"] == "aws" and bsl["default"] is True
    assert bsl["bucket"] == "coprs-prod-backups"
    assert bsl["config"] == {
        "region": "eu-west-0",
        "s3ForcePathStyle": "true",
        "s3Url": "https://oss.eu-west-0.prod-cloud-ocb.orange-business.com",
        "checksumAlgorithm": "",
    }
    assert v["credentials"] == {"useSecret": True, "existingSecret": velero.VELERO_CREDENTIALS}
    assert bsl["credential"] == {"name": velero.VELERO_CREDENTIALS, "key": "cloud"}


def test_the_release_waits_for_the_credentials_the_storage_layer_serves(any_stack):
    (secret,) = [r for r in any_stack.of_type("kubernetes:core/v1:Secret")
                 if r.inputs["metadata"]["name"] == velero.VELERO_CREDENTIALS]
    assert any_stack.by_urn()[secret.parent].type == "coprs:storage:Storage"
    assert secret.inputs["metadata"]["namespace"] == "velero"
    assert secret.urn in releases(any_stack)["velero"].dependencies


def test_file_system_backups_with_kopia_and_no_snapshots(prod):
    v = releases(prod)["velero"].inputs["values"]
    assert v["deployNodeAgent"] is True
    assert v["configuration"]["uploaderType"] == "kopia"
    assert v["configuration"]["defaultVolumesToFsBackup"] is True
    assert v["snapshotsEnabled"] is False and v["configuration"]["volumeSnapshotLocation"] == []
    assert v["upgradeCRDs"] is True


def test_repository_password_is_protected_ready_before_velero_and_in_the_credentials(prod):
    (password,) = [r for r in prod.of_type("random:index/randomPassword:RandomPassword") if "repo-credentials" in r.name]
    assert password.protect and password.name == "velero-velero-repo-credentials"  # its state name since it exists
    (secret,) = [r for r in prod.of_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == velero.REPOSITORY_SECRET]
    assert secret.inputs["metadata"]["namespace"] == "velero"
    assert secret.masked_inputs["stringData"] == "[secret]"
    assert secret.urn in releases(prod)["velero"].dependencies
    stored = prod.raw_outputs["credentials"]["velero/velero-repo-credentials"]
    assert stored == {velero.REPOSITORY_KEY: password.outputs["result"]}


def test_without_object_storage_velero_is_off():
    r = platform_run("dev", {"coprs:objectStorage": None})
    assert r.outputs["platform"]["disabledApps"]["velero"] == "needs object-storage"
    assert "velero" not in releases(r)


def test_a_stateful_apps_backup_is_a_schedule_after_velero():
    run = extended_run()
    (schedule,) = [s for s in run.of_type(SCHEDULE_TYPE) if s.inputs["metadata"]["labels"][LABEL] == "sample"]
    assert schedule.inputs["metadata"]["namespace"] == "velero"
    assert schedule.inputs["spec"]["template"]["includedNamespaces"] == ["processing"]
    assert releases(run)["velero"].urn in schedule.dependencies
    assert missing_backups(run.resources) == []
    plan: dict = {}
    lines = plan_section(run, plan)
    assert any("backup storage location default: s3://coprs-prod-backups/velero" in line for line in lines)
    assert "sample" in plan["objectStorage"]["backups"] and plan["objectStorage"]["missingBackups"] == []
    assert [(b["bucket"], b["prefix"], b["s3ForcePathStyle"]) for b in backup_locations(run)] == [
        ("coprs-prod-backups", "velero", "true")]
