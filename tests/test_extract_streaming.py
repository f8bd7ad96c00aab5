"""A scan's batches are turned into tables as they arrive, not after the last page.

The pages of a full load arrive over several connections while the main thread waits; building
each batch's Arrow tables then (and importing pyarrow on the first) overlaps that wait. A
transformer that dlt queues instead of running at once leaves all of it for after the last
page, and keeps every queued batch in memory meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from sources.opencx import batches, resources, rows, settings
from sources.opencx_simulator import Simulator
from tests.helpers import Workspace

Events = list[tuple[str, int]]


def _logging_batches(events: Events) -> Callable[..., Iterator[list[dict[str, Any]]]]:
    read_batches = batches.batched_records

    def logged(pages: Iterator[list[dict[str, Any]]], batch_rows: int) -> Iterator[Any]:
        for number, batch in enumerate(read_batches(pages, batch_rows)):
            events.append(("read", number))
            yield batch

    return logged


def _logging_builder(events: Events, table: str, build: Callable[..., Any]) -> Callable[..., Any]:
    def builder(records: list[dict[str, Any]]) -> Any:
        batch = sum(1 for event, _ in events if event == "read") - 1
        events.append((f"built {table}", batch))
        return build(records)

    return builder


@pytest.fixture
def build_events(monkeypatch: pytest.MonkeyPatch) -> Events:
    """What the extract did, in order: batches read from the scan and tables built from them."""
    events: Events = []
    monkeypatch.setattr(settings, "BATCH_ROWS", 60)
    monkeypatch.setattr(resources, "batched_records", _logging_batches(events))
    for name in ("insight_and_history_tables", "categories_table", "teams_table", "people_table"):
        monkeypatch.setattr(rows, name, _logging_builder(events, name, getattr(rows, name)))
    return events


def test_every_batch_is_built_into_its_tables_before_the_next_batch_is_read(
    tmp_path: Path, make_sim: Callable[..., Simulator], build_events: Events
) -> None:
    ws = Workspace(tmp_path)
    ws.load(make_sim(n_insights=300, page_size=20), concurrency=4)

    batches = sum(1 for event, _ in build_events if event == "read")
    assert batches == 5
    for number in range(batches):
        read_at = build_events.index(("read", number))
        following = build_events[read_at + 1 : read_at + 5]
        assert sorted(event for event, _ in following) == [
            "built categories_table",
            "built insight_and_history_tables",
            "built people_table",
            "built teams_table",
        ], build_events
        assert {batch for _, batch in following} == {number}
    assert ws.count("insights") == 300


def test_a_configured_extract_mode_is_kept_for_the_run(
    tmp_path: Path,
    make_sim: Callable[..., Simulator],
    build_events: Events,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXTRACT__NEXT_ITEM_MODE", "round_robin")
    ws = Workspace(tmp_path)
    ws.load(make_sim(n_insights=300, page_size=20), concurrency=4)

    # dlt's round robin visits the fork in turn with the scan: the scan runs ahead of the builds
    builds_before_the_second_read = build_events.index(("read", 1)) - 1
    assert builds_before_the_second_read < 4
    assert ws.count("insights") == 300
    assert os.environ["EXTRACT__NEXT_ITEM_MODE"] == "round_robin"


def test_the_connectors_extract_mode_lasts_for_the_run_only(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXTRACT__NEXT_ITEM_MODE", raising=False)
    Workspace(tmp_path).load(sim)
    assert dlt.config.get("extract.next_item_mode") is None
