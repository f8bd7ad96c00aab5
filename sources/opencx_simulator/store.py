"""Thread-safe in-memory store behind the simulated API, plus the ground truth tests compare to.

All access goes through one re-entrant lock: the HTTP threads read while tests mutate (also from
inside the `on_request` hook, which runs on an HTTP thread). Results of queries are cached per
normalised query and dropped on any mutation; each insight caches its own JSON, so serving a
page is a slice and a join.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime
from types import EllipsisType
from typing import Any, Final

from .clock import Clock, from_ms, to_ms
from .config import SimulatorConfig
from .data import (
    CHANNELS,
    LANGUAGES,
    SENTIMENTS,
    SESSION_STATUSES,
    ContentFactory,
    Dataset,
    Insight,
    Person,
    SessionTable,
)
from .filtering import Result, Semantics, evaluate
from .serialise import Stats, add_extras, dumps, insight_dict, null_objects
from .validation import Query, is_uuid, parse_body

_CACHE_LIMIT: Final = 256
_SESSION_ATTRS: Final = frozenset(
    {"language", "channel", "status", "contact_id", "ticket_sentiment",
     "ticket_custom_data", "contact_custom_data"}
)  # fmt: skip
_ENUM_ATTRS: Final = {
    "language": LANGUAGES,
    "channel": CHANNELS,
    "status": SESSION_STATUSES,
    "ticket_sentiment": SENTIMENTS,
}


def _opt_ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


class InsightStore:
    """The simulator's data, with the API's query semantics and a mutation API for tests.

    Every insight is serialised up front (about 1.5 s per 100k): paying it during generation
    keeps the first full scan as fast as later ones.
    """

    def __init__(self, dataset: Dataset, config: SimulatorConfig, clock: Clock) -> None:
        self._lock = threading.RLock()
        self._config = config
        self._clock = clock
        self._rng = random.Random(f"opencx-simulator-store:{config.seed}")
        self._text = ContentFactory(self._rng)
        self._categories = {c.id: c for c in dataset.categories}
        self._teams = {t.id: t for t in dataset.teams}
        self._people = list(dataset.people)
        self._sessions = dataset.sessions
        self._insights = {ins.id: ins for ins in dataset.insights}
        self._next_number = len(dataset.insights) + 1
        self._cache: dict[tuple[Query, Semantics], Result] = {}
        self._version = 0
        for ins in self._insights.values():
            self._json(ins, False)

    # ------------------------------------------------------------------ reading

    @property
    def version(self) -> int:
        """Count mutations, so tests can tell whether anything changed between two reads."""
        with self._lock:
            return self._version

    def ground_truth(self, with_extras: bool = False) -> list[dict[str, Any]]:
        """Return every live insight in API shape, oldest first (created_at, then id).

        Without extras this is the documented shape only, whatever the running config says;
        with extras it is exactly what the API serves when `extra_fields` is on.
        """
        with self._lock:
            ordered = sorted(self._insights.values(), key=lambda i: (i.created_ms, i.id))
            return [json.loads(self._json(ins, with_extras)) for ins in ordered]

    def get(self, insight_id: str) -> dict[str, Any] | None:
        """Return one insight in documented API shape, or None if unknown or deleted."""
        with self._lock:
            ins = self._insights.get(insight_id.lower())
            return None if ins is None else json.loads(self._json(ins, False))

    def query(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Return all pages of `POST /insights` for `body` concatenated (its `page` is ignored).

        Raises ValueError (a ValidationError) on a body the API would reject with 400.
        """
        q, _ = parse_body(dict(body))
        with self._lock:
            result = self._result(q)
            extras = self._config.extra_fields
            return [json.loads(self._item_json(i, result, extras, False)) for i in result.insights]

    def insight_ids(self) -> list[str]:
        """List live insight ids in insight-number order."""
        with self._lock:
            return list(self._insights)

    def category_ids(self) -> list[str]:
        """List category ids."""
        with self._lock:
            return list(self._categories)

    def team_ids(self) -> list[str]:
        """List team ids."""
        with self._lock:
            return list(self._teams)

    def people(self) -> list[dict[str, Any]]:
        """List the generated people as {name, avatar_url}; names may repeat."""
        with self._lock:
            return [{"name": p.name, "avatar_url": p.avatar_url} for p in self._people]

    def categories(
        self, category_type: str | None = None, search: str | None = None
    ) -> list[dict[str, Any]]:
        """List categories as GET /insights/categories serves them."""
        needle = None if search is None else search.lower()
        with self._lock:
            return [
                {"id": c.id, "name": c.name, "description": c.description, "type": c.type}
                for c in self._categories.values()
                if (category_type is None or c.type == category_type)
                and (needle is None or needle in c.name.lower())
            ]

    def sessions(self, insight_id: str) -> list[dict[str, Any]]:
        """Expose an insight's sessions so tests can recompute session filters independently.

        Each has created_at (aware datetime), language, channel, status, contact_id,
        ticket_sentiment, ticket_custom_data and contact_custom_data.
        """
        with self._lock:
            ins = self._require(insight_id)
            rows = [self._sessions.row(s) for s in ins.sessions]
        for row in rows:
            row["created_at"] = from_ms(row.pop("created_ms"))
        return rows

    # ------------------------------------------------------------------ serving (server only)

    def page(
        self, q: Query, page: int, *, extras: bool, blank_objects: bool = False
    ) -> tuple[list[str], int]:
        """Serve one page as item JSON strings plus the total number of matches."""
        size = self._config.page_size
        with self._lock:
            result = self._result(q)
            chunk = result.insights[(page - 1) * size : page * size]
            items = [self._item_json(i, result, extras, blank_objects) for i in chunk]
            return items, len(result.insights)

    def insight_json(self, insight_id: str, *, extras: bool, blank_objects: bool) -> str | None:
        """Serve GET /insights/{id}: the insight's JSON, or None if it does not exist."""
        with self._lock:
            ins = self._insights.get(insight_id.lower())
            if ins is None:
                return None
            if blank_objects:
                return dumps(null_objects(self._dict(ins, extras, None)))
            return self._json(ins, extras)

    # ------------------------------------------------------------------ mutations

    def add_sessions(
        self,
        insight_id: str,
        n: int = 1,
        created_at: datetime | None = None,
        **session_attrs: Any,
    ) -> None:
        """Attach `n` sessions, by default now; a past `created_at` models a late analysis.

        `session_attrs` may fix language, channel, status, contact_id, ticket_sentiment,
        ticket_custom_data or contact_custom_data; the rest is drawn at random.
        """
        with self._lock:
            ins = self._touch(insight_id)
            at = self._clock.now_ms() if created_at is None else to_ms(created_at)
            self._attach(ins, n, at, session_attrs)

    def add_insight(
        self,
        content: str | None = None,
        created_at: datetime | None = None,
        category_id: str | EllipsisType | None = ...,
        team_id: str | EllipsisType | None = ...,
        sentiment: str | EllipsisType = ...,
        sessions: int = 1,
        **kw: Any,
    ) -> str:
        """Create an insight with `sessions` sessions at `created_at` (default now).

        `...` means "draw at random"; None means no category/team. Extra keyword arguments
        fix session attributes as in add_sessions. Returns the new id.
        """
        with self._lock:
            now = self._clock.now_ms()
            at = now if created_at is None else to_ms(created_at)
            mood = self._rng.choice(SENTIMENTS) if sentiment is ... else sentiment
            if mood not in SENTIMENTS:
                raise ValueError(f"sentiment must be one of {SENTIMENTS}")
            ins = Insight(
                id=self._new_uuid(),
                number=self._next_number,
                content=self._text.content(mood) if content is None else content,
                sentiment=mood,
                category_id=self._pick(category_id, self._categories),
                team_id=self._pick(team_id, self._teams),
                created_ms=at,
                updated_ms=max(at, now),
            )
            self._next_number += 1
            self._insights[ins.id] = ins
            self._attach(ins, sessions, at, kw)
            self._invalidate()
            return ins.id

    def resolve(
        self, insight_id: str, person: Mapping[str, Any] | None = None, at: datetime | None = None
    ) -> None:
        """Mark resolved; does not move last_seen_at, which is why incremental scans miss it."""
        with self._lock:
            ins = self._touch(insight_id, _opt_ms(at))
            ins.resolved_by = self._person(person)
            ins.resolved_ms = self._clock.now_ms() if at is None else to_ms(at)

    def unresolve(self, insight_id: str) -> None:
        """Clear the resolution."""
        with self._lock:
            ins = self._touch(insight_id)
            ins.resolved_by = None
            ins.resolved_ms = None

    def archive(
        self,
        insight_id: str,
        person: Mapping[str, Any] | None = None,
        reason: str = "duplicate",
        at: datetime | None = None,
    ) -> None:
        """Archive; whether status "all" still lists it depends on the config."""
        with self._lock:
            ins = self._touch(insight_id, _opt_ms(at))
            ins.archived_by = self._person(person)
            ins.archive_reason = reason
            ins.archived_ms = self._clock.now_ms() if at is None else to_ms(at)

    def unarchive(self, insight_id: str) -> None:
        """Bring an archived insight back."""
        with self._lock:
            ins = self._touch(insight_id)
            ins.archived_by = None
            ins.archive_reason = None
            ins.archived_ms = None

    def reassign(self, insight_id: str, team_id: str | None) -> None:
        """Move to another team (None = unassigned)."""
        with self._lock:
            team = self._pick(team_id, self._teams)
            self._touch(insight_id).team_id = team

    def set_category(self, insight_id: str, category_id: str | None) -> None:
        """Recategorise (None = uncategorised)."""
        with self._lock:
            category = self._pick(category_id, self._categories)
            self._touch(insight_id).category_id = category

    def delete(self, insight_id: str) -> None:
        """Remove from every endpoint; the API gives no tombstone, so loaders must notice."""
        with self._lock:
            self._require(insight_id)
            del self._insights[insight_id.lower()]
            self._invalidate()

    def rename_category(self, category_id: str, name: str, description: str | None = None) -> None:
        """Rename a category (description None keeps the old one).

        Deliberately leaves the insights' updated_at alone: the category is its own record,
        and a loader that trusts updated_at must still pick the new name up.
        """
        with self._lock:
            category = self._categories[category_id]
            category.name = name
            if description is not None:
                category.description = description
            for ins in self._insights.values():
                if ins.category_id == category_id:
                    ins.json_plain = ins.json_extra = None
            self._invalidate()

    def bump_counts(self, n: int, rng_seed: int = 0) -> list[str]:
        """Give `n` random insights 1-5 new sessions now, reshuffling the default sort."""
        rng = random.Random(rng_seed)
        with self._lock:
            chosen = rng.sample(list(self._insights), min(n, len(self._insights)))
            for insight_id in chosen:
                self.add_sessions(insight_id, rng.randint(1, 5))
            return chosen

    # ------------------------------------------------------------------ internals

    def _result(self, q: Query) -> Result:
        cfg = self._config
        sem = Semantics(
            cfg.status_all_includes_archived, cfg.window_scoped_counts, cfg.session_to_inclusive
        )
        key = (q, sem)
        result = self._cache.get(key)
        if result is None:
            result = evaluate(
                q, self._insights.values(), self._categories.values(), self._sessions, sem
            )
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = result
        return result

    def _dict(self, ins: Insight, extras: bool, stats: Stats | None) -> dict[str, Any]:
        category = None if ins.category_id is None else self._categories.get(ins.category_id)
        team = None if ins.team_id is None else self._teams.get(ins.team_id)
        item = insight_dict(ins, category, team, stats)
        return add_extras(item, ins.number) if extras else item

    def _json(self, ins: Insight, extras: bool) -> str:
        """Serialise through the per-insight cache; mutations reset it."""
        cached = ins.json_extra if extras else ins.json_plain
        if cached is None:
            cached = dumps(self._dict(ins, extras, None))
            if extras:
                ins.json_extra = cached
            else:
                ins.json_plain = cached
        return cached

    def _item_json(self, ins: Insight, result: Result, extras: bool, blank: bool) -> str:
        if result.scoped is None and not blank:
            return self._json(ins, extras)
        stats = None if result.scoped is None else result.scoped[ins.id]
        item = self._dict(ins, extras, stats)
        return dumps(null_objects(item) if blank else item)

    def _invalidate(self) -> None:
        self._version += 1
        self._cache.clear()

    def _require(self, insight_id: str) -> Insight:
        ins = self._insights.get(insight_id.lower())
        if ins is None:
            raise KeyError(f"no insight {insight_id!r}")
        return ins

    def _touch(self, insight_id: str, at_ms: int | None = None) -> Insight:
        """Look up an insight about to change: bump updated_at, drop its caches."""
        ins = self._require(insight_id)
        ins.updated_ms = max(ins.updated_ms, self._clock.now_ms(), at_ms or 0)
        ins.json_plain = ins.json_extra = None
        self._invalidate()
        return ins

    def _pick(self, wanted: str | EllipsisType | None, known: Mapping[str, object]) -> str | None:
        """Resolve a category/team argument: `...` draws one, None clears, ids must exist."""
        if wanted is ...:
            return self._rng.choice(list(known))
        if wanted is not None and wanted not in known:
            raise KeyError(f"unknown id {wanted!r}")
        return wanted

    def _person(self, person: Mapping[str, Any] | None) -> Person:
        if person is None:
            return self._rng.choice(self._people)
        return Person(str(person["name"]), person.get("avatar_url"))

    def _new_uuid(self) -> str:
        """Draw ids from the seeded RNG so that added insights are reproducible too."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _attach(self, ins: Insight, n: int, at_ms: int, attrs: Mapping[str, Any]) -> None:
        """Append `n` sessions at `at_ms`, unspecified attributes drawn at random."""
        unknown = set(attrs) - _SESSION_ATTRS
        if unknown:
            raise TypeError(f"unknown session attributes: {sorted(unknown)}")
        for _ in range(n):
            codes, contact, ticket, contact_data = self._session_values(attrs)
            ins.sessions.append(self._sessions.append(at_ms, codes, contact, ticket, contact_data))
            ins.note_session(at_ms)

    def _session_values(
        self, attrs: Mapping[str, Any]
    ) -> tuple[tuple[int, int, int, int], int, int, int]:
        table: SessionTable = self._sessions
        codes = tuple(self._enum_code(name, attrs.get(name)) for name in _ENUM_ATTRS)
        contact_id = attrs.get("contact_id")
        if contact_id is None:
            contact = self._rng.randrange(len(table.contacts))
        elif is_uuid(contact_id):
            contact = table.intern_contact(contact_id, table.intern_custom({}))
        else:
            raise ValueError(f"contact_id must be a UUID, got {contact_id!r}")
        contact_data = table.contact_default_data[contact]
        if attrs.get("contact_custom_data") is not None:
            contact_data = table.intern_custom(attrs["contact_custom_data"])
        ticket = table.intern_custom(attrs.get("ticket_custom_data") or {})
        return (codes[0], codes[1], codes[2], codes[3]), contact, ticket, contact_data

    def _enum_code(self, name: str, value: object) -> int:
        options = _ENUM_ATTRS[name]
        if value is None:
            return self._rng.randrange(len(options))
        if value not in options:
            raise ValueError(f"{name} must be one of {options}, got {value!r}")
        return options.index(str(value))
