"""`GET /metrics`: the incidents and the bot's own health in Prometheus's text format.

What the database knows (open incidents, declarations, times to acknowledge and resolve,
the sweep's backlog, the inboxes) is read when Prometheus scrapes, so every replica
reports the same figures for them; what happens in a process (Slack calls and their
errors, 429s, reminders posted) is counted in that process, to be summed across replicas.
Each process has its own registry (tests run several bots in one interpreter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from bot.db import Database
from bot.models import AlertRecord, InboxEvent, Incident, ScheduledTask
from bot.models.incident import OPEN_STATES
from bot.services.process_metrics import seconds_between

PREFIX = "incident_bot"
BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)


class BotMetrics:
    """This process's counters, and the registry `/metrics` reads."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.slack_calls = Counter(
            f"{PREFIX}_slack_api_calls",
            "Slack Web API calls by method and outcome (ok, or Slack's error code)",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.slack_rate_limited = Counter(
            f"{PREFIX}_slack_rate_limited",
            "HTTP 429 answers from Slack (waited out in the client or handed back)",
            registry=self.registry,
        )
        self.reminders_sent = Counter(
            f"{PREFIX}_reminders_sent",
            "Reminders posted: nags, response and resolution pings, escalation steps",
            ["kind"],
            registry=self.registry,
        )

    def slack_call(self, method: str, error: str | None) -> None:
        """Count one Web API call."""
        self.slack_calls.labels(method=method, outcome=error or "ok").inc()

    def rate_limited(self) -> None:
        """Count one 429."""
        self.slack_rate_limited.inc()

    def watch(self, db: Database, now: Callable[[], datetime]) -> None:
        """Read the database's figures at every scrape."""
        self.registry.register(DatabaseCollector(db, now))

    def exposition(self) -> bytes:
        """The text format of every metric."""
        return generate_latest(self.registry)


class DatabaseCollector(Collector):
    """Figures read from the database at scrape time."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now

    def describe(self) -> list[Metric]:
        """Nothing up front (the figures are read at collection)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One session of small grouped queries."""
        now = self.now()
        with self.db.session() as session:
            dialect = session.get_bind().dialect.name
            incident = Incident.__table__  # type: ignore[attr-defined]
            open_ = GaugeMetricFamily(
                f"{PREFIX}_open_incidents", "Open incidents", labels=["severity", "status"]
            )
            for severity, status, count in session.execute(
                select(incident.c.severity, incident.c.status, func.count())
                .where(incident.c.status.in_([str(s) for s in OPEN_STATES]))
                .group_by(incident.c.severity, incident.c.status)
            ):
                open_.add_metric([severity, status], count)
            yield open_
            declared = CounterMetricFamily(
                f"{PREFIX}_incidents_declared",
                "Incidents declared",
                labels=["severity", "category"],
            )
            for severity, category, count in session.execute(
                select(incident.c.severity, incident.c.category, func.count()).group_by(
                    incident.c.severity, incident.c.category
                )
            ):
                declared.add_metric([severity, category], count)
            yield declared
            for name, column, words in (
                ("acknowledge", incident.c.acknowledged_at, "Declared to acknowledged"),
                ("resolve", incident.c.resolved_at, "Declared to resolved"),
            ):
                yield self._histogram(session, dialect, name, column, words)
            yield from self._health(session, now)

    def _histogram(
        self, session: Any, dialect: str, name: str, column: Any, words: str
    ) -> HistogramMetricFamily:
        incident = Incident.__table__  # type: ignore[attr-defined]
        secs = seconds_between(dialect, incident.c.declared_at, column)
        counts = [func.sum(case((secs <= bound, 1), else_=0)) for bound in BUCKETS]
        family = HistogramMetricFamily(
            f"{PREFIX}_time_to_{name}_seconds", f"{words}, in seconds", labels=["severity"]
        )
        rows = session.execute(
            select(incident.c.severity, func.count(), func.sum(secs), *counts)
            .where(column.is_not(None))
            .group_by(incident.c.severity)
        ).all()
        for row in rows:
            buckets = [(str(b), int(c or 0)) for b, c in zip(BUCKETS, row[3:], strict=True)]
            buckets.append(("+Inf", int(row[1])))
            family.add_metric([row[0]], buckets, float(row[2] or 0))
        return family

    def _health(self, session: Any, now: datetime) -> Iterator[Metric]:
        task = ScheduledTask.__table__  # type: ignore[attr-defined]
        oldest, due = session.execute(
            select(func.min(task.c.due_at), func.count()).where(
                task.c.state == "pending", task.c.due_at <= now
            )
        ).one()
        lag = GaugeMetricFamily(
            f"{PREFIX}_sweep_lag_seconds",
            "How long the oldest due task has waited (0 when none is due)",
        )
        lag.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        yield lag
        waiting = GaugeMetricFamily(f"{PREFIX}_tasks_due", "Scheduled tasks due and not yet run")
        waiting.add_metric([], due)
        yield waiting
        for table, name, words in (
            (InboxEvent.__table__, "event_inbox", "Slack events"),  # type: ignore[attr-defined]
            (AlertRecord.__table__, "alert_inbox", "Alerts"),  # type: ignore[attr-defined]
        ):
            family = GaugeMetricFamily(
                f"{PREFIX}_{name}_rows",
                f"{words} still to handle (pending) or set aside after failures (dead)",
                labels=["state"],
            )
            counts = dict(
                session.execute(
                    select(table.c.state, func.count())
                    .where(table.c.state.in_(["pending", "dead"]))
                    .group_by(table.c.state)
                ).all()
            )
            for state in ("pending", "dead"):
                family.add_metric([state], counts.get(state, 0))
            yield family
