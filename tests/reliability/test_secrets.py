"""The API key never leaves the request header.

Representative flows run with a recognisable key: the command succeeding through retries, a
reconciliation, a 401, a `--verbose` failure that prints a traceback, and in-process loads with
every logger at DEBUG. Afterwards the key (and its secret part alone) must appear in no stdout or
stderr, no log record, no exception text, no file under the working directories (state, schemas,
load packages, trace pickles; gzip, parquet and dlt's compressed state are opened, not just
grepped) and no value of any text column of any table in the DuckDB file, dlt's own included.
"""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from dlt.common.versioned_state import decompress_state
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import TEST_KEY, Workspace
from tests.reliability.support import one_line_for
from tests.test_cli import cli_env, run_cli

CANARY = "ocx_live_CANARY_9d41f6c2b7e04a35"
SECRET_PART = CANARY.removeprefix("ocx_live_")
NEEDLES = (CANARY, SECRET_PART, SECRET_PART[-8:])
FAULTS = ("503", "html_522", "429", "drop", "truncated", "missing_data")


@pytest.fixture
def api(make_sim: SimFactory) -> Simulator:
    """A simulator that accepts the canary key (and the usual test keys)."""
    return make_sim(n_insights=120, page_size=20, api_keys={CANARY: ("*",), TEST_KEY: ("*",)})


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every logger at DEBUG into caplog, dlt's included (it does not propagate to the root)."""

    def reinitialise_dlt_runtime() -> None:
        Container()[PluggableRunContext].context.initialize_runtime()

    dlt_logger = logging.getLogger("dlt")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
        env.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
        reinitialise_dlt_runtime()
        dlt_logger.addHandler(caplog.handler)
        for name in (None, "httpx", "httpcore", "sources.opencx"):
            caplog.set_level(logging.DEBUG, logger=name)
        try:
            yield
        finally:
            dlt_logger.removeHandler(caplog.handler)
    reinitialise_dlt_runtime()  # back to the suite's settings


def assert_clean(text: str, where: str) -> None:
    for needle in NEEDLES:
        assert needle not in text, f"the API key leaked into {where}"


def texts_in_file(path: Path) -> Iterator[str]:
    """Everything readable in a file: its bytes, and what gzip, parquet or JSON hide."""
    raw = path.read_bytes()
    yield raw.decode("latin-1")
    if raw[:2] == b"\x1f\x8b":
        yield gzip.decompress(raw).decode("latin-1")
    if raw[:4] == b"PAR1":
        for column in pq.read_table(path).columns:
            yield "\x00".join(map(str, column.to_pylist()))
    if path.suffix == ".json" and raw.strip():
        try:
            document = json.loads(raw)
        except ValueError:
            return  # e.g. package_completed.json holds a bare word; its bytes were searched
        yield from _decompressed_strings(document)


def _decompressed_strings(value: Any) -> Iterator[str]:
    """dlt keeps state zlib-compressed and base64-encoded inside JSON: open every string."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _decompressed_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _decompressed_strings(item)
    elif isinstance(value, str) and len(value) > 40:
        try:
            yield json.dumps(decompress_state(value), default=str)
        except Exception:
            return


def assert_no_file_holds_the_key(root: Path) -> int:
    checked = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for text in texts_in_file(path):
            assert_clean(text, str(path.relative_to(root)))
        checked += 1
    return checked


def assert_no_table_holds_the_key(db: Path) -> int:
    """Every text column of every table in every schema, plus dlt's compressed state."""
    checked = 0
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR'"
        ).fetchall()
        for schema_name, table, column in columns:
            for needle in NEEDLES:
                hits = con.execute(
                    f'SELECT COUNT(*) FROM "{schema_name}"."{table}" '
                    f'WHERE POSITION(? IN "{column}") > 0',
                    [needle],
                ).fetchall()
                assert hits == [(0,)], f"the API key is stored in {schema_name}.{table}.{column}"
            checked += 1
        states = con.execute("SELECT state FROM opencx._dlt_pipeline_state").fetchall()
    assert states
    for (state,) in states:
        assert_clean(json.dumps(decompress_state(state), default=str), "_dlt_pipeline_state")
    return checked


def assert_output_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert_clean(result.stdout, "stdout")
    assert_clean(result.stderr, "stderr")


