"""Cost of generating a post-incident review draft for a large incident.

Each engine (SQLite: a file, the bot's own settings; PostgreSQL: a fresh schema, dropped at
the end) gets a migrated database holding one resolved sev2 incident that spans two days
(so the draft shows dates), loaded with Core bulk inserts: its timeline of 10,000 rows
(200 key events: the declaration, status, severity and role changes, a handoff, status
updates, notes, the resolution and messages marked with a pin; the rest people's messages,
a few deleted), three role assignments, an audit trail, status updates, an impact period
and follow-up actions. Its channel exists in the fake Slack (which runs in a process of its
own) with the bot as a member, and `process_heartbeat` rows say when a bot process was
alive. Only the messages a bot missed are in the fake's channel: a gap read returns what
Slack would return for that stretch, and the recorded messages lie outside it.

Measured, as medians of `--repeats` (5) single runs after one warm-up run:

- complete timeline (one process covered the whole incident): `bot.flows.review_generation.request`
  end to end (history read, names, build, render, upload, stored draft), and the draft's
  build (`review_record.load` plus `review_draft.compose`), its people's names (`users.info`,
  once per person named) and `review_draft.render` (with the changes since the previous
  version) alone; the Web API
  calls the fake saw during each generation (target: no conversations.history or
  conversations.replies call, the upload's two calls and its POST, at most one users.info
  call per person named: none once they are cached);
- 1,000 messages missed: posted into the fake's channel without their events reaching the
  bot, inside a stretch that no heartbeat covers, and nothing else in that stretch. Each
  run must make ceil(1000 / PAGE_SIZE) conversations.history calls that return exactly the
  1,000 messages, and leave them on the timeline; they are deleted from the timeline again
  before the next run, so that every run fills the same gap.

The baseline, taken in the same run: a bare SQLAlchemy Core `SELECT` of the incident's
10,000 timeline rows (column types applied, no ORM objects), and the ratios to it. The
baseline and the two cases are measured `--rounds` times (3), interleaved (their order
rotates each round; the missed messages are posted once, before the first round): each
figure is printed as the median of the rounds' medians with min-max, each ratio as the
median of the per-round ratios with min-max, with the machine's cores and the versions of
Python, SQLAlchemy, psycopg and each engine; the target is judged on the median.
The clock is a ManualClock set after the incident; the missed messages get real Slack ts
(the fake stamps them with the wall clock), so the incident is laid out around the moment
each engine's run starts. PostgreSQL gets a VACUUM ANALYZE of the loaded tables.

Run: `python bench/pir_generation.py [--repeats N] [--rounds N] [--engines sqlite,postgresql]
[--profile]`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from common import (
    ROUNDS,
    FakeSlackProcess,
    Values,
    add_engine_arguments,
    bulk_insert,
    chosen_engines,
    cores,
    engine_versions,
    fresh_database,
    make_context,
    spread,
    vacuum_analyze,
)
from sqlalchemy import delete, func, insert, select

from bot.context import Context
from bot.db import Database
from bot.flows import review_generation as pir_flow
from bot.migrate import upgrade
from bot.models import (
    ActionItem,
    AuditEntry,
    ImpactPeriod,
    Incident,
    IncidentStatus,
    PirDraft,
    ProcessHeartbeat,
    RoleAssignment,
    StatusUpdate,
    TimelineEvent,
    TimelineKind,
)
from bot.policy import Policy, default_policy
from bot.services import heartbeats, review_record, timeline_entries
from bot.services import review_draft as pir_service

TARGET_MS = 2000.0
WARMUP = 1
PEOPLE = [f"U0PIR{n:05d}" for n in range(12)]
ACTOR = PEOPLE[0]
HISTORY = "conversations.history"
REPLIES = "conversations.replies"
GET_URL = "files.getUploadURLExternal"
COMPLETE = "files.completeUploadExternal"
UPLOAD_POST = "upload POST"
USERS = "users.info"
HISTORY_MESSAGES = "history messages"  # not a call: what the history answers held
SHOWN = (HISTORY, REPLIES, GET_URL, COMPLETE, UPLOAD_POST, USERS)
AT_MOST = frozenset({USERS})  # a cache may answer some of them
SHORT = {
    HISTORY: "history",
    REPLIES: "replies",
    GET_URL: "getUploadURL",
    COMPLETE: "completeUpload",
    UPLOAD_POST: "upload POST",
    USERS: "users.info",
}
CHATTER = (
    "error rate on checkout still at {n}%, looking at the gateway logs",
    "deploy {n} rolled out to 30% of hosts before the alarms fired",
    "p99 latency {n}00 ms on payments-api, db connections saturated",
    "can someone check replica lag on db-{n}? token=abc{n}def looks wrong in the config",
    "customer support reports {n} tickets about failed card payments",
    "trying a restart of worker pool {n}",
)


# --- the incident --------------------------------------------------------------------------


@dataclass
class Layout:
    """Where the incident lies in time, around the moment the engine's run starts."""

    start: datetime  # the wall clock when the run started
    declared: datetime
    impact: datetime
    acknowledged: datetime
    mitigated: datetime
    resolved: datetime
    now: datetime  # the ManualClock: after the resolution

    @classmethod
    def around(cls, start: datetime) -> Layout:
        """Declared two days before `start`, resolved half an hour after it."""
        declared = (start - timedelta(days=2)).replace(microsecond=0)
        return cls(
            start=start,
            declared=declared,
            impact=declared - timedelta(minutes=12),
            acknowledged=declared + timedelta(minutes=4),
            mitigated=start - timedelta(hours=3),
            resolved=start + timedelta(minutes=30),
            now=start + timedelta(minutes=40),
        )


