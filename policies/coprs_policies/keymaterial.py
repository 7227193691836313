"""Rules on the secrets the program generates (SEC-01..03): pulumi-random passwords and pulumi-tls keys
and certificates. They judge strength and lifetime only; the values themselves are never read."""

from __future__ import annotations

from typing import Iterator

from .base import Cfg, Res, ResourceRule, elements, get, meta, number, truthy

RULES: list = []
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
CERTS = ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert")


def rule(m, types, check) -> None:
    RULES.append(ResourceRule(m, "secrets", types, check))


def _sec01(res: Res, cfg: Cfg) -> Iterator[str]:
    length = number(get(res.props, "length"))
    if length is not None and length < cfg["minLength"]:
        yield f"the generated password has {int(length)} characters (minimum {cfg['minLength']})"
    if all(get(res.props, k) is False for k in ("upper", "lower", "numeric", "special")):
        yield "the generated password may use no character class"


rule(meta("SEC-01", "high", "Generated passwords are long enough", ["NIST-SP-800-63B", "COPRS:secrets"],
          "Generate passwords of at least `minLength` characters (32 is the project's habit).",
          {"minLength": {"type": "integer", "minimum": 8, "default": 20, "description": "shortest generated password"}}),
     [RANDOM_PASSWORD], _sec01)


def _sec02(res: Res, cfg: Cfg) -> Iterator[str]:
    algo = str(get(res.props, "algorithm") or "")
    if algo == "RSA":
        bits = number(get(res.props, "rsaBits"))
        if bits is not None and bits < cfg["minRsaBits"]:
            yield f"the RSA key has {int(bits)} bits (minimum {cfg['minRsaBits']})"
    elif algo == "ECDSA" and str(get(res.props, "ecdsaCurve") or "P224") == "P224":
        yield "the ECDSA key uses curve P224"


rule(meta("SEC-02", "high", "Generated keys are strong (RSA ≥ 2048, ECDSA ≥ P256, or ED25519)", ["NIST-SP-800-57", "COPRS:secrets"],
          "Use ED25519 for SSH, ECDSA P256 for Linkerd, or RSA with at least `minRsaBits` bits.",
          {"minRsaBits": {"type": "integer", "minimum": 2048, "default": 2048, "description": "smallest RSA key"}}),
     [PRIVATE_KEY], _sec02)


def _sec03(res: Res, cfg: Cfg) -> Iterator[str]:
    ca = truthy(get(res.props, "isCaCertificate"))
    hours = number(get(res.props, "validityPeriodHours"))
    limit = cfg["maxCaHours"] if ca else cfg["maxLeafHours"]
    if hours is not None and hours > limit:
        yield f"the {'CA ' if ca else ''}certificate is valid {int(hours)}h (maximum {limit}h)"
    uses = {str(u) for u in elements(get(res.props, "allowedUses"))}
    if ca and "cert_signing" not in uses:
        yield "the CA certificate cannot sign certificates (allowedUses lacks cert_signing)"
    if not ca and uses & {"cert_signing", "crl_signing"}:
        yield "a leaf certificate is allowed to sign certificates"


rule(meta("SEC-03", "medium", "Generated certificates have bounded lifetimes and the right key usages", ["NSA:encrypt-in-transit",
                                                                                                         "COPRS:secrets"],
          "Keep CA validity within `maxCaHours` (trust anchors are rotated by a documented procedure) and leaf certificates "
          "within `maxLeafHours`; only CAs get cert_signing.",
          {"maxCaHours": {"type": "integer", "minimum": 1, "default": 87600, "description": "longest CA validity"},
           "maxLeafHours": {"type": "integer", "minimum": 1, "default": 8760, "description": "longest leaf validity"}}),
     list(CERTS), _sec03)
