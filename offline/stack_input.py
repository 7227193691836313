"""The stack input of a mocked run: `Pulumi.<stack>.yaml` (plus overrides) as the string map
`set_all_config` needs, with deterministic dummies for secret keys (and which ones were faked).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from components.config import SECRET_KEYS, ConfigError, StackConfig, parse_config_map
from components.config_input import MAX_DEPTH, key_path, shape_problems, show

ROOT = Path(__file__).resolve().parent.parent
MAX_FILE_BYTES = 1_000_000
MAX_DOCUMENT_VALUES = 50_000  # values of the whole file, aliases expanded
# Top-level keys of a Pulumi stack settings file.
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
# Extra checks of the raw config values (`namespace:key` → value, secure values still `{"secure": ...}`),
# each returning one-line problems: run on every stack file before anything else reads it.
VALUE_CHECKS: list[Callable[[dict[str, Any]], list[str]]] = []


def stack_names(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML as Pulumi reads it: dates and timestamps stay the strings they are written as.
    (libyaml when present; its composer recurses, so the nesting is measured on the events first.)"""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_problem(name: str, err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    what = getattr(err, "problem", None) or str(err)
    return f"{name} is not valid YAML: {what}{where}"


def _scan_depth(name: str, text: str) -> Optional[str]:
    """The parser is iterative (the composer is not): measure the nesting on the event stream first."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH + 2:
                mark = event.start_mark
                return f"{name}: values are nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})"
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return None


def _check_nodes(name: str, root: yaml.Node) -> Optional[str]:
    """Duplicate keys, recursive aliases, and the size once aliases are expanded (an alias bomb is small
    as text and as a node graph, huge as data): an iterative walk, each node once."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]

    def children(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        return list(node.value) if isinstance(node, yaml.SequenceNode) else []

    while todo:
        node, done = todo.pop()
        if done:
            on_path.discard(id(node))
            size[id(node)] = min(MAX_DOCUMENT_VALUES + 1, 1 + sum(size[id(c)] for c in children(node)))
            continue
        if id(node) in size:
            continue
        if id(node) in on_path:
            return f"{name}: a recursive alias (line {node.start_mark.line + 1})"
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, _ in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value != "<<":
                    if k.value in seen:
                        return f"{name}: duplicate key {show(k.value)} (line {k.start_mark.line + 1})"
                    seen.add(k.value)
        on_path.add(id(node))
        todo.append((node, True))
        todo.extend((c, False) for c in children(node) if id(c) not in size)
    if size[id(root)] > MAX_DOCUMENT_VALUES:
        return f"{name} is too large: more than {MAX_DOCUMENT_VALUES} values once its aliases are expanded"
    return None


def read_stack_file(path: Path) -> Any:
    """The document of a stack file, or ConfigError (one line): unreadable, too big, not UTF-8, not YAML,
    too deep, duplicate keys, recursive or exploding aliases. Never a traceback, never a hang."""
    name = path.name
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ConfigError([f"cannot read stack file {path}: {err.strerror or err}"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([f"{name} is larger than {MAX_FILE_BYTES} bytes; a stack file is a few kilobytes"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError([f"{name} is not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start}"]) from None
    try:
        problem = _scan_depth(name, text)
        if problem is None:
            node = yaml.compose(text, Loader=_Loader)
            if node is None:
                return {}
            problem = _check_nodes(name, node)
        if problem is not None:
            raise ConfigError([problem])
        return _Loader("").construct_document(node)
    except yaml.YAMLError as err:
        raise ConfigError([_yaml_problem(name, err)]) from None
    except RecursionError:
        raise ConfigError([f"{name}: values are nested too deep"]) from None


def config_values(document: Any, name: str = "the stack file") -> dict[str, Any]:
    """The `config:` map of a stack document, checked for shape: a mapping of string keys to JSON values."""
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError([f"{name} must be a mapping with a config: section, not {type(document).__name__}"])
    problems = [
        f"{name}: {show(k)} is not a key of a stack file; allowed: {', '.join(STACK_FILE_KEYS)}"
        for k in document if k not in STACK_FILE_KEYS
    ]
    values = document.get("config")
    if values is None:
        values = {}
    elif not isinstance(values, dict):
        problems.append(f"{name}: config must be a mapping of namespace:key to values, not {type(values).__name__}")
        values = {}
    for key, value in values.items():
        if not isinstance(key, str):
            problems.append(f"config: key {show(key)} is a {type(key).__name__}, not a namespace:key string")
        else:
            problems += shape_problems(key, value)
    if problems:
        raise ConfigError(problems)
    return copy.deepcopy(values)


def _set_path(doc: dict, path: str, value: Any) -> None:
    """`coprs:nodeGroups.infra.count` → doc['coprs:nodeGroups']['infra']['count'] = value."""
    head, *parts = path.split(".")
    node = doc
    for i, p in enumerate([head, *parts][:-1]):
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError([f"override {path}: {key_path([head, *parts][: i + 1])} is not a mapping"])
    last = [head, *parts][-1]
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value


@dataclass
class StackInput:
    stack: str
    values: dict[str, Any]  # key → decoded value (objects as dicts)
    secret_keys: list[str]
    faked_secrets: list[str]

    def config_map(self) -> dict[str, str]:
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.values.items()}



def load_stack_input(
    stack: str,
    overrides: Optional[dict[str, Any]] = None,
    root: Path = ROOT,
    document: Optional[Any] = None,
) -> StackInput:
    """Read `Pulumi.<stack>.yaml` (or a given document), apply overrides, fake secrets. Raises ConfigError."""
    if document is None:
        path = root / f"Pulumi.{stack}.yaml"
        if not path.exists():
            raise ConfigError([f"no stack file {path.name}; known stacks: {', '.join(stack_names(root)) or 'none'}"])
        document = read_stack_file(path)
    values = config_values(document, f"Pulumi.{stack}.yaml")
    for key, value in (overrides or {}).items():
        _set_path(values, key, copy.deepcopy(value))
    overridden = {key.split(".")[0] for key in overrides or {}} & set(values)
    problems = [p for key in sorted(overridden) for p in shape_problems(key, values[key])]
    problems += [p for check in VALUE_CHECKS for p in check(values)]
    if problems:
        raise ConfigError(problems)
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
    """The program's own loader on the config map the engine would pass: one validation, real and offline."""
    return parse_config_map(si.config_map())
