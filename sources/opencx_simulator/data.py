"""The simulator's data model and its seeded synthetic generator.

Everything is drawn from one RNG seeded by `SimulatorConfig.seed`, so a (seed, now) pair always
yields the same data: tests can compare runs and benchmarks stay comparable. Sessions are kept
column-wise because they outnumber insights about 4:1 and are only ever scanned by filters.
"""

from __future__ import annotations

import json
import random
import uuid
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .config import SimulatorConfig

LANGUAGES: Final = (
    "el", "de", "fr", "it", "es", "pt", "nl", "da", "sv", "no", "fi", "pl", "cs", "sk", "hu",
    "ro", "bg", "hr", "sr", "uk", "ru", "tr", "en", "zh", "ja", "ko", "hi", "id", "ms", "th",
    "vi", "tl", "ar", "he", "fa", "af", "sw",
)  # fmt: skip
CHANNELS: Final = (
    "web", "email", "phone_voice", "slack", "sms", "whatsapp", "instagram", "messenger", "api",
    "web_voice",
)  # fmt: skip
SESSION_STATUSES: Final = ("closed_resolved", "closed_unresolved", "open")
SENTIMENTS: Final = ("angry", "happy", "neutral")
INSIGHT_STATUSES: Final = ("all", "unresolved", "resolved", "archived")
SORT_KEYS: Final = ("occurrence_count", "last_seen_at", "first_seen_at", "created_at")
SORT_ORDERS: Final = ("asc", "desc")
CATEGORY_TYPES: Final = ("base", "suggested", "user_defined")
MAX_SAFE_INTEGER: Final = 9007199254740991

MINUTE_MS: Final = 60_000
DAY_MS: Final = 86_400_000


@dataclass(slots=True)
class Category:
    """An insight category; `type` only shows on GET /insights/categories."""

    id: str
    name: str
    description: str | None
    type: str


@dataclass(slots=True)
class Team:
    """A support team insights can be assigned to."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who resolved or archived an insight; names are not unique, avatars tell apart."""

    name: str
    avatar_url: str | None


@dataclass(slots=True)
class Insight:
    """One insight. Timestamps are epoch milliseconds; `sessions` are rows of the SessionTable.

    `json_plain` / `json_extra` cache the serialised form so serving a page is a slice and a
    join; every mutation resets them to None.
    """

    id: str
    number: int
    content: str
    sentiment: str
    category_id: str | None
    team_id: str | None
    created_ms: int
    updated_ms: int
    sessions: array[int] = field(default_factory=lambda: array("I"))
    first_ms: int | None = None
    last_ms: int | None = None
    resolved_by: Person | None = None
    resolved_ms: int | None = None
    archived_by: Person | None = None
    archive_reason: str | None = None
    archived_ms: int | None = None
    deep_research: str | None = None
    deep_research_ms: int | None = None
    json_plain: str | None = None
    json_extra: str | None = None

    @property
    def count(self) -> int:
        """Return the occurrence count, which by definition is the number of sessions."""
        return len(self.sessions)

    def note_session(self, created_ms: int) -> None:
        """Keep first/last seen in step with a newly attached session."""
        if self.first_ms is None or created_ms < self.first_ms:
            self.first_ms = created_ms
        if self.last_ms is None or created_ms > self.last_ms:
            self.last_ms = created_ms


