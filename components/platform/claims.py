"""Claims: what an app needs another app (or the storage layer) to serve it, declared in the app's module.

A claim names the role that serves it (`role`, a class attribute) and the Secret the server creates in the
consumer's namespace (`secret`); the consumer's values reference that Secret by name. The framework disables
a consumer whose claim no enabled app or layer can serve ("needs <role>", unless `optional`), orders it
after the app that serves it, and makes its releases wait for what was served (`AppContext.serve`).

Subclass with `@dataclass(frozen=True, kw_only=True)` and give the role::

    @dataclass(frozen=True, kw_only=True)
    class Database(Claim):
        role: ClassVar[str] = "database"
        name: str
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional


@dataclass(frozen=True, kw_only=True)
class Claim:
    role: ClassVar[str] = ""
    secret: str  # the Secret the server creates for the consumer
    namespace: Optional[str] = None  # where that Secret goes; default: the consumer's namespace
    optional: bool = False  # not served (instead of disabling the consumer) when no one plays the role


@dataclass(frozen=True, kw_only=True)
class Bucket(Claim):
    """Object storage: credentials for the bucket `<bucketPrefix>-<suffix>` in the format the app reads.

    Served by the storage layer; formats: "thanos-objstore" (objstore.yml), "aws-env" (AWS_* variables),
    "eck-keystore" (ECK secureSettings entries), "aws-credentials-file" (key `cloud`, Velero).
    """

    role: ClassVar[str] = "object-storage"
    suffix: str
    format: str
