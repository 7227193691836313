"""The fakes of a mocked run: outputs the program reads (ids, IPs, addresses, keys, kubeconfigs, release
status), deterministic per resource name, by resource type.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any, Callable

from pulumi.runtime import mocks as pmocks

from components.config import NAMESPACE, RESERVED_ADDRESSES, ConfigError, StackConfig

from .recorded import strip_secrets


def _h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class _AddressPool:
    """Deterministic addresses: a name always maps to the same address in one run; a full pool is an error."""

    def __init__(self, cidr: str, skip: int = RESERVED_ADDRESSES - 1, key: str = f"{NAMESPACE}:network.cidr"):
        self.net = ipaddress.ip_network(cidr)
        self.skip = skip
        self.key = key
        self.size = max(self.net.num_addresses - skip - 1, 0)
        self.used: dict[str, str] = {}
        self.taken: set[int] = set()

    def get(self, key: str) -> str:
        if key not in self.used:
            if len(self.taken) >= self.size:
                raise ConfigError([f"{self.key} = {str(self.net)!r}: no address left for {key} "
                                   f"({self.size} addresses, all given out)"])
            i = _h(key) % self.size
            while i in self.taken:
                i = (i + 1) % self.size
            self.taken.add(i)
            self.used[key] = str(self.net.network_address + self.skip + i)
        return self.used[key]


FAKE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: {cluster}
  cluster:
    server: https://{server}:6443
    certificate-authority-data: bW9jay1jYQ==
contexts:
- name: {cluster}
  context: {{cluster: {cluster}, user: {cluster}-admin}}
current-context: {cluster}
users:
- name: {cluster}-admin
  user: {{token: offline-dummy-token}}
"""

Faker = Callable[["RecordingMocks", pmocks.MockResourceArgs], dict[str, Any]]


class RecordingMocks(pmocks.Mocks):
    """Pulumi mocks that fake outputs deterministically per resource type."""

    def __init__(self, cfg: StackConfig):
        self.cfg = cfg
        cidr = cfg.network.cidr if cfg.network else "192.168.0.0/16"
        self.private = _AddressPool(cidr)
        self.public = _AddressPool("203.0.113.0/24", skip=1, key="the offline floating IP range")
        self.port_ips: dict[str, str] = {}
        self.fakers: dict[str, Faker] = dict(DEFAULT_FAKERS)

    def new_resource(self, args: pmocks.MockResourceArgs):
        inputs = strip_secrets(args.inputs, mask=False)
        rid = f"{args.name}-id"
        faker = self.fakers.get(args.typ)
        extra = faker(self, args) if faker else {}
        if args.typ.startswith("kubernetes:") and "metadata" in inputs:
            meta = dict(inputs.get("metadata") or {})
            meta.setdefault("name", args.name)
            extra.setdefault("metadata", meta)
        return rid, {**args.inputs, **extra}

    def call(self, args: pmocks.MockCallArgs):
        tok = args.token
        if tok == "openstack:networking/getNetwork:getNetwork":
            return {"id": f"net-{args.args.get('name')}", "name": args.args.get("name")}
        if tok == "openstack:images/getImage:getImage":
            return {"id": f"image-{args.args.get('name')}", "name": args.args.get("name")}
        return dict(args.args)


def _fake_port(m: RecordingMocks, a: pmocks.MockResourceArgs) -> dict:
    ip = m.private.get(a.name)
    m.port_ips[f"{a.name}-id"] = ip
    return {"allFixedIps": [ip], "macAddress": "fa:16:3e:00:00:00"}


def _fake_instance(m: RecordingMocks, a: pmocks.MockResourceArgs) -> dict:
    nets = a.inputs.get("networks") or [{}]
    ip = m.port_ips.get(nets[0].get("port", ""), m.private.get(a.name))
    return {"accessIpV4": ip, "allMetadata": a.inputs.get("metadata", {})}


