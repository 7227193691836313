"""The mocked-run harness: runs the real program for one stack under `pulumi.runtime` mocks.

Used by the tests, `make plan`, `make audit`, `make inventory` and the benchmark. The run loop lives here:
- the stack input (`stack_input.py`): `Pulumi.<stack>.yaml` plus overrides, with deterministic dummies for
  secret keys; the `coprs` config is validated first, so a bad config gives the program's own one-line error;
- `__main__.py` runs on a fresh event loop with `preview=False`; the monitor records every registered
  resource with its parent, provider, dependencies and the options that matter (`recorded.py`);
- the fakes (`fakes.py`) give the outputs the program reads (ids, IPs, addresses, keys, kubeconfigs).
"""

from __future__ import annotations

import asyncio
import functools
import runpy
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pulumi
from pulumi.output import _OutputData
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import _depends_on as pdepends_on
from pulumi.runtime import resource_cycle_breaker as cycle_breaker
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime import resource as presource
from pulumi.runtime import stack as pstack
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from components.secret_config import needed_secrets

from .fakes import DEFAULT_FAKERS, FAKE_KUBECONFIG, Faker, RecordingMocks
from .gc_pause import paused_gc
from .recorded import SECRET, Recorded, RunResult, iter_values, strip_secrets
from .stack_input import ROOT, StackInput, load_stack_input, stack_names, validate

PROJECT = "coprs"

# The model, the fakes and the stack input live in their own modules; these names stay importable from here.
__all__ = [
    "DEFAULT_FAKERS", "FAKE_KUBECONFIG", "PROJECT", "ROOT", "SECRET", "Faker", "Recorded", "RecordingMocks",
    "RecordingMonitor", "RunResult", "StackInput", "iter_values", "load_stack_input", "run_stack", "stack_names",
    "validate",
]


def _serialize_now(state: dict[str, Any]) -> Any:
    """Serialize plain values to the wire form at once; only if something really waits, pump the loop."""
    coro = rpc.serialize_properties(state, {})
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    return _sync_await(rpc.serialize_properties(state, {}))


def _renames(urn: str, aliases) -> list[str]:
    """The old URNs of `pulumi.Alias(name=...)` specs (same type, parent, stack and project)."""
    out = []
    for a in aliases:
        if a.WhichOneof("alias") == "urn":
            out.append(a.urn)
        elif a.WhichOneof("alias") == "spec" and a.spec.name and not (a.spec.type or a.spec.parentUrn or a.spec.noParent):
            out.append(urn.rsplit("::", 1)[0] + "::" + a.spec.name)
    return out


