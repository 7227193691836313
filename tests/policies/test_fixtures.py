"""Every fixture case gives its expected verdict (checkov / gatekeeper style), and never echoes a secret."""

from __future__ import annotations

import pytest

from .cases import load_cases, run, secrets_of

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case):
    verdict, messages = run(case)
    assert verdict == case.expect, f"{case.id}: got {verdict}: {messages}"
    if case.data.get("message"):
        assert any(case.data["message"] in m for m in messages), messages
    for secret in secrets_of(case):
        assert not any(secret in m for m in messages), f"{case.id} echoes its secret: {messages}"
