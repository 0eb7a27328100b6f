"""Cost of one `sweep(ctx)`: with nothing due it should not grow with the size of the tables.

The sweep drains failed inbox events, purges old processed ones and claims due
`scheduled_task` rows. Each engine (SQLite: a file, the bot's own settings; PostgreSQL: a
fresh schema, dropped at the end) gets a migrated database filled with bulk inserts:

- N open incidents (severities sev1..sev4, open statuses, unique channel IDs) with ten task
  rows each, shaped like the bot's own schedule: a done provision task and first nag, the
  pending next nag, the response target (cancelled once someone took the incident), the
  escalation steps of the severity (steps of an earlier, higher severity cancelled), the
  resolution target and the stale nudge, pending ones due over the next three days;
- 5 processed inbox rows per incident, all younger than the inbox retention (a few set
  aside as dead), so the timed sweeps drain and purge nothing.

The clock is a ManualClock, so nothing falls due while the sweeps are timed.
Measured, as median and p95 of single `sweep(ctx)` calls in each round:

- nothing due, N = 10,000 (100,000 task rows, 50,000 inbox rows) and N = 1,000; the ratio
  of the two is the growth with the table size (target: near 1);
- nothing due but a full purge batch (`event_inbox.purge`'s limit, 200) of inbox rows past
  the retention per sweep, which the purge deletes (what the first sweeps after a quiet
  week do);
- 100 nags due (incidents whose channels exist in the fake Slack, with the bot as a member):
  one sweep, with `limit` raised to 100 so that one sweep posts them all (the bot's default
  is 50 per sweep), including the chat.postMessage calls to the fake Slack, which runs in a
  process of its own. After each, the fake must have exactly one new `incident_reminder`
  message in each of the 100 channels and none anywhere else, or the script fails.

PostgreSQL gets a VACUUM ANALYZE of the loaded tables (what autovacuum would have done in a
real deployment); SQLite gets no ANALYZE (the bot never runs one).

Each engine runs `--rounds` rounds (3) of the three cases, in that order, each case after a
warm-up of its own: `--repeats` (30) timed sweeps per size in the nothing-due case and in the
purge case (the expired rows inserted anew each round), `--due-repeats` (20) in the due case.
The nothing-due sweeps of the two sizes are taken in turns, the first of them flipping each
round, so that drift on the machine affects both alike. Each figure is printed as the median
of the rounds with min-max, the growth as the median of the per-round ratios with min-max,
and the targets (nothing due: p95 < 20 ms; growth ≤ 1.5) are judged on the medians; the
machine's cores and the versions of Python, SQLAlchemy, psycopg and each engine come first.
`--explain` prints, in the first round, each statement of one nothing-due sweep with its time
and plan, and the statements of the due case's warm-up sweep with the plan of its claim.

Run: `python bench/sweep_cost.py [--repeats N] [--due-repeats N] [--rounds N]
[--engines sqlite,postgresql] [--explain]`.
"""

from __future__ import annotations

import argparse
import inspect
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
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
    percentile,
    spread,
    vacuum_analyze,
)
from sqlalchemy import and_, event, func, or_, select, update

from bot.context import Context
from bot.db import Database
from bot.migrate import upgrade
from bot.models import (
    InboxEvent,
    InboxState,
    Incident,
    IncidentStatus,
    ScheduledTask,
    TaskKind,
    TaskState,
    TimelineEvent,
    TimelineKind,
)
from bot.policy import Policy, default_policy
from bot.scheduler import sweep
from bot.services import event_inbox, tasks

TASKS_PER_INCIDENT = 10
INBOX_PER_INCIDENT = 5
PURGE_BATCH = int(inspect.signature(event_inbox.purge).parameters["limit"].default)
TARGET_IDLE_MS = 20.0
TARGET_GROWTH = 1.5
WARMUP = 3
SEVERITY_WEIGHTS = {"sev1": 0.1, "sev2": 0.2, "sev3": 0.4, "sev4": 0.3}
OPEN_STATUSES = (
    IncidentStatus.REPORTED,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
)
INBOX_TYPES = ("reaction_added", "member_joined_channel", "pin_added", "app_mention")
LEVELS = ("high", "medium", "low")
CATEGORIES = ("software", "network", "database", "infrastructure", "third-party")

Recorded = list[tuple[str, Any, float]]  # statements run: SQL, parameters, seconds


