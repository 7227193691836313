""".github/workflows/preview.yml: valid, pinned, never deploys, and calls tools that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}$")

# Inputs of each action at the pinned release, read from its action.yml.
ACTION_INPUTS = {
    "actions/checkout": {"repository", "ref", "token", "ssh-key", "path", "fetch-depth", "persist-credentials", "clean", "lfs", "submodules"},
    "actions/setup-python": {"python-version", "python-version-file", "cache", "cache-dependency-path", "architecture", "check-latest", "token", "update-environment", "allow-prereleases", "freethreaded", "pip-version"},
    "actions/upload-artifact": {"name", "path", "if-no-files-found", "retention-days", "compression-level", "overwrite", "include-hidden-files", "archive"},
    "actions/download-artifact": {"name", "artifact-ids", "path", "pattern", "merge-multiple", "github-token", "repository", "run-id"},
    "github/codeql-action/upload-sarif": {"sarif_file", "checkout_path", "ref", "sha", "token", "matrix", "category", "wait-for-processing"},
    "marocchino/sticky-pull-request-comment": {"header", "append", "recreate", "delete", "hide", "message", "path", "ignore_empty", "skip_unchanged", "number"},
    "pulumi/actions": {
        "command", "stack-name", "pulumi-version", "work-dir", "comment-on-pr", "comment-on-summary", "github-token",
        "cloud-url", "diff", "policyPacks", "policyPackConfigs", "edit-pr-comment", "suppress-outputs", "parallel",
        "refresh", "config-map", "expect-no-changes", "always-include-summary",
    },
}


@pytest.fixture(scope="module")
def workflow() -> dict:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def _steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def test_triggers_and_jobs(workflow):
    assert "pull_request" in workflow["on"]
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert {"test", "offline", "comment", "credentials", "pulumi-preview"} <= set(workflow["jobs"])
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["comment"]["permissions"] == {"pull-requests": "write"}
    assert workflow["jobs"]["offline"]["permissions"]["security-events"] == "write"


def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment(workflow):
    uses = [(job, step["uses"]) for job, step in _steps(workflow) if "uses" in step]
    assert len(uses) >= 8
    for job, ref in uses:
        assert PINNED.match(ref), f"{job}: {ref} is not pinned to a 40-hex commit"
    for line in WORKFLOW.read_text().splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40}\s+#\s+v\d+\.\d+\.\d+$", line), line


def test_actions_get_only_inputs_they_have(workflow):
    for job, step in _steps(workflow):
        if "uses" not in step:
            continue
        action = step["uses"].split("@")[0]
        assert action in ACTION_INPUTS, f"{job}: unreviewed action {action}"
        assert set(step.get("with", {})) <= ACTION_INPUTS[action], (job, action)


def test_previews_never_deploy(workflow):
    runs = "\n".join(s.get("run", "") for _, s in _steps(workflow))
    assert not re.search(r"pulumi\s+(up|destroy)\b", runs)
    pulumi_steps = [s for _, s in _steps(workflow) if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi_steps and all(s["with"]["command"] == "preview" for s in pulumi_steps)
    (step,) = pulumi_steps
    assert step["with"]["diff"] is True and step["with"]["policyPacks"] == "policies"
    assert step["with"]["always-include-summary"] is True  # a long diff is cut from the front, the summary stays
    assert step["with"]["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert workflow["jobs"]["pulumi-preview"]["if"] == "needs.credentials.outputs.cloud == 'true'"


def test_offline_job_covers_every_stack_and_uses_tools_that_exist(workflow):
    stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
    assert sorted(workflow["jobs"]["offline"]["strategy"]["matrix"]["stack"]) == stacks
    assert sorted(workflow["jobs"]["pulumi-preview"]["strategy"]["matrix"]["stack"]) == stacks
    runs = "\n".join(s.get("run", "") for _, s in _steps(workflow))
    for module in re.findall(r"-m (offline\.\w+)", runs):
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"\bmake (?:-C \S+ )?(\w+)", runs)):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is not a Makefile target"
    for stack in stacks:
        assert (ROOT / "policies" / "config" / f"{stack}.json").exists()
