"""Verdicts come from the recorded runs, the rate-limit case binds, and wrong loads are not
published.

Every verdict in the documents is judged again from the runs of `bench/results.json` when it is
read (`bench.verdicts`), so a changed run changes its verdict; the `rate_limit` case backfills
more pages than the limit allows in a minute, so only a paced run meets it; and a results file
in which a load lost or duplicated rows is refused by `python -m bench.publish`. No benchmark
runs here: the runs are the committed file's, changed, or shaped like `python -m bench`'s.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bench import publish, record, render
from bench.casekit import Config, pages
from bench.cases import limit_minimum_s, rate_limit_targets
from bench.harness import CONNECTOR, CaseResult, RunRecord, Target


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return record.load()


def wall_targets(data: dict[str, Any]) -> dict[tuple[str, str], Target]:
    """Judged targets comparing the connector's wall time with a baseline or a bound."""
    return {
        (t.case, t.label): t
        for case in record.cases_of(data).values()
        for t in case.targets
        if t.label.startswith("wall vs") and t.met is not None
    }


def connector_runs(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for c in data["cases"] for r in c["runs"] if r["variant"] == CONNECTOR]


# ---------------------------------------------------------------------------- judged from runs


def test_a_thousand_seconds_more_per_connector_run_misses_every_wall_target(
    results: dict[str, Any],
) -> None:
    slower = copy.deepcopy(results)
    for run in connector_runs(slower):
        run["wall_s"] += 1000.0
    before, after = wall_targets(results), wall_targets(slower)
    assert after.keys() == before.keys()
    judged = {case for case, _ in after}
    assert judged >= {"full_30k", "full_100k", "latency", "nothing_new", "k_new", "rate_limit"}
    assert "faults" in judged
    assert any(t.met for t in before.values())
    for key, target in after.items():
        assert target.met is False, key
        assert target.verdict.startswith("missed"), key
    table = render.targets_table(slower)
    for case, label in after:
        row = next(line for line in table.splitlines() if line.startswith(f"| {case}: {label} |"))
        assert "**missed" in row


def test_the_verdicts_stored_in_a_results_file_are_never_published(
    results: dict[str, Any],
) -> None:
    forged = copy.deepcopy(results)
    for case in forged["cases"]:
        for target in case["targets"]:
            target.update(measured="0", met=True, verdict="met")
    assert render.results_md(forged) == render.results_md(results)
    for name, renderer in publish.SECTIONS.items():
        assert renderer(forged) == renderer(results), name


# ---------------------------------------------------------------------------- rate limit

LIMIT, PACE, PAGES = 100, 90.0, 150


def rate_case(*runs: RunRecord, pages_: int = PAGES, limit: int = LIMIT) -> CaseResult:
    params = {"pages": pages_, "rate_limit_per_min": limit, "client_pace_per_min": PACE}
    return CaseResult("rate_limit", "t", "theory", params, records=list(runs))


def run(wall: float, statuses: dict[str, int], ok: bool = True, span: float = 0.0) -> RunRecord:
    requests = sum(statuses.values())
    extra = {"request_span_s": span}
    return RunRecord(CONNECTOR, 0, wall, 210.0, requests, statuses, ok, extra=extra)


def verdicts(case: CaseResult) -> dict[str, bool | None]:
    return {t.label.split(" ")[0]: t.met for t in rate_limit_targets(case)}


# The first two are one real run each of the case (`rate_limited`, Config.full(repeats=1)) as
# configured and with `pace=0`: the unpaced connector gave up after 8 attempts at 429.


def test_a_paced_backfill_that_waits_for_the_next_window_meets_the_rate_limit_targets() -> None:
    paced = rate_case(run(62.779, {"200": PAGES}, span=60.186))
    assert verdicts(paced) == {"429": True, "wall": True, "(informational)": None}


@pytest.mark.parametrize(
    ("unpaced", "met"),
    [
        pytest.param(
            run(16.304, {"200": 100, "429": 56}, ok=False, span=14.669),
            {"429": False, "wall": False},
            id="gave-up-on-429s",
        ),
        pytest.param(
            run(64.0, {"200": PAGES, "429": 350}, span=61.5),
            {"429": False, "wall": True},
            id="retried-into-the-next-window",
        ),
        pytest.param(
            run(3.1, {"200": PAGES}, span=1.2),
            {"429": True, "wall": False},
            id="under-a-limit-that-never-held",
        ),
    ],
)
def test_an_unpaced_backfill_misses_the_rate_limit_targets(
    unpaced: RunRecord, met: dict[str, bool]
) -> None:
    judged = verdicts(rate_case(unpaced))
    assert {key: judged[key] for key in met} == met


def test_a_backfill_that_fits_in_one_minute_never_passes_as_paced() -> None:
    """The case as it was: 300 pages under 600/min, done in 3 s, read 'met' against 30 s."""
    case = rate_case(run(3.05, {"200": 300}, span=1.26), pages_=300, limit=600)
    (wall,) = [t for t in rate_limit_targets(case) if t.label.startswith("wall")]
    assert wall.met is False
    assert "does not bind" in wall.verdict


@pytest.mark.parametrize("cfg", [Config.full(), Config.quick()], ids=["full", "quick"])
def test_the_configured_rate_limit_case_makes_the_pacing_wait_about_a_minute(cfg: Config) -> None:
    r_pages = pages(cfg.rate_insights)
    assert cfg.pace < cfg.rate_limit < r_pages  # unpaced, the pages beyond the limit get 429
    assert int(cfg.pace) < r_pages  # paced, the pages beyond the pace wait for the next window
    assert 0 < limit_minimum_s(r_pages, cfg.rate_limit) <= 60  # one wait: about a minute a run


# ---------------------------------------------------------------------------- wrong loads


def _connector_run(data: dict[str, Any], case: str) -> dict[str, Any]:
    runs = next(c for c in data["cases"] if c["name"] == case)["runs"]
    found: dict[str, Any] = next(r for r in runs if r["variant"] == CONNECTOR)
    return found


@pytest.mark.parametrize(
    ("case", "wrong"),
    [
        pytest.param("full_30k", {"rows": 29_990, "distinct_ids": 29_990}, id="rows-lost"),
        pytest.param("full_30k", {"rows": 30_010, "distinct_ids": 30_000}, id="rows-duplicated"),
        pytest.param("full_1m", {"rows": 999_000, "distinct_ids": 999_000}, id="large-load-lost"),
        pytest.param("faults", {"missing": 3}, id="faults-lost"),
        pytest.param("k_new", {"bumped_loaded": 119}, id="an-update-lost"),
    ],
)
def test_publish_refuses_a_results_file_in_which_a_load_went_wrong(
    results: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
    wrong: dict[str, int],
) -> None:
    data = copy.deepcopy(results)
    _connector_run(data, case)["extra"].update(wrong)
    path = tmp_path / "results.json"
    record.dump(data, path)
    documents = {}
    # a publish that went ahead writes copies, not ours
    for name in ("PERFORMANCE_MD", "RESULTS_MD"):
        copied = tmp_path / Path(getattr(publish, name)).name
        copied.write_text(Path(getattr(publish, name)).read_text(encoding="utf-8"))
        documents[copied] = copied.read_text(encoding="utf-8")
        monkeypatch.setattr(publish, name, copied)
    assert publish.main(["--results", str(path)]) != 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("cannot publish:")
    assert f"case {case}: connector run " in line
    for copied, text in documents.items():
        assert copied.read_text(encoding="utf-8") == text