# --- the data ------------------------------------------------------------------------------


def _later(rng: random.Random, now: datetime, most: timedelta) -> datetime:
    """A moment between one minute and `most` after `now`."""
    return now + timedelta(seconds=rng.uniform(60, max(most.total_seconds(), 120)))


def _earlier(rng: random.Random, now: datetime, most: timedelta) -> datetime:
    """A moment between one minute and `most` before `now`."""
    return now - timedelta(seconds=rng.uniform(60, max(most.total_seconds(), 120)))


def _incident_rows(count: int, now: datetime, policy: Policy, rng: random.Random) -> list[Values]:
    rows = []
    per_day: dict[str, int] = {}
    names, weights = list(SEVERITY_WEIGHTS), list(SEVERITY_WEIGHTS.values())
    for n in range(count):
        severity = rng.choices(names, weights)[0]
        declared = _earlier(rng, now, timedelta(days=3))
        day = declared.strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        number = per_day[day]
        impact, urgency = rng.choice(LEVELS), rng.choice(LEVELS)
        taken = rng.random() < 0.7
        status = rng.choice(OPEN_STATUSES[1:] if taken else OPEN_STATUSES)
        interval = policy.severity(severity).update_interval
        last_update = max(_earlier(rng, now, interval), declared) if taken else None
        rows.append(
            {
                "title": f"Checkout errors in region {n % 7} after deploy {n}",
                "description": "Error rate above 5% on the payment path.",
                "severity": severity,
                "category": rng.choice(CATEGORIES),
                "impact": impact,
                "urgency": urgency,
                "affected_services": "checkout, payments",
                "is_private": rng.random() < 0.05,
                "reference": f"INC-{day}-{number:03d}",
                "priority": policy.priority(impact, urgency),
                "status": str(status),
                "reporter_id": f"U1R{n % 2000:06d}",
                "commander_id": f"U1C{n % 300:06d}" if taken else None,
                "declared_in_channel": "C1ANNOUNCE",
                "root_cause": "",
                "resolution": "",
                "impact_summary": "",
                "declared_at": declared,
                "impact_started_at": declared,
                "acknowledged_at": declared + timedelta(minutes=5) if taken else None,
                "identified_at": None,
                "mitigated_at": None,
                "resolved_at": None,
                "closed_at": None,
                "updated_at": last_update or declared,
                "last_update_at": last_update,
                "next_update_due_at": _later(rng, now, interval),
                "channel_id": f"C1B{n:08d}",
                "channel_name": f"inc-{day}-{number:03d}-checkout-errors",
                "reporter_invited": True,
                "topic": f"{severity} | {status}",
                "summary_ts": f"{int(declared.timestamp())}.000100",
                "summary_pinned": True,
                "announcement_channel_id": "C1ANNOUNCE",
                "announcement_ts": f"{int(declared.timestamp())}.000200",
                "confirmation_sent": True,
                "failure_notice_sent": False,
                "provisioned_at": declared + timedelta(seconds=3),
            }
        )
    return rows


