"""Shared test fixtures and the suite's one run cache: mocked runs are kept per key for the session.

- `stack_run(stack, overrides, apps=...)`: the whole program (`components.program.build`), optionally with
  another registry of apps (e.g. `APPS + (a hypothetical app,)`);
- `platform_run(...)` (tests.components.platform.helpers): the storage and platform layers alone, on a
  stand-in provider (fast variants: disabled apps, settings);
- `cached_run(key, stack, program)`: any other program a test module needs once.
Treat every result as read-only.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chart_kit import write_charts  # noqa: E402

# The suite never pulls real charts (CI has no network): releases render from a chart directory holding only
# the charts the tests write (tests/chart_kit.py), so every real release is "not rendered" (advisory HELM-22).
TEST_CHARTS = Path(tempfile.mkdtemp(prefix="coprs-test-charts-"))
write_charts(TEST_CHARTS)
os.environ["COPRS_CHARTS"] = str(TEST_CHARTS)
os.environ["COPRS_CHART_CACHE"] = str(TEST_CHARTS / "cache")

from offline.harness import RunResult, run_stack  # noqa: E402

_CACHE: dict[str, RunResult] = {}


def cached_run(key: str, stack: str, program: Optional[Callable[[], Any]] = None,
               overrides: Optional[dict] = None) -> RunResult:
    """Run `program` (default: `__main__.py`) for a stack under mocks, once per key and overrides."""
    full = f"{key}:{stack}:{json.dumps(overrides or {}, sort_keys=True)}"
    if full not in _CACHE:
        _CACHE[full] = run_stack(stack, overrides, program=program)
        # The run's own object graph is garbage now; what stays (the recorded result) is kept for the session:
        # collect once, then move the survivors out of the collector's sight so later collections stay small.
        gc.collect()
        gc.freeze()
    return _CACHE[full]


def apps_key(apps: Optional[tuple]) -> str:
    return "default" if apps is None else ",".join(a.name for a in apps)


# Overrides of runs that only look at the cloud and cluster layers: no platform, a quicker run.
NO_PLATFORM = {"coprs:platform.enabled": False}


def stack_run(stack: str, overrides: dict | None = None, apps: Optional[tuple] = None) -> RunResult:
    """The whole program for a stack under mocks; `apps` replaces the registry of platform apps."""
    if apps is None:
        return cached_run("program", stack, overrides=overrides)

    def program() -> None:
        import pulumi

        from components.config import load_stack_config
        from components.program import build

        for key, value in build(load_stack_config(), apps=apps).items():
            pulumi.export(key, value)

    return cached_run(f"program[{apps_key(apps)}]", stack, program, overrides)


@pytest.fixture(scope="session")
def dev() -> RunResult:
    return stack_run("dev")


@pytest.fixture(scope="session")
def prod() -> RunResult:
    return stack_run("prod")


@pytest.fixture(params=["dev", "prod"], scope="session")
def any_stack(request) -> RunResult:
    return stack_run(request.param)
