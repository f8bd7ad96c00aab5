"""A scheduled run with nothing new does the least it can, and never loses a state change.

It leaves the dashboard views as they are (nothing changed the tables they read), asks the API
only for the lookback's pages, and leaves no load package and no load behind; a run whose state
changed still commits that state, and the views are recreated after every run that loaded.
"""

from __future__ import annotations

from typing import Any

import pytest

from sources.opencx import settings, views
from sources.opencx_simulator import Simulator
from tests.helpers import (
    Workspace,
    cursor_of,
    insight_requests,
    pages_needed,
    within_lookback,
)


@pytest.fixture
def view_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The datasets `create_views` (re)built views in, in order."""
    built: list[str] = []
    create = views._create

    def counting(pipeline: Any) -> list[str]:
        built.append(pipeline.dataset_name)
        return create(pipeline)

    monkeypatch.setattr(views, "_create", counting)
    return built


def loads(ws: Workspace) -> int:
    return ws.count("_dlt_loads")


def test_a_run_with_nothing_new_leaves_the_views_as_they_are(
    ws: Workspace, sim: Simulator, view_builds: list[str]
) -> None:
    ws.load(sim)
    assert view_builds == ["opencx"]
    ws.load(sim)
    assert view_builds == ["opencx"], "a run that loaded nothing must not rewrite the views"
    assert set(views.VIEW_NAMES) <= ws.tables()


def test_views_are_recreated_after_every_run_that_loaded(
    ws: Workspace, sim: Simulator, view_builds: list[str]
) -> None:
    ws.load(sim)
    sim.store.bump_counts(3)
    ws.load(sim)
    assert len(view_builds) == 2
    ws.load(sim)
    assert len(view_builds) == 2


def test_views_are_created_again_when_their_sql_changes(
    ws: Workspace, sim: Simulator, view_builds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.load(sim)
    released = views._sql_text  # a new release: one view's SQL file differs

    def changed(name: str) -> str:
        return released(name) + ("\n-- changed" if name == views.RESOLUTION_TIMES.name else "")

    monkeypatch.setattr(views, "_sql_text", changed)
    ws.load(sim)
    assert len(view_builds) == 2, "a new release's views replace the old ones on its first run"


def test_views_missing_from_the_local_record_are_created_on_a_run_with_nothing_new(
    ws: Workspace, sim: Simulator, view_builds: list[str]
) -> None:
    """A machine that never created the views (a fresh worker) creates them."""
    ws.load(sim)
    pipeline = ws.pipeline()
    with pipeline.managed_state() as state:
        del state["_local"][views.VIEWS_STATE_KEY]  # type: ignore[misc]
    ws.load(sim)
    assert len(view_builds) == 2


def test_a_run_with_nothing_new_asks_only_for_the_lookback_and_leaves_no_package(
    ws: Workspace, sim: Simulator
) -> None:
    cursor = cursor_of(ws.load(sim))
    before = loads(ws)
    sim.clear_requests()
    ws.load(sim)
    requests = insight_requests(sim)
    within = within_lookback(sim.store.ground_truth(), cursor, settings.DEFAULT_LOOKBACK_HOURS)
    assert 1 <= len(requests) <= pages_needed(within, sim.config.page_size) + 1
    assert {(r.body["sortBy"], r.body["sortOrder"]) for r in requests} == {("last_seen_at", "desc")}
    pipeline = ws.pipeline()
    assert not pipeline.has_pending_data
    assert pipeline.list_extracted_load_packages() == []
    assert pipeline.list_normalized_load_packages() == []
    assert loads(ws) == before, "nothing new must not record a load"


def test_a_changed_state_still_commits_when_no_rows_are_new(
    ws: Workspace, sim: Simulator, view_builds: list[str]
) -> None:
    ws.load(sim)
    before = loads(ws)
    versions = ws.query("SELECT MAX(version) FROM _dlt_pipeline_state")[0][0]
    pipeline = ws.pipeline()
    with pipeline.managed_state() as state:
        state["sources"]["opencx"]["probe"] = "changed"
    ws.load(sim)
    assert loads(ws) == before + 1, "the state change is loaded as a package of its own"
    assert ws.query("SELECT MAX(version) FROM _dlt_pipeline_state")[0][0] > versions
    restored = Workspace(ws.root / "fresh", ws.warehouse).pipeline()
    restored.sync_destination()
    assert restored.state["sources"]["opencx"]["probe"] == "changed"
    assert len(view_builds) == 2, "a run that loaded a package recreates the views"