def _task_rows(
    incident: Values, incident_id: int, now: datetime, policy: Policy, rng: random.Random
) -> list[Values]:
    """Ten rows like those the bot keeps for one open incident."""
    severity = incident["severity"]
    declared: datetime = incident["declared_at"]
    channel = incident["channel_id"]
    steps = policy.severity(severity).escalation[:4]
    horizon = timedelta(days=3)

    def row(kind: str, key: str, state: str, due: datetime, **extra: Any) -> Values:
        values = {
            "incident_id": incident_id,
            "kind": str(kind),
            "key": key,
            "state": str(state),
            "due_at": due,
            "claim_token": None,
            "claimed_until": None,
            "attempts": 0 if state == TaskState.PENDING else 1,
            "last_error": None,
            "slack_channel": None,
            "slack_ts": None,
            "sent_at": None,
            "data": {},
            "created_at": declared,
            "updated_at": declared,
        }
        values.update(extra)
        return values

    first_nag = min(declared + policy.severity(severity).update_interval, now)
    first_nag -= timedelta(minutes=1)
    ts = f"{int(first_nag.timestamp())}.000300"
    rows = [
        row(TaskKind.PROVISION, "", TaskState.DONE, declared, data={"steps": "all"}),
        row(
            TaskKind.NAG,
            "n1",
            TaskState.DONE,
            first_nag,
            slack_channel=channel,
            slack_ts=ts,
            sent_at=first_nag,
            data={"delivered": {"channel": [channel, ts]}},
            updated_at=first_nag,
        ),
        row(TaskKind.NAG, "n2", TaskState.PENDING, incident["next_update_due_at"]),
    ]
    if incident["commander_id"] is None:
        rows.append(row(TaskKind.RESPONSE, severity, TaskState.PENDING, _later(rng, now, horizon)))
    else:
        rows.append(row(TaskKind.RESPONSE, severity, TaskState.CANCELLED, declared))
    for index in range(len(steps)):
        due = _later(rng, now, horizon)
        rows.append(row(TaskKind.ESCALATION, f"p1:{severity}:{index}", TaskState.PENDING, due))
    for index in range(len(steps), 4):  # armed at sev1, cancelled when the severity dropped
        rows.append(row(TaskKind.ESCALATION, f"p1:sev1:{index}", TaskState.CANCELLED, declared))
    rows.append(
        row(TaskKind.RESOLUTION, f"p1:{severity}", TaskState.PENDING, _later(rng, now, horizon))
    )
    rows.append(row(TaskKind.STALE, "", TaskState.PENDING, _later(rng, now, policy.stale_after)))
    assert len(rows) == TASKS_PER_INCIDENT
    return rows


def _inbox_rows(
    count: int, start: int, now: datetime, channels: list[str], rng: random.Random, *, old: bool
) -> list[Values]:
    """Processed events: younger than the retention, or (old) past it."""
    rows = []
    for n in range(start, start + count):
        if old:
            received = now - event_inbox.RETENTION - timedelta(seconds=rng.uniform(60, 7 * 86400))
        else:
            received = _earlier(rng, now, event_inbox.RETENTION - timedelta(hours=1))
        kind = INBOX_TYPES[n % len(INBOX_TYPES)]
        channel = channels[n % len(channels)]
        dead = not old and n % 1000 == 999
        rows.append(
            {
                "event_id": f"Ev{n:012d}",
                "event_type": kind,
                "channel_id": channel,
                "received_at": received,
                "payload": {
                    "type": "event_callback",
                    "event_id": f"Ev{n:012d}",
                    "event": {
                        "type": kind,
                        "channel": channel,
                        "user": f"U1R{n % 2000:06d}",
                        "event_ts": f"{int(received.timestamp())}.{n % 1000000:06d}",
                    },
                },
                "state": str(InboxState.DEAD if dead else InboxState.DONE),
                "attempts": 8 if dead else 1,
                "last_error": "RuntimeError('timeline write failed')" if dead else None,
                "next_attempt_at": received + timedelta(minutes=15) if dead else None,
                "claim_token": None,
                "claimed_until": None,
            }
        )
    return rows


@dataclass
class Loaded:
    """What one database was filled with."""

    incidents: int
    tasks: int
    inbox: int
    ids: list[int]
    seconds: float


def _load(db: Database, count: int, now: datetime, policy: Policy, seed: int) -> Loaded:
    """Migrate, then fill the tables with bulk inserts."""
    start = time.perf_counter()
    upgrade(db)
    rng = random.Random(seed)
    incidents = _incident_rows(count, now, policy, rng)
    incident_table = Incident.__table__  # type: ignore[attr-defined]
    bulk_insert(db, incident_table, incidents)
    with db.engine.connect() as connection:
        ids: dict[str, int] = dict(
            connection.execute(select(incident_table.c.reference, incident_table.c.id)).all()
        )
    task_rows = [
        row
        for incident in incidents
        for row in _task_rows(incident, ids[incident["reference"]], now, policy, rng)
    ]
    bulk_insert(db, ScheduledTask.__table__, task_rows)  # type: ignore[attr-defined]
    channels = [incident["channel_id"] for incident in incidents]
    inbox_rows = _inbox_rows(count * INBOX_PER_INCIDENT, 0, now, channels, rng, old=False)
    bulk_insert(db, InboxEvent.__table__, inbox_rows)  # type: ignore[attr-defined]
    vacuum_analyze(db, ("incident", "scheduled_task", "event_inbox"))
    ordered = [ids[incident["reference"]] for incident in incidents]
    return Loaded(count, len(task_rows), len(inbox_rows), ordered, time.perf_counter() - start)


