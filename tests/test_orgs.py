"""Several OpenCX organisations: one pipeline and dataset each, one org's failure stops no other,
the exit status and the report name the org that failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from pipelines.failures import combined_status
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.cron_support import cli_env, only_line, run_cli
from tests.helpers import TEST_KEY

WRONG_KEY = "ocx_live_revoked_0000"


def org_env(tmp_path: Path, sims: dict[str, Simulator], keys: dict[str, str]) -> dict[str, str]:
    """Each org's key and API (one simulator per org, so each has its own insights)."""
    extra = {}
    for org, sim in sims.items():
        extra[f"SOURCES__OPENCX__{org.upper()}__BASE_URL"] = sim.base_url
        extra[f"SOURCES__OPENCX__{org.upper()}__API_KEY"] = keys[org]
    return cli_env(tmp_path, **extra)


def loaded(db: Path, dataset: str) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"SELECT id, occurrence_count FROM {dataset}.insights").fetchall()
    return dict(rows)


def datasets(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT DISTINCT table_schema FROM information_schema.tables")
        return {row[0] for row in rows.fetchall()}


def truth(sim: Simulator) -> dict[str, Any]:
    return {item["id"]: item["occurrence_count"] for item in sim.store.ground_truth()}


def test_one_org_with_a_wrong_key_fails_alone_and_the_others_load_completely(
    tmp_path: Path, make_sim: SimFactory
) -> None:
    sims = {org: make_sim(seed=seed, n_insights=60 + seed)
            for seed, org in enumerate(("acme", "globex", "initech"), start=1)}  # fmt: skip
    keys = {"acme": TEST_KEY, "globex": WRONG_KEY, "initech": TEST_KEY}
    report_path = tmp_path / "run.json"
    env = org_env(tmp_path, sims, keys)

    result = run_cli(env, "--orgs", "acme,globex,initech", "--report-json", str(report_path))

    assert result.returncode == 3
    line = only_line(result.stderr)
    assert line.startswith("error: org globex: ")
    assert "401" in line
    assert "sources.opencx.globex.api_key" in line
    db = tmp_path / "cli.duckdb"
    assert loaded(db, "opencx_acme") == truth(sims["acme"])
    assert loaded(db, "opencx_initech") == truth(sims["initech"])
    assert "opencx_globex" not in datasets(db)
    assert "org acme: loaded into" in result.stdout
    assert "org globex: nothing loaded (exit 3)" in result.stdout
    assert "org initech: loaded into" in result.stdout

    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert (report["outcome"], report["exit_status"]) == ("failed", 3)
    assert report["error"] == line.removeprefix("error: ")
    runs = {run["org"]: run for run in report["runs"]}
    assert list(runs) == ["acme", "globex", "initech"]
    assert runs["globex"]["outcome"] == "failed"
    assert runs["globex"]["exit_status"] == 3
    assert runs["globex"]["error"] == line.removeprefix("error: org globex: ")
    for org in ("acme", "initech"):
        assert runs[org]["outcome"] == "ok"
        assert runs[org]["pipeline"] == f"opencx_insights_{org}"
        assert runs[org]["dataset"] == f"opencx_{org}"
        assert runs[org]["rows"]["insights"] == len(truth(sims[org]))
        assert runs[org]["requests"] == len(sims[org].requests)
    assert TEST_KEY not in report_path.read_text(encoding="utf-8")

    sims["acme"].clear_requests()
    again = run_cli(env, "--orgs", "acme,initech")  # each org has its own cursor now
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("strategy: recent_first") == 2
    assert len(sims["acme"].requests) == 1


def test_org_without_its_own_key_never_borrows_the_shared_one(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path, SOURCES__OPENCX__BASE_URL=sim.base_url)  # sets ..._API_KEY too
    result = run_cli(env, "--orgs", "acme")
    assert result.returncode == 2
    line = only_line(result.stderr)
    assert "SOURCES__OPENCX__ACME__API_KEY" in line
    assert "sources.opencx.acme.api_key" in line
    assert sim.requests == []


def test_orgs_from_config_get_their_own_duckdb_file_by_default(tmp_path: Path) -> None:
    env = cli_env(
        tmp_path,
        SOURCES__OPENCX__ORGS='["acme", "globex"]',
        SOURCES__OPENCX__ACME__API_KEY=TEST_KEY,
        SOURCES__OPENCX__GLOBEX__API_KEY=TEST_KEY,
    )
    del env["DESTINATION__DUCKDB__CREDENTIALS"]
    result = run_cli(env, "--dry-run")
    assert result.returncode == 0, result.stderr
    for org in ("acme", "globex"):
        assert f"org {org}: pipeline opencx_insights_{org}" in result.stdout
        assert f"data/opencx_insights_{org}.duckdb, dataset opencx_{org}" in result.stdout


def test_org_names_must_be_plain_lowercase_words(tmp_path: Path) -> None:
    for orgs, needle in (("Acme", "lowercase"), ("acme,acme", "twice"), ("status", "key of")):
        result = run_cli(cli_env(tmp_path), "--orgs", orgs, "--dry-run")
        assert result.returncode == 2, orgs
        line = only_line(result.stderr)
        assert needle in line
        assert "sources.opencx.orgs" in line


def test_exit_status_of_several_orgs_is_the_first_failure_else_withheld_else_ok() -> None:
    assert combined_status([0, 0]) == 0
    assert combined_status([0, 6, 0]) == 6
    assert combined_status([6, 4, 3]) == 4
    assert combined_status([0, 3, 6, 7]) == 3