def canonical_json(value: object) -> str:
    """Give equal JSON values one spelling, so they can be interned and used as cache keys."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class SessionTable:
    """Column store of all sessions.

    Per-session dicts would cost hundreds of bytes each; 100k insights carry ~400k sessions.
    Enum-valued columns are bytearrays of indexes into the enum tuples (which also lets filters
    build match masks with C-speed `bytes.translate`), and custom data is interned in a pool.
    """

    __slots__ = (
        "channel",
        "contact",
        "contact_data",
        "contact_default_data",
        "contact_ids",
        "contacts",
        "created_ms",
        "custom",
        "custom_ids",
        "language",
        "status",
        "ticket_data",
        "ticket_sentiment",
    )

    def __init__(self) -> None:
        self.created_ms: array[int] = array("q")
        self.language = bytearray()
        self.channel = bytearray()
        self.status = bytearray()
        self.ticket_sentiment = bytearray()
        self.contact: array[int] = array("I")
        self.ticket_data: array[int] = array("I")
        self.contact_data: array[int] = array("I")
        self.contacts: list[str] = []
        self.contact_ids: dict[str, int] = {}
        self.contact_default_data: list[int] = []
        self.custom: list[dict[str, Any]] = []
        self.custom_ids: dict[str, int] = {}

    def __len__(self) -> int:
        """Count sessions ever recorded (rows of deleted insights stay, unreferenced)."""
        return len(self.created_ms)

    def intern_custom(self, data: Mapping[str, Any]) -> int:
        """Store a custom-data object once and return its pool index."""
        key = canonical_json(dict(data))
        index = self.custom_ids.get(key)
        if index is None:
            index = len(self.custom)
            self.custom.append(json.loads(key))
            self.custom_ids[key] = index
        return index

    def intern_contact(self, contact_id: str, default_data: int) -> int:
        """Register a contact (lower-case UUID) and return its index."""
        contact_id = contact_id.lower()
        index = self.contact_ids.get(contact_id)
        if index is None:
            index = len(self.contacts)
            self.contacts.append(contact_id)
            self.contact_ids[contact_id] = index
            self.contact_default_data.append(default_data)
        return index

    def append(
        self,
        created_ms: int,
        codes: tuple[int, int, int, int],
        contact: int,
        ticket_data: int,
        contact_data: int,
    ) -> int:
        """Add one session; `codes` are language, channel, status, ticket-sentiment indexes."""
        self.created_ms.append(created_ms)
        self.language.append(codes[0])
        self.channel.append(codes[1])
        self.status.append(codes[2])
        self.ticket_sentiment.append(codes[3])
        self.contact.append(contact)
        self.ticket_data.append(ticket_data)
        self.contact_data.append(contact_data)
        return len(self.created_ms) - 1

    def row(self, index: int) -> dict[str, Any]:
        """Expand one session for tests and debugging (never on a hot path)."""
        return {
            "created_ms": self.created_ms[index],
            "language": LANGUAGES[self.language[index]],
            "channel": CHANNELS[self.channel[index]],
            "status": SESSION_STATUSES[self.status[index]],
            "contact_id": self.contacts[self.contact[index]],
            "ticket_sentiment": SENTIMENTS[self.ticket_sentiment[index]],
            "ticket_custom_data": dict(self.custom[self.ticket_data[index]]),
            "contact_custom_data": dict(self.custom[self.contact_data[index]]),
        }


@dataclass(slots=True)
class Dataset:
    """Everything a store starts from."""

    categories: list[Category]
    teams: list[Team]
    people: list[Person]
    insights: list[Insight]
    sessions: SessionTable


# --------------------------------------------------------------------------- vocabulary

_CATEGORIES: Final = (
    ("Billing", "Invoices, charges and payment methods", "base"),
    ("Login & Access", "Passwords, 2FA and locked accounts", "base"),
    ("Shipping", "Delivery times, tracking and carriers", "base"),
    ("Returns & Refunds", None, "base"),
    ("Account Management", "Profile, email and plan changes", "base"),
    ("Product Questions", "Questions about features and availability", "base"),
    ("Technical Issues", "Errors, crashes and slow pages", "base"),
    ("Payments", None, "base"),
    ("Subscriptions", "Upgrades, downgrades and cancellations", "base"),
    ("Mobile App", "iOS and Android app problems", "base"),
    ("Integrations", "Shopify, Slack, Zendesk and API integrations", "suggested"),
    ("Feedback & Praise", None, "suggested"),
    ("Orders", "Order status and changes", "suggested"),
    ("Privacy & Security", "GDPR requests, data export and suspicious activity", "user_defined"),
    ("Zahlung & Rückerstattung", "Zahlungen und Rückerstattungen (DACH-Team)", "user_defined"),
)
_TEAMS: Final = (
    "Tier 1 Support", "Billing Ops", "Logistics", "Technical Support", "Customer Success",
    "Trust & Safety", "Product Feedback", "Équipe France",
)  # fmt: skip
_PEOPLE: Final = (
    "Zoë Łukasiewicz", "山田 太郎", "Alex Kim", "Alex Kim", "María José Pérez", "Øystein Ødegård",
    "Nguyễn Văn An", "محمد علي", "Sarah O'Connor", "Jean-Luc Picard", "Priya Natarajan",
    "Lukas Müller", "Chloé Dubois", "Dmitri Ivanov", "Aiko Tanaka", "Kwame Mensah", "Sofia Rossi",
    "Noah Williams", "Emma Johansson", "Mateus Silva", "Fatma Yılmaz", "Olivia Brown",  # noqa: RUF001 - real names
    "Hannah Schmidt", "Liam Murphy", "Yael Cohen",
)  # fmt: skip
_ARCHIVE_REASONS: Final = (
    "duplicate", "not_actionable", "spam", "resolved_elsewhere", "Merged into another insight",
)  # fmt: skip
_SUBJECTS: Final = (
    "Customers", "Several users", "Enterprise admins", "Mobile app users", "New sign-ups",
    "Returning shoppers", "Trial users", "Customers in Germany", "Small business owners",
)  # fmt: skip
_ISSUES: Final = (
    "cannot reset their password", "are charged twice for the same order",
    "never receive the verification email", "see a blank page after checkout",
    "cannot download invoices as PDF", "report that refunds take longer than 14 days",
    "are logged out every few minutes", "cannot change the delivery address after ordering",
    "get error 0x80070005 when syncing", "say the tracking link shows no updates",
    "cannot apply the discount code at checkout", "received the wrong size",
    "are asked to verify their phone number again and again", "cannot cancel their subscription",
    "see prices in the wrong currency", "say the chatbot loops on the same answer",
    "cannot connect their Shopify store", "complain about hold times on the phone line",
    "lost access after enabling 2FA", "were billed after cancelling",
)  # fmt: skip
_QUESTIONS: Final = (
    "ask whether the product ships to Norway", "ask how to add a second admin",
    "want to know when the next invoice is due", "ask if the API has a sandbox",
    "ask how to export their data", "ask whether invoices can show a VAT number",
    "want to change the email address on the account", "ask about student discounts",
)  # fmt: skip
_PRAISE: Final = (
    "praise the new dark mode", "love the faster checkout",
    "thank the agent for a quick refund", "like the new order tracking page",
    "say the onboarding video was helpful", "are happy with same-day delivery",
)  # fmt: skip
_CONTEXTS: Final = (
    "", "", "", " on iOS", " on Android", " after the latest update", " when paying with PayPal",
    " since Monday", " in the EU region", " on the annual plan", " using Safari",
    " during peak hours",
)  # fmt: skip
_UNICODE_CONTENT: Final = (
    "Kunden können ihr Passwort nicht zurücksetzen 🔒",
    "Clients signalent un double prélèvement sur leur carte 💳",
    "お客様が請求書をダウンロードできません",
    "客户无法登录移动应用",
    "العملاء لا يستطيعون تسجيل الدخول بعد التحديث",
    "הלקוחות מבקשים החזר כספי על הזמנה כפולה",
    "Zoë asked about the “Pro” plan — pricing unclear 🤔",
    "Клиенты не получают письмо с подтверждением",  # noqa: RUF001
    "Müşteriler kargo takip numarasını göremiyor 📦",  # noqa: RUF001
    "🚚📦 Delivery delayed again — customers furious 😡",
)
_CAUSES: Final = (
    "a caching bug in the payment gateway", "an expired TLS certificate on the email relay",
    "a race in the session refresh", "missing translations in the checkout",
    "a carrier API outage", "an overly strict fraud rule",
)  # fmt: skip
_ADVICE: Final = (
    "add a retry with backoff", "update the help-centre article", "escalate to engineering",
    "send a proactive status email", "relax the rule for returning customers",
)  # fmt: skip
_PLANS: Final = ("free", "starter", "pro", "enterprise")
_REGIONS: Final = ("eu", "us", "apac")
_TIERS: Final = ("bronze", "silver", "gold")
_COUNTRIES: Final = ("DE", "FR", "US", "GB", "NL", "JP", "BR", "IN")
_LANGUAGE_WEIGHTS: Final = tuple(
    40 if code == "en" else 8 if code in ("de", "fr", "es") else 1 for code in LANGUAGES
)
_CHANNEL_WEIGHTS: Final = (40, 25, 10, 3, 4, 8, 2, 2, 3, 3)
_SENTIMENT_CUM_WEIGHTS: Final = (45, 65, 100)  # angry 45 %, happy 20 %, neutral 35 %
N_CONTACTS: Final = 500
MAX_OCCURRENCES: Final = 900
PARETO_SHAPE: Final = 1.25


class ContentFactory:
    """Realistic insight texts, including unicode, RTL, emoji and a few huge ones.

    Loaders break on exactly these (encoding, column widths), so they must be in the data.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def sentence(self, sentiment: str) -> str:
        """Write one support-style observation matching the sentiment."""
        rng = self._rng
        pool = {"angry": _ISSUES, "happy": _PRAISE}.get(sentiment, _QUESTIONS)
        return f"{rng.choice(_SUBJECTS)} {rng.choice(pool)}{rng.choice(_CONTEXTS)}."

    def content(self, sentiment: str) -> str:
        """Pick an insight text: mostly short English, sometimes unicode, rarely very long."""
        roll = self._rng.random()
        if roll < 0.01:
            return self._long(sentiment)
        if roll < 0.09:
            return self._rng.choice(_UNICODE_CONTENT)
        return self.sentence(sentiment)

    def _long(self, sentiment: str) -> str:
        target = self._rng.randint(5_000, 20_000)
        parts = [f"Summary of related conversations ({target} characters):"]
        size = len(parts[0])
        while size < target:
            line = f"- {self.sentence(sentiment)} {self._rng.choice(_UNICODE_CONTENT)}"
            parts.append(line)
            size += len(line) + 1
        return "\n".join(parts)[:target]

    def deep_research(self) -> str:
        """Write a deep-research summary of the kind OpenCX attaches to insights."""
        rng = self._rng
        return (
            f"Deep research over {rng.randint(3, 400)} conversations. Root cause: "
            f"{rng.choice(_CAUSES)}. Recommendation: {rng.choice(_ADVICE)}."
        )