class RecordingMonitor(pmocks.MockMonitor):
    """MockMonitor that also records what mocks cannot see: parent, deps, options, stack outputs."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.recorded: list[Recorded] = []
        self.stack_urn: Optional[str] = None
        self.stack_outputs: dict[str, Any] = {}

    def _mock_register(self, request, inputs: dict[str, Any]):
        """MockMonitor.RegisterResource, given the request's inputs (deserialized once for the mocks and the
        record), and serializing the faked state without pumping the event loop again: with the inline
        executor each nested pump adds stack frames per registration in flight, which hit RecursionError at
        ~40 workers; the state is plain data, so its serialization never has to wait."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        args = pmocks.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
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
        raw = rpc.deserialize_properties(request.object)
        resp = self._mock_register(request, raw)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = resp.urn
            return resp
        reg = self.resources.get(resp.urn)
        state = strip_secrets(reg.state, mask=False) if reg else {}
        self.recorded.append(
            Recorded(
                urn=resp.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                provider=request.provider or None,
                inputs=strip_secrets(raw, mask=False),
                masked_inputs=strip_secrets(raw, mask=True),
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
                aliases=[*request.aliasURNs, *_renames(resp.urn, request.aliases)],
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
                inputs=strip_secrets(raw, mask=False),
                masked_inputs=strip_secrets(raw, mask=True),
                outputs=strip_secrets(reg.state, mask=False) if reg else {},
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


def _add_dep(from_resource: pulumi.Resource, to_resource: pulumi.Resource) -> None:
    """The cycle breaker's record of a dependency, added to the resource's set in place.

    The SDK's `_add_dep` copies the whole set for each new dependency: quadratic for the Kubespray steps
    that depend on every node (1 s at 1,000 workers, 3.5 s at 2,000). Each resource has its own set and
    nothing iterates it while a dependency is added, so growing it in place records the same graph.
    """
    deps = getattr(from_resource, cycle_breaker._DEPENDENCIES_PROPERTY, None)
    if deps is None:
        setattr(from_resource, cycle_breaker._DEPENDENCIES_PROPERTY, {to_resource})
    else:
        deps.add(to_resource)


async def _resolve_depends_on(depends_on: Any) -> set[pulumi.Resource]:
    """The SDK's resolution of `depends_on`, growing one set where it rebuilds it for each entry
    (`all_deps = all_deps | more`, quadratic in the length of the list); same result."""
    if not depends_on:
        return set()
    outer = pulumi.Output._from_input_shallow(depends_on)
    all_deps = set(await outer.resources())
    for item in await outer.future() or []:
        if isinstance(item, pulumi.Resource):  # what from_input makes of it: itself, no other dependency
            all_deps.add(item)
            continue
        inner = pulumi.Output.from_input(item)
        all_deps |= await inner.resources()
        direct = await inner.future()
        if direct is not None:
            all_deps.add(direct)
    return all_deps


def _transfer_properties(res: pulumi.Resource, props: Any, custom: bool) -> dict[str, Callable[..., None]]:
    """`rpc.transfer_properties` with one future per property: the SDK gives each property of each resource
    four futures and a task that waits on them to build the Output's state (100,000 properties at 1,000
    workers: the most objects of a run); the resolver builds that state itself and completes the one
    future. Same values, dependencies (the resource and what the engine reports), known and secret flags;
    a failure fails the Output the same way."""
    resolvers: dict[str, Callable[..., None]] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # handled by the SDK elsewhere
        data: asyncio.Future = asyncio.Future()
        resolvers[name] = functools.partial(_resolve_property, res, data)
        res.__dict__[name] = pulumi.Output._from_data(data)
    return resolvers


def _resolve_property(res: pulumi.Resource, data: asyncio.Future, value: Any, is_known: bool, is_secret: bool,
                      deps: Optional[set], failed: Optional[Exception]) -> None:
    if failed is not None:
        data.set_exception(failed)
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    data.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))


_SDK_SERIALIZE_PROPERTY = rpc.serialize_property
_PLAIN = (str, int, float, bool, type(None))


async def _serialize_property(value: Any, *args: Any, **kwargs: Any) -> Any:
    """`rpc.serialize_property`, with a plain string, number, boolean or None handed back at once: it is what
    the SDK returns for them after a dozen checks (sequence, unknown, resource, asset, awaitable, Output,
    input type, mapping), for each of the 260,000 values it serializes at 1,000 workers; everything else
    (and every protobuf Value asked for) goes to the SDK's own, which recurses through this one."""
    if type(value) in _PLAIN and not kwargs.get("return_protobuf_value"):
        return value
    return await _SDK_SERIALIZE_PROPERTY(value, *args, **kwargs)


_SDK_CREATE_URN = presource.create_urn


def _create_urn(name: Any, type_: Any, parent: Any = None, project: Any = None, stack: Any = None) -> pulumi.Output:
    """The SDK's `create_urn`, straight from plain strings: it builds the same URN through an Output.all and
    two applies, for every resource (the URN a registration would get without a monitor, computed even
    with one) and every alias. The result is the same known, not secret Output with no dependencies;
    a parent Resource takes one apply on its URN (the same dependencies); anything else (an Output) goes to
    the SDK's own."""
    if not all(isinstance(v, str) for v in (name, type_, project if project is not None else "",
                                              stack if stack is not None else "")):
        return _SDK_CREATE_URN(name, type_, parent, project, stack)
    if isinstance(parent, pulumi.Resource):
        return parent.urn.apply(lambda u: u[0 : u.rfind("::")] + "$" + type_ + "::" + name)
    if parent is not None and not isinstance(parent, str):
        return _SDK_CREATE_URN(name, type_, parent, project, stack)
    if parent is not None:
        prefix = parent[0 : parent.rfind("::")] + "$"
    else:
        stack = settings.get_stack() if stack is None else stack
        project = settings.get_project() if project is None else project
        prefix = "urn:pulumi:" + stack + "::" + project + "::"
    return pulumi.Output.from_input(prefix + type_ + "::" + name)


