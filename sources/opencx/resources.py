"""The dlt resources of the OpenCX source.

One scan (`insight_pages`) feeds five tables through transformers, so every insight is fetched
once per run however many tables it lands in. `insight_activity` is a separate scan per
session-date window with its own cursor.

The transformers return their table instead of yielding it: dlt applies a returning step to
the batch at once, while a generator becomes one more source for its iterator to visit later
(see `pipelines.load.run_defaults.batches_built_as_they_arrive`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common.schema.typing import TDeleteInsertStrategyDict, TScd2StrategyDict

from sources.opencx import activity, reconcile, schema, settings
from sources.opencx.batches import ScanStats, SeenEntities, batched_records, unique_records
from sources.opencx.client import ClientSettings, OpenCXClient
from sources.opencx.clock import utc_now
from sources.opencx.fingerprints import ChangedOnly, FirstRunRecorder
from sources.opencx.records import TOMBSTONE
from sources.opencx.scan import PageTotals, ScanPlan, iter_pages, plan_scan

if TYPE_CHECKING:
    import pyarrow as pa

# `sources.opencx.rows` (and with it pyarrow) is imported where the first rows are built, so a
# scheduled run with nothing new never pays for it.

CURSOR = "last_seen_at"
PAGES = "insight_pages"  # the scan, whose incremental keeps the cursor
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)
ACTIVITY_STATE_KEY = "complete_until"
# resource-state key: the shape this pipeline's loads last gave the resource's tables (see
# `shape_batch_once`); it commits with the load that shaped them
SHAPE_STATE_KEY = "documented_tables"
# the documented columns were shape 1 (stored as True); with `_dlt_load_id` they are shape 2
DOCUMENTED_SHAPE, WITH_LOAD_ID_SHAPE = 1, 2


def table_shape(*, load_id: bool) -> int:
    """The shape the tables have in this run: with `_dlt_load_id` if dlt adds it."""
    return WITH_LOAD_ID_SHAPE if load_id else DOCUMENTED_SHAPE


@dlt.resource(name=PAGES, selected=False)
def insight_pages(
    client_settings: ClientSettings,
    filters_body: dict[str, Any],
    scan_stats: ScanStats,
    *,
    start_page: int,
    max_pages: int,
    full_scan: bool,
    max_deletion_checks: int = settings.DEFAULT_MAX_DELETION_CHECKS,
    shape: int = DOCUMENTED_SHAPE,
    last_seen_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(CURSOR),
) -> Iterator[list[dict[str, Any]]]:
    """Parsed insights in batches; a complete reconciliation ends with confirmed changes."""
    started = utc_now()
    is_backfill = last_seen_at.end_value is not None
    plan = plan_scan(
        filters_body,
        last_seen_at.start_value,
        full_scan=full_scan or (is_backfill and last_seen_at.start_value == EPOCH),
        start_page=start_page,
        max_pages=max_pages,
        concurrency=client_settings.max_connections,
    )
    scan_stats.strategy = "full_scan" if plan.is_full_scan else "recent_first"
    reconciling = full_scan and reconcile.covers_everything(filters_body, start_page)
    with OpenCXClient(client_settings, stats=scan_stats.requests) as client:
        first_run = last_seen_at.start_value is None and bool(last_seen_at.lag)
        if first_run:
            recorder = FirstRunRecorder(dlt.current.resource_state(), last_seen_at.lag or 0)
            yield from recorder.record(_scan(client, plan, scan_stats))
            recorder.commit()
        elif plan.stop_below is None or is_backfill:
            yield from _scan(client, plan, scan_stats)
        else:
            changed_only = ChangedOnly(dlt.current.resource_state(), plan.stop_below)
            yield from _scan(client, plan, scan_stats, changed_only)
            scan_stats.unchanged = changed_only.unchanged
            changed_only.commit()
        if reconciling:
            scan_stats.strategy = "reconciliation"
            if not scan_stats.saw_archived:
                yield from _scan(client, _archived_plan(plan), scan_stats)
            if scan_stats.unstable:
                scan_stats.deletions_withheld = (
                    f"insights kept disappearing while the reconciliation paged "
                    f"({settings.MAX_SCAN_PASSES} passes); none were marked deleted"
                )
            else:
                yield from reconcile.confirmed_changes(
                    client, scan_stats, started, max_deletion_checks
                )
    yield from shape_batch_once(dlt.current.resource_state(), shape)


def shape_batch_once(state: dict[str, Any], shape: int) -> Iterator[list[dict[str, Any]]]:
    """An empty batch after a pipeline's first scan, so every table fed from the pages exists.

    Each then has its documented columns, even for a tenant with no insight, team or person.
    A pipeline whose tables have an older shape gets the batch once more, so a column added
    since (`_dlt_load_id`) reaches every table on the next run, not with its next rows.

    dlt creates a table from an empty Arrow table; a dashboard, a dbt source or a BI model
    reading a table that is missing fails, while an empty one just shows nothing. The shape
    commits with the load, so a failed first load sends the batch again.
    """
    if _shaped(state) < shape:
        state[SHAPE_STATE_KEY] = shape
        yield []


def _shaped(state: dict[str, Any]) -> int:
    """The shape this pipeline's loads gave the tables (0: none yet).

    A run with a lower shape (`_dlt_load_id` switched off) leaves the tables as they are.
    """
    return int(state.get(SHAPE_STATE_KEY) or 0)


def empty_table(table_name: str) -> pa.Table:
    """The documented columns of `table_name` and no rows (see `shape_batch_once`)."""
    return schema.arrow_schema(table_name).empty_table()


def _scan(
    client: OpenCXClient,
    plan: ScanPlan,
    scan_stats: ScanStats,
    changed_only: ChangedOnly | None = None,
) -> Iterator[list[dict[str, Any]]]:
    unique = unique_records(_stable_pages(client, plan, scan_stats), scan_stats)
    if changed_only is not None:
        unique = changed_only.filter(unique)
    yield from batched_records(unique, settings.BATCH_ROWS)


def _stable_pages(
    client: OpenCXClient, plan: ScanPlan, scan_stats: ScanStats
) -> Iterator[list[dict[str, Any]]]:
    """Pages of a scan, repeated while insights disappear under it.

    Offset paging skips a row for every row deleted before the page being read. A full scan
    whose `total` shrank is read again (already-seen insights are dropped downstream); if it is
    still unstable after `settings.MAX_SCAN_PASSES`, the run is marked unstable and a
    reconciliation then marks nothing deleted.
    """
    for _ in range(settings.MAX_SCAN_PASSES):
        totals = PageTotals()
        yield from iter_pages(client, plan, totals)
        if plan.stop_below is not None or not totals.shrank:
            return
    scan_stats.unstable = True


def _archived_plan(plan: ScanPlan) -> ScanPlan:
    """Whether status "all" includes archived insights is undocumented: ask for them too."""
    return ScanPlan({**plan.body, "status": "archived"}, None, 1, plan.max_pages, plan.concurrency)


def _new_entities(
    records: list[dict[str, Any]], seen: SeenEntities, table_name: str
) -> pa.Table | None:
    """Entity rows of an API batch not yet emitted in this run (tombstones carry none)."""
    from sources.opencx import rows  # noqa: PLC0415

    if not records:
        return empty_table(table_name)
    build = {
        schema.CATEGORIES: rows.categories_table,
        schema.TEAMS: rows.teams_table,
        schema.PEOPLE: rows.people_table,
    }[table_name]
    if not records or TOMBSTONE in records[0]:
        return None
    return seen.only_changed(table_name, build(records))


class InsightTables:
    """The `insights` Arrow table of the latest batch, shared by two transformers.

    `insights` and `insight_history` receive the same batch object one after the other;
    building the table once halves the Python work per row.
    """

    def __init__(self) -> None:
        self._batch: list[dict[str, Any]] | None = None
        self._tables: tuple[pa.Table, pa.Table] | None = None

    def for_batch(self, records: list[dict[str, Any]]) -> pa.Table:
        """The `insights` table for `records`, built on first request."""
        return self._both(records)[0]

    def history_for_batch(self, records: list[dict[str, Any]]) -> pa.Table:
        """The `insight_history` table for `records`, built with the `insights` one."""
        return self._both(records)[1]

    def _both(self, records: list[dict[str, Any]]) -> tuple[pa.Table, pa.Table]:
        if self._batch is not records or self._tables is None:
            self._batch, self._tables = records, _build_insight_rows(records)
        return self._tables


def _build_insight_rows(records: list[dict[str, Any]]) -> tuple[pa.Table, pa.Table]:
    from sources.opencx import rows  # noqa: PLC0415

    if not records:
        return empty_table(schema.INSIGHTS), empty_table(schema.HISTORY)
    if records and TOMBSTONE in records[0]:
        table = rows.flat_insights_table(records)
        return table, rows.history_table(table)
    return rows.insight_and_history_tables(records)


INSIGHTS_DISPOSITION: TDeleteInsertStrategyDict = {
    "disposition": "merge",
    "strategy": "delete-insert",
    # one version per insight per load (`unique_records`, and reconciliation only adds ids the
    # scan missed): dlt's ROW_NUMBER() dedup would only cost time and a window's memory
    "deduplicated": True,
}


@dlt.transformer(
    name=schema.INSIGHTS,
    primary_key="id",
    write_disposition="merge",  # INSIGHTS_DISPOSITION, applied by the source
    columns=schema.dlt_columns(schema.INSIGHTS),
)
def insights(
    records: list[dict[str, Any]], scan_stats: ScanStats, tables: InsightTables
) -> pa.Table:
    """One row per insight, merged on `id`; also publishes the scan's request counts."""
    dlt.current.resource_metrics().update(scan_stats.as_metrics())
    return tables.for_batch(records)