class _Generator:
    """Draws one data set; methods are called in a fixed order so the RNG stream is stable."""

    def __init__(self, config: SimulatorConfig, now_ms: int) -> None:
        self.rng = random.Random(config.seed)
        self.now_ms = now_ms
        self.span_ms = config.days * DAY_MS
        self.text = ContentFactory(self.rng)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def categories(self) -> list[Category]:
        return [Category(self.uuid(), name, desc, kind) for name, desc, kind in _CATEGORIES]

    def teams(self) -> list[Team]:
        return [Team(self.uuid(), name) for name in _TEAMS]

    def people(self) -> list[Person]:
        people = []
        for name in _PEOPLE:
            avatar = None
            if self.rng.random() < 0.8:
                avatar = f"https://cdn.open.cx/avatars/{self.rng.getrandbits(64):016x}.png"
            people.append(Person(name, avatar))
        return people

    def contacts(self, table: SessionTable) -> None:
        for _ in range(N_CONTACTS):
            data: dict[str, Any] = {
                "tier": self.rng.choice(_TIERS),
                "country": self.rng.choice(_COUNTRIES),
            }
            if self.rng.random() < 0.1:
                data["beta"] = True
            table.intern_contact(self.uuid(), table.intern_custom(data))

    def ticket_pool(self, table: SessionTable) -> list[int]:
        pool = [table.intern_custom({})]
        for plan in _PLANS:
            for region in _REGIONS:
                pool.append(table.intern_custom({"plan": plan, "region": region}))
        pool.append(table.intern_custom({"plan": "pro", "region": "eu", "priority": "high"}))
        pool.append(table.intern_custom({"plan": "enterprise", "seats": 250}))
        return pool

    def occurrences(self, n: int) -> list[int]:
        """Draw heavy-tailed counts: most 1-5, a few in the hundreds, mean about 4.

        Pareto quantiles of stratified uniforms rather than independent draws, so even small
        data sets get their tail and the total stays near 4 sessions per insight.
        """
        rng = self.rng
        counts = [
            min(int((1 - (i + rng.random()) / n) ** (-1 / PARETO_SHAPE)), MAX_OCCURRENCES)
            for i in range(n)
        ]
        rng.shuffle(counts)
        return counts

    def first_seen(self) -> int:
        return self.now_ms - int(self.span_ms * self.rng.random())


