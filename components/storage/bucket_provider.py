"""S3 bucket provider over boto3 for S3-compatible stores (Flexible Engine OBS, Ceph RGW, MinIO, AWS).

Two halves:
- pure functions (`normalize`, `diff_props`, `lifecycle_rules`, `lifecycle_from_rules`, `storage_error`)
  that decide what a change means and how an error reads; unit-tested without any endpoint;
- `BucketProvider`, the Pulumi dynamic provider that talks to the store.

Credentials never travel through the resource's inputs or state: the dynamic provider process gets the
stack configuration in `configure()` and reads `coprs:s3AccessKey` / `coprs:s3SecretKey` there. So the
state holds no key at all, a rotated key is picked up without a diff, and `pulumi destroy` uses the
current key. This module is imported by the provider process (the provider is pickled by reference), so
it imports nothing from the rest of the program.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, Iterable, Optional

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

ACCESS_KEY = "coprs:s3AccessKey"
SECRET_KEY = "coprs:s3SecretKey"

# Inputs whose change means another bucket (a bucket cannot be renamed or moved).
REPLACE_KEYS = ("bucket", "endpoint", "region")
# Inputs applied in place.
UPDATE_KEYS = ("versioning", "encryption", "lifecycle", "forceDestroy", "addressingStyle", "verifyTls")
INPUT_KEYS = REPLACE_KEYS + UPDATE_KEYS
# What the provider observed on the store (outputs only).
OBSERVED_KEYS = ("versioningStatus", "encryptionStatus", "publicAccess", "adopted")

BUCKET_NAME = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ENDPOINT = re.compile(r"^https?://[^\s/]+(/.*)?$")

RULE_NONCURRENT = "coprs-expire-noncurrent-versions"
RULE_MULTIPART = "coprs-abort-incomplete-multipart-uploads"
RULE_EXPIRE = "coprs-expire-objects"
LIFECYCLE_FIELDS = ("noncurrentVersionExpirationDays", "abortIncompleteMultipartUploadDays", "expirationDays")

# Error codes an S3-compatible store returns for a feature it does not implement.
UNSUPPORTED = {
    "NotImplemented",
    "NotSupported",
    "UnsupportedOperation",
    "MethodNotAllowed",
    "InvalidArgument",
    "InvalidRequest",
    "XNotImplemented",
    "501",
    "405",
}
BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidSecurity",
    "AuthorizationHeaderMalformed",
}
NOT_FOUND = {"404", "NoSuchBucket", "NotFound"}
FOREIGN = {"BucketAlreadyExists"}
# Operations that require a body checksum: third-party stores expect Content-MD5 there, which
# botocore >= 1.36 no longer sends (it sends x-amz-checksum-crc32 instead).
MD5_OPERATIONS = (
    "DeleteObjects",
    "PutBucketLifecycleConfiguration",
    "PutPublicAccessBlock",
    "PutBucketEncryption",
    "PutBucketVersioning",
    "PutBucketAcl",
)


class StorageError(Exception):
    """One line naming the bucket, the endpoint and what to do."""


# ---------------------------------------------------------------------------------------------
# pure logic


def _int(value: Any) -> Optional[int]:
    """Numbers arrive as floats from the engine (7.0): compare them as ints."""
    if value is None or value == "":
        return None
    return int(value)


def normalize_lifecycle(value: Optional[dict[str, Any]]) -> dict[str, Optional[int]]:
    value = value or {}
    return {k: _int(value.get(k)) for k in LIFECYCLE_FIELDS}


def normalize(props: dict[str, Any]) -> dict[str, Any]:
    """The inputs this provider acts on, with defaults and ints restored."""
    return {
        "bucket": props.get("bucket"),
        "endpoint": (props.get("endpoint") or "").rstrip("/"),
        "region": props.get("region") or "us-east-1",
        "versioning": bool(props.get("versioning", True)),
        "encryption": bool(props.get("encryption", True)),
        "lifecycle": normalize_lifecycle(props.get("lifecycle")),
        "forceDestroy": bool(props.get("forceDestroy", False)),
        "addressingStyle": props.get("addressingStyle") or "path",
        "verifyTls": bool(props.get("verifyTls", True)),
    }


def check_props(props: dict[str, Any]) -> list[tuple[str, str]]:
    """(property, reason) for every invalid input."""
    problems: list[tuple[str, str]] = []
    name = props.get("bucket")
    if not isinstance(name, str) or not BUCKET_NAME.match(name):
        problems.append(("bucket", f"{name!r} is not a valid S3 bucket name (3-63 of a-z 0-9 . -)"))
    if not isinstance(props.get("endpoint"), str) or not ENDPOINT.match(props["endpoint"]):
        problems.append(("endpoint", f"{props.get('endpoint')!r} must be an http(s):// URL"))
    if props.get("addressingStyle", "path") not in ("path", "virtual"):
        problems.append(("addressingStyle", "must be 'path' or 'virtual'"))
    for key, value in (props.get("lifecycle") or {}).items():
        if key not in LIFECYCLE_FIELDS:
            problems.append((f"lifecycle.{key}", "unknown; allowed: " + ", ".join(LIFECYCLE_FIELDS)))
        elif value is not None and (not isinstance(value, (int, float)) or int(value) != value or value < 1):
            problems.append((f"lifecycle.{key}", f"{value!r} must be a whole number of days >= 1"))
    return problems


def _unknown(value: Any) -> bool:
    from pulumi.runtime.rpc import UNKNOWN

    return value == UNKNOWN


def diff_props(olds: dict[str, Any], news: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(replaces, updates): the input keys that force a new bucket, and those applied in place."""
    unknown = {k for k in INPUT_KEYS if _unknown(news.get(k))}
    old, new = normalize(olds), normalize({k: v for k, v in news.items() if k not in unknown})
    changed = [k for k in INPUT_KEYS if k in unknown or old[k] != new[k]]
    return [k for k in changed if k in REPLACE_KEYS], [k for k in changed if k in UPDATE_KEYS]


