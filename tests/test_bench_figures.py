"""Benchmark figures in the documents are rendered from the committed results file, never typed.

`bench/results.json` is written by `python -m bench --record` on a named commit; `bench/RESULTS.md`
and the README's marked sections must equal what `python -m bench.publish` renders from it. No
benchmark runs here: these tests only read and render (speed is judged by the bench's ratios).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from bench import publish, record, render

README_SECTIONS = tuple(publish.SECTIONS)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return record.load()


@pytest.fixture(scope="module")
def readme() -> str:
    return publish.README.read_text(encoding="utf-8")


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


@pytest.mark.parametrize("name", README_SECTIONS)
def test_readme_section_is_what_publish_renders_from_the_results_file(
    results: dict[str, Any], readme: str, name: str
) -> None:
    assert publish.section(readme, name) == publish.SECTIONS[name](results), (
        "run python -m bench.publish"
    )
    assert publish.start_marker(name) in readme


def test_documents_are_current_by_the_publish_check(results: dict[str, Any], readme: str) -> None:
    committed = publish.RESULTS_MD.read_text(encoding="utf-8")
    assert publish.stale(results, readme, committed) == []


def test_a_changed_measurement_changes_both_documents(results: dict[str, Any]) -> None:
    changed = copy.deepcopy(results)
    for run in (r for c in changed["cases"] for r in c["runs"] if r["variant"] == "connector"):
        run["wall_s"] += 1000.0
    assert render.results_md(changed) != render.results_md(results)
    assert render.readme_benchmarks(changed) != render.readme_benchmarks(results)


def test_a_hand_edit_of_the_readme_section_is_reported_stale(
    results: dict[str, Any], readme: str
) -> None:
    body = publish.section(readme, "bench")
    edited = readme.replace(body, body.replace("medians of", "means of", 1))
    assert edited != readme
    assert "README.md section bench" in publish.stale(results, edited, render.results_md(results))


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