def _ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def _incident_row(layout: Layout, channel: str, policy: Policy) -> Values:
    declared = layout.declared
    return {
        "title": "Card payments failing after deploy 812",
        "description": "Checkout returned errors for card payments in two regions.",
        "severity": "sev2",
        "category": "software",
        "impact": "high",
        "urgency": "high",
        "affected_services": "checkout, payments-api, db-payments",
        "is_private": False,
        "reference": f"INC-{declared:%Y%m%d}-001",
        "priority": policy.priority("high", "high"),
        "status": str(IncidentStatus.RESOLVED),
        "reporter_id": PEOPLE[1],
        "commander_id": PEOPLE[2],
        "declared_in_channel": "C0ANNOUNCE",
        "root_cause": "A migration in deploy 812 dropped an index on payments.card_token.",
        "resolution": "Rolled back deploy 812 and rebuilt the index concurrently.",
        "impact_summary": "About 18% of card payments failed in eu-west and us-east.",
        "declared_at": declared,
        "impact_started_at": layout.impact,
        "acknowledged_at": layout.acknowledged,
        "identified_at": layout.mitigated - timedelta(hours=2),
        "mitigated_at": layout.mitigated,
        "resolved_at": layout.resolved,
        "closed_at": None,
        "updated_at": layout.resolved,
        "last_update_at": layout.resolved - timedelta(minutes=5),
        "next_update_due_at": None,
        "channel_id": channel,
        "channel_name": f"inc-{declared:%Y%m%d}-001-card-payments",
        "reporter_invited": True,
        "topic": "Sev2 | Resolved",
        "summary_ts": _ts(declared + timedelta(seconds=3)),
        "summary_pinned": True,
        "announcement_channel_id": "C0ANNOUNCE",
        "announcement_ts": _ts(declared + timedelta(seconds=2)),
        "confirmation_sent": True,
        "failure_notice_sent": False,
        "provisioned_at": declared + timedelta(seconds=4),
    }


def _key_event(n: int, at: datetime, channel: str) -> Values:
    """The n-th of the key events: a changed state, a note, an update or a pinned message."""
    actor = PEOPLE[n % 4]
    row: Values = {"kind": TimelineKind.MESSAGE, "text": "", "data": {}, "is_key_event": False}
    if n % 10 == 1:
        row["kind"] = TimelineKind.STATUS_UPDATE
        row["text"] = f"Status update {n}: error rate 4%, rollback of deploy 812 in progress"
    elif n % 10 == 3:
        row["kind"] = TimelineKind.NOTE
        row["text"] = f"Note {n}: replica db-{n % 5} lag 40 s; password=hunter{n} in the runbook"
    elif n % 50 == 5:
        row["kind"] = TimelineKind.STATUS_CHANGED
        row["text"] = "Status changed from Investigating to Identified"
    else:
        row["is_key_event"] = True
        row["text"] = f"Rolled back shard {n}; mail ops{n}@example.com for access"
        row["data"] = {"key_marks": [f"reaction:{actor}"]}
    if row["kind"] == TimelineKind.MESSAGE:
        row["channel_id"] = channel
        row["slack_ts"] = _ts(at)
        row["dedupe_key"] = timeline_entries.message_key(channel, row["slack_ts"])
    row["actor_id"] = actor
    return row


