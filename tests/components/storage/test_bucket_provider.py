"""The bucket provider's create / read / update / delete and error paths, over HTTP against moto."""

from __future__ import annotations

import base64
import hashlib
import socket
import uuid

import dill
import pytest
from botocore.awsrequest import AWSResponse
from pulumi.dynamic.dynamic import serialize_provider

from components.storage.bucket_provider import (
    RULE_MULTIPART,
    RULE_NONCURRENT,
    BucketProvider,
    StorageError,
    diff_props,
)

from .conftest import REGION, Keys, Store

LIFECYCLE = {"noncurrentVersionExpirationDays": 7, "abortIncompleteMultipartUploadDays": 3}


def props(store: Store, name: str, **extra) -> dict:
    return {"bucket": name, "endpoint": store.url, "region": REGION, "lifecycle": dict(LIFECYCLE), **extra}


def fresh(prefix: str = "coprs-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def one_line(err: pytest.ExceptionInfo, bucket: str, store: Store) -> str:
    text = str(err.value)
    assert "\n" not in text and bucket in text and store.url in text
    return text


def test_create_applies_versioning_encryption_public_access_and_lifecycle(store):
    name = fresh()
    result = store.provider().create(props(store, name))
    s3 = store.s3()
    assert result.id == name
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    sse = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]}
    assert rules[RULE_NONCURRENT]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    assert rules[RULE_MULTIPART]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 3
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == REGION
    assert result.outs["versioningStatus"] == "Enabled"
    assert result.outs["encryptionStatus"] == "AES256"
    assert result.outs["publicAccess"] == "blocked"
    assert result.outs["adopted"] is False


def test_outputs_hold_no_credentials(store):
    result = store.provider().create(props(store, fresh()))
    text = repr(result.outs)
    assert store.owner.access not in text and store.owner.secret not in text


def test_read_reports_drift_that_diff_turns_into_an_update(store):
    name = fresh()
    provider = store.provider()
    created = provider.create(props(store, name)).outs
    store.s3().put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    store.s3().delete_bucket_lifecycle(Bucket=name)
    live = provider.read(name, created)
    assert live.id == name
    assert live.outs["versioning"] is False
    assert live.outs["lifecycle"]["noncurrentVersionExpirationDays"] is None
    replaces, updates = diff_props(live.outs, props(store, name))
    assert replaces == [] and set(updates) == {"versioning", "lifecycle"}


def test_update_changes_lifecycle_in_place(store):
    name = fresh()
    provider = store.provider()
    olds = provider.create(props(store, name)).outs
    news = props(store, name, lifecycle={"noncurrentVersionExpirationDays": 30, "abortIncompleteMultipartUploadDays": 3,
                                         "expirationDays": 400})
    outs = provider.update(name, olds, news).outs
    rules = {r["ID"]: r for r in store.s3().get_bucket_lifecycle_configuration(Bucket=name)["Rules"]}
    assert rules[RULE_NONCURRENT]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rules["coprs-expire-objects"]["Expiration"]["Days"] == 400
    assert outs["lifecycle"]["expirationDays"] == 400


def test_existing_bucket_of_ours_is_adopted_and_brought_in_line(store):
    name = fresh()
    store.s3().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    result = store.provider().create(props(store, name))
    assert result.outs["adopted"] is True
    assert store.s3().get_bucket_versioning(Bucket=name)["Status"] == "Enabled"


def test_bucket_owned_by_another_account_is_a_clear_error(store):
    name = fresh("someone-else")
    store.s3(store.other).create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    with pytest.raises(StorageError) as err:
        store.provider().create(props(store, name))
    assert "belongs to another account" in one_line(err, name, store)
    # and nothing was changed on their bucket
    assert "Status" not in store.s3(store.other).get_bucket_versioning(Bucket=name)


@pytest.mark.parametrize("wrong", ["access", "secret"])
def test_wrong_credentials_are_a_clear_error(store, wrong):
    keys = Keys("AKIA" + uuid.uuid4().hex[:16].upper(), store.owner.secret) if wrong == "access" else \
        Keys(store.owner.access, uuid.uuid4().hex * 2)
    name = fresh()
    with pytest.raises(StorageError) as err:
        store.provider(keys).create(props(store, name))
    text = one_line(err, name, store)
    assert "rejected the credentials" in text
    assert ("InvalidAccessKeyId" if wrong == "access" else "SignatureDoesNotMatch") in text
    assert keys.secret not in text