def _session_times(gen: _Generator, first_ms: int, count: int) -> list[int]:
    """Spread an insight's later sessions between its first session and now."""
    width = gen.now_ms - first_ms
    rnd = gen.rng.random
    return [first_ms] + [first_ms + int(width * rnd()) for _ in range(count - 1)]


def _add_sessions_bulk(
    gen: _Generator, table: SessionTable, times: list[int], ticket_pool: list[int]
) -> None:
    """Append all generated sessions column-wise.

    One choices() call per column keeps 400k sessions in well under a second.
    """
    rng, k = gen.rng, len(times)
    table.created_ms.extend(times)
    table.language.extend(rng.choices(range(len(LANGUAGES)), _LANGUAGE_WEIGHTS, k=k))
    table.channel.extend(rng.choices(range(len(CHANNELS)), _CHANNEL_WEIGHTS, k=k))
    table.status.extend(rng.choices(range(3), (5, 2, 1), k=k))
    table.ticket_sentiment.extend(rng.choices(range(3), (4, 2, 4), k=k))
    contacts = rng.choices(range(N_CONTACTS), k=k)
    table.contact.extend(contacts)
    table.contact_data.extend(table.contact_default_data[c] for c in contacts)
    table.ticket_data.extend(rng.choices(ticket_pool, k=k))