def _timeline_rows(
    incident_id: int, layout: Layout, channel: str, messages: int, key_events: int
) -> list[Values]:
    """`messages` rows in all, `key_events` of them key events, spread over the incident."""
    declared = layout.declared
    fixed: list[tuple[datetime, Values]] = [
        (declared, {"kind": TimelineKind.DECLARED, "text": "Declared as Sev2", "data": {}}),
        (
            declared + timedelta(minutes=20),
            {"kind": TimelineKind.SEVERITY_CHANGED, "text": "Severity Sev3 → Sev2", "data": {}},
        ),
        (
            layout.acknowledged,
            {"kind": TimelineKind.ROLE_ASSIGNED, "text": "Incident Commander", "data": {}},
        ),
        (
            declared + timedelta(hours=20),
            {
                "kind": TimelineKind.HANDOFF,
                "text": "Handoff of Incident Commander",
                "data": {"from": PEOPLE[2], "to": PEOPLE[3], "known": "rollback half done"},
            },
        ),
        (layout.resolved, {"kind": TimelineKind.RESOLVED, "text": "Resolved", "data": {}}),
    ]
    first = declared + timedelta(minutes=2)
    last = layout.start - timedelta(minutes=10)  # the missed messages come after this
    step = (last - first) / messages
    spread = max(messages // max(key_events - len(fixed), 1), 1)
    rows: list[Values] = []
    keys = 0
    for n in range(messages - len(fixed)):
        at = first + step * n
        base: Values = {
            "incident_id": incident_id,
            "occurred_at": at,
            "actor_id": PEOPLE[n % len(PEOPLE)],
            "channel_id": None,
            "slack_ts": None,
            "thread_ts": None,
            "dedupe_key": None,
            "edited_at": None,
            "deleted_at": None,
        }
        if n % spread == 0 and keys < key_events - len(fixed):
            keys += 1
            base.update(_key_event(keys, at, channel))
        else:
            ts = _ts(at)
            base.update(
                kind=TimelineKind.MESSAGE,
                text=CHATTER[n % len(CHATTER)].format(n=n % 97),
                data={},
                is_key_event=False,
                channel_id=channel,
                slack_ts=ts,
                dedupe_key=timeline_entries.message_key(channel, ts),
                deleted_at=at + timedelta(minutes=1) if n % 997 == 0 else None,
            )
        rows.append(base)
    for at, values in fixed:
        rows.append(
            {
                "incident_id": incident_id,
                "occurred_at": at,
                "actor_id": PEOPLE[2],
                "channel_id": None,
                "slack_ts": None,
                "thread_ts": None,
                "dedupe_key": None,
                "is_key_event": False,
                "edited_at": None,
                "deleted_at": None,
                **values,
            }
        )
    for row in rows:
        row["kind"] = str(row["kind"])
    assert len(rows) == messages and keys + len(fixed) == key_events, (len(rows), keys)
    return rows


def _lifecycle_rows(incident_id: int, layout: Layout, policy: Policy) -> dict[Any, list[Values]]:
    """Roles, audit trail, status updates, the impact period and actions."""
    declared = layout.declared
    handoff = declared + timedelta(hours=20)
    roles = list(policy.roles)
    role_rows = [
        {
            "incident_id": incident_id,
            "role": roles[0],
            "user_id": PEOPLE[2],
            "assigned_by": PEOPLE[1],
            "assigned_at": layout.acknowledged,
            "ended_at": handoff,
        },
        {
            "incident_id": incident_id,
            "role": roles[0],
            "user_id": PEOPLE[3],
            "assigned_by": PEOPLE[2],
            "assigned_at": handoff,
            "ended_at": None,
        },
        {
            "incident_id": incident_id,
            "role": roles[1 % len(roles)],
            "user_id": PEOPLE[4],
            "assigned_by": PEOPLE[2],
            "assigned_at": layout.acknowledged + timedelta(minutes=3),
            "ended_at": None,
        },
    ]
    audit = [
        ("severity", "sev3", "sev2", declared + timedelta(minutes=20)),
        ("priority", "P3", "P2", declared + timedelta(minutes=20)),
        ("status", "reported", "investigating", layout.acknowledged),
        ("status", "investigating", "identified", layout.mitigated - timedelta(hours=2)),
        ("commander_id", PEOPLE[2], PEOPLE[3], handoff),
        ("status", "identified", "resolved", layout.resolved),
    ]
    audit_rows = [
        {
            "incident_id": incident_id,
            "at": at,
            "actor_id": PEOPLE[2],
            "field": name,
            "old_value": old,
            "new_value": new,
        }
        for name, old, new, at in audit
    ]
    updates = [
        {
            "incident_id": incident_id,
            "author_id": PEOPLE[2 + n % 2],
            "status": "investigating" if n < 10 else "identified",
            "what_changed": f"Update {n}: rollback progress",
            "impact": "Card payments failing for some customers",
            "next_steps": "Keep rolling back",
            "created_at": declared + timedelta(hours=2 * n + 1),
            "next_update_at": declared + timedelta(hours=2 * n + 2),
            "channel_ts": _ts(declared + timedelta(hours=2 * n + 1)),
        }
        for n in range(20)
    ]
    periods = [
        {
            "incident_id": incident_id,
            "ordinal": 1,
            "started_at": layout.impact,
            "ended_at": layout.mitigated,
        }
    ]
    actions = [
        {
            "incident_id": incident_id,
            "number": n + 1,
            "text": text,
            "owner_id": PEOPLE[4 + n],
            "due_date": (layout.start + timedelta(days=7 * (n + 1))).date(),
            "state": "done" if n == 0 else "open",
            "created_at": layout.resolved,
            "created_by": PEOPLE[2],
            "done_at": layout.resolved if n == 0 else None,
            "done_by": PEOPLE[4] if n == 0 else None,
        }
        for n, text in enumerate(
            ["Check migrations for dropped indexes in CI", "Alert on card failure rate", "Runbook"]
        )
    ]
    return {
        RoleAssignment.__table__: role_rows,  # type: ignore[attr-defined]
        AuditEntry.__table__: audit_rows,  # type: ignore[attr-defined]
        StatusUpdate.__table__: updates,  # type: ignore[attr-defined]
        ImpactPeriod.__table__: periods,  # type: ignore[attr-defined]
        ActionItem.__table__: actions,  # type: ignore[attr-defined]
    }


@dataclass
class Loaded:
    """The incident a run works on."""

    incident_id: int
    channel: str
    layout: Layout
    rows: int
    seconds: float


def _load(
    db: Database, policy: Policy, layout: Layout, channel: str, messages: int, key_events: int
) -> Loaded:
    """Migrate, then insert the incident and its records in bulk."""
    start = time.perf_counter()
    upgrade(db)
    incident_table = Incident.__table__  # type: ignore[attr-defined]
    with db.engine.begin() as connection:
        incident_id = int(
            connection.execute(
                insert(incident_table)
                .values(_incident_row(layout, channel, policy))
                .returning(incident_table.c.id)
            ).scalar_one()
        )
    rows = _timeline_rows(incident_id, layout, channel, messages, key_events)
    bulk_insert(db, TimelineEvent.__table__, rows)  # type: ignore[attr-defined]
    for table, values in _lifecycle_rows(incident_id, layout, policy).items():
        bulk_insert(db, table, values)
    _cover(db, layout, None)
    vacuum_analyze(db, ("incident", "timeline_event", "audit_log", "role_assignment"))
    return Loaded(incident_id, channel, layout, len(rows), time.perf_counter() - start)


def _cover(db: Database, layout: Layout, gap: tuple[datetime, datetime] | None) -> None:
    """Heartbeats covering the whole incident, or all of it but `gap`."""
    table = ProcessHeartbeat.__table__  # type: ignore[attr-defined]
    first = layout.declared - timedelta(hours=1)
    if gap is None:
        spans = [(first, layout.now)]
    else:  # the first process stopped beating GRACE before the gap (Slack retries that long)
        spans = [(first, gap[0] - heartbeats.GRACE), (gap[1], layout.now)]
    with db.engine.begin() as connection:
        connection.execute(delete(table))
        connection.execute(
            insert(table),
            [{"id": str(uuid.uuid4()), "started_at": a, "last_seen_at": b} for a, b in spans],
        )
    with db.session() as session:
        found = heartbeats.gaps(session, layout.declared, layout.now)
    expected = [] if gap is None else [gap]
    if found != expected:
        raise SystemExit(f"FAILED: heartbeats leave gaps {found}, expected {expected}")


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Row:
    """One measured figure: its times in each round, and the Web API calls the fake saw
    during each measured generation."""

    engine: str
    case: str
    what: str
    rounds: list[list[float]] = field(default_factory=list)
    target_ms: float | None = None
    calls_seen: list[dict[str, int]] = field(default_factory=list)
    expected_calls: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)  # one generation's: see `settle`

    @property
    def medians_ms(self) -> list[float]:
        """The median time of each round, in milliseconds."""
        return [1000 * statistics.median(times) for times in self.rounds]

    @property
    def median_ms(self) -> float:
        """The median of the rounds' medians, in milliseconds."""
        return statistics.median(self.medians_ms)

    def settle(self) -> None:
        """Take the calls of one generation (every measured one must have made the same)."""
        if self.calls_seen:
            self.calls = _same_calls(self.calls_seen)
            self.calls.pop(HISTORY_MESSAGES, None)


