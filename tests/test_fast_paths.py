"""The fast paths of a load give exactly what the straightforward paths give.

Version hashes are the identity of a history row: if the fast path hashed a value differently
from the path it replaces, every insight would get a spurious new version on upgrade.
"""

from __future__ import annotations

import gc
import importlib.util
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dlt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.command import lean_gc
from pipelines.destination import duckdb_file
from pipelines.load import run_defaults
from sources.opencx import fingerprints, records, rows
from sources.opencx_simulator import Simulator
from tests.cron_support import assert_insights_match, cli_env, run_cli
from tests.helpers import Workspace

_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_moments = st.builds(
    lambda base, zone: base.replace(tzinfo=timezone.utc).astimezone(zone),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    _offsets,
)
_maybe_moment = st.none() | _moments
_maybe_text = st.none() | st.text(max_size=12)
_person = st.none() | st.fixed_dictionaries(
    {"name": _maybe_text, "avatar_url": _maybe_text, "reason": _maybe_text}
)


@st.composite
def api_insights(draw: st.DrawFn) -> dict[str, Any]:
    """A parsed API insight with any offsets, microseconds, nulls and missing objects."""
    return {
        "id": draw(st.uuids().map(str)),
        "insight_number": draw(st.none() | st.integers(0, 10**6)),
        "content": draw(_maybe_text),
        "sentiment": draw(st.sampled_from([None, "angry", "happy", "neutral", "new-one"])),
        "occurrence_count": draw(st.none() | st.integers(0, 10**9)),
        "category": draw(st.none() | st.fixed_dictionaries({"id": _maybe_text})),
        "team": draw(st.none() | st.fixed_dictionaries({"id": _maybe_text})),
        "resolved_by": draw(_person),
        "archived_by": draw(_person),
        **{name: draw(_maybe_moment) for name in records.TIMESTAMP_FIELDS},
    }


@settings(deadline=None)
@given(st.lists(api_insights(), min_size=1, max_size=8))
def test_history_built_with_insights_hashes_like_history_read_back_from_arrow(
    records: list[dict[str, Any]],
) -> None:
    insights, history = rows.insight_and_history_tables(records)
    assert insights.equals(rows.insights_table(records))
    assert history.equals(rows.history_table(insights))


def _people_mention_by_mention(records: list[dict[str, Any]]) -> Any:
    """The people table keyed mention by mention: each mention's `person_key`, the last wins."""
    people = []
    for record in records:
        for field in ("resolved_by", "archived_by"):
            person = record.get(field)
            key = rows.person_key(person)
            if key is not None and isinstance(person, dict):
                people.append({"person_key": key, **{k: v for k, v in person.items()
                                                     if k != "reason"}})  # fmt: skip
    return rows._entity_table("people", people, "person_key")


@settings(deadline=None)
@given(st.lists(api_insights(), min_size=1, max_size=12))
def test_people_keyed_once_per_person_equal_people_keyed_per_mention(
    records: list[dict[str, Any]],
) -> None:
    expected = _people_mention_by_mention(records)
    table = rows.people_table(records)
    assert (table is None) == (expected is None)
    if table is not None:
        assert table.equals(expected)


def test_version_hash_of_a_timestamp_ignores_the_offset_it_was_written_with() -> None:
    utc = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    berlin = utc.astimezone(timezone(timedelta(hours=1)))
    assert rows.version_hash(["a", utc]) == rows.version_hash(["a", berlin])
    later = utc + timedelta(microseconds=1)
    assert rows.version_hash(["a", utc]) != rows.version_hash(["a", later])


_REPORT_AT_EXIT = (
    "import atexit, gc, runpy, sys\n"
    "unused = ('pandas', 'numpy')\n"
    "importing = []  # per collection once the command started: still importing the runner?\n"
    "def note(phase, info):\n"
    "    runner = sys.modules.get('pipelines.command.run')\n"
    "    if phase == 'start' and 'pipelines.command.lean_gc' in sys.modules:\n"
    "        importing.append(not hasattr(runner, 'run'))\n"
    "gc.callbacks.append(note)\n"
    "atexit.register(lambda: print('imported:', [m for m in unused if m in sys.modules],\n"
    "                              'heap frozen:', gc.get_freeze_count() > 0,\n"
    "                              'collections while importing:', sum(importing),\n"
    "                              'collections in the run:', len(importing) > sum(importing),\n"
    "                              file=sys.stderr))\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def test_the_command_imports_uncollected_and_loads_without_unused_imports_nor_a_final_collection(
    sim: Simulator, tmp_path: Path
) -> None:
    # else this proves nothing
    for installed in ("pandas", "numpy"):
        assert importlib.util.find_spec(installed) is not None, installed
    env = cli_env(tmp_path)
    for run in ("first load", "nothing new"):
        result = run_cli(env, "--base-url", sim.base_url, python_args=("-c", _REPORT_AT_EXIT))
        assert result.returncode == 0, (run, result.stderr)
        assert result.stderr.splitlines()[-1] == (
            "imported: [] heap frozen: True collections while importing: 0 "
            "collections in the run: True"
        ), run
    assert_insights_match(tmp_path / "cli.duckdb", sim)


