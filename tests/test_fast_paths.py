"""The fast paths of a load give exactly what the straightforward paths give.

Version hashes are the identity of a history row: if the fast path hashed a value differently
from the path it replaces, every insight would get a spurious new version on upgrade.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sources.opencx import rows
from sources.opencx_simulator import Simulator
from tests.cron_support import ROOT, SCRIPT, assert_insights_match, cli_env

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
        **{name: draw(_maybe_moment) for name in rows.TIMESTAMP_FIELDS},
    }


@settings(deadline=None)
@given(st.lists(api_insights(), min_size=1, max_size=8))
def test_history_built_with_insights_hashes_like_history_read_back_from_arrow(
    records: list[dict[str, Any]],
) -> None:
    insights, history = rows.insight_and_history_tables(records)
    assert insights.equals(rows.insights_table(records))
    assert history.equals(rows.history_table(insights))


def test_version_hash_of_a_timestamp_ignores_the_offset_it_was_written_with() -> None:
    utc = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    berlin = utc.astimezone(timezone(timedelta(hours=1)))
    assert rows.version_hash(["a", utc]) == rows.version_hash(["a", berlin])
    later = utc + timedelta(microseconds=1)
    assert rows.version_hash(["a", utc]) != rows.version_hash(["a", later])


_REPORT_PANDAS = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('pandas imported:', 'pandas' in sys.modules, file=sys.stderr))\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def _run_reporting_pandas(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _REPORT_PANDAS, str(SCRIPT), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_command_loads_and_runs_again_without_importing_the_installed_pandas(
    sim: Simulator, tmp_path: Path
) -> None:
    assert importlib.util.find_spec("pandas") is not None  # else this proves nothing
    env = cli_env(tmp_path)
    for run in ("first load", "nothing new"):
        result = _run_reporting_pandas(env, "--base-url", sim.base_url)
        assert result.returncode == 0, (run, result.stderr)
        assert result.stderr.splitlines()[-1] == "pandas imported: False", run
    assert_insights_match(tmp_path / "cli.duckdb", sim)


def test_hidden_modules_look_uninstalled_to_arrow_and_duckdb_which_still_work() -> None:
    code = (
        "import sys\n"
        "from pipelines.lean_imports import hide_unused_modules\n"
        "hide_unused_modules()\n"
        "import datetime, duckdb, pyarrow as pa\n"
        "t = pa.table({'at': [datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)]})\n"
        "assert duckdb.connect().execute('SELECT ?', ['x']).fetchall() == [('x',)]\n"
        "try:\n"
        "    import pandas\n"
        "except ModuleNotFoundError:\n"
        "    print('hidden', t.num_rows, 'pandas' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "hidden 1 False"), result.stderr