class Figures:
    """The rows of one engine, in the order first measured, added to round by round."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.rows: dict[tuple[str, str], Row] = {}

    def add(
        self,
        case: str,
        what: str,
        times: list[float],
        target_ms: float | None = None,
        calls_seen: list[dict[str, int]] | None = None,
        expected_calls: dict[str, int] | None = None,
    ) -> None:
        """One round's times of a figure (and the calls of its generations)."""
        row = self.rows.setdefault((case, what), Row(self.engine, case, what, target_ms=target_ms))
        row.rounds.append(times)
        row.calls_seen.extend(calls_seen or [])
        if expected_calls is not None:
            row.expected_calls = expected_calls


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _baseline(db: Database, incident_id: int, repeats: int) -> tuple[list[float], int]:
    """A bare Core SELECT of the incident's timeline rows."""
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    query = select(table).where(table.c.incident_id == incident_id)

    def run() -> int:
        with db.engine.connect() as connection:
            return len(connection.execute(query).all())

    run()
    times, count = [], 0
    for _ in range(repeats):
        seconds, count = _timed(run)
        times.append(seconds)
    return times, count


@dataclass
class Built:
    """One draft built apart from the flow, and what each step took."""

    build: float
    names: float
    render: float
    markdown: str
    people: int


def _build_and_render(ctx: Context, incident_id: int) -> Built:
    """The newest draft again, as the flow made it: load and compose (`build`, in a session
    as the flow reads), the people's names, and `review_draft.render`, timed apart."""
    now = ctx.clock.now()
    start = time.perf_counter()
    with ctx.db.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        record = review_record.load(session, incident)
        drafts = session.scalars(
            select(PirDraft)
            .where(PirDraft.incident_id == incident_id)  # type: ignore[arg-type]
            .order_by(PirDraft.version.desc())  # type: ignore[attr-defined]
            .limit(2)
        ).all()
    loaded = time.perf_counter()
    wanted = review_record.people(record)
    people = pir_flow.look_up_people(ctx, wanted)
    named = time.perf_counter()
    version = drafts[0].version if drafts else 1
    context = pir_service.compose(record, ctx.policy, now, people=people, version=version)
    built = time.perf_counter()
    previous = drafts[1] if len(drafts) > 1 else None
    markdown, error = pir_service.render(context, ctx.policy.templates_dir, previous=previous)
    rendered = time.perf_counter()
    if error:
        raise SystemExit(f"FAILED: the template could not be used: {error}")
    return Built(
        (loaded - start) + (built - named), named - loaded, rendered - built, markdown, len(wanted)
    )