def test_unreachable_endpoint_is_a_clear_error(store):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = Store(f"http://127.0.0.1:{port}", store.owner, store.other)
    name = fresh()
    with pytest.raises(StorageError) as err:
        down.provider().create(props(down, name))
    assert "cannot reach the object store" in one_line(err, name, down)


def test_missing_credentials_name_the_config_keys(store):
    name = fresh()
    with pytest.raises(StorageError) as err:
        BucketProvider().create(props(store, name))
    assert "coprs:s3AccessKey" in one_line(err, name, store)


def _fill(store: Store, name: str) -> None:
    s3 = store.s3()
    for i in range(3):
        s3.put_object(Bucket=name, Key="blocks/a", Body=f"v{i}".encode())
    s3.put_object(Bucket=name, Key="blocks/b", Body=b"x")
    s3.delete_object(Bucket=name, Key="blocks/b")  # leaves a delete marker


def test_delete_refuses_a_non_empty_bucket(store):
    name = fresh()
    provider = store.provider()
    outs = provider.create(props(store, name)).outs
    _fill(store, name)
    with pytest.raises(StorageError) as err:
        provider.delete(name, outs)
    assert "forceDestroy" in one_line(err, name, store)
    store.s3().head_bucket(Bucket=name)  # still there


def test_force_destroy_empties_every_version_and_deletes(store):
    name = fresh()
    provider = store.provider()
    outs = provider.create(props(store, name, forceDestroy=True)).outs
    _fill(store, name)
    sent: list[dict] = []
    provider.client(outs).meta.events.register(
        "before-send.s3.DeleteObjects", lambda request, **_: sent.append(dict(request.headers)))
    provider.delete(name, outs)
    assert provider.read(name, outs).id is None
    # third-party stores want Content-MD5 on DeleteObjects
    assert sent and all("Content-MD5" in h for h in sent)


def test_delete_of_an_empty_bucket_and_of_a_missing_one(store):
    name = fresh()
    provider = store.provider()
    outs = provider.create(props(store, name)).outs
    provider.delete(name, outs)
    provider.delete(name, outs)  # already gone: nothing to do
    assert provider.read(name, outs).id is None


def _not_implemented(request, **_):
    body = b"<Error><Code>NotImplemented</Code><Message>not implemented</Message></Error>"
    return AWSResponse(request.url, 501, {"Content-Type": "application/xml"}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


def test_store_without_encryption_or_public_access_block_is_detected_not_fatal(store):
    name = fresh()
    provider = store.provider()
    client = provider.client({"endpoint": store.url, "region": REGION, "addressingStyle": "path", "verifyTls": True,
                              "bucket": name})
    for op in ("PutBucketEncryption", "PutPublicAccessBlock"):
        client.meta.events.register(f"before-send.s3.{op}", _not_implemented)
    outs = provider.create(props(store, name)).outs
    assert outs["encryptionStatus"] == "unsupported"
    assert outs["publicAccess"] == "private-acl"
    grants = store.s3().get_bucket_acl(Bucket=name)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]


def test_check_rejects_bad_names_and_lifecycle_days(store):
    result = store.provider().check({}, props(store, "Bad_Name", lifecycle={"noncurrentVersionExpirationDays": 0}))
    assert {f.property for f in result.failures} == {"bucket", "lifecycle.noncurrentVersionExpirationDays"}


def test_provider_pickles_without_credentials(store):
    provider = store.provider()
    blob = base64.b64decode(serialize_provider(provider))
    assert store.owner.secret.encode() not in blob and store.owner.access.encode() not in blob
    assert len(blob) < 2000  # pickled by reference, not the module's code
    restored = dill.loads(blob)
    assert isinstance(restored, BucketProvider) and restored.max_attempts == provider.max_attempts
    assert hashlib.sha256(blob).hexdigest() == hashlib.sha256(
        base64.b64decode(serialize_provider(BucketProvider(max_attempts=1)))).hexdigest()