HISTORY_DISPOSITION: TScd2StrategyDict = {
    "disposition": "merge",
    "strategy": "scd2",
    "validity_column_names": [schema.VALID_FROM, schema.VALID_TO],
    "row_version_column_name": schema.VERSION_HASH,
}


@dlt.transformer(
    name=schema.HISTORY,
    write_disposition="merge",
    merge_key="insight_id",
    columns=schema.dlt_columns(schema.HISTORY),
)
def insight_history(records: list[dict[str, Any]], tables: InsightTables) -> pa.Table:
    """A new version per insight whose tracked state changed (dlt scd2).

    `merge_key` limits retiring to the insights in this load, so an incremental run, which
    sees only recent insights, never closes the others. Deletions arrive as tombstones whose
    `deleted_at` differs, which closes the live version and opens a terminal one.
    """
    return tables.history_for_batch(records)


@dlt.transformer(
    name=schema.CATEGORIES,
    primary_key="id",
    write_disposition="merge",
    columns=schema.dlt_columns(schema.CATEGORIES),
)
def categories(records: list[dict[str, Any]], seen: SeenEntities) -> pa.Table | None:
    """Categories seen on insights, merged on `id` (latest wins)."""
    return _new_entities(records, seen, schema.CATEGORIES)


@dlt.transformer(
    name=schema.TEAMS,
    primary_key="id",
    write_disposition="merge",
    columns=schema.dlt_columns(schema.TEAMS),
)
def teams(records: list[dict[str, Any]], seen: SeenEntities) -> pa.Table | None:
    """Teams seen on insights, merged on `id`."""
    return _new_entities(records, seen, schema.TEAMS)


