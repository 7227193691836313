"""Constrained string types of the stack configuration: one per kind of value.

Every type is ASCII-only, matched in full (`re.fullmatch` with `re.ASCII`: no `$` before a trailing
newline, no non-ASCII digits) and length-limited, so a value that reaches a shell command, a config file
(sshd, YAML read by Ansible's Jinja), an OpenStack name or a Kubernetes object is of that sink's syntax.
A bad value fails with "must be <what is allowed>"; `components.config` adds the key path.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Callable
from urllib.parse import urlsplit

from pydantic import AfterValidator, StrictStr

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SUBDOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_NAME63 = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# RFC 3986 path characters minus the ones Ansible's Jinja or a shell would read ({ } ` $ ' " \ and spaces).
_URL_PATH = r"(?:/[A-Za-z0-9._~!&()*+,;=:@%-]*)*"


def _rx(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.ASCII)


def _checked(what: str, max_len: int, test: Callable[[str], bool], min_len: int = 1) -> type:
    """A str type: `min_len..max_len` characters, ASCII, and `test(value)` true."""

    def check(v: str) -> str:
        if not min_len <= len(v) <= max_len:
            raise ValueError(f"must be {what}, {min_len} to {max_len} characters (got {len(v)})")
        if not v.isascii() or not test(v):
            raise ValueError(f"must be {what}")
        return v

    return Annotated[StrictStr, AfterValidator(check)]


def pattern(what: str, regex: str, max_len: int, min_len: int = 1) -> type:
    rx = _rx(regex)
    return _checked(what, max_len, lambda v: rx.fullmatch(v) is not None, min_len)


def is_dns_name(v: str, max_len: int = 253) -> bool:
    """A lower-case DNS name of at least two labels with an alphabetic top-level label."""
    return len(v) <= max_len and _rx(rf"(?:{_LABEL}\.)+[a-z]{{2,63}}").fullmatch(v) is not None


def is_label_key(v: str) -> bool:
    """Kubernetes qualified name: optional DNS-subdomain prefix (≤ 253) and '/', a name of ≤ 63."""
    prefix, slash, name = v.rpartition("/")
    if slash and not (len(prefix) <= 253 and _rx(_SUBDOMAIN).fullmatch(prefix)):
        return False
    return _rx(_NAME63).fullmatch(name) is not None


def is_label_value(v: str) -> bool:
    return v == "" or _rx(_NAME63).fullmatch(v) is not None


TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def is_taint(v: str) -> bool:
    """`key[=value]:effect`, key and value of Kubernetes label syntax."""
    spec, colon, effect = v.rpartition(":")
    if not colon or effect not in TAINT_EFFECTS:
        return False
    key, eq, value = spec.partition("=")
    return is_label_key(key) and (not eq or is_label_value(value))


def _host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 4
    except ValueError:
        return _rx(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*").fullmatch(host) is not None and len(host) <= 253


def is_host_port(v: str) -> bool:
    """`host[:port]`: a host name or IPv4 address, an optional port 1-65535."""
    host, colon, port = v.rpartition(":") if ":" in v else (v, "", "")
    if colon and not (_rx(r"[0-9]{1,5}").fullmatch(port) and 0 < int(port) < 65536):
        return False
    return _host(host)


def url_test(schemes: tuple[str, ...], query: bool = True) -> Callable[[str], bool]:
    def test(v: str) -> bool:
        if not _rx(r"[!-~]+").fullmatch(v) or any(c in v for c in "{}`$'\"\\<>^|"):
            return False
        try:
            u = urlsplit(v)
            u.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return False
        if u.scheme not in schemes or u.username or u.password or u.fragment or (u.query and not query):
            return False
        return _host(u.hostname or "") and _rx(_URL_PATH).fullmatch(u.path) is not None

    return test


def url(what: str, schemes: tuple[str, ...] = ("https",), query: bool = True, max_len: int = 2048) -> type:
    return _checked(what, max_len, url_test(schemes, query))


def _ipv4(kind: str, parse: Callable[[str], object]) -> Callable[[str], str]:
    def check(v: str) -> str:
        if not v.isascii():
            raise ValueError(f"must be an IPv4 {kind}")
        try:
            value = parse(v)
        except ValueError as err:
            raise ValueError(f"must be an IPv4 {kind}: {err}") from None
        if value.version != 4:  # type: ignore[attr-defined]
            raise ValueError(f"IPv6 is not supported (the cluster is IPv4-only): give an IPv4 {kind}")
        return v

    return check


Ipv4Network = Annotated[StrictStr, AfterValidator(_ipv4("network like 10.0.0.0/16", lambda v: ipaddress.ip_network(v, strict=True)))]
Ipv4Address = Annotated[StrictStr, AfterValidator(_ipv4("address like 10.0.0.1", ipaddress.ip_address))]

DnsName = _checked("a lower-case DNS name like coprs.example.org", 253, is_dns_name)
AnsibleGroup = pattern("an Ansible group name: a lower-case letter, then letters, digits or '_'", r"[a-z][a-z0-9_]*", 32)
UnixUser = _checked(
    "a Unix user name other than root: lower-case letters, digits, '_' or '-', not starting with a digit or '-'",
    32, lambda v: _rx(r"[a-z_][a-z0-9_-]*").fullmatch(v) is not None and v != "root",
)
LocalPath = pattern("an absolute path or one under ~/ (printable ASCII)", r"(?:/|~/)[ -~]*", 1024)
OpenStackName = pattern(
    "an OpenStack name: letters, digits and . _ - : / ( ) @ + or inner spaces",
    r"[A-Za-z0-9](?:[ A-Za-z0-9._:/()@+-]*[A-Za-z0-9._:/()@+-])?", 255,
)
LabelKey = _checked("a Kubernetes label key: [prefix/]name, name of 63 characters or fewer of letters, digits, - _ .", 317, is_label_key)
LabelValue = _checked("a Kubernetes label value: empty or 63 characters or fewer of letters, digits, - _ .", 63, is_label_value, min_len=0)
Taint = _checked("a taint key[=value]:NoSchedule|PreferNoSchedule|NoExecute (label syntax for key and value)", 381, is_taint)
Quantity = pattern(
    "a Kubernetes quantity like 500m, 2, 4Gi or 1.5",
    r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?", 32,
)
KubernetesVersion = pattern("a Kubernetes version like 1.35.4 (no leading v)", r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,4}", 16)
KubesprayVersion = pattern("a Kubespray release tag like v2.31.0", r"v[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,4}", 16)
ClusterName = pattern("2-21 lower-case letters, digits or '-', starting with a letter, not ending with '-'", r"[a-z][a-z0-9-]*[a-z0-9]", 21, 2)
StackRef = pattern("a stack reference organization/project/stack", r"[A-Za-z0-9._-]{1,100}/[A-Za-z0-9._-]{1,100}/[A-Za-z0-9._-]{1,100}", 302)
Region = pattern("a region name: letters, digits, '-' or '_'", r"[A-Za-z0-9][A-Za-z0-9_-]*", 64)
BucketPrefix = pattern("2-41 lower-case letters, digits or '-', starting with a letter or digit", r"[a-z0-9][a-z0-9-]+", 41, 2)
Email = _checked(
    "an e-mail address like ops@example.org", 254,
    lambda v: (m := _rx(r"([A-Za-z0-9._%+-]{1,64})@(.+)").fullmatch(v)) is not None and is_dns_name(m.group(2)),
)
OidcClientId = pattern("an OIDC client id: letters, digits and . _ - : @", r"[A-Za-z0-9][A-Za-z0-9._:@-]*", 255)
OidcClaim = pattern("a JWT claim name: letters, digits and _ . : / -", r"[A-Za-z_][A-Za-z0-9_.:/-]*", 128)
OidcPrefix = pattern("a prefix of letters, digits and _ . : @ - (or empty)", r"[A-Za-z0-9_.:@-]*", 64, 0)
KeycloakRealm = pattern("a Keycloak realm name: letters, digits, '_' or '-'", r"[A-Za-z0-9][A-Za-z0-9_-]*", 64)
HostPort = _checked("host[:port] with a host name or IPv4 address", 260, is_host_port)
HttpsUrl = url("an https:// URL (TLS required) with a host name or IPv4 address, without spaces or quotes")
HttpUrl = url("an http:// or https:// URL with a host name or IPv4 address", ("http", "https"))
# An OIDC issuer has no query or fragment (OpenID Connect Discovery 1.0 §2).
IssuerUrl = url("an https:// issuer URL without query or fragment", query=False)
