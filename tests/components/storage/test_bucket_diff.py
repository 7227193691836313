"""The provider's pure logic: what forces a new bucket, what is updated in place, how errors read."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pulumi.runtime.rpc import UNKNOWN

from components.storage.bucket_provider import (
    BucketProvider,
    diff_props,
    lifecycle_from_rules,
    lifecycle_rules,
    normalize_lifecycle,
    storage_error,
)

BASE = {
    "bucket": "coprs-prod-loki",
    "endpoint": "https://oss.eu-west-0.example.org",
    "region": "eu-west-0",
    "versioning": True,
    "encryption": True,
    "lifecycle": {"noncurrentVersionExpirationDays": 7, "abortIncompleteMultipartUploadDays": 7},
    "forceDestroy": False,
    "addressingStyle": "path",
    "verifyTls": True,
}


@pytest.mark.parametrize("key,value", [
    ("bucket", "coprs-prod-loki2"),
    ("endpoint", "https://rgw.example.org"),
    ("region", "eu-west-1"),
])
def test_name_endpoint_and_region_force_a_replacement(key, value):
    replaces, updates = diff_props(BASE, {**BASE, key: value})
    assert replaces == [key] and updates == []


@pytest.mark.parametrize("key,value", [
    ("versioning", False),
    ("encryption", False),
    ("lifecycle", {"noncurrentVersionExpirationDays": 30, "abortIncompleteMultipartUploadDays": 7}),
    ("forceDestroy", True),
    ("addressingStyle", "virtual"),
    ("verifyTls", False),
])
def test_settings_are_updated_in_place(key, value):
    replaces, updates = diff_props(BASE, {**BASE, key: value})
    assert replaces == [] and updates == [key]


def test_engine_floats_and_state_extras_are_no_change():
    olds = {**BASE, "lifecycle": {"noncurrentVersionExpirationDays": 7.0, "abortIncompleteMultipartUploadDays": 7.0,
                                  "expirationDays": None},
            "versioningStatus": "Enabled", "encryptionStatus": "AES256", "publicAccess": "blocked", "adopted": True}
    assert diff_props(olds, BASE) == ([], [])
    assert BucketProvider().diff("coprs-prod-loki", olds, BASE).changes is False


def test_trailing_slash_on_the_endpoint_is_the_same_store():
    assert diff_props(BASE, {**BASE, "endpoint": BASE["endpoint"] + "/"}) == ([], [])


def test_unknown_values_during_preview_count_as_changes():
    replaces, updates = diff_props(BASE, {**BASE, "bucket": UNKNOWN, "lifecycle": UNKNOWN})
    assert replaces == ["bucket"] and updates == ["lifecycle"]


def test_replacement_on_the_same_store_deletes_first_a_new_name_does_not():
    p = BucketProvider()
    same = p.diff("id", BASE, {**BASE, "region": "eu-west-1"})
    assert same.replaces == ["region"] and same.delete_before_replace is True
    moved = p.diff("id", BASE, {**BASE, "bucket": "coprs-prod-logs"})
    assert moved.replaces == ["bucket"] and moved.delete_before_replace is False


def test_lifecycle_rules_round_trip():
    wanted = normalize_lifecycle({"noncurrentVersionExpirationDays": 30, "abortIncompleteMultipartUploadDays": 7,
                                  "expirationDays": 365})
    rules = lifecycle_rules(wanted)
    assert all(r["Filter"] == {"Prefix": ""} and r["Status"] == "Enabled" for r in rules)
    foreign = {"ID": "theirs", "Status": "Enabled", "Expiration": {"Days": 1}}
    assert lifecycle_from_rules(rules + [foreign]) == wanted
    assert lifecycle_rules(normalize_lifecycle(None)) == []


def _client_error(code: str, status: int, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, op)


@pytest.mark.parametrize("err,action,expected", [
    (_client_error("BucketAlreadyExists", 409, "CreateBucket"), "CreateBucket", "belongs to another account"),
    (_client_error("403", 403, "HeadBucket"), "HeadBucket", "belongs to another account"),
    (_client_error("InvalidAccessKeyId", 403, "ListBuckets"), "ListBuckets", "coprs:s3AccessKey"),
    (_client_error("SignatureDoesNotMatch", 403, "CreateBucket"), "CreateBucket", "coprs:s3SecretKey"),
    (EndpointConnectionError(endpoint_url="https://oss.example.org"), "HeadBucket", "cannot reach the object store"),
    (_client_error("InternalError", 500, "PutBucketVersioning"), "PutBucketVersioning",
     "PutBucketVersioning failed: InternalError InternalError happened"),
])
def test_errors_are_one_line_naming_bucket_and_endpoint(err, action, expected):
    text = str(storage_error(err, "coprs-prod-loki", "https://oss.example.org", action))
    assert "\n" not in text
    assert text.startswith("bucket 'coprs-prod-loki' at https://oss.example.org: ")
    assert expected in text
