"""The bucket provider as Pulumi runs it: `python -m pulumi.dynamic` in the project directory, over gRPC.

Proves what a real `pulumi up` relies on: the pickled provider (by reference) loads in the provider
process from the project directory, the keys come from the stack configuration sent by Configure (not
from the resource's properties), and Create / Delete work against the store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from botocore.exceptions import ClientError
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.storage.bucket_provider import ACCESS_KEY, SECRET_KEY, BucketProvider

from .conftest import REGION

ROOT = Path(__file__).resolve().parents[3]
URN = "urn:pulumi:test::coprs::coprs:storage:Bucket$pulumi-python:dynamic/storage:Bucket::bucket"


def _struct(values: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


@pytest.fixture(scope="module")
def provider_process():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=ROOT, env={**env, "PULUMI_PROJECT": "coprs"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(proc.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield provider_pb2_grpc.ResourceProviderStub(channel)
        channel.close()
    finally:
        proc.kill()
        proc.wait()


def test_create_and_delete_through_the_provider_process(store, provider_process):
    stub = provider_process
    stub.Configure(provider_pb2.ConfigureRequest(args=_struct({ACCESS_KEY: store.owner.access, SECRET_KEY: store.owner.secret})))
    name = f"coprs-process-{uuid.uuid4().hex[:10]}"
    props = {
        "__provider": serialize_provider(BucketProvider(max_attempts=1)),
        "bucket": name, "endpoint": store.url, "region": REGION,
        "lifecycle": {"noncurrentVersionExpirationDays": 7},
    }
    created = stub.Create(provider_pb2.CreateRequest(urn=URN, properties=_struct(props)))
    outs = json_format.MessageToDict(created.properties)
    assert created.id == name
    assert outs["versioningStatus"] == "Enabled" and outs["publicAccess"] == "blocked"
    assert store.owner.secret not in str(outs) and store.owner.access not in str(outs)
    assert store.s3().get_bucket_versioning(Bucket=name)["Status"] == "Enabled"

    stub.Delete(provider_pb2.DeleteRequest(id=name, urn=URN, properties=created.properties))
    with pytest.raises(ClientError):
        store.s3().head_bucket(Bucket=name)
