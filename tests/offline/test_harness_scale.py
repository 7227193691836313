"""The mocked run copes with many resources registered at once (prod-shaped stacks with 500 workers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# Before registration stopped re-pumping the event loop, each registration in flight nested one more
# loop pump: this program hit RecursionError or hung. A subprocess with a timeout turns a hang into a failure.
PROGRAM = """
import json, pulumi
from offline.harness import run_stack
def program():
    for i in range(1000):
        pulumi.CustomResource("test:index:Thing", f"thing-{i}", {"index": i, "nested": {"items": [i, {"k": "v"}]}})
things = run_stack("dev", program=program).of_type("test:index:Thing")
print(json.dumps({"count": len(things), "first": things[0].inputs, "last": [things[-1].outputs["index"], things[-1].id]}))
"""


def test_a_thousand_independent_resources_register_without_deep_recursion():
    proc = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"count": 1000, "first": {"index": 0, "nested": {"items": [0, {"k": "v"}]}}, "last": [999, "thing-999-id"]}