# --- checks --------------------------------------------------------------------------------


def _pending_work(db: Database, now: datetime) -> dict[str, int]:
    """What a sweep at `now` would find to do: due tasks, retryable and purgeable events."""
    task_table = ScheduledTask.__table__  # type: ignore[attr-defined]
    inbox_table = InboxEvent.__table__  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        due = connection.execute(
            select(func.count()).select_from(task_table).where(tasks._claimable(now))  # type: ignore[arg-type]
        ).scalar_one()
        retry = connection.execute(
            select(func.count())
            .select_from(inbox_table)
            .where(
                and_(
                    inbox_table.c.state == InboxState.PENDING,
                    or_(
                        inbox_table.c.next_attempt_at.is_(None),
                        inbox_table.c.next_attempt_at <= now,
                    ),
                )
            )
        ).scalar_one()
        purge = connection.execute(
            select(func.count())
            .select_from(inbox_table)
            .where(
                inbox_table.c.state == InboxState.DONE,
                inbox_table.c.received_at < now - event_inbox.RETENTION,
            )
        ).scalar_one()
    return {"due tasks": int(due), "retryable events": int(retry), "purgeable events": int(purge)}


def _count(db: Database, table: Any) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Row:
    """One measured case: the sweep times of each round."""

    engine: str
    case: str
    incidents: int
    tasks: int
    due: int
    rounds: list[list[float]] = field(default_factory=list)
    target: str = ""
    notes: list[str] = field(default_factory=list)

    def per_round_ms(self, q: float) -> list[float]:
        """A percentile of each round's sweep times, in milliseconds."""
        return [1000 * percentile(times, q) for times in self.rounds]

    def median_ms(self, q: float) -> float:
        """The median over the rounds of a percentile of the sweep times, in milliseconds."""
        return statistics.median(self.per_round_ms(q))

    @property
    def per_reminder_ms(self) -> list[float] | None:
        """Each round's median sweep time per reminder posted."""
        return [ms / self.due for ms in self.per_round_ms(0.5)] if self.due else None


