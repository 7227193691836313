"""The backup declaration helper, the Velero Schedule it renders, and the stack-level check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.storage.backups import (
    APP_COMPONENT_TYPE,
    CONFIG_MAP_TYPE,
    LABEL,
    SCHEDULE_TYPE,
    Backup,
    Seen,
    declare_backup,
    declared_backups,
    missing_backups,
    schedule_spec,
)
from offline.harness import run_stack


def test_schedule_backs_up_the_namespace_and_its_volumes_for_the_retention():
    spec = schedule_spec(Backup("openldap", "iam", selector={"app.kubernetes.io/name": "openldap"}, retention_days=30))
    assert spec["schedule"] == "0 4 * * *"
    t = spec["template"]
    assert t["includedNamespaces"] == ["iam"]
    assert t["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": "openldap"}}
    assert t["ttl"] == "720h0m0s"
    assert t["defaultVolumesToFsBackup"] is True and t["snapshotVolumes"] is False
    assert t["storageLocation"] == "default"


def test_whole_namespace_when_no_selector():
    assert "labelSelector" not in schedule_spec(Backup("grafana", "monitoring"))["template"]


@pytest.mark.parametrize("kwargs,error", [({"schedule": "daily at four"}, "cron"), ({"retention_days": 0}, ">= 1")])
def test_bad_declarations_are_clear_errors(kwargs, error):
    with pytest.raises(ValueError, match=error):
        Backup("kafka", "infra", **kwargs)


class _Ctx:
    """The part of the platform's AppContext that declare_backup uses."""

    def __init__(self, cfg, parent):
        self.cfg, self.parent = cfg, parent

    def opts(self, *, namespace: Optional[str] = None, depends_on: tuple = (), crd_group: Optional[str] = None,
             **kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, depends_on=list(depends_on), **kw)

    def custom_resource(self, name, api_version, kind, spec, *, namespace=None, cluster_scoped=False, labels=None,
                        depends_on=()):
        return k8s.apiextensions.CustomResource(
            name, api_version=api_version, kind=kind,
            metadata={"name": name, "namespace": namespace, "labels": labels or {}}, spec=spec,
            opts=self.opts(namespace=namespace))


@pytest.fixture(scope="module")
def declared():
    from components.config import load_stack_config

    def program():
        cfg = load_stack_config()
        provider = k8s.Provider("k8s", kubeconfig="offline")
        # what the app framework registers for a stateful app (`App(stateful=True)`) and for another one
        parent = pulumi.ComponentResource("coprs:platform:App", "postgresql", {"stateful": True},
                                          pulumi.ResourceOptions(providers=[provider]))
        pulumi.ComponentResource("coprs:platform:App", "openldap", {"stateful": True}, pulumi.ResourceOptions(providers=[provider]))
        pulumi.ComponentResource("coprs:platform:App", "keda", None, pulumi.ResourceOptions(providers=[provider]))
        ctx = _Ctx(cfg, parent)
        declare_backup(ctx, Backup("postgresql", "database", method="cnpg-barman", retention_days=30,
                                   restore="CNPG Cluster bootstrap.recovery from the backups bucket"))
        declare_backup(ctx, Backup("grafana", "monitoring"))

    return run_stack("prod", program=program)


def test_velero_declaration_is_a_schedule_in_the_velero_namespace(declared):
    (schedule,) = declared.of_type(SCHEDULE_TYPE)
    assert schedule.inputs["metadata"]["namespace"] == "velero"
    assert schedule.inputs["metadata"]["labels"][LABEL] == "grafana"
    assert schedule.inputs["spec"]["template"]["includedNamespaces"] == ["monitoring"]


def test_native_declaration_is_a_record_in_the_apps_namespace(declared):
    (record,) = [r for r in declared.of_type(CONFIG_MAP_TYPE) if r.inputs["metadata"]["labels"].get(LABEL)]
    assert record.inputs["metadata"]["namespace"] == "database"
    assert record.inputs["data"]["bucket"] == "coprs-prod-backups"
    assert record.inputs["data"]["method"] == "cnpg-barman"
    assert record.inputs["data"]["retentionDays"] == "30"
    manifest = {k: record.inputs[k] for k in ("apiVersion", "kind", "metadata", "data")}
    kubernetes_validate.validate(manifest, declared.config.cluster.kubernetes_version, strict=True)


def test_check_names_the_stateful_app_without_a_backup(declared):
    assert set(declared_backups(declared.resources)) == {"postgresql", "grafana"}
    assert missing_backups(declared.resources) == ["openldap"]


@dataclass
class _PolicyResource:  # the shape pulumi_policy gives a stack validation
    resource_type: str
    name: str
    props: dict


def test_check_reads_what_the_policy_pack_sees():
    resources = [
        _PolicyResource(APP_COMPONENT_TYPE, "kafka", {"stateful": True}),
        _PolicyResource(APP_COMPONENT_TYPE, "keda", {}),  # not stateful
        _PolicyResource(SCHEDULE_TYPE, "backup-kafka", {"metadata": {"labels": {LABEL: "kafka"}}}),
        _PolicyResource(APP_COMPONENT_TYPE, "mongodb", {"stateful": True}),
    ]
    assert missing_backups(resources) == ["mongodb"]
    # or with the list of stateful apps given (architecture §6), whatever the components say
    assert missing_backups([Seen(APP_COMPONENT_TYPE, a, {}) for a in ("grafana", "keycloak")], ("grafana", "keycloak")) == [
        "grafana", "keycloak"]