def lifecycle_rules(lifecycle: dict[str, Optional[int]]) -> list[dict[str, Any]]:
    """The S3 lifecycle rules for our lifecycle settings (empty prefix filter: Ceph RGW needs one)."""
    every = {"Filter": {"Prefix": ""}, "Status": "Enabled"}
    rules = []
    if lifecycle.get("noncurrentVersionExpirationDays"):
        rules.append({"ID": RULE_NONCURRENT, **every,
                      "NoncurrentVersionExpiration": {"NoncurrentDays": lifecycle["noncurrentVersionExpirationDays"]}})
    if lifecycle.get("abortIncompleteMultipartUploadDays"):
        rules.append({"ID": RULE_MULTIPART, **every,
                      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": lifecycle["abortIncompleteMultipartUploadDays"]}})
    if lifecycle.get("expirationDays"):
        rules.append({"ID": RULE_EXPIRE, **every, "Expiration": {"Days": lifecycle["expirationDays"]}})
    return rules


def lifecycle_from_rules(rules: Iterable[dict[str, Any]]) -> dict[str, Optional[int]]:
    """Read our lifecycle settings back from the store's rules (rules we do not own are ignored)."""
    out: dict[str, Optional[int]] = {k: None for k in LIFECYCLE_FIELDS}
    for rule in rules:
        if rule.get("Status") != "Enabled":
            continue
        if rule.get("ID") == RULE_NONCURRENT:
            out["noncurrentVersionExpirationDays"] = _int((rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"))
        elif rule.get("ID") == RULE_MULTIPART:
            out["abortIncompleteMultipartUploadDays"] = _int((rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"))
        elif rule.get("ID") == RULE_EXPIRE:
            out["expirationDays"] = _int((rule.get("Expiration") or {}).get("Days"))
    return out


def error_code(err: Exception) -> str:
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code") or err.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    return type(err).__name__


def storage_error(err: Exception, bucket: str, endpoint: str, action: str) -> StorageError:
    """Turn a boto error into one line naming the bucket, the endpoint and the fix."""
    where = f"bucket {bucket!r} at {endpoint}"
    if isinstance(err, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError)):
        return StorageError(f"{where}: cannot reach the object store ({type(err).__name__}); "
                            "check coprs:objectStorage.endpoint and that this machine can reach it")
    if isinstance(err, SSLError):
        return StorageError(f"{where}: TLS handshake failed; check the endpoint's certificate "
                            "(coprs:objectStorage.verifyTls only for test stores)")
    code = error_code(err)
    if code in BAD_CREDENTIALS:
        return StorageError(f"{where}: the object store rejected the credentials ({code}); "
                            "check coprs:s3AccessKey and coprs:s3SecretKey")
    if code in FOREIGN or code in ("403", "AccessDenied") and action == "HeadBucket":
        return StorageError(f"{where}: the bucket exists and belongs to another account ({code} on {action}); "
                            "choose another coprs:objectStorage.bucketPrefix or grant this account access")
    if isinstance(err, ClientError):
        message = str(err.response.get("Error", {}).get("Message") or "").replace("\n", " ")
        return StorageError(f"{where}: {action} failed: {code} {message}".rstrip())
    return StorageError(f"{where}: {action} failed: {type(err).__name__}: {err}".replace("\n", " "))


def _add_content_md5(request, **_: Any) -> None:
    if request.body and "Content-MD5" not in request.headers:
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


# ---------------------------------------------------------------------------------------------
# the dynamic provider


class BucketProvider(ResourceProvider):
    """CRUD of one S3 bucket with versioning, encryption, blocked public access and lifecycle rules."""

    def __init__(self, max_attempts: int = 4) -> None:
        super().__init__()
        self.max_attempts = max_attempts
        self._credentials: Optional[tuple[str, str]] = None
        self._clients: dict[tuple, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Only settings are pickled into the state: never credentials or live clients.
        return {"max_attempts": self.max_attempts}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def configure(self, req: ConfigureRequest) -> None:
        access, secret = req.config.get(ACCESS_KEY), req.config.get(SECRET_KEY)
        self._credentials = (access, secret) if access and secret else None
        self._clients.clear()

    # -- clients ---------------------------------------------------------------------------

    def client(self, p: dict[str, Any]):
        if self._credentials is None:
            raise StorageError(f"bucket {p['bucket']!r} at {p['endpoint']}: no object-store credentials; "
                               f"set them with `pulumi config set --secret {ACCESS_KEY}` and {SECRET_KEY}")
        key = (p["endpoint"], p["region"], p["addressingStyle"], p["verifyTls"])
        if key not in self._clients:
            config = BotoConfig(
                signature_version="s3v4",
                s3={"addressing_style": p["addressingStyle"]},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            )
            session = boto3.session.Session(
                aws_access_key_id=self._credentials[0],
                aws_secret_access_key=self._credentials[1],
                region_name=p["region"],
            )
            client = session.client("s3", endpoint_url=p["endpoint"], config=config, verify=p["verifyTls"])
            for op in MD5_OPERATIONS:
                client.meta.events.register(f"before-sign.s3.{op}", _add_content_md5)
            self._clients[key] = client
        return self._clients[key]

    def _call(self, p: dict[str, Any], action: str, fn, **kwargs):
        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as err:
            raise storage_error(err, p["bucket"], p["endpoint"], action) from None

    # -- probes ----------------------------------------------------------------------------

    def exists(self, p: dict[str, Any]) -> bool:
        """True if the bucket exists and is ours; False if absent; a clear error otherwise."""
        s3 = self.client(p)
        try:
            s3.head_bucket(Bucket=p["bucket"])
            return True
        except ClientError as err:
            code = error_code(err)
            if code in NOT_FOUND:
                return False
            if code in ("403", "AccessDenied", "Forbidden"):
                # HeadBucket has no body: a 403 is either bad credentials or someone else's bucket.
                self.check_credentials(p)
            raise storage_error(err, p["bucket"], p["endpoint"], "HeadBucket") from None
        except BotoCoreError as err:
            raise storage_error(err, p["bucket"], p["endpoint"], "HeadBucket") from None

    def check_credentials(self, p: dict[str, Any]) -> None:
        """ListBuckets proves the credentials; a store may deny it to scoped keys, which is fine."""
        try:
            self.client(p).list_buckets()
        except ClientError as err:
            if error_code(err) in BAD_CREDENTIALS:
                raise storage_error(err, p["bucket"], p["endpoint"], "ListBuckets") from None

    def is_empty(self, p: dict[str, Any]) -> bool:
        s3 = self.client(p)
        try:
            page = s3.list_object_versions(Bucket=p["bucket"], MaxKeys=1)
            return not (page.get("Versions") or page.get("DeleteMarkers"))
        except ClientError as err:
            if error_code(err) not in UNSUPPORTED:
                raise storage_error(err, p["bucket"], p["endpoint"], "ListObjectVersions") from None
        page = self._call(p, "ListObjectsV2", s3.list_objects_v2, Bucket=p["bucket"], MaxKeys=1)
        return not page.get("Contents")

    # -- settings --------------------------------------------------------------------------

    def apply(self, p: dict[str, Any]) -> dict[str, Any]:
        """Make the bucket's settings match the inputs; return what was observed."""
        s3, name = self.client(p), p["bucket"]
        status = "Enabled" if p["versioning"] else "Suspended"
        current = self._call(p, "GetBucketVersioning", s3.get_bucket_versioning, Bucket=name).get("Status")
        if current != status and (p["versioning"] or current == "Enabled"):
            self._call(p, "PutBucketVersioning", s3.put_bucket_versioning, Bucket=name,
                       VersioningConfiguration={"Status": status})
        self._apply_lifecycle(p)
        return {
            "versioningStatus": status if (p["versioning"] or current) else "Disabled",
            "encryptionStatus": self._apply_encryption(p),
            "publicAccess": self._block_public_access(p),
        }

    def _apply_encryption(self, p: dict[str, Any]) -> str:
        s3, name = self.client(p), p["bucket"]
        try:
            if p["encryption"]:
                s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
                return "AES256"
            s3.delete_bucket_encryption(Bucket=name)
            return "disabled"
        except ClientError as err:
            if error_code(err) in UNSUPPORTED:
                return "unsupported"
            raise storage_error(err, name, p["endpoint"], "PutBucketEncryption") from None

    def _block_public_access(self, p: dict[str, Any]) -> str:
        s3, name = self.client(p), p["bucket"]
        try:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
            return "blocked"
        except ClientError as err:
            if error_code(err) not in UNSUPPORTED:
                raise storage_error(err, name, p["endpoint"], "PutPublicAccessBlock") from None
        self._call(p, "PutBucketAcl", s3.put_bucket_acl, Bucket=name, ACL="private")
        return "private-acl"

    def _apply_lifecycle(self, p: dict[str, Any]) -> None:
        s3, name = self.client(p), p["bucket"]
        rules = lifecycle_rules(p["lifecycle"])
        if rules:
            self._call(p, "PutBucketLifecycleConfiguration", s3.put_bucket_lifecycle_configuration,
                       Bucket=name, LifecycleConfiguration={"Rules": rules})
        else:
            self._call(p, "DeleteBucketLifecycle", s3.delete_bucket_lifecycle, Bucket=name)

    def observe(self, p: dict[str, Any]) -> dict[str, Any]:
        """The live settings, in the inputs' shape (so a refresh shows drift)."""
        s3, name = self.client(p), p["bucket"]
        status = self._call(p, "GetBucketVersioning", s3.get_bucket_versioning, Bucket=name).get("Status")
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=name).get("Rules", [])
        except ClientError as err:
            if error_code(err) not in ("NoSuchLifecycleConfiguration", *UNSUPPORTED):
                raise storage_error(err, name, p["endpoint"], "GetBucketLifecycleConfiguration") from None
            rules = []
        try:
            sse = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
            encryption = sse[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if sse else "disabled"
        except ClientError as err:
            code = error_code(err)
            if code == "ServerSideEncryptionConfigurationNotFoundError":
                encryption = "disabled"
            elif code in UNSUPPORTED:
                encryption = "unsupported"
            else:
                raise storage_error(err, name, p["endpoint"], "GetBucketEncryption") from None
        try:
            pab = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
            public = "blocked" if all(pab.values()) else "open"
        except ClientError as err:
            if error_code(err) not in ("NoSuchPublicAccessBlockConfiguration", *UNSUPPORTED):
                raise storage_error(err, name, p["endpoint"], "GetPublicAccessBlock") from None
            public = "private-acl" if error_code(err) in UNSUPPORTED else "open"
        return {
            **p,
            "versioning": status == "Enabled",
            # A store without encryption support cannot drift: keep what was asked.
            "encryption": p["encryption"] if encryption == "unsupported" else encryption != "disabled",
            "lifecycle": lifecycle_from_rules(rules),
            "versioningStatus": status or "Disabled",
            "encryptionStatus": encryption,
            "publicAccess": public,
        }

    # -- CRUD ------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(prop, reason) for prop, reason in check_props(news)]
        if not failures:
            news = {**news, "lifecycle": {k: v for k, v in normalize_lifecycle(news.get("lifecycle")).items()
                                          if v is not None}}
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces, updates = diff_props(olds, news)
        same_place = not replaces or replaces == ["region"]
        return DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            # Same name on the same store cannot exist twice: delete the old one first.
            delete_before_replace=bool(replaces) and same_place,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = normalize(props)
        adopted = self.exists(p)
        if not adopted:
            s3 = self.client(p)
            kwargs: dict[str, Any] = {"Bucket": p["bucket"]}
            if p["region"] != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": p["region"]}
            try:
                s3.create_bucket(**kwargs)
            except ClientError as err:
                if error_code(err) != "BucketAlreadyOwnedByYou":
                    raise storage_error(err, p["bucket"], p["endpoint"], "CreateBucket") from None
                adopted = True
            except BotoCoreError as err:
                raise storage_error(err, p["bucket"], p["endpoint"], "CreateBucket") from None
        return CreateResult(p["bucket"], {**p, **self.apply(p), "adopted": adopted})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = normalize({**props, "bucket": props.get("bucket") or id_})
        if not self.exists(p):
            return ReadResult(None, {})
        return ReadResult(id_, {**self.observe(p), "adopted": bool(props.get("adopted", False))})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        p = normalize(news)
        return UpdateResult({**p, **self.apply(p), "adopted": bool(olds.get("adopted", False))})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        p = normalize({**props, "bucket": props.get("bucket") or id_})
        if not self.exists(p):
            return
        if not self.is_empty(p):
            if not p["forceDestroy"]:
                raise StorageError(
                    f"bucket {p['bucket']!r} at {p['endpoint']}: not empty, refusing to delete it; to delete its "
                    "data list the bucket in coprs:objectStorage.forceDestroy and run `pulumi up` first")
            self.empty(p)
        self._call(p, "DeleteBucket", self.client(p).delete_bucket, Bucket=p["bucket"])

    def empty(self, p: dict[str, Any]) -> None:
        """Delete every object version, delete marker and unfinished upload."""
        s3, name = self.client(p), p["bucket"]
        for keys in self._all_keys(p):
            for i in range(0, len(keys), 1000):
                result = self._call(p, "DeleteObjects", s3.delete_objects, Bucket=name,
                                    Delete={"Objects": keys[i : i + 1000], "Quiet": True})
                if result.get("Errors"):
                    first = result["Errors"][0]
                    raise StorageError(f"bucket {name!r} at {p['endpoint']}: could not delete "
                                       f"{len(result['Errors'])} objects, first {first.get('Key')!r}: {first.get('Code')}")
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for upload in page.get("Uploads", []):
                self._call(p, "AbortMultipartUpload", s3.abort_multipart_upload, Bucket=name,
                           Key=upload["Key"], UploadId=upload["UploadId"])

    def _all_keys(self, p: dict[str, Any]) -> Iterable[list[dict[str, str]]]:
        """Pages of every object version and delete marker (plain keys on stores without versioning)."""
        s3, name = self.client(p), p["bucket"]
        try:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                yield [{"Key": v["Key"], "VersionId": v["VersionId"]}
                       for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            return
        except ClientError as err:
            if error_code(err) not in UNSUPPORTED:
                raise storage_error(err, name, p["endpoint"], "ListObjectVersions") from None
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            yield [{"Key": o["Key"]} for o in page.get("Contents", [])]