def _fake_lb(m: RecordingMocks, a: pmocks.MockResourceArgs) -> dict:
    return {"vipAddress": m.private.get(a.name), "vipPortId": f"{a.name}-vip-port-id"}


def _fake_secret_text(kind: str) -> Faker:
    return lambda m, a: {kind: f"offline-dummy-{a.name}-{_h(a.name) % 10**8:08d}"}


def _fake_private_key(m: RecordingMocks, a: pmocks.MockResourceArgs) -> dict:
    tag = f"offline-dummy-{a.name}"
    return {
        "privateKeyPem": tag + "-private-pem",
        "privateKeyOpenssh": tag + "-private-openssh",
        "privateKeyPemPkcs8": tag + "-private-pkcs8",
        "publicKeyOpenssh": f"ssh-ed25519 AAAAoffline{_h(a.name) % 10**12:012d} {a.name}",
        "publicKeyPem": tag + "-public-pem",
        "id": tag,
    }


def _fake_command(m: RecordingMocks, a: pmocks.MockResourceArgs) -> dict:
    create = str(a.inputs.get("create", ""))
    if "admin.conf" in create or "kubeconfig" in a.name:
        return {"stdout": FAKE_KUBECONFIG.format(cluster=m.cfg.cluster.name, server="10.0.0.1"), "stderr": ""}
    return {"stdout": "", "stderr": ""}


def _fake_stack_reference(m: RecordingMocks, a: pmocks.MockResourceArgs) -> dict:
    return {
        "outputs": {"kubeconfig": FAKE_KUBECONFIG.format(cluster=m.cfg.cluster.name, server="10.0.0.1")},
        "secretOutputNames": ["kubeconfig"],
    }


def _fake_release(m: RecordingMocks, a: pmocks.MockResourceArgs) -> dict:
    return {
        "status": {
            "name": a.inputs.get("name", a.name),
            "namespace": a.inputs.get("namespace", "default"),
            "status": "deployed",
            "chart": a.inputs.get("chart"),
            "version": a.inputs.get("version"),
            "revision": 1.0,
        }
    }


DEFAULT_FAKERS: dict[str, Faker] = {
    "openstack:networking/port:Port": _fake_port,
    "openstack:compute/instance:Instance": _fake_instance,
    "openstack:loadbalancer/loadBalancer:LoadBalancer": _fake_lb,
    "openstack:networking/floatingIp:FloatingIp": lambda m, a: {"address": m.public.get(a.name)},
    "openstack:compute/keypair:Keypair": lambda m, a: {"fingerprint": f"{_h(a.name) % 16**32:032x}"},
    "tls:index/privateKey:PrivateKey": _fake_private_key,
    "tls:index/selfSignedCert:SelfSignedCert": _fake_secret_text("certPem"),
    "tls:index/locallySignedCert:LocallySignedCert": _fake_secret_text("certPem"),
    "tls:index/certRequest:CertRequest": _fake_secret_text("certRequestPem"),
    "random:index/randomPassword:RandomPassword": lambda m, a: {
        "result": f"offline-{_h(a.name) % 10**16:016d}",
        "bcryptHash": f"$2a$10$offline{_h(a.name) % 10**16:016d}",
    },
    "random:index/randomString:RandomString": lambda m, a: {"result": f"offline{_h(a.name) % 10**12:012d}"},
    "random:index/randomId:RandomId": lambda m, a: {"hex": f"{_h(a.name):016x}", "b64Std": "b2ZmbGluZQ=="},
    "command:local:Command": _fake_command,
    "command:remote:Command": _fake_command,
    "pulumi:pulumi:StackReference": _fake_stack_reference,
    "kubernetes:helm.sh/v3:Release": _fake_release,
    # What the bucket provider reports after creating a bucket on a store with every feature.
    "pulumi-python:dynamic/storage:Bucket": lambda m, a: {
        "versioningStatus": "Enabled", "encryptionStatus": "AES256", "publicAccess": "blocked", "adopted": False},
}
