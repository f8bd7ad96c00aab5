"""Benchmark figures in the documents are rendered from the committed results file, never typed.

`bench/results.json` is written by `python -m bench --record` on a named commit; `bench/RESULTS.md`
and the marked sections of docs/performance.md must equal what `python -m bench.publish` renders
from it. No
benchmark runs here: these tests only read and render (speed is judged by the bench's ratios).
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import pg_cases, publish, record, render, report, scale
from bench.__main__ import status_word
from bench.casekit import SKIPPED, Config
from bench.cases import run_case
from bench.harness import CONNECTOR, DIAGNOSTIC, Bench, CaseResult, RunRecord
from bench.pg_cases import CONNECTOR_DUCKDB
from tests.postgres_server import PostgresUnavailableError

PERFORMANCE_SECTIONS = tuple(publish.SECTIONS)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return record.load()


@pytest.fixture(scope="module")
def performance_page() -> str:
    return publish.PERFORMANCE_MD.read_text(encoding="utf-8")


def _first_connector_run(data: dict[str, Any], case: str) -> dict[str, Any]:
    runs = next(c for c in data["cases"] if c["name"] == case)["runs"]
    run: dict[str, Any] = next(r for r in runs if r["variant"] == "connector")
    return run


def test_results_file_has_every_case_the_report_needs(results: dict[str, Any]) -> None:
    assert record.problems(results) == []
    names = {c["name"] for c in results["cases"]}
    assert set(record.required_cases(results)) <= names
    assert results["meta"]["mode"] == "full", "the documents publish a full run"


def test_results_file_names_the_commit_machine_and_repetitions(results: dict[str, Any]) -> None:
    meta = results["meta"]
    assert re.fullmatch(r"[0-9a-f]{40}", meta["commit"])
    assert meta["commit"].startswith(meta["commit_short"])
    assert isinstance(meta["dirty"], bool)
    assert meta["dirty"] == bool(meta["dirty_paths"])
    assert meta["machine"]["cores"] >= 1
    assert meta["repeats"] == results["config"]["repeats"] >= 1
    assert set(meta["versions"]) == set(record.VERSIONED)


def test_results_md_is_what_publish_renders_from_the_results_file(results: dict[str, Any]) -> None:
    committed = publish.RESULTS_MD.read_text(encoding="utf-8")
    assert committed == render.results_md(results), "run python -m bench.publish"


@pytest.mark.parametrize("name", PERFORMANCE_SECTIONS)
def test_performance_section_is_what_publish_renders_from_the_results_file(
    results: dict[str, Any], performance_page: str, name: str
) -> None:
    assert publish.section(performance_page, name) == publish.SECTIONS[name](results), (
        "run python -m bench.publish"
    )
    assert publish.start_marker(name) in performance_page


def test_documents_are_current_by_the_publish_check(
    results: dict[str, Any], performance_page: str
) -> None:
    committed = publish.RESULTS_MD.read_text(encoding="utf-8")
    assert publish.stale(results, performance_page, committed) == []


def test_a_changed_measurement_changes_both_documents(results: dict[str, Any]) -> None:
    changed = copy.deepcopy(results)
    for run in (r for c in changed["cases"] for r in c["runs"] if r["variant"] == "connector"):
        run["wall_s"] += 1000.0
    assert render.results_md(changed) != render.results_md(results)
    assert render.benchmarks_section(changed) != render.benchmarks_section(results)


def test_a_hand_edit_of_a_performance_section_is_reported_stale(
    results: dict[str, Any], performance_page: str
) -> None:
    body = publish.section(performance_page, "bench")
    edited = performance_page.replace(body, body.replace("medians of", "means of", 1))
    assert edited != performance_page
    assert "docs/performance.md section bench" in publish.stale(
        results, edited, render.results_md(results)
    )


def test_stated_repetitions_follow_the_runs(results: dict[str, Any]) -> None:
    more = copy.deepcopy(results)
    case = next(c for c in more["cases"] if c["name"] == "full_3k")
    case["runs"].append(copy.deepcopy(_first_connector_run(more, "full_3k")))
    runs = results["meta"]["repeats"] + 1
    assert f"connector in full_3k: {runs} runs" in render.repetitions(more)
    assert "connector in full_3k" not in render.repetitions(results)


def test_a_results_file_without_a_case_is_refused(results: dict[str, Any]) -> None:
    partial = copy.deepcopy(results)
    partial["cases"] = [c for c in partial["cases"] if c["name"] != "latency"]
    assert "case latency missing" in record.problems(partial)


def test_a_results_file_with_a_failed_run_is_refused(results: dict[str, Any]) -> None:
    failed = copy.deepcopy(results)
    _first_connector_run(failed, "full_10k")["ok"] = False
    assert any("runs of connector failed" in p for p in record.problems(failed))


def test_splice_replaces_only_the_marked_section() -> None:
    text = "# A\nkeep\n<!-- bench:start old -->\nold 1.23 s\n<!-- bench:end -->\n# B\nkeep too\n"
    spliced = publish.splice(text, "bench", "new")
    assert spliced.startswith("# A\nkeep\n")
    assert spliced.endswith("\n<!-- bench:end -->\n# B\nkeep too\n")
    assert publish.section(spliced, "bench") == "new"
    assert "1.23" not in spliced


def test_splice_refuses_missing_markers() -> None:
    with pytest.raises(publish.MarkerError):
        publish.splice("# no markers\n", "bench", "new")


# ---------------------------------------------------------------------------- issue #10 cases
# The committed results file may predate these cases; these tests build what a run of the new
# bench records (fields shaped like `python -m bench`'s output) on top of a copy of it.


def _with_config(data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["config"].update(fields)
    return changed


def _case(name: str, baseline: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "baseline": baseline,
        "params": extra.pop("params", {}),
        "seconds": 1.0,
        "load_avg": [0.1, 0.1],
        "error": "",
        "summaries": [],
        "targets": [],
        "notes": [],
        "data": extra.pop("data", {}),
        "runs": extra.pop("runs", []),
    }


def _run(variant: str, wall: float, **extra: Any) -> dict[str, Any]:
    return {
        "variant": variant,
        "repeat": 0,
        "wall_s": wall,
        "peak_rss_mb": 300.0,
        "requests": 9,
        "statuses": {"200": 9},
        "ok": True,
        "error": "",
        "extra": extra,
    }


def test_a_results_file_from_before_the_new_cases_needs_none_of_them(
    results: dict[str, Any],
) -> None:
    legacy = copy.deepcopy(results)
    for key in ("large_insights", "large_reference", "state_sizes", "postgres_insights"):
        legacy["config"].pop(key, None)
    needed = record.required_cases(legacy)
    assert "full_1m" not in needed
    assert "state_size" not in needed
    assert not any(name.startswith("pg_") for name in needed)


def test_a_results_file_configured_for_the_new_cases_must_have_them(
    results: dict[str, Any],
) -> None:
    configured = _with_config(
        results,
        large_insights=1_000_000,
        large_reference=100_000,
        state_sizes=[10_000, 100_000],
        postgres_insights=30_000,
    )
    new_cases = ("full_1m", "state_size", "pg_full_30k", "pg_nothing_new", "pg_k_new")
    configured["cases"] = [case for case in configured["cases"] if case["name"] not in new_cases]
    found = record.problems(configured)
    for name in new_cases:
        assert f"case {name} missing" in found


def test_postgres_cases_skipped_without_postgres_are_published_as_skipped(
    results: dict[str, Any],
) -> None:
    data = _with_config(results, postgres_insights=30_000)
    why = "PostgreSQL is not installed (no initdb/pg_ctl on PATH)"
    for name in ("pg_full_30k", "pg_nothing_new", "pg_k_new"):
        params = {"destination": "postgres", SKIPPED: why}
        data["cases"].append(_case(name, "floor", params=params))
        data["meta"]["cases_run"].append(name)
    assert record.problems(data) == []
    text = render.results_md(data)
    assert "## PostgreSQL beside DuckDB" in text
    assert why in " ".join(text.split())  # wrapped at 100 columns


def test_postgres_figures_are_rendered_beside_duckdb(results: dict[str, Any]) -> None:
    data = _with_config(results, postgres_insights=30_000)
    runs = [_run(CONNECTOR, 12.34), _run(CONNECTOR_DUCKDB, 9.87), _run("floor", 2.5)]
    params = {"destination": "postgres", "insights": 30_000}
    data["cases"].append(_case("pg_full_30k", "floor", params=params, runs=runs))
    text = render.results_md(data)
    section = text.split("## PostgreSQL beside DuckDB")[1].split("\n## ")[0]
    assert "| pg_full_30k | 12.34 s / 300 MB | 9.87 s / 300 MB | 1.25x |" in section


def test_state_sizes_are_rendered_per_load(results: dict[str, Any]) -> None:
    data = _with_config(results, state_sizes=[10_000, 100_000])
    loads = [
        {
            "insights": 100_000,
            "load": "first load",
            "lookback_insights": 4000,
            "wall_s": 16.0,
            "local_bytes": 273_456,
            "row_bytes": 208_000,
            "table_rows": 1,
            "table_bytes": 208_000,
            "fingerprints": 4000,
        }
    ]
    data["cases"].append(_case("state_size", DIAGNOSTIC, data={"state": loads}))
    text = render.results_md(data)
    assert "| 100k | first load | 4000 | 4000 | 273.5 | 208.0 | 68.4 | 1 / 208.0 |" in text


def test_state_targets_bound_by_the_lookback_not_the_tenant() -> None:
    def load(n: int, lookback: int, size: int) -> dict[str, Any]:
        return {"insights": n, "load": "first load", "lookback_insights": lookback,
                "local_bytes": size}  # fmt: skip

    within = scale.state_targets("s", [load(10_000, 400, 29_000), load(100_000, 4000, 276_000)])
    assert [t.met for t in within] == [True, True]
    # the same state at 100k with a tenth of the lookback: it grew with the tenant
    grown = scale.state_targets("s", [load(10_000, 400, 29_000), load(100_000, 400, 276_000)])
    assert [t.met for t in grown] == [False, False]


def test_the_large_load_is_judged_per_insight_against_its_reference() -> None:
    large = CaseResult("full_1m", "t", "b", {"insights": 1_000_000, "reference": "full_100k"})
    large.records.append(RunRecord(CONNECTOR, 0, 170.0, 900.0, 20_000, {}, True))
    reference = CaseResult("full_100k", "t", "b", {"insights": 100_000})
    reference.records.append(RunRecord(CONNECTOR, 0, 16.0, 650.0, 2000, {}, True))
    target = scale.per_insight_target(large, reference)
    assert target.measured == "170.00 us / 160.00 us = 1.06x"
    assert target.met is True
    alone = scale.per_insight_target(large, None)
    assert alone.met is None
    assert "full_100k did not run" in alone.verdict


def test_a_machine_without_postgres_skips_the_postgres_cases_saying_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    @contextlib.contextmanager
    def no_server() -> Iterator[None]:
        raise PostgresUnavailableError("PostgreSQL is not installed", installed=False)
        yield  # pragma: no cover - a generator, never reached

    monkeypatch.setattr(pg_cases, "postgres_server", no_server)
    name, (title, baseline, fn) = next(iter(pg_cases.registry_entries(Config.quick()).items()))
    result = run_case(Bench(tmp_path, 1.0), Config.quick(), name, title, baseline, fn)
    assert result.error == ""
    assert result.params[SKIPPED] == "PostgreSQL is not installed"
    assert status_word(result) == "SKIPPED: PostgreSQL is not installed"
    assert any("SKIPPED" in row for row in report.rows([result]))
