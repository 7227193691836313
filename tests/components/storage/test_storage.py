"""Under mocks, both stacks declare the five protected buckets; the storage layer serves each app's `Bucket`
claim with one credentials Secret in the format the app asks for (hypothetical apps: `sample_apps`)."""

from __future__ import annotations

import configparser
import json

import kubernetes_validate
import pytest
import yaml

from components.config import BUCKETS
from components.platform.app import Bucket
from components.platform.apps import APPS
from components.storage.backups import missing_backups
from components.storage.storage import BACKUP_RETENTION_DAYS, FORMATS
from tests.components.platform.helpers import platform_run
from tests.components.platform.sample_apps import SAMPLES, extended_run

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


@pytest.fixture(scope="module")
def claimed():
    """prod with hypothetical apps claiming buckets in every format."""
    return extended_run()


def _bucket_claims(apps) -> dict[tuple[str, str], tuple[str, Bucket]]:
    return {(c.namespace or a.namespace, c.secret): (a.name, c) for a in apps for c in a.claims if isinstance(c, Bucket)}


def test_one_credentials_secret_per_bucket_claim_after_its_bucket(any_stack, claimed):
    for run, apps in ((any_stack, APPS), (claimed, APPS + SAMPLES)):
        claims = _bucket_claims(apps)
        secrets = credential_secrets(run)
        assert set(secrets) == set(claims)
        bucket_urns = {r.inputs["bucket"]: r.urn for r in run.of_type(BUCKET)}
        for key, (app, c) in claims.items():
            r = secrets[key]
            assert bucket_urns[run.config.object_storage.bucket(c.suffix)] in r.dependencies
            assert r.inputs["metadata"]["labels"]["coprs.esa.int/consumer"] == app
            assert r.provider is not None  # the cluster's Kubernetes provider, not an ambient kubeconfig
            assert r.masked_inputs["stringData"] == "[secret]"
    assert {c.format for _, c in _bucket_claims(APPS + SAMPLES).values()} == set(FORMATS)


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


def test_thanos_objstore_format(claimed):
    doc = yaml.safe_load(_data(claimed, "monitoring", "thanos-objstore")["objstore.yml"])
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


def test_eck_keystore_format(claimed):
    assert _data(claimed, "database", "es-processing-s3-keystore") == {"s3.client.default.access_key": ACCESS_KEY_VALUE,
                                            "s3.client.default.secret_key": SECRET_KEY_VALUE}


def test_aws_environment_format(claimed):
    for key in (("logging", "loki-s3-credentials"), ("processing", "sample-s3")):
        assert _data(claimed, *key) == {"AWS_ACCESS_KEY_ID": ACCESS_KEY_VALUE, "AWS_SECRET_ACCESS_KEY": SECRET_KEY_VALUE}


def test_aws_credentials_file_format(prod):
    ini = configparser.ConfigParser()
    ini.read_string(_data(prod, "velero", "velero-s3-credentials")["cloud"])
    assert dict(ini["default"]) == {"aws_access_key_id": ACCESS_KEY_VALUE, "aws_secret_access_key": SECRET_KEY_VALUE}


def test_every_stateful_app_of_both_stacks_declared_a_backup(any_stack):
    # The stack-level check (also usable by the policy pack): in this file so the cached runs are shared.
    assert missing_backups(any_stack.resources) == []


def test_secrets_wait_for_their_namespace_and_are_valid_kubernetes_objects(claimed):
    namespaces = {r.inputs["metadata"]["name"]: r.urn for r in claimed.of_type("kubernetes:core/v1:Namespace")}
    version = claimed.config.cluster.kubernetes_version
    for (namespace, _), r in credential_secrets(claimed).items():
        assert namespaces[namespace] in r.dependencies
        manifest = {k: v for k, v in r.inputs.items() if k in ("apiVersion", "kind", "metadata", "type", "stringData")}
        kubernetes_validate.validate(manifest, version, strict=True)


def test_an_unknown_format_or_bucket_is_a_clear_error():
    from dataclasses import replace

    from tests.components.platform.sample_apps import THANOS

    for claim, message in ((Bucket(suffix="thanos", secret="x", format="ini"), "asks for object-storage credentials as 'ini'"),
                           (Bucket(suffix="tempo", secret="x", format="aws-env"), "claims bucket 'tempo'")):
        with pytest.raises(ValueError, match=message):
            platform_run("dev", apps=APPS + (replace(THANOS, name=f"bad-{claim.suffix}", claims=(claim,)),))
