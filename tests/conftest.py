"""Shared test fixtures: whole-stack mocked runs are cached per (stack, overrides) for the session."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from offline.harness import RunResult, run_stack  # noqa: E402

_CACHE: dict[str, RunResult] = {}


def stack_run(stack: str, overrides: dict | None = None) -> RunResult:
    """Run the whole program for a stack under mocks (cached: treat the result as read-only)."""
    key = stack + json.dumps(overrides or {}, sort_keys=True)
    if key not in _CACHE:
        _CACHE[key] = run_stack(stack, overrides)
    return _CACHE[key]


@pytest.fixture(scope="session")
def dev() -> RunResult:
    return stack_run("dev")


@pytest.fixture(scope="session")
def prod() -> RunResult:
    return stack_run("prod")


@pytest.fixture(params=["dev", "prod"], scope="session")
def any_stack(request) -> RunResult:
    return stack_run(request.param)