@dlt.transformer(
    name=schema.PEOPLE,
    primary_key="person_key",
    write_disposition="merge",
    columns=schema.dlt_columns(schema.PEOPLE),
)
def people(records: list[dict[str, Any]], seen: SeenEntities) -> pa.Table | None:
    """People who resolved or archived insights, merged on the derived `person_key`."""
    return _new_entities(records, seen, schema.PEOPLE)


@dlt.resource(
    name=schema.ACTIVITY,
    primary_key=["window_start", "insight_id"],
    merge_key="window_start",
    write_disposition="merge",
    columns=schema.dlt_columns(schema.ACTIVITY),
)
def insight_activity(
    client_settings: ClientSettings,
    filters_body: dict[str, Any],
    scan_stats: ScanStats,
    window_settings: activity.WindowSettings,
    max_pages: int,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    enabled: bool = True,
    shape: int = DOCUMENTED_SHAPE,
) -> Iterator[pa.Table]:
    """Per window and insight, what the API returns for sessions of that window.

    With `activity` off (`enabled` False) the table is created empty and nothing is read.

    `merge_key` on `window_start` makes a re-read window replace its rows. The cursor (end of
    the last complete window) lives in dlt resource state, committed with the load; a backfill
    (`since`/`until`) leaves it alone.
    """
    state = dlt.current.resource_state()
    if _shaped(state) < shape:  # shaped by the first load: see shape_batch_once
        state[SHAPE_STATE_KEY] = shape
        yield empty_table(schema.ACTIVITY)
    if not enabled:
        return
    stored = state.get(ACTIVITY_STATE_KEY)
    complete_until = datetime.fromisoformat(stored) if stored else None
    now = utc_now()
    backfill = since is not None or until is not None
    windows = activity.plan_windows(now, complete_until, window_settings, since, until)
    recorded_filters = activity.filters_json(filters_body)
    last_complete = activity.floor_to(now, window_settings.size)
    # counted on a second, lazy pass: a long backfill's windows are never all held in memory
    planned = activity.plan_windows(now, complete_until, window_settings, since, until)
    scan_stats.windows.plan(sum(1 for _ in planned))
    from sources.opencx.rows import activity_table as activity_rows  # noqa: PLC0415

    with OpenCXClient(client_settings, stats=scan_stats.requests) as client:
        detector = activity.ScopeDetector(client, scan_stats.notes)
        for window in windows:
            records = activity.read_window(
                client, filters_body, window, max_pages, client_settings.max_connections
            )
            scan_stats.windows.window_done()
            if records:
                scope = detector.scope_for(records, window)
                yield activity_rows(records, window, scope, recorded_filters)
            dlt.current.resource_metrics().update(scan_stats.as_metrics())
    if not backfill:
        state[ACTIVITY_STATE_KEY] = last_complete.isoformat()