def _generate(
    ctx: Context, fake: FakeSlackProcess, incident_id: int
) -> tuple[float, pir_flow.Generated, dict[str, int]]:
    """One `pir.request`, and the Web API calls the fake saw while it ran."""
    fake.ask("reset")
    seconds, generated = _timed(lambda: pir_flow.request(ctx, incident_id, ACTOR))
    return seconds, generated, fake.ask("calls")


def _check_draft(markdown: str, loaded: Loaded, key_events: int) -> None:
    """The draft has the dated key events, the chatter summary and masked secrets."""
    problems = []
    pinned = markdown.count("📌")
    if pinned < key_events // 2:
        problems.append(f"only {pinned} pinned key events shown")
    if f"{loaded.layout.declared:%Y-%m-%d}" not in markdown.split("## Timeline", 1)[1]:
        problems.append("the timeline shows no dates")
    if "Routine discussion" not in markdown:
        problems.append("no summary of the routine discussion")
    if "hunter" in markdown or "@example.com" in markdown:
        problems.append("a secret is not masked")
    if problems:
        raise SystemExit("FAILED: the draft: " + "; ".join(problems))


def _count_missing(db: Database, channel: str, missing: list[str]) -> tuple[int, int]:
    """(rows for the missed messages, all timeline rows of the channel)."""
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        found = connection.execute(
            select(func.count())
            .select_from(table)
            .where(
                table.c.channel_id == channel,
                table.c.slack_ts.in_(missing),
                table.c.kind == TimelineKind.MESSAGE,
            )
        ).scalar_one()
        total = connection.execute(
            select(func.count()).select_from(table).where(table.c.channel_id == channel)
        ).scalar_one()
    return int(found), int(total)


