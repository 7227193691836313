"""How a rule recognises a credential by structure (CrossGuard hands secrets over unwrapped, unmarked).

A value is judged by the key that holds it (`adminPassword`, `AWS_SECRET_ACCESS_KEY`, `auth.token`) and
by its shape (PEM private keys, `user:pass@` URIs); references (`existingSecret`, `passwordKey`,
`${VAR}`) are never credentials. Messages name the key path, never the value.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
SECRET_WORDS = {"password", "passwd", "pwd", "passphrase", "token", "credentials", "credential", "cookie", "licence", "license"}
SECRET_KEY_PREFIXES = {"api", "access", "secret", "private", "encryption", "master", "signing", "hmac", "license", "licence"}
SECRET_SECRET_PREFIXES = {"client", "shared", "jwt", "hmac", "session", "cookie", "app", "api", "webhook", "oauth", "s3"}
REFERENCE_WORDS = {"existing", "keys", "ref", "name", "file", "path", "uri", "url", "endpoint", "host", "id", "enabled", "type", "ttl",
                   "expiry", "timeout", "header", "issuer", "algorithm", "length", "policy", "mode", "format", "template",
                   "annotations", "labels", "selector", "mount", "dir", "provider", "secrets"}
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
INLINE_URI_CREDENTIAL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"]+@")
PLACEHOLDER = re.compile(r"^\s*(\$\{.*\}|\{\{.*\}\}|\$\(.*\)|\$[A-Z_][A-Z0-9_]*)\s*$")


def words(key: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(str(key))]


def sensitive_key(key: Any, parents: Iterable[Any] = ()) -> bool:
    """Whether a key (with its parent keys) names a credential value rather than a reference to one."""
    w = words(str(key)) if not isinstance(key, int) else []
    parent_words = [words(str(p)) for p in parents if not isinstance(p, int)]
    if not w:
        return False
    last = w[-1]
    if "existing" in w or last in REFERENCE_WORDS:
        return False
    if last in SECRET_WORDS:
        return True
    if last == "pem":
        return "key" in w
    if last == "key":
        if len(w) == 1:
            return bool(parent_words) and parent_words[-1][-1:] in (["tls"], ["ssl"], ["private"])
        return w[-2] in SECRET_KEY_PREFIXES or w[-3:] == ["replica", "set", "key"]
    if last == "secret":
        return len(w) == 1 or w[-2] in SECRET_SECRET_PREFIXES
    # a map named `credentials` / `auth` holding plain values: `apisix.admin.credentials.admin`
    return bool(parent_words) and parent_words[-1][-1:] == ["credentials"]


def secret_shaped(value: Any) -> bool:
    """A value that is a credential whatever key holds it."""
    return isinstance(value, str) and bool(PRIVATE_KEY.search(value) or INLINE_URI_CREDENTIAL.search(value))


def literal(value: Any) -> bool:
    """A non-empty literal string (not a `${VAR}` / `{{ .Values }}` placeholder)."""
    return isinstance(value, str) and value.strip() != "" and not PLACEHOLDER.match(value)


def describe(value: Any) -> str:
    """What kind of credential a value looks like, never the value itself."""
    if isinstance(value, str) and PRIVATE_KEY.search(value):
        return "a PEM private key"
    if isinstance(value, str) and INLINE_URI_CREDENTIAL.search(value):
        return "a URI with an inline user:password"
    return "a literal credential"


_ASSIGNMENT = re.compile(r"(?m)^\s*[\"']?([\w.-]+)[\"']?\s*[:=]\s*(\S.*?)\s*$")
_HARMLESS = re.compile(
    r"(?i)^(no|yes|false|true|none|null|~|\"\"|''|\||>"  # booleans, empty values, YAML block markers
    r"|[\"']?\$\{.*\}[\"']?|[\"']?\{\{.*\}\}[\"']?|[\"']?\$\(.*\)[\"']?)$"  # ${VAR}, {{ .Values }}, $(VAR)
)


def embedded_credentials(text: Any) -> list[str]:
    """Keys of `key: value` / `key=value` lines in an embedded config file that hold a literal credential."""
    if not isinstance(text, str):
        return []
    out = []
    for m in _ASSIGNMENT.finditer(text):
        key, value = m.group(1), m.group(2)
        value = value.rstrip(",").strip()  # JSON members end with a comma
        if value in ("[", "{", "[]", "{}"):  # a JSON/YAML structure opens: its own lines are checked
            continue
        if sensitive_key(key.split(".")[-1]) and not _HARMLESS.match(value) and not value.startswith("#"):
            out.append(key)
    return out