def _idle_sweeps(ctx: Context, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        ran = sweep(ctx)
        times.append(time.perf_counter() - start)
        if ran:
            raise SystemExit(f"FAILED: a sweep with nothing due ran {ran} tasks")
    return times


def _require_idle(db: Database, now: datetime) -> None:
    work = _pending_work(db, now)
    if any(work.values()):
        raise SystemExit(f"FAILED: the nothing-due set-up has work at the clock: {work}")


def _measure_idle(
    setups: list[tuple[Context, Loaded]], rows: list[Row], repeats: int, number: int
) -> None:
    """One round of nothing-due sweeps on each database, taken in turns so that drift hits
    all alike (the first of them flips each round)."""
    order = list(zip(setups, rows, strict=True))
    if number % 2:
        order.reverse()
    for (ctx, _), _row in order:
        _require_idle(ctx.db, ctx.clock.now())
        _idle_sweeps(ctx, WARMUP)
    times: list[list[float]] = [[] for _ in order]
    for _ in range(repeats):
        for ((ctx, _), _row), measured in zip(order, times, strict=True):
            measured.extend(_idle_sweeps(ctx, 1))
    for ((ctx, _), row), measured in zip(order, times, strict=True):
        _require_idle(ctx.db, ctx.clock.now())
        row.rounds.append(measured)


def _measure_purge(ctx: Context, repeats: int, row: Row, number: int) -> int:
    """One round of sweeps with nothing due, but each purging a full batch of expired inbox
    rows (inserted for the round); returns how many were inserted."""
    now = ctx.clock.now()
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    old = (WARMUP + repeats) * PURGE_BATCH
    first = 10**9 + number * 10**7
    expired = _inbox_rows(old, first, now, ["C1EXPIRED"], random.Random(7 + number), old=True)
    bulk_insert(ctx.db, table, expired)
    before = _count(ctx.db, table)
    _idle_sweeps(ctx, WARMUP)
    times = _idle_sweeps(ctx, repeats)
    deleted = before - _count(ctx.db, table)
    left = _pending_work(ctx.db, now)["purgeable events"]
    if deleted != old or left:
        raise SystemExit(f"FAILED: the purge deleted {deleted} of {old} expired rows ({left} left)")
    row.rounds.append(times)
    return old


def _arm_due(db: Database, ids: list[int], moment: datetime) -> None:
    """Make the pending nag of each incident in `ids` due at `moment` (an update is late)."""
    incident_table = Incident.__table__  # type: ignore[attr-defined]
    task_table = ScheduledTask.__table__  # type: ignore[attr-defined]
    with db.engine.begin() as connection:
        connection.execute(
            update(incident_table)
            .where(incident_table.c.id.in_(ids))
            .values(next_update_due_at=moment)
        )
        armed = connection.execute(
            update(task_table)
            .where(
                task_table.c.incident_id.in_(ids),
                task_table.c.kind == TaskKind.NAG,
                task_table.c.state == TaskState.PENDING,
            )
            .values(due_at=moment)
        ).rowcount
    if armed != len(ids):
        raise SystemExit(f"FAILED: {armed} pending nags made due for {len(ids)} incidents")


@dataclass
class DueSet:
    """The incidents whose nags the due case makes due, and their channels in the fake."""

    ids: list[int]
    channels: list[str]


def _prepare_due(
    engine: str, ctx: Context, loaded: Loaded, due: int, fake: FakeSlackProcess
) -> DueSet:
    """Give `due` of the incidents channels that exist in the fake Slack."""
    channels: list[str] = fake.ask(f"channels bench-{engine}-{uuid.uuid4().hex[:6]} {due}")
    chosen = loaded.ids[:: max(len(loaded.ids) // due, 1)][:due]
    incident_table = Incident.__table__  # type: ignore[attr-defined]
    with ctx.db.engine.begin() as connection:
        for incident_id, channel in zip(chosen, channels, strict=True):
            connection.execute(
                update(incident_table)
                .where(incident_table.c.id == incident_id)
                .values(channel_id=channel)
            )
    return DueSet(chosen, channels)


def _measure_due(
    engine: str,
    ctx: Context,
    chosen: DueSet,
    repeats: int,
    fake: FakeSlackProcess,
    row: Row,
    explain: bool,
) -> int:
    """One round of sweeps that each post the nags of `chosen` to their channels in the fake
    Slack (the first sweep a warm-up); returns how many sweeps ran."""
    now = ctx.clock.now()
    due, channels = len(chosen.ids), chosen.channels
    times: list[float] = []
    sweeps = 1 + repeats  # the first is a warm-up
    _require_idle(ctx.db, now)
    for number in range(sweeps):
        _arm_due(ctx.db, chosen.ids, now - timedelta(minutes=5))
        before: dict[str, int] = fake.ask("reminders")
        recording: AbstractContextManager[Recorded] = (
            _statements(ctx.db) if explain and not number else nullcontext([])
        )
        with recording as seen:
            start = time.perf_counter()
            ran = sweep(ctx, limit=due)
            elapsed = time.perf_counter() - start
        after: dict[str, int] = fake.ask("reminders")
        if ran != due:
            raise SystemExit(f"FAILED: the sweep ran {ran} tasks, {due} were due")
        new = {c: after.get(c, 0) - before.get(c, 0) for c in after.keys() | channels}
        posted = sum(new.values())
        wrong = [c for c, n in new.items() if n != (1 if c in channels else 0)]
        if posted != due or wrong:
            raise SystemExit(
                f"FAILED: {posted} incident_reminder messages posted, expected exactly {due},"
                f" one in each due incident's channel ({len(wrong)} channels are off)"
            )
        if number:
            times.append(elapsed)
        elif explain:
            _arm_due(ctx.db, chosen.ids, now - timedelta(minutes=5))  # due again, for the plan
            _explain_due(engine, ctx, seen, elapsed, due)
            continue
        _require_idle(ctx.db, now)
    row.rounds.append(times)
    return sweeps


def _reminders_recorded(db: Database, ids: list[int]) -> int:
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.incident_id.in_(ids), table.c.kind == TimelineKind.REMINDER)
            ).scalar_one()
        )


# --- plans and where the time goes ----------------------------------------------------------


@contextmanager
def _statements(db: Database) -> Iterator[Recorded]:
    """Record each statement the engine runs: SQL, parameters and seconds."""
    seen: Recorded = []
    started: list[float] = []

    def before(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params, time.perf_counter() - started.pop()))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)