# ---------------------------------------------------------------------------- the command


def test_the_key_appears_in_no_output_file_or_table_of_the_command(
    tmp_path: Path, api: Simulator, make_sim: SimFactory
) -> None:
    env = cli_env(tmp_path, SOURCES__OPENCX__API_KEY=CANARY, SOURCES__OPENCX__MAX_ATTEMPTS="8")
    results = []

    api.faults.enqueue(*FAULTS)  # a first load through every kind of retry, logged everywhere
    log_file = tmp_path / "opencx.log"
    results.append(
        run_cli(env, "--base-url", api.base_url, "--verbose", "--log-file", str(log_file))
    )
    assert results[-1].returncode == 0, results[-1].stderr
    assert "retrying" in results[-1].stderr
    assert "retrying" in log_file.read_text(encoding="utf-8")  # checked below with every file

    api.store.bump_counts(10)
    api.store.delete(api.store.insight_ids()[0])
    api.faults.enqueue("503", "429")
    results.append(run_cli(env, "--base-url", api.base_url, "--full-refresh", "--verbose"))
    assert results[-1].returncode == 0, results[-1].stderr

    stranger = make_sim(n_insights=10)  # does not know the key: 401
    results.append(run_cli(env, "--base-url", stranger.base_url))
    assert results[-1].returncode == 3
    assert "sources.opencx.api_key" in results[-1].stderr

    api.faults.enqueue(*["502"] * 8)  # retries logged, then a traceback
    results.append(run_cli(env, "--base-url", api.base_url, "--verbose"))
    assert results[-1].returncode == 5
    assert "Traceback" in results[-1].stderr

    for result in results:
        assert_output_clean(result)
    assert assert_no_file_holds_the_key(tmp_path) > 10
    assert assert_no_table_holds_the_key(tmp_path / "cli.duckdb") > 20
    assert all(CANARY in r.headers.get("authorization", "") for r in api.requests)


# ---------------------------------------------------------------------------- in process


def test_the_key_appears_in_no_log_record_exception_trace_or_state_in_process(
    tmp_path: Path,
    ws: Workspace,
    api: Simulator,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    debug_logs: None,
) -> None:
    texts: list[str] = []

    api.faults.enqueue(*FAULTS)
    pipeline = ws.load(api, api_key=CANARY, max_attempts=8)
    texts += [str(pipeline.last_trace), repr(pipeline.last_trace), json.dumps(pipeline.state,
              default=str)]  # fmt: skip
    api.store.bump_counts(5)
    pipeline = ws.load(api, api_key=CANARY, full_refresh=True)
    texts += [str(pipeline.last_trace), json.dumps(pipeline.state, default=str)]

    for args in ({"base_url": api.base_url + "/v0"}, {"max_attempts": 2}):
        api.faults.enqueue(*["503"] * 2)
        with pytest.raises(PipelineStepFailed) as err:
            ws.load(api, api_key=CANARY, **args)
        texts += [str(err.value), repr(err.value), one_line_for(err.value)]
        texts += [str(ws.pipeline().last_trace)]

    assert "retrying" in caplog.text
    debug = {r.name.split(".")[0] for r in caplog.records if r.levelno == logging.DEBUG}
    assert {"dlt", "httpcore"} <= debug, debug  # DEBUG really was on, dlt's logger included
    assert_clean(caplog.text, "log records")
    captured = capfd.readouterr()
    assert_clean(captured.out + captured.err, "what the process wrote to stdout/stderr")
    for record in caplog.records:
        assert_clean(repr(record.args), f"the arguments of a {record.name} log record")
    for text in texts:
        assert_clean(text, "an exception, trace or state")
    assert assert_no_file_holds_the_key(tmp_path) > 10
    assert assert_no_table_holds_the_key(ws.db) > 20


def test_a_key_pasted_with_an_invisible_character_fails_naming_the_setting(
    ws: Workspace, api: Simulator
) -> None:
    with pytest.raises(Exception) as err:  # noqa: PT011 - any failure; the line is checked
        ws.load(api, api_key=CANARY + "\u200b")
    line = one_line_for(err.value)
    assert "sources.opencx.api_key" in line
    assert_clean(line, "the error line")
    assert api.requests == []
