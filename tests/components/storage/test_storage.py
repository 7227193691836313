"""Under mocks, both stacks declare the five protected buckets and their consumers' credential Secrets."""

from __future__ import annotations

import configparser
import json

import kubernetes_validate
import pytest
import yaml

from components.config import BUCKETS
from components.storage.backups import missing_backups
from components.storage.storage import BACKUP_RETENTION_DAYS, CONSUMERS

BUCKET = "pulumi-python:dynamic/storage:Bucket"
SECRET = "kubernetes:core/v1:Secret"
SECRET_KEY_VALUE = "offline-dummy-coprs-s3SecretKey"  # the harness's stand-in for coprs:s3SecretKey
ACCESS_KEY_VALUE = "offline-dummy-coprs-s3AccessKey"


def buckets(run) -> dict[str, object]:
    return {r.inputs["bucket"]: r for r in run.of_type(BUCKET)}


def credential_secrets(run) -> dict[tuple[str, str], object]:
    return {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r for r in run.of_type(SECRET)
            if r.inputs["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "object-storage-credentials"}


def test_five_buckets_named_after_the_prefix_and_protected(any_stack):
    prefix = any_stack.config.object_storage.bucket_prefix
    found = buckets(any_stack)
    assert set(found) == {f"{prefix}-{suffix}" for suffix in BUCKETS}
    by_urn = any_stack.by_urn()
    for r in found.values():
        assert r.protect, r.name
        assert by_urn[r.parent].type == "coprs:storage:Bucket"
        assert r.inputs["endpoint"] == any_stack.config.object_storage.endpoint
        assert r.inputs["versioning"] is True and r.inputs["encryption"] is True
        assert r.inputs["addressingStyle"] == "path"


def test_no_bucket_expires_current_objects_and_backups_keep_the_retention(any_stack):
    prefix = any_stack.config.object_storage.bucket_prefix
    for name, r in buckets(any_stack).items():
        lifecycle = r.inputs["lifecycle"]
        assert "expirationDays" not in lifecycle, name
        assert lifecycle["noncurrentVersionExpirationDays"] >= 7
        assert lifecycle["abortIncompleteMultipartUploadDays"] == 7
    backups = buckets(any_stack)[f"{prefix}-backups"].inputs["lifecycle"]
    assert backups["noncurrentVersionExpirationDays"] >= BACKUP_RETENTION_DAYS


def test_force_destroy_only_for_the_buckets_the_config_lists(dev, prod):
    assert {r.inputs["bucket"] for r in dev.of_type(BUCKET) if r.inputs["forceDestroy"]} == {
        "coprs-dev-loki", "coprs-dev-thanos"}
    assert not any(r.inputs["forceDestroy"] for r in prod.of_type(BUCKET))


def test_bucket_names_and_endpoint_are_outputs(any_stack):
    prefix = any_stack.config.object_storage.bucket_prefix
    assert any_stack.outputs["buckets"] == {s: f"{prefix}-{s}" for s in BUCKETS}
    assert any_stack.outputs["objectStorageEndpoint"] == any_stack.config.object_storage.endpoint


def test_one_credentials_secret_per_consumer_after_its_bucket(any_stack):
    secrets = credential_secrets(any_stack)
    assert set(secrets) == {(c.namespace, c.secret) for c in CONSUMERS}
    bucket_urns = {r.inputs["bucket"]: r.urn
                   for r in any_stack.of_type(BUCKET)}
    prefix = any_stack.config.object_storage.bucket_prefix
    for c in CONSUMERS:
        r = secrets[(c.namespace, c.secret)]
        assert bucket_urns[f"{prefix}-{c.bucket}"] in r.dependencies
        assert r.provider is not None  # the cluster's Kubernetes provider, not an ambient kubeconfig
        assert r.masked_inputs["stringData"] == "[secret]"


def test_credentials_never_appear_in_masked_inputs_outputs_or_the_plan(any_stack):
    plan = json.dumps(any_stack.plan())
    for value in (SECRET_KEY_VALUE, ACCESS_KEY_VALUE):
        assert value not in plan
        assert value not in json.dumps([r.masked_inputs for r in any_stack.resources])
        assert value not in json.dumps(any_stack.outputs)
    for r in any_stack.of_type(BUCKET):  # the provider reads keys from config, not from its inputs
        assert SECRET_KEY_VALUE not in json.dumps(r.inputs) and SECRET_KEY_VALUE not in json.dumps(r.outputs)
        # the pickled provider is a secret (masked in the plan) and small: pickled by reference
        assert r.masked_inputs["__provider"] == "[secret]" and len(r.inputs["__provider"]) < 1000


def _data(run, namespace: str, name: str) -> dict[str, str]:
    return credential_secrets(run)[(namespace, name)].inputs["stringData"]


def test_thanos_gets_an_objstore_config(prod):
    doc = yaml.safe_load(_data(prod, "monitoring", "thanos-objstore")["objstore.yml"])
    assert doc["type"] == "S3"
    assert doc["config"] == {
        "bucket": "coprs-prod-thanos",
        "endpoint": "oss.eu-west-0.prod-cloud-ocb.orange-business.com",
        "region": "eu-west-0",
        "access_key": ACCESS_KEY_VALUE,
        "secret_key": SECRET_KEY_VALUE,
        "insecure": False,
        "bucket_lookup_type": "path",
    }


@pytest.mark.parametrize("namespace,name", [("database", "es-processing-s3-keystore"),
                                            ("security", "es-security-s3-keystore")])
def test_elasticsearch_gets_keystore_entries(prod, namespace, name):
    assert _data(prod, namespace, name) == {"s3.client.default.access_key": ACCESS_KEY_VALUE,
                                            "s3.client.default.secret_key": SECRET_KEY_VALUE}


def test_loki_and_postgresql_backups_get_aws_environment(prod):
    for key in (("logging", "loki-s3-credentials"), ("database", "postgresql-backup-s3-credentials")):
        assert _data(prod, *key) == {"AWS_ACCESS_KEY_ID": ACCESS_KEY_VALUE, "AWS_SECRET_ACCESS_KEY": SECRET_KEY_VALUE}


def test_velero_gets_an_aws_credentials_file(prod):
    ini = configparser.ConfigParser()
    ini.read_string(_data(prod, "velero", "velero-s3-credentials")["cloud"])
    assert dict(ini["default"]) == {"aws_access_key_id": ACCESS_KEY_VALUE, "aws_secret_access_key": SECRET_KEY_VALUE}


def test_every_stateful_app_of_both_stacks_declared_a_backup(any_stack):
    # The stack-level check (also usable by the policy pack): in this file so the cached runs are shared.
    assert missing_backups(any_stack.resources) == []


def test_secrets_wait_for_their_namespace_and_are_valid_kubernetes_objects(any_stack):
    namespaces = {r.inputs["metadata"]["name"]: r.urn for r in any_stack.of_type("kubernetes:core/v1:Namespace")}
    version = any_stack.config.cluster.kubernetes_version
    for (namespace, _), r in credential_secrets(any_stack).items():
        assert namespaces[namespace] in r.dependencies
        manifest = {k: v for k, v in r.inputs.items() if k in ("apiVersion", "kind", "metadata", "type", "stringData")}
        kubernetes_validate.validate(manifest, version, strict=True)
