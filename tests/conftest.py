"""Shared test fixtures: whole-stack mocked runs are cached per (stack, overrides) for the session."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

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