# What the run swaps in the SDK, restored after it (module, attribute, replacement).
_SDK_PATCHES = (
    (pstack, "wait_for_rpcs", _wait_for_rpcs),
    # Offline, source positions are never shown: skip the per-resource stack walk they cost.
    (presource, "_get_stack_trace", source_pb2.StackTrace),
    (cycle_breaker, "_add_dep", _add_dep),
    (pdepends_on, "_resolve_depends_on", _resolve_depends_on),
    (presource, "create_urn", _create_urn),
    (rpc, "transfer_properties", _transfer_properties),
    (rpc, "serialize_property", _serialize_property),
)


@contextmanager
def _patched_sdk() -> Iterator[None]:
    originals = [(mod, name, getattr(mod, name)) for mod, name, _ in _SDK_PATCHES]
    for mod, name, replacement in _SDK_PATCHES:
        setattr(mod, name, replacement)
    try:
        yield
    finally:
        for mod, name, original in originals:
            setattr(mod, name, original)


class _ImmediateExecutor(ThreadPoolExecutor):
    """Runs submitted work inline (Pulumi's own test workaround for flaky hangs, pulumi/pulumi#7663) and hands
    back an asyncio future already done: no thread ever starts, and `run_in_executor` returns that future
    as it is (a concurrent one would be chained to the loop through its self-pipe, a write per call)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        super().__init__(max_workers=1)
        self._loop = loop

    def submit(self, fn, *args, **kwargs):  # type: ignore[override]
        done = self._loop.create_future()
        done.set_result(fn(*args, **kwargs))
        return done


def run_stack(
    stack: str = "dev",
    overrides: Optional[dict[str, Any]] = None,
    *,
    root: Path = ROOT,
    document: Optional[dict] = None,
    program: Optional[Callable[[], Any]] = None,
    fakers: Optional[dict[str, Faker]] = None,
    require_secrets: Optional[bool] = None,
) -> RunResult:
    """Run the program (default: `__main__.py`) for one stack under mocks and return what it declared.

    Raises ConfigError (one line) for a bad stack config, before anything is declared.
    """
    with paused_gc():
        return _run_stack(stack, overrides, root, document, program, fakers, require_secrets)


def _run_stack(
    stack: str,
    overrides: Optional[dict[str, Any]],
    root: Path,
    document: Optional[dict],
    program: Optional[Callable[[], Any]],
    fakers: Optional[dict[str, Faker]],
    require_secrets: Optional[bool],
) -> RunResult:
    si = load_stack_input(stack, overrides, root, document, require_secrets)
    cfg = validate(si)
    mocks = RecordingMocks(cfg)
    if fakers:
        mocks.fakers.update(fakers)
    monitor = RecordingMonitor(mocks)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = _ImmediateExecutor(loop)
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
        with _patched_sdk():
            loop.run_until_complete(run_in_stack(main))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        executor.shutdown(wait=False)
    outputs_raw = strip_secrets(monitor.stack_outputs, mask=False)
    outputs = strip_secrets(monitor.stack_outputs, mask=True)
    return RunResult(
        stack=stack,
        config=cfg,
        resources=monitor.recorded,
        outputs=outputs,
        raw_outputs=outputs_raw,
        faked_secrets=si.faked_secrets,
        stack_urn=monitor.stack_urn or "",
        needed_secrets=needed_secrets(si.values),
    )
