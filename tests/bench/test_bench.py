"""`make bench` plumbing: the generated cases, one measured run, medians and the report. No timing asserts."""

from __future__ import annotations

import json

from bench import run as bench
from offline.harness import load_stack_input, validate
from tests.conftest import stack_run


def test_cases_are_dev_prod_and_prod_shaped_worker_counts():
    cases = bench.cases((50, 200, 500))
    assert list(cases) == ["dev", "prod", "prod-rendered", "prod-50", "prod-200", "prod-500"]
    stack, overrides = cases["prod-500"]
    assert stack == "prod" and overrides["coprs:nodeGroups.infra.count"] == 500


def test_generated_cases_are_valid_prod_configs_with_that_many_workers():
    for name, (stack, overrides) in bench.cases((50, 500)).items():
        cfg = validate(load_stack_input(stack, overrides))
        groups = {g: ng.count for g, ng in cfg.node_groups.items()}
        assert groups["infra"] == {"dev": 3, "prod": 8, "prod-rendered": 8, "prod-50": 50, "prod-500": 500}[name]


def test_one_measured_run_reports_times_memory_and_the_critical_path(monkeypatch):
    monkeypatch.setattr("offline.harness.run_stack", stack_run)  # the cached run: this checks the figures, not speed
    m = bench.measure("dev", {})
    assert m["resources"] > m["customResources"] > 0
    assert m["previewSeconds"] > 0 and m["peakRssMb"] >= m["importRssMb"] > 0
    assert m["criticalPathSeconds"] > 0 and m["serialSeconds"] >= m["criticalPathSeconds"]
    json.dumps(m)


def _sample(resources: int, seconds: float, rss: float) -> dict:
    return {"resources": resources, "customResources": resources, "previewSeconds": seconds, "programSeconds": seconds,
            "planSeconds": 0.1, "processSeconds": seconds + 1, "peakRssMb": rss, "importRssMb": 50.0, "waves": 3,
            "criticalPathSeconds": 600.0, "serialSeconds": 3000.0, "criticalPathRatio": 5.0}


def test_medians_ratios_and_table():
    runs = {
        "prod": [_sample(100, s, 100) for s in (3.0, 1.0, 2.0)],
        "prod-50": [_sample(200, s, 120) for s in (2.0, 9.0, 4.0)],
        "prod-500": [_sample(2000, s, 480) for s in (40.0, 20.0, 30.0)],
    }
    results = {name: {"runs": r, "median": bench.median_of(r)} for name, r in runs.items()}
    assert results["prod-50"]["median"]["previewSeconds"] == 4.0
    summary = bench.summarize(results, (50, 500))
    assert summary["scaling"]["previewSecondsRatio"] == 30.0 / 4.0
    assert summary["scaling"]["peakRssRatio"] == 4.0 and summary["scaling"]["resourcesRatio"] == 10.0
    assert summary["prodCriticalPath"]["ratio"] == 5.0
    table = bench.render(results, summary, 3)
    assert "median of 3 runs" in table and "prod-500 / prod-50" in table and "prod critical path" in table
    assert len([line for line in table.splitlines() if line.startswith("prod")]) >= 3


def test_bad_arguments_are_one_line_errors(capsys):
    assert bench.main(["--cases", "nope"]) == 2
    assert "unknown case nope" in capsys.readouterr().err
    assert bench.main(["--runs", "0", "--cases", "dev"]) == 2


def test_a_failed_case_is_reported_not_summarized():
    results = {
        "prod": {"runs": [_sample(100, 1.0, 100)], "median": bench.median_of([_sample(100, 1.0, 100)])},
        "prod-50": {"runs": [_sample(200, 2.0, 120)], "median": bench.median_of([_sample(200, 2.0, 120)])},
        "prod-500": {"error": "NameError: name 'x' is not defined", "runs": []},
    }
    summary = bench.summarize(results, (50, 500))
    assert "scaling" not in summary and summary["prodCriticalPath"]["seconds"] == 600.0
    assert "prod-500  failed: NameError" in bench.render(results, summary, 1)


def test_only_prod_rendered_gets_charts_and_its_cost_is_reported(tmp_path):
    env = bench.case_env("prod", "/charts", str(tmp_path))
    assert env["COPRS_CHARTS"] == str(tmp_path)  # renders nothing, pulls nothing
    assert bench.case_env(bench.RENDERED, str(tmp_path), "/empty")["COPRS_CHARTS"] == str(tmp_path.resolve())
    run = lambda s: {"median": {"previewSeconds": s, "resources": 1, "peakRssMb": 1, "programSeconds": 1, "planSeconds": 1,  # noqa: E731
                                "processSeconds": 1, "waves": 1}}
    summary = bench.summarize({"prod": run(4.0), bench.RENDERED: run(7.5)}, (50,))
    assert summary["renderedChecks"] == {"addedSeconds": 3.5, "budgetSeconds": 10.0, "withinBudget": True}
    assert "rendered checks on prod (prod-rendered - prod): +3.50 s, within the 10 s budget" in \
        bench.render({"prod": run(4.0)}, summary, 1)