def _decorate(gen: _Generator, ins: Insight, dataset: Dataset) -> None:
    """Draw an insight's workflow state: category, team, resolution, archive, deep research."""
    rng, now = gen.rng, gen.now_ms
    if rng.random() < 0.9:
        ins.category_id = rng.choice(dataset.categories).id
    if rng.random() < 0.75:
        ins.team_id = rng.choice(dataset.teams).id
    if rng.random() < 0.30:
        ins.resolved_by = rng.choice(dataset.people)
        ins.resolved_ms = rng.randint(ins.created_ms, now)
    if rng.random() < 0.08:
        ins.archived_by = rng.choice(dataset.people)
        ins.archive_reason = rng.choice(_ARCHIVE_REASONS)
        ins.archived_ms = rng.randint(ins.created_ms, now)
    if rng.random() < 0.35:
        ins.deep_research = gen.text.deep_research()
        ins.deep_research_ms = min(ins.created_ms + rng.randint(5, 600) * MINUTE_MS, now)
    moments = (ins.created_ms, ins.last_ms, ins.resolved_ms, ins.archived_ms, ins.deep_research_ms)
    ins.updated_ms = max(ms for ms in moments if ms is not None)


def generate(config: SimulatorConfig, now_ms: int) -> Dataset:
    """Generate the full data set for `config`, with every timestamp at or before `now_ms`."""
    gen = _Generator(config, now_ms)
    table = SessionTable()
    dataset = Dataset(gen.categories(), gen.teams(), gen.people(), [], table)
    gen.contacts(table)
    ticket_pool = gen.ticket_pool(table)
    drafts = []
    for count in gen.occurrences(config.n_insights):
        first = gen.first_seen()
        created = min(first + gen.rng.randint(1, 15) * MINUTE_MS, now_ms)
        drafts.append((created, first, count))
    drafts.sort()
    times: list[int] = []
    for number, (created, first, count) in enumerate(drafts, start=1):
        sentiment = gen.rng.choices(SENTIMENTS, cum_weights=_SENTIMENT_CUM_WEIGHTS)[0]
        content = gen.text.content(sentiment)
        ins = Insight(gen.uuid(), number, content, sentiment, None, None, created, created)
        session_times = _session_times(gen, first, count)
        ins.sessions = array("I", range(len(times), len(times) + count))
        ins.first_ms, ins.last_ms = first, max(session_times)
        times.extend(session_times)
        _decorate(gen, ins, dataset)
        dataset.insights.append(ins)
    _add_sessions_bulk(gen, table, times, ticket_pool)
    return dataset
