"""One moto S3 server on 127.0.0.1 per test session, with IAM authentication on and two accounts.

Credentials are generated at runtime (IAM CreateAccessKey on the moto server); nothing here is a
literal key. `owner` owns the buckets the provider creates; `other` is someone else's account.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig
from moto.server import ThreadedMotoServer
from pulumi.dynamic import Config, ConfigureRequest

from components.storage.bucket_provider import ACCESS_KEY, SECRET_KEY, BucketProvider

REGION = "eu-west-0"
OWNER_ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"


@dataclass(frozen=True)
class Keys:
    access: str
    secret: str


@dataclass(frozen=True)
class Store:
    url: str
    owner: Keys
    other: Keys

    def provider(self, keys: Keys | None = None, max_attempts: int = 1) -> BucketProvider:
        """A provider configured the way the dynamic provider process configures it (stack config)."""
        keys = keys or self.owner
        p = BucketProvider(max_attempts=max_attempts)
        p.configure(ConfigureRequest(Config({ACCESS_KEY: keys.access, SECRET_KEY: keys.secret}, "coprs")))
        return p

    def s3(self, keys: Keys | None = None):
        keys = keys or self.owner
        return boto3.client(
            "s3", endpoint_url=self.url, region_name=REGION,
            aws_access_key_id=keys.access, aws_secret_access_key=keys.secret,
            config=BotoConfig(s3={"addressing_style": "path"}),
        )


def _account_keys(url: str, account: str) -> Keys:
    """An IAM user with full S3 access in `account`, created while authentication is still off."""
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="AKIA" + secrets.token_hex(8).upper(),
                       aws_secret_access_key=secrets.token_hex(20))
    iam.meta.events.register("before-sign.iam.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    user = f"coprs-{account}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="session")
def store():
    previous = os.environ.get("MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS")
    # Buckets of one account are invisible to another (403), like on a real store.
    os.environ["MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS"] = "false"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    owner, other = _account_keys(url, OWNER_ACCOUNT), _account_keys(url, OTHER_ACCOUNT)
    requests.post(f"{url}/moto-api/reset-auth", data=b"0", timeout=10)  # IAM authentication on from here
    try:
        yield Store(url, owner, other)
    finally:
        requests.post(f"{url}/moto-api/reset-auth", data=b"inf", timeout=10)
        server.stop()
        if previous is None:
            os.environ.pop("MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS", None)
        else:
            os.environ["MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS"] = previous
