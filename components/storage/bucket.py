"""`coprs:storage:Bucket`: one S3 bucket on the object store, created and verified by the program."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
from pulumi import dynamic

from .bucket_provider import OBSERVED_KEYS, BucketProvider

# One provider object for every bucket: its pickled form (in state as `__provider`) is identical.
PROVIDER = BucketProvider()


@dataclass(frozen=True)
class Lifecycle:
    """Days after which the store drops data on its own (None: never)."""

    noncurrent_version_expiration_days: Optional[int] = 30
    abort_incomplete_multipart_upload_days: Optional[int] = 7
    expiration_days: Optional[int] = None

    def wire(self) -> dict[str, int]:
        values = {
            "noncurrentVersionExpirationDays": self.noncurrent_version_expiration_days,
            "abortIncompleteMultipartUploadDays": self.abort_incomplete_multipart_upload_days,
            "expirationDays": self.expiration_days,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class BucketArgs:
    bucket: str
    endpoint: str
    region: str
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    versioning: bool = True
    encryption: bool = True
    force_destroy: bool = False
    addressing_style: str = "path"
    verify_tls: bool = True


class BucketResource(dynamic.Resource, module="storage", name="Bucket"):
    """The dynamic resource (type `pulumi-python:dynamic/storage:Bucket`) behind a Bucket."""

    bucket: pulumi.Output[str]
    endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: BucketArgs, opts: Optional[pulumi.ResourceOptions] = None):
        props = {
            "bucket": args.bucket,
            "endpoint": args.endpoint.rstrip("/"),
            "region": args.region,
            "versioning": args.versioning,
            "encryption": args.encryption,
            "lifecycle": args.lifecycle.wire(),
            "forceDestroy": args.force_destroy,
            "addressingStyle": args.addressing_style,
            "verifyTls": args.verify_tls,
            **{k: None for k in OBSERVED_KEYS},
        }
        super().__init__(PROVIDER, name, props, opts)


class Bucket(pulumi.ComponentResource):
    """A bucket with versioning, encryption where supported, no public access and lifecycle rules.

    Protected by default: `pulumi destroy` never deletes it unless the stack is unprotected on purpose, and
    even then the provider refuses a non-empty bucket unless `forceDestroy` lists it.
    """

    def __init__(self, name: str, args: BucketArgs, protect: bool = True,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("coprs:storage:Bucket", name, None,
                         pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protect)))
        self.args = args
        self.resource = BucketResource(name, args, pulumi.ResourceOptions(parent=self, protect=protect))
        self.bucket: pulumi.Output[str] = self.resource.bucket
        self.endpoint: pulumi.Output[str] = self.resource.endpoint
        self.register_outputs({"bucket": self.bucket, "endpoint": self.endpoint})
