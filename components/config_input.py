"""The shape of raw stack configuration, before the models: shown keys, nesting, value kinds, engine strings.

Shared by `pulumi up` (the engine's config map) and the offline harness (the stack file): nothing here
raises; every function returns the problems as one-line strings naming the key path, with keys escaped
(a key holding a newline or a non-ASCII character is shown as `\\n`, `\\u0664`).
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

MAX_DEPTH = 16  # nesting below a config key; the deepest legitimate value is ~6
MAX_VALUES = 20_000  # values below a config key, aliases expanded (a prod stack has ~200)
MAX_CHARS = 1_000_000  # characters of one config key's value (text of the keys and strings)
MAX_STRING = 65_536  # characters of one string (the longest typed value is a 2048-character URL)
MAX_KEY = 80  # characters of a key shown in a message


def show(part: Any) -> str:
    """One key (or path part) for a message: printable ASCII as is, everything else escaped."""
    if not isinstance(part, str):
        return repr(part)
    text = "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii") for c in part)
    return text if len(text) <= MAX_KEY else text[: MAX_KEY - 3] + "..."


def key_path(parts: Iterable[Any]) -> str:
    """`("coprs:nodeGroups", "infra", "taints", 0)` → `coprs:nodeGroups.infra.taints[0]`."""
    out = ""
    for p in parts:
        if isinstance(p, int) and not isinstance(p, bool):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + show(p)
    return out


def _kind(value: Any) -> str:
    name = type(value).__name__
    return {"date": "a YAML date", "datetime": "a YAML timestamp", "bytes": "YAML binary", "set": "a YAML set"}.get(
        name, f"a {name}"
    )


def shape_problems(key: str, value: Any) -> list[str]:
    """What makes `value` (decoded YAML or JSON below config key `key`) unusable: non-string keys, nesting
    deeper than MAX_DEPTH, more than MAX_VALUES values or MAX_CHARS characters (alias bombs included),
    values that are not JSON (dates, binary, sets, NaN). Iterative and bounded: never recurses, never
    expands more than MAX_VALUES values."""
    problems: list[str] = []
    todo: list[tuple[tuple, Any]] = [((key,), value)]
    count = chars = 0
    while todo:
        path, v = todo.pop()
        count += 1
        if count > MAX_VALUES or chars > MAX_CHARS:
            return problems + [f"{show(key)} is too large (more than {MAX_VALUES} values or {MAX_CHARS} characters, "
                               "aliases expanded)"]
        if len(path) - 1 > MAX_DEPTH:
            return problems + [f"{key_path(path[:4])}... is nested deeper than {MAX_DEPTH} levels"]
        if isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str):
                    problems.append(f"{key_path(path)}: key {show(k)} is {_kind(k)}, not a string (quote it)")
                    continue
                chars += len(k)
                todo.append(((*path, k), item))
        elif isinstance(v, list):
            todo.extend(((*path, i), item) for i, item in enumerate(v))
        elif isinstance(v, str):
            chars += len(v)
            if len(v) > MAX_STRING:
                problems.append(f"{key_path(path)} is a string of {len(v)} characters; at most {MAX_STRING}")
        elif isinstance(v, float) and not math.isfinite(v):
            problems.append(f"{key_path(path)} = {v}: not a finite number")
        elif v is not None and not isinstance(v, (bool, int, float)):
            problems.append(f"{key_path(path)} is {_kind(v)}; quote it to make it a string")
    return problems


def decode(key: str, text: Any, plain: bool) -> tuple[Any, list[str]]:
    """A config value as the engine passes it (a string; objects as JSON) → (value, problems).
    `plain` keys are strings and stay as they are."""
    if not isinstance(text, str) or plain:
        return text, []
    if len(text) > MAX_CHARS:
        return None, [f"{show(key)} is too large ({len(text)} characters; at most {MAX_CHARS})"]
    try:
        value = json.loads(text)
    except RecursionError:
        return None, [f"{show(key)} is nested deeper than {MAX_DEPTH} levels"]
    except ValueError:
        # A scalar set with `pulumi config set` arrives as its text.
        value = text
    return value, shape_problems(key, value)