def test_collections_resume_after_the_imports_only_where_the_command_paused_them() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    lean_gc.imports_done()  # a library caller: nothing was paused, nothing is frozen
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
    try:
        lean_gc.pause_collections_for_imports()
        assert not gc.isenabled()
        lean_gc.imports_done()
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen
    finally:
        gc.enable()
        gc.unfreeze()


def _duckdb_setting(path: Path, name: str) -> str:
    pipeline = dlt.pipeline(
        "settings_probe",
        pipelines_dir=str(path.parent / "dlt"),
        destination=dlt.destinations.duckdb(credentials=duckdb_file.credentials(path)),
        dataset_name="probe",
    )
    with pipeline.sql_client() as client:
        rows_ = client.execute_sql(f"SELECT current_setting('{name}')")
    assert rows_ is not None
    return str(rows_[0][0])


def test_the_load_connects_to_duckdb_single_threaded_and_within_a_memory_limit(
    tmp_path: Path,
) -> None:
    db = tmp_path / "settings.duckdb"
    assert _duckdb_setting(db, "threads") == "1"
    assert _duckdb_setting(db, "memory_limit") == "30.5 MiB"  # DuckDB's rendering of 32MB


def test_configured_duckdb_settings_override_the_load_settings_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"threads": 2}')
    assert duckdb_file.load_settings() == {**duckdb_file.LOAD_SETTINGS, "threads": 2}
    assert _duckdb_setting(tmp_path / "settings.duckdb", "threads") == "2"


def test_load_jobs_run_one_at_a_time_during_the_run_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LOAD__WORKERS", raising=False)
    with run_defaults.one_load_job_at_a_time():
        assert dlt.config.get("load.workers", int) == 1
    assert dlt.config.get("load.workers", int) is None
    monkeypatch.setenv("LOAD__WORKERS", "6")
    with run_defaults.one_load_job_at_a_time():
        assert dlt.config.get("load.workers", int) == 6
    assert dlt.config.get("load.workers", int) == 6


def test_the_insights_merge_skips_dlts_dedup_because_a_run_holds_one_version_per_insight(
    sim: Simulator, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path)
    ws.load(sim)  # a first load appends (`pipelines.load.first_load`); the next one merges
    sim.store.bump_counts(5, rng_seed=2)
    pipeline = ws.load(sim)
    table = pipeline.default_schema.tables["insights"]
    assert table.get("x-stage-data-deduplicated") is True
    ids = [row[0] for row in ws.query("SELECT id FROM opencx.insights")]
    assert sorted(ids) == sorted(i["id"] for i in sim.store.ground_truth())


@settings(deadline=None)
@given(api_insights(), st.randoms(use_true_random=False))
def test_an_insights_fingerprint_ignores_key_order_and_changes_with_any_value(
    record: dict[str, Any], rnd: Any
) -> None:
    keys = list(record)
    rnd.shuffle(keys)
    assert fingerprints.fingerprint({key: record[key] for key in keys}) == (
        fingerprints.fingerprint(record)
    )
    changed = {**record, rnd.choice(keys): "a value no strategy draws"}
    assert fingerprints.fingerprint(changed) != fingerprints.fingerprint(record)


def test_an_insight_with_an_integer_over_64_bits_still_gets_a_stable_fingerprint() -> None:
    record = {"id": "i-1", "occurrence_count": 2**70, "team": {"id": "t", "n": -(2**80)}}
    again = {"team": {"n": -(2**80), "id": "t"}, "occurrence_count": 2**70, "id": "i-1"}
    assert fingerprints.fingerprint(record) == fingerprints.fingerprint(again)
    assert fingerprints.fingerprint(record) != fingerprints.fingerprint({**record, "id": "i-2"})
