"""Pulumi property paths (`blockDevices[0].uuid`, `metadata.labels["app.kubernetes.io/name"]`, `spec.*`) as the
`ignoreChanges` and `replaceOnChanges` options spell them, matched against the input paths a diff finds."""

from __future__ import annotations

import json
import re
from typing import Sequence, Union

Key = Union[str, int]
WILDCARD = "*"
_TOKEN = re.compile(r'\.?([A-Za-z0-9_$-]+|\*)|\[(\d+|\*)\]|\[("(?:[^"\\]|\\.)*")\]')


def parse(text: str) -> tuple[Key, ...]:
    """`a.b[0]["c.d"][*]` → ("a", "b", 0, "c.d", "*"); raises ValueError on a malformed path."""
    out: list[Key] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"malformed property path {text!r} at {pos}")
        name, index, quoted = m.groups()
        if name is not None:
            out.append(name)
        elif index is not None:
            out.append(WILDCARD if index == WILDCARD else int(index))
        else:
            out.append(json.loads(quoted))
        pos = m.end()
    return tuple(out)


def covers(pattern: Sequence[Key], path: Sequence[Key]) -> bool:
    """Whether a change at `path` lies under `pattern` (the option applies to a property and all it holds)."""
    if len(pattern) > len(path):
        return False
    return all(p == WILDCARD or p == k for p, k in zip(pattern, path))


def covered_by_any(patterns: Sequence[str], path: Sequence[Key]) -> bool:
    parsed = []
    for text in patterns:
        try:
            parsed.append(parse(text))
        except ValueError:
            continue  # the engine refuses such an option itself; a diff has nothing to say about it
    return any(covers(p, path) for p in parsed)