def _plan(engine: str, db: Database, statement: str, params: Any) -> list[str]:
    """The plan of one recorded statement (PostgreSQL: run, then rolled back)."""
    with db.engine.connect() as connection:
        if engine == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            return [str(row[3]) for row in rows]
        transaction = connection.begin()
        try:
            rows = connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}", params
            )
            return [str(row[0]) for row in rows]
        finally:
            transaction.rollback()


def _short(statement: str, width: int = 110) -> str:
    sql = " ".join(statement.split())
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def _explain_idle(engine: str, ctx: Context) -> None:
    """Print each statement of one nothing-due sweep with its time and its plan."""
    with _statements(ctx.db) as seen:
        start = time.perf_counter()
        sweep(ctx)
        total = time.perf_counter() - start
    in_sql = sum(seconds for _, _, seconds in seen)
    print(
        f"\n{engine}: one nothing-due sweep took {1000 * total:.2f} ms, of which"
        f" {1000 * in_sql:.2f} ms in {len(seen)} statements (commits not included):"
    )
    for statement, params, seconds in seen:
        print(f"  {1000 * seconds:7.3f} ms  {_short(statement)}")
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            for line in _plan(engine, ctx.db, statement, params):
                print(f"               {line}")


def _explain_due(engine: str, ctx: Context, seen: Recorded, total: float, due: int) -> None:
    """Print the statements of one due sweep, grouped, and the plan of its claim."""
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    claim: tuple[str, Any] | None = None
    for statement, params, elapsed in seen:
        key = _short(statement, 90)
        counts[key] = counts.get(key, 0) + 1
        seconds[key] = seconds.get(key, 0.0) + elapsed
        if claim is None and statement.lstrip().startswith("UPDATE scheduled_task SET claim_"):
            claim = (statement, params)
    in_sql = sum(seconds.values())
    print(
        f"\n{engine}: one sweep posting {due} nags took {1000 * total:.1f} ms, of which"
        f" {1000 * in_sql:.1f} ms in {len(seen)} statements (commits not included):"
    )
    for key, count in sorted(counts.items(), key=lambda item: -seconds[item[0]]):
        print(f"  {count:5d} x {1000 * seconds[key]:8.2f} ms  {key}")
    if claim is not None:
        print(f"  the claim's plan with {due} rows due:")
        for line in _plan(engine, ctx.db, *claim):
            print(f"               {line}")


# --- running -------------------------------------------------------------------------------


def _run_engine(
    engine: str,
    urls: list[str],
    args: argparse.Namespace,
    fake: FakeSlackProcess,
    now: datetime,
) -> list[Row]:
    """Load the two databases, then `args.rounds` rounds of the cases: nothing due on both
    (in turns), purging and due on the larger."""
    policy = default_policy()
    with ExitStack() as stack:
        setups: list[tuple[Context, Loaded]] = []
        for url, size in zip(urls, (args.incidents, args.small), strict=True):
            ctx = make_context(Database.from_url(url), fake.info["api_url"], now)
            stack.callback(ctx.close)
            loaded = _load(ctx.db, size, now, policy, seed=size)
            print(
                f"{engine:<10} loaded {size:,} incidents, {loaded.tasks:,} task rows,"
                f" {loaded.inbox:,} inbox rows in {loaded.seconds:.1f} s",
                flush=True,
            )
            setups.append((ctx, loaded))
        idle = [
            Row(
                engine,
                "nothing due",
                loaded.incidents,
                loaded.tasks,
                0,
                target=f"p95 < {TARGET_IDLE_MS:g} ms",
                notes=[f"{loaded.inbox:,} inbox rows, all younger than the retention"],
            )
            for _, loaded in setups
        ]
        ctx, loaded = setups[0]
        purge = Row(engine, f"purging {PURGE_BATCH}", loaded.incidents, loaded.tasks, 0)
        due = Row(engine, f"{args.due} nags due", loaded.incidents, loaded.tasks, args.due)
        chosen = _prepare_due(engine, ctx, loaded, args.due, fake)
        expired = sweeps = 0
        for number in range(args.rounds):
            _measure_idle(setups, idle, args.repeats, number)
            if args.explain and not number:
                _explain_idle(engine, ctx)
            expired += _measure_purge(ctx, args.repeats, purge, number)
            sweeps += _measure_due(
                engine, ctx, chosen, args.due_repeats, fake, due, args.explain and not number
            )
        recorded = _reminders_recorded(ctx.db, chosen.ids)
        if recorded != args.due * sweeps:
            raise SystemExit(
                f"FAILED: {recorded} reminder timeline rows, expected {args.due * sweeps}"
            )
    purge.notes.append(
        f"nothing due; {loaded.inbox:,} young + {expired // args.rounds:,} expired inbox rows"
        f" a round, each sweep deleted {PURGE_BATCH} of them"
    )
    due.notes.append(
        f"one sweep(ctx, limit={args.due}) at a time; verified: {sweeps} sweeps x {args.due}"
        f" incident_reminder messages, exactly one per due channel per sweep,"
        f" {recorded} reminder timeline rows"
    )
    return [*idle, purge, due]


