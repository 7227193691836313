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


# ---------------------------------------------------------------------------------------------------------
# Pending: the data claims of issue 12, in the shapes INTERFACES.md gives, so consumers (SCDF) can declare
# them before that issue lands. When it lands, its definitions replace these.


def _default_secret(claim: Claim, value: str) -> None:
    if not claim.secret:
        object.__setattr__(claim, "secret", value)


@dataclass(frozen=True, kw_only=True)
class _Defaulted(Claim):
    secret: str = ""  # default from the claim's own fields


@dataclass(frozen=True)
class Database(_Defaulted):
    """A PostgreSQL database and its owner role, both `name` (Secret keys host, port, dbname, user, password,
    uri, jdbc-uri, ca.crt; TLS required)."""

    role: ClassVar[str] = "database"
    name: str

    def __post_init__(self) -> None:
        _default_secret(self, f"{self.name}-postgresql")


@dataclass(frozen=True)
class KafkaAccess(_Defaulted):
    """A KafkaUser (SCRAM-SHA-512) with ACLs (Secret keys bootstrap.servers, security.protocol, sasl.mechanism,
    username, password, sasl.jaas.config, ca.crt)."""

    role: ClassVar[str] = "kafka"
    user: str
    read: tuple[str, ...] = ()  # topic names, or prefixes ending with `*`
    write: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _default_secret(self, f"kafka-{self.user}")

