"""Secret configuration: which secret keys a stack needs, and keys that a stack file holds in clear.

A value set with `pulumi config set --secret` is stored encrypted in `Pulumi.<stack>.yaml` as
`{secure: ...}`. Anything else under a secret key is a plaintext credential in a file that is committed:
`plaintext_secrets` finds them (the keys of `SECRET_KEYS`, and any key whose last word says password,
passphrase, secret, token, key or credentials) so the offline tools stop before using them.
`needed_secrets` says which secret keys this stack's program reads, from the raw config (no validation
needed): the OpenStack password when it provisions a cloud (unless `openstack:cloud` names a clouds.yaml
entry), the object-store keys when it has object storage, the kubeconfig of an existing cluster not read
from another stack, the DNS01 credentials of an ACME issuer, SCDF's registry password with a registry.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from .config import NAMESPACE, SECRET_KEYS

SECRET_WORDS = {"password", "passwd", "passphrase", "secret", "token", "key", "credentials", "kubeconfig"}
# Last words that name something about a secret, not the secret itself (tsigKeyName, accessKeyId, ...Ref).
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(name: str) -> list[str]:
    """`s3AccessKey` → [s3, access, key]; `tsigKeyName` → [tsig, key, name]; `accessKeyID` → [access, key, id]."""
    return [w.lower() for w in _WORD.findall(name)]


def is_secret_name(key: str) -> bool:
    """A config key (or a nested key) whose value must be secret: listed, or its last word says so."""
    if key in SECRET_KEYS:
        return True
    parts = words(key.rsplit(":", 1)[-1])
    return bool(parts) and parts[-1] in SECRET_WORDS and "public" not in parts


def _is_encrypted(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secure"}


def _walk(key: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(path, value) of every key under a config value: `coprs:platform.apps.x.settings.password`."""
    yield key, value
    if isinstance(value, Mapping) and not _is_encrypted(value):
        for k, v in value.items():
            yield from _walk(f"{key}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, Mapping):
                yield from _walk(f"{key}[{i}]", v)


def plaintext_secrets(config: Mapping[str, Any]) -> list[str]:
    """Paths of secret keys given in clear (non-empty and not `{secure: ...}`) in a stack file's `config`."""
    found = []
    for top, value in config.items():
        for path, v in _walk(top, value):
            name = path.rsplit(".", 1)[-1].split("[", 1)[0]
            if v in (None, "", [], {}) or _is_encrypted(v) or isinstance(v, (bool, int, float)):
                continue
            if is_secret_name(path if path == top else name) and not isinstance(v, (Mapping, list)):
                found.append(path)
    return found


def set_secret_command(path: str, stack: str) -> str:
    flag = " --path" if "." in path.split(":", 1)[-1] else ""
    return f"pulumi config set --secret{flag} {path} <value> --stack {stack}"


def plaintext_problems(config: Mapping[str, Any], stack: str, file_name: str) -> list[str]:
    """One line per plaintext secret: the key, and the command that stores it encrypted (the value never shows)."""
    return [
        f"{path} is in clear in {file_name}: delete that line and run `{set_secret_command(path, stack)}`"
        for path in plaintext_secrets(config)
    ]


def _section(values: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    v = values.get(f"{NAMESPACE}:{name}")
    return v if isinstance(v, Mapping) else {}


def needed_secrets(values: Mapping[str, Any]) -> dict[str, str]:
    """key → why this stack needs it, from the (raw) config values of the stack."""
    cluster = _section(values, "cluster")
    platform = _section(values, "platform")
    issuer = platform.get("issuer") if isinstance(platform.get("issuer"), Mapping) else {}
    existing = cluster.get("mode") == "existing"
    out: dict[str, str] = {}
    if not existing and "openstack:cloud" not in values:
        out["openstack:password"] = "the cloud layer creates OpenStack resources"
    if values.get(f"{NAMESPACE}:objectStorage"):
        out[f"{NAMESPACE}:s3AccessKey"] = "coprs:objectStorage is set (buckets and their consumers)"
        out[f"{NAMESPACE}:s3SecretKey"] = "coprs:objectStorage is set (buckets and their consumers)"
    if existing and not cluster.get("kubeconfigFromStack"):
        out[f"{NAMESPACE}:kubeconfig"] = "cluster.mode is existing without cluster.kubeconfigFromStack"
    platform_on = platform.get("enabled", True) is not False
    if issuer.get("type") == "acme" and platform_on:
        out[f"{NAMESPACE}:acmeDnsCredentials"] = "platform.issuer is ACME: its DNS01 solver's credentials"
    apps = platform.get("apps") if isinstance(platform.get("apps"), Mapping) else {}

    def settings_of(app: str) -> Mapping[str, Any]:
        """The app's settings when the app and the platform are on, else nothing."""
        entry = apps.get(app) if isinstance(apps.get(app), Mapping) else {}
        settings = entry.get("settings") if isinstance(entry.get("settings"), Mapping) else {}
        return settings if entry.get("enabled", True) is not False and platform_on else {}

    if settings_of("scdf").get("registry"):
        out[f"{NAMESPACE}:scdfRegistryPassword"] = "platform.apps.scdf.settings.registry is set (image pull secret)"
    if settings_of("openstack-exporter").get("applicationCredentialId"):
        out[f"{NAMESPACE}:openstackExporterCredential"] = (
            "platform.apps.openstack-exporter.settings.applicationCredentialId is set (its application credential)")
    if settings_of("kafka").get("external"):
        out[f"{NAMESPACE}:kafkaExternalCredentials"] = (
            "platform.apps.kafka.settings.external is set (the managed Kafka's user credentials)")
    return out


def encrypted_keys(config: Mapping[str, Any]) -> list[str]:
    """The keys a stack file holds as `{secure: ...}` (set with `pulumi config set --secret`)."""
    return sorted(k for k, v in config.items() if _is_encrypted(v))


def missing_problems(missing: Mapping[str, str], stack: str, file_name: str) -> list[str]:
    return [f"{file_name} lacks {key}, which this stack needs ({why}): run `{set_secret_command(key, stack)}`"
            for key, why in missing.items()]


def offline_secrets(
    file_config: Mapping[str, Any], values: dict[str, Any], stack: str, file_name: str, require: bool | None = None
) -> tuple[list[str], dict[str, str]]:
    """The offline run's secret handling, on the stack file's `config` and the run's values (overrides applied).

    Stops (ConfigError, one line per key) on a secret given in clear. Replaces every encrypted value and every
    needed secret the file lacks by a deterministic dummy in `values`. Returns (all secret keys, the needed
    ones that were missing and faked). A missing needed secret is an error instead when `require` is True, or
    when it is None and the file holds encrypted values (a configured stack: a real preview would stop too).
    """
    from .config import ConfigError

    problems = plaintext_problems(file_config, stack, file_name)
    if problems:
        raise ConfigError(problems)
    secret_keys = encrypted_keys(file_config)
    needed = needed_secrets(values)
    missing = {k: why for k, why in needed.items() if k not in values}
    if missing and (require or (require is None and secret_keys)):
        raise ConfigError(missing_problems(missing, stack, file_name))
    for key in [*secret_keys, *missing]:
        values[key] = f"offline-dummy-{key.replace(':', '-')}"
    given = [k for k in values if k in SECRET_KEYS]  # set through overrides (tests): secret all the same
    return sorted({*secret_keys, *missing, *given}), missing