def _forget_missing(db: Database, channel: str, missing: list[str]) -> None:
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    with db.engine.begin() as connection:
        connection.execute(
            delete(table).where(table.c.channel_id == channel, table.c.slack_ts.in_(missing))
        )


def _profile(label: str, fn: Callable[[], Any]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(25)
    print(f"--- profile: {label} ---")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


BASELINE = ("(baseline)", "Core SELECT")


def _baseline_round(
    ctx: Context, loaded: Loaded, args: argparse.Namespace, figures: Figures
) -> None:
    times, count = _baseline(ctx.db, loaded.incident_id, args.repeats)
    if count != args.messages:
        raise SystemExit(f"FAILED: the baseline read {count} rows")
    figures.add(*BASELINE, times)


def _complete_round(
    ctx: Context,
    fake: FakeSlackProcess,
    loaded: Loaded,
    args: argparse.Namespace,
    figures: Figures,
    profile: bool,
) -> list[PirDraft]:
    """One round of the complete-timeline case; returns the drafts its generations stored."""
    case = "complete timeline"
    _cover(ctx.db, loaded.layout, None)
    people = _people(ctx, loaded)
    expected = {HISTORY: 0, REPLIES: 0, GET_URL: 1, COMPLETE: 1, UPLOAD_POST: 1, USERS: people}
    times, calls_seen, drafts = [], [], []
    for n in range(WARMUP + args.repeats):
        seconds, generated, calls = _generate(ctx, fake, loaded.incident_id)
        if generated.history_calls:
            raise SystemExit(f"FAILED: {generated.history_calls} history calls, expected none")
        if n >= WARMUP:
            times.append(seconds)
            calls_seen.append(calls)
            drafts.append(generated.draft)
    builds, names, renders = [], [], []
    for _ in range(WARMUP + args.repeats):
        built = _build_and_render(ctx, loaded.incident_id)
        builds.append(built.build)
        names.append(built.names)
        renders.append(built.render)
        markdown = built.markdown
    builds, names, renders = builds[WARMUP:], names[WARMUP:], renders[WARMUP:]
    _check_draft(drafts[-1].markdown, loaded, args.key_events)
    if markdown != drafts[-1].markdown:
        raise SystemExit("FAILED: build + render alone gives another draft than the flow")
    if profile:
        _profile(
            f"{figures.engine}, {case}: request()",
            lambda: pir_flow.request(ctx, loaded.incident_id, ACTOR),
        )
    figures.add(case, "request()", times, TARGET_MS, calls_seen, expected)
    totals = [b + n + r for b, n, r in zip(builds, names, renders, strict=True)]
    figures.add(case, "build + render", totals)
    figures.add(case, "  build", builds)
    figures.add(case, f"  names ({people})", names)
    figures.add(case, "  render", renders)
    return drafts


@dataclass
class Gap:
    """The messages the bot missed, in the fake's channel, and the stretch no process
    covered (heartbeats leave it out in the gap case)."""

    missing: list[str]
    span: tuple[datetime, datetime]


def _make_gap(fake: FakeSlackProcess, loaded: Loaded, args: argparse.Namespace) -> Gap:
    """Post the missed messages into the fake's channel, once for all rounds."""
    time.sleep(0.3)  # nothing else in the channel comes within 0.2 s of the gap
    missing: list[str] = fake.ask(f"missing {loaded.channel} {args.missing}")
    time.sleep(0.3)
    span = (
        datetime.fromtimestamp(float(missing[0]), UTC) - timedelta(seconds=0.2),
        datetime.fromtimestamp(float(missing[-1]), UTC) + timedelta(seconds=0.2),
    )
    if not loaded.layout.declared < span[0] < span[1] < loaded.layout.now:
        raise SystemExit(f"FAILED: the gap {span} is not inside the incident")
    return Gap(missing, span)


def _gap_round(
    ctx: Context,
    fake: FakeSlackProcess,
    loaded: Loaded,
    gap: Gap,
    args: argparse.Namespace,
    figures: Figures,
    profile: bool,
) -> str:
    """One round of the gap case; returns what it verified."""
    case = f"{args.missing:,} missed"
    channel, missing = loaded.channel, gap.missing
    _cover(ctx.db, loaded.layout, gap.span)
    pages = math.ceil(args.missing / pir_flow.PAGE_SIZE)
    expected = {HISTORY: pages, REPLIES: 0, GET_URL: 1, COMPLETE: 1, UPLOAD_POST: 1, USERS: 0}
    times, calls_seen, builds, renders = [], [], [], []
    verified = ""
    for n in range(WARMUP + args.repeats):
        before, total_before = _count_missing(ctx.db, channel, missing)
        if before:
            raise SystemExit(f"FAILED: {before} missed messages on the timeline before the run")
        seconds, generated, calls = _generate(ctx, fake, loaded.incident_id)
        found, total = _count_missing(ctx.db, channel, missing)
        expected[USERS] = _people(ctx, loaded)  # with the missed messages' authors
        problems = []
        if found != args.missing:
            problems.append(f"{found} of the {args.missing} missed messages are on the timeline")
        if total != total_before + args.missing:
            problems.append(f"{total - total_before} rows added, expected {args.missing}")
        if calls.get(HISTORY_MESSAGES) != args.missing:
            problems.append(f"history returned {calls.get(HISTORY_MESSAGES)} messages")
        if generated.history_calls != calls.get(HISTORY, 0) + calls.get(REPLIES, 0):
            problems.append(f"the draft records {generated.history_calls} history calls")
        if problems:
            raise SystemExit("FAILED: gap fill: " + "; ".join(problems))
        if n >= WARMUP:
            times.append(seconds)
            calls_seen.append(calls)
            built = _build_and_render(ctx, loaded.incident_id)
            builds.append(built.build + built.names)
            renders.append(built.render)
        if n == WARMUP + args.repeats - 1:
            verified = (
                f"each run: history returned {calls[HISTORY_MESSAGES]:,} messages and all"
                f" {found:,} missed messages were on the timeline afterwards"
                f" ({total:,} rows in the channel)"
            )
            if profile:
                _forget_missing(ctx.db, channel, missing)
                _profile(
                    f"{figures.engine}, {case}: request()",
                    lambda: pir_flow.request(ctx, loaded.incident_id, ACTOR),
                )
        _forget_missing(ctx.db, channel, missing)
    figures.add(case, "request()", times, TARGET_MS, calls_seen, expected)
    figures.add(case, "build + render", [b + r for b, r in zip(builds, renders, strict=True)])
    return verified


def _people(ctx: Context, loaded: Loaded) -> int:
    """How many people the draft names (each looked up at most once per generation)."""
    with ctx.db.session() as session:
        incident = session.get(Incident, loaded.incident_id)
        assert incident is not None
        return len(review_record.people(review_record.load(session, incident)))


def _same_calls(seen: list[dict[str, int]]) -> dict[str, int]:
    """The calls of one generation (every measured generation must have made the same)."""
    first = dict(seen[0])
    if any(calls != seen[0] for calls in seen[1:]):
        first["(varied)"] = 1
        print(f"note: the generations made different calls: {seen}")
    return first


# --- running -------------------------------------------------------------------------------


@dataclass
class EngineResult:
    """Everything measured on one engine."""

    baseline: Row
    rows: list[Row]
    verified: list[str]


def _run_engine(
    engine: str, url: str, args: argparse.Namespace, fake: FakeSlackProcess
) -> EngineResult:
    """Load the incident, then `args.rounds` rounds of the baseline and the two cases, in an
    order that rotates each round."""
    policy = default_policy()
    layout = Layout.around(datetime.now(UTC))
    (channel,) = fake.ask(f"channels pir-{engine}-{uuid.uuid4().hex[:6]} 1")
    ctx = make_context(Database.from_url(url), fake.info["api_url"], layout.now, policy)
    figures = Figures(engine)
    drafts: list[PirDraft] = []
    verified_gap: list[str] = []
    try:
        loaded = _load(ctx.db, policy, layout, channel, args.messages, args.key_events)
        print(
            f"{engine:<10} loaded {loaded.rows:,} timeline rows in {loaded.seconds:.1f} s",
            flush=True,
        )
        gap = _make_gap(fake, loaded, args)
        steps = ["baseline", "complete", "gap"]
        for number in range(args.rounds):
            profile = args.profile and number == args.rounds - 1
            shift = number % len(steps)
            for step in steps[shift:] + steps[:shift]:
                if step == "baseline":
                    _baseline_round(ctx, loaded, args, figures)
                elif step == "complete":
                    drafts.extend(_complete_round(ctx, fake, loaded, args, figures, profile))
                else:
                    verified_gap.append(_gap_round(ctx, fake, loaded, gap, args, figures, profile))
        with ctx.db.engine.connect() as connection:
            stored = connection.execute(
                select(func.count()).select_from(PirDraft.__table__)  # type: ignore[attr-defined]
            ).scalar_one()
    finally:
        ctx.close()
    for row in figures.rows.values():
        row.settle()
    verified = [
        f"{len(drafts)} drafts stored by the measured complete-timeline runs, the last"
        f" v{drafts[-1].version} with {len(drafts[-1].markdown):,} characters, no history read",
        verified_gap[-1],
        f"{stored} drafts stored in all",
    ]
    rows = [row for key, row in figures.rows.items() if key != BASELINE]
    return EngineResult(figures.rows[BASELINE], rows, verified)


def _calls_ok(method: str, actual: int, target: int) -> bool:
    return actual <= target if method in AT_MOST else actual == target


def _calls_text(row: Row) -> str:
    if not row.expected_calls:
        return ""
    parts = []
    for method in SHOWN:
        actual, target = row.calls.get(method, 0), row.expected_calls[method]
        mark = "" if _calls_ok(method, actual, target) else "!"
        limit = f"≤ {target}" if method in AT_MOST else str(target)
        parts.append(f"{SHORT[method]} {actual}{mark} ({limit})")
    other = {m: c for m, c in row.calls.items() if m not in SHOWN}
    parts.append(f"other {sum(other.values())}{'!' if other else ''} (0)")
    return ", ".join(parts) + (f" {other}" if other else "")


def _print_table(results: dict[str, EngineResult], rounds: int) -> list[str]:
    """Print the figures; returns the targets missed (judged on the medians)."""
    print(
        f"ms: the median of the {rounds} rounds' medians (min-max); / baseline: the median of the"
        " per-round ratios to the Core SELECT (min-max)"
    )
    print(
        f"{'engine':<10} {'case':<18} {'measured':<15} {'ms':>22} {'target':>10}"
        f" {'/ baseline':>18}  Slack calls per generation: actual (target)"
    )
    missed = []
    for engine, result in results.items():
        base = result.baseline
        for row in (base, *result.rows):
            target = ""
            if row.target_ms is not None:
                met = row.median_ms < row.target_ms
                target = f"< {row.target_ms:g} {'ok' if met else 'NO'}"
                if not met:
                    missed.append(f"{engine} {row.case}: {row.median_ms:.0f} ms")
            if row.expected_calls and any(
                not _calls_ok(m, row.calls.get(m, 0), row.expected_calls[m]) for m in SHOWN
            ):
                missed.append(f"{engine} {row.case}: calls {row.calls}")
            ratios = [r / b for r, b in zip(row.medians_ms, base.medians_ms, strict=True)]
            ratio = spread(ratios) if row is not base else ""
            line = (
                f"{engine:<10} {row.case:<18} {row.what:<15} {spread(row.medians_ms, 1):>22}"
                f" {target:>10} {ratio:>18}  {_calls_text(row)}"
            )
            print(line.rstrip())
    return missed


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000, help="timeline rows")
    parser.add_argument("--key-events", type=int, default=200, help="of them, key events")
    parser.add_argument("--missing", type=int, default=1000, help="messages the bot missed")
    parser.add_argument("--repeats", type=int, default=5, help="measured runs per figure a round")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved measurements")
    add_engine_arguments(parser)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile of one generation per case (in the last round)",
    )
    args = parser.parse_args()
    engines = chosen_engines(parser, args)

    started = time.perf_counter()
    fake = FakeSlackProcess()
    try:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            urls = {
                engine: stack.enter_context(fresh_database(engine, tmp, args.pg_url, "pir-bench"))
                for engine in engines
            }
            print(
                f"PIR generation: {args.messages:,} timeline rows ({args.key_events} key events),"
                f" a resolved incident over two days; each figure the median of {args.repeats}"
                f" runs after {WARMUP} warm-up, in {args.rounds} rounds with the baseline and the"
                f" two cases interleaved (the order rotates each round); PAGE_SIZE"
                f" {pir_flow.PAGE_SIZE}; fake Slack in its own process",
                flush=True,
            )
            print(f"{cores()}; {engine_versions(urls)}", flush=True)
            results = {engine: _run_engine(engine, urls[engine], args, fake) for engine in engines}
    finally:
        fake.close()
    missed = _print_table(results, args.rounds)
    for engine, result in results.items():
        for line in result.verified:
            print(f"{engine:<10} verified: {line}")
    print(f"targets: {'all met' if not missed else 'MISSED: ' + '; '.join(missed)}")
    print(f"total run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
