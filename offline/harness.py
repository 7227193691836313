"""The mocked-run harness: runs the real program for one stack under `pulumi.runtime` mocks.

Used by the tests, `make plan`, `make audit`, `make inventory` and the benchmark. It
- loads `Pulumi.<stack>.yaml` (plus overrides) into the string map `set_all_config` needs, with
  deterministic dummies for secret keys (and says which ones it faked);
- validates the `coprs` config first, so a bad config gives the program's own one-line error;
- runs `__main__.py` on a fresh event loop with `preview=False`, recording every registered resource
  with its parent, provider, dependencies and the options that matter;
- fakes the outputs the program reads (ids, IPs, addresses, keys, kubeconfigs) deterministically.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import ipaddress
import json
import runpy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import pulumi
import yaml
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime import resource as presource
from pulumi.runtime import stack as pstack
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from components.config import NAMESPACE, SECRET_KEYS, ConfigError, StackConfig, parse_stack_config

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "coprs"
SECRET = "[secret]"
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig


# ---------------------------------------------------------------------------------------------
# config


def stack_names(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _set_path(doc: dict, path: str, value: Any) -> None:
    """`coprs:nodeGroups.infra.count` → doc['coprs:nodeGroups']['infra']['count'] = value."""
    head, _, rest = path.partition(".")
    if not rest:
        if value is None:
            doc.pop(head, None)
        else:
            doc[head] = value
        return
    node = doc.setdefault(head, {})
    parts = rest.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


@dataclass
class StackInput:
    stack: str
    values: dict[str, Any]  # key → decoded value (objects as dicts)
    secret_keys: list[str]
    faked_secrets: list[str]

    def config_map(self) -> dict[str, str]:
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.values.items()}

    def coprs_sections(self) -> dict[str, Any]:
        prefix = NAMESPACE + ":"
        return {k[len(prefix) :]: v for k, v in self.values.items() if k.startswith(prefix)}


def load_stack_input(
    stack: str,
    overrides: Optional[dict[str, Any]] = None,
    root: Path = ROOT,
    document: Optional[dict] = None,
) -> StackInput:
    """Read `Pulumi.<stack>.yaml` (or a given document), apply overrides, fake secrets."""
    if document is None:
        path = root / f"Pulumi.{stack}.yaml"
        if not path.exists():
            raise ConfigError([f"no stack file {path.name}; known stacks: {', '.join(stack_names(root)) or 'none'}"])
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError([f"{path.name} is not valid YAML: {err}".replace("\n", " ")]) from None
    values: dict[str, Any] = copy.deepcopy(document.get("config") or {})
    for key, value in (overrides or {}).items():
        _set_path(values, key, copy.deepcopy(value))
    secret_keys, faked = [], []
    for key, value in list(values.items()):
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = f"offline-dummy-{key.replace(':', '-')}"
            secret_keys.append(key)
    for key in SECRET_KEYS:
        if key not in values:
            values[key] = f"offline-dummy-{key.replace(':', '-')}"
            faked.append(key)
        if key not in secret_keys:
            secret_keys.append(key)
    return StackInput(stack, values, sorted(secret_keys), faked)


def validate(si: StackInput) -> StackConfig:
    return parse_stack_config(si.coprs_sections())


# ---------------------------------------------------------------------------------------------
# recorded resources


def _strip_secrets(value: Any, mask: bool) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG) == _SECRET_SIG:
            return SECRET if mask else _strip_secrets(value.get("value"), mask)
        return {k: _strip_secrets(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secrets(v, mask) for v in value]
    if isinstance(value, pulumi.Resource):
        return "[resource]"
    return value


@dataclass
class Recorded:
    urn: str
    type: str
    name: str
    custom: bool
    parent: Optional[str]
    provider: Optional[str]
    inputs: dict[str, Any]  # secrets unwrapped, like a policy sees them
    masked_inputs: dict[str, Any]  # secrets replaced by "[secret]"
    outputs: dict[str, Any] = field(default_factory=dict)
    id: Optional[str] = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    @property
    def provider_urn(self) -> Optional[str]:
        return self.provider.split("::", 4)[0] + "::" + "::".join(self.provider.split("::")[1:4]) if self.provider else None

    def plan_entry(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.masked_inputs,
            "protect": self.protect,
            "dependencies": self.dependencies,
        }


@dataclass
class RunResult:
    stack: str
    config: StackConfig
    resources: list[Recorded]
    outputs: dict[str, Any]  # masked
    raw_outputs: dict[str, Any]
    faked_secrets: list[str]
    stack_urn: str

    def of_type(self, *types: str) -> list[Recorded]:
        return [r for r in self.resources if r.type in types]

    def named(self, name: str, type_: Optional[str] = None) -> Recorded:
        hits = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} resources named {name!r} of type {type_}")
        return hits[0]

    def by_urn(self) -> dict[str, Recorded]:
        return {r.urn: r for r in self.resources}

    def children(self, urn: str) -> list[Recorded]:
        return [r for r in self.resources if r.parent == urn]

    def descendants(self, urn: str) -> list[Recorded]:
        out, todo = [], [urn]
        while todo:
            u = todo.pop()
            kids = self.children(u)
            out += kids
            todo += [k.urn for k in kids]
        return out

    def plan(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.plan_entry() for r in self.resources],
            "outputs": self.outputs,
        }


# ---------------------------------------------------------------------------------------------
# fakes


def _h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class _AddressPool:
    """Deterministic addresses: a name always maps to the same address in one run."""

    def __init__(self, cidr: str, skip: int = 10):
        self.net = ipaddress.ip_network(cidr)
        self.skip = skip
        self.size = self.net.num_addresses - skip - 1
        self.used: dict[str, str] = {}
        self.taken: set[int] = set()

    def get(self, key: str) -> str:
        if key not in self.used:
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
        self.public = _AddressPool("203.0.113.0/24", skip=1)
        self.port_ips: dict[str, str] = {}
        self.fakers: dict[str, Faker] = dict(DEFAULT_FAKERS)

    def new_resource(self, args: pmocks.MockResourceArgs):
        inputs = _strip_secrets(args.inputs, mask=False)
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


# ---------------------------------------------------------------------------------------------
# monitor


def _serialize_now(state: dict[str, Any]) -> Any:
    """Serialize plain values to the wire form at once; only if something really waits, pump the loop."""
    coro = rpc.serialize_properties(state, {})
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    return _sync_await(rpc.serialize_properties(state, {}))


class RecordingMonitor(pmocks.MockMonitor):
    """MockMonitor that also records what mocks cannot see: parent, deps, options, stack outputs."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.recorded: list[Recorded] = []
        self.stack_urn: Optional[str] = None
        self.stack_outputs: dict[str, Any] = {}

    def _mock_register(self, request):
        """MockMonitor.RegisterResource, but serializing the faked state without pumping the event loop again:
        with the inline executor each nested pump adds stack frames per registration in flight, which hit
        RecursionError at ~40 workers; the state is plain data, so its serialization never has to wait."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        args = pmocks.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=rpc.deserialize_properties(request.object),
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=pmocks._resolve_callbacks(request.transforms),
        )
        id_, state = self.mocks.new_resource(args)
        obj = _serialize_now(state)
        self.resources[urn] = pmocks.MockMonitor.ResourceRegistration(urn, id_, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

    def RegisterResource(self, request):
        resp = self._mock_register(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = resp.urn
            return resp
        raw = rpc.deserialize_properties(request.object)
        reg = self.resources.get(resp.urn)
        state = _strip_secrets(reg.state, mask=False) if reg else {}
        self.recorded.append(
            Recorded(
                urn=resp.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                provider=request.provider or None,
                inputs=_strip_secrets(raw, mask=False),
                masked_inputs=_strip_secrets(raw, mask=True),
                outputs=state,
                id=resp.id or None,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=list(request.ignoreChanges),
                replace_on_changes=list(request.replaceOnChanges),
                additional_secret_outputs=list(request.additionalSecretOutputs),
                aliases=list(request.aliasURNs),
            )
        )
        return resp

    def ReadResource(self, request):
        """Reads (StackReference, `.get()`) are recorded too: a test sees what the program reads."""
        resp = super().ReadResource(request)
        raw = rpc.deserialize_properties(request.properties)
        reg = self.resources.get(resp.urn)
        self.recorded.append(
            Recorded(
                urn=resp.urn,
                type=request.type,
                name=request.name,
                custom=True,
                parent=request.parent or None,
                provider=request.provider or None,
                inputs=_strip_secrets(raw, mask=False),
                masked_inputs=_strip_secrets(raw, mask=True),
                outputs=_strip_secrets(reg.state, mask=False) if reg else {},
                id=request.id or None,
                dependencies=list(request.dependencies),
                additional_secret_outputs=list(request.additionalSecretOutputs),
            )
        )
        return resp

    def RegisterResourceOutputs(self, request):
        if request.urn == self.stack_urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


async def _wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """The SDK's wait loop, but waiting for each batch of outputs at once.

    The SDK re-waits on every pending output with FIRST_COMPLETED after each completion, which is
    quadratic in the number of outputs (seconds for a prod-sized stack). Waiting for the whole batch
    and then for whatever was added meanwhile gives the same end state, since every task runs on the
    loop either way.
    """
    rpc_manager = pstack._get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            await rpc_manager.rpcs.pop()
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            while True:
                with settings.SETTINGS.lock:
                    pending = list(settings.SETTINGS.outputs)
                    settings.SETTINGS.outputs.clear()
                if not pending:
                    break
                for task in pending:
                    await task
        if not rpc_manager.rpcs:
            break


class _ImmediateExecutor(ThreadPoolExecutor):
    """Runs submitted work inline (Pulumi's own test workaround for flaky hangs, pulumi/pulumi#7663)."""

    def __init__(self):
        super().__init__(max_workers=1)
        self._inner = ThreadPoolExecutor(max_workers=1)

    def submit(self, fn, *args, **kwargs):  # type: ignore[override]
        value = fn(*args, **kwargs)
        return self._inner.submit(lambda v: v, value)

    def shutdown(self, wait=True, **kw):  # type: ignore[override]
        self._inner.shutdown(wait=wait)
        super().shutdown(wait=wait)


def run_stack(
    stack: str = "dev",
    overrides: Optional[dict[str, Any]] = None,
    *,
    root: Path = ROOT,
    document: Optional[dict] = None,
    program: Optional[Callable[[], Any]] = None,
    fakers: Optional[dict[str, Faker]] = None,
) -> RunResult:
    """Run the program (default: `__main__.py`) for one stack under mocks and return what it declared.

    Raises ConfigError (one line) for a bad stack config, before anything is declared.
    """
    si = load_stack_input(stack, overrides, root, document)
    cfg = validate(si)
    mocks = RecordingMocks(cfg)
    if fakers:
        mocks.fakers.update(fakers)
    monitor = RecordingMonitor(mocks)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = _ImmediateExecutor()
    loop.set_default_executor(executor)
    try:
        settings.reset_options(project=PROJECT, stack=stack, preview=False, organization="organization")
        settings.configure(
            pmocks.MockSettings(
                monitor=monitor,
                monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
                engine=pmocks.MockEngine(None),
                project=PROJECT,
                stack=stack,
                dry_run=False,
                organization="organization",
                callbacks=None,
            )
        )
        pulumi.runtime.set_all_config(si.config_map(), secret_keys=si.secret_keys)
        main = program or (lambda: runpy.run_path(str(root / "__main__.py"), run_name="__main__"))
        # Offline, source positions are never shown: skip the per-resource stack walk they cost.
        original = pstack.wait_for_rpcs, presource._get_stack_trace
        pstack.wait_for_rpcs, presource._get_stack_trace = _wait_for_rpcs, source_pb2.StackTrace
        try:
            loop.run_until_complete(run_in_stack(main))
        finally:
            pstack.wait_for_rpcs, presource._get_stack_trace = original
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        executor.shutdown(wait=False)
    outputs_raw = _strip_secrets(monitor.stack_outputs, mask=False)
    outputs = _strip_secrets(monitor.stack_outputs, mask=True)
    return RunResult(
        stack=stack,
        config=cfg,
        resources=monitor.recorded,
        outputs=outputs,
        raw_outputs=outputs_raw,
        faked_secrets=si.faked_secrets,
        stack_urn=monitor.stack_urn or "",
    )


def iter_values(value: Any) -> Iterable[Any]:
    """Every scalar inside a nested value (used to look for leaked secrets)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from iter_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_values(v)
    else:
        yield value