def _print_row(row: Row) -> None:
    per = spread(row.per_reminder_ms) if row.per_reminder_ms is not None else "-"
    verdict = ""
    if row.target:
        met = row.median_ms(0.95) < TARGET_IDLE_MS
        verdict = f"{row.target} (median of the rounds): {'met' if met else 'MISSED'}"
    print(
        f"{row.engine:<10} {row.case:<14} {row.incidents:>9,} {row.tasks:>9,} {row.due:>4}"
        f" {spread(row.per_round_ms(0.5)):>24} {spread(row.per_round_ms(0.95)):>24}"
        f" {per:>16}  {verdict}".rstrip()
    )


def _print_growth(engine: str, rows: list[Row]) -> None:
    idle = [row for row in rows if row.case == "nothing due"]
    big = max(idle, key=lambda row: row.incidents)
    small = min(idle, key=lambda row: row.incidents)
    medians = [b / s for b, s in zip(big.per_round_ms(0.5), small.per_round_ms(0.5), strict=True)]
    p95s = [b / s for b, s in zip(big.per_round_ms(0.95), small.per_round_ms(0.95), strict=True)]
    verdict = "met" if statistics.median(medians) <= TARGET_GROWTH else "MISSED"
    print(
        f"{engine:<10} growth, nothing due, {big.incidents:,} / {small.incidents:,} incidents,"
        f" per round: median {spread(medians)}, p95 {spread(p95s)}"
        f" (target ≈ 1, ≤ {TARGET_GROWTH:g} for the median ratio: {verdict})"
    )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000, help="open incidents")
    parser.add_argument(
        "--small", type=int, default=1_000, help="open incidents of the growth comparison"
    )
    parser.add_argument("--repeats", type=int, default=30, help="timed sweeps per case a round")
    parser.add_argument("--due", type=int, default=100, help="nags due in the due case")
    parser.add_argument(
        "--due-repeats", type=int, default=20, help="timed sweeps in the due case a round"
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds")
    add_engine_arguments(parser)
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print each statement of a nothing-due sweep with its time and plan",
    )
    args = parser.parse_args()
    engines = chosen_engines(parser, args)

    began = time.perf_counter()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fake = FakeSlackProcess()
    results: dict[str, list[Row]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            urls = {
                engine: [
                    stack.enter_context(fresh_database(engine, tmp, args.pg_url, f"sweep-{size}"))
                    for size in (args.incidents, args.small)
                ]
                for engine in engines
            }
            print(
                f"sweep(ctx) wall time: {args.rounds} rounds per engine, each with"
                f" {args.repeats} timed sweeps per case ({args.due_repeats} in the due case)"
                f" after a warm-up, clock fixed at {now:%Y-%m-%d %H:%M} UTC"
            )
            print(f"{cores()}; {engine_versions({e: u[0] for e, u in urls.items()})}", flush=True)
            for engine in engines:
                results[engine] = _run_engine(engine, urls[engine], args, fake, now)
    finally:
        fake.close()

    print(
        f"\nmedian ms, p95 ms: each round's figure, the median of the {args.rounds} rounds"
        " (min-max); ms/reminder: each round's median / due (min-max)"
    )
    print(
        f"{'engine':<10} {'case':<14} {'incidents':>9} {'rows':>9} {'due':>4}"
        f" {'median ms':>24} {'p95 ms':>24} {'ms/reminder':>16}  target"
    )
    for rows in results.values():
        for row in rows:
            _print_row(row)
    for engine, rows in results.items():
        _print_growth(engine, rows)
    for rows in results.values():
        for row in rows:
            for note in row.notes:
                print(f"{row.engine:<10} {row.case}: {note}")
    print(f"total run time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
