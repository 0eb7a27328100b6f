"""Cost of the process figures on a large history: `/incident metrics 30d` and a 12-month
report, beside one `SELECT count(*)` over the same table in the same run.

Each engine (SQLite: a file; PostgreSQL: a fresh schema, dropped at the end) gets a
migrated database filled with bulk inserts:

- N incidents (default 100,000) declared over the 12 months before "now", severities and
  categories spread as in a real install (most are Sev3/Sev4), acknowledged, mitigated and
  resolved at realistic delays (some never acknowledged, a few still open), 3 % reopened
  (a second impact period), 2 % closed as false positives, services from a list of 30;
- an audit trail for a sample (severity escalations, commander handoffs), follow-up
  actions for the Sev1/Sev2 incidents, survey answers for a sample;
- a realistic timeline (40 entries) for 1 % of the incidents.

PostgreSQL gets a VACUUM ANALYZE of the loaded tables (what autovacuum would have done).

Timed, `--repeats` times each after a warm-up (half as often for the slow cases), median
and p95, in `--rounds` rounds (3) with the baseline measured in each; each figure is printed
as the median of the rounds with min-max, each ratio to the baseline as the median of the
per-round ratios:

- the baseline: `SELECT count(*) FROM incident`;
- the summary of the last 30 days (`process_summary.summarise`, what `/incident metrics`
  computes);
- the 12-month report: the summary of 365 days and its Markdown;
- each of the four charts of the 12-month report, rendered to PNG (with its query).

Targets: summary under 300 ms and the 12-month report under 2 s on both engines; each chart
under 500 ms.

Run: `python bench/metrics_report.py [--incidents N] [--repeats N] [--rounds N]
[--engines sqlite,postgresql]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.common import (
    ROUNDS,
    add_engine_arguments,
    bulk_insert,
    chosen_engines,
    cores,
    engine_versions,
    fresh_database,
    percentile,
    spread,
    vacuum_analyze,
)
from bot import migrate
from bot.db import Database
from bot.models import (
    ActionItem,
    AuditEntry,
    ImpactPeriod,
    Incident,
    SurveyResponse,
    TimelineEvent,
)
from bot.policy import default_policy
from bot.services import process_charts, process_metrics, process_reports, process_summary

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SEVERITIES = ["sev1"] * 3 + ["sev2"] * 12 + ["sev3"] * 45 + ["sev4"] * 40
CATEGORIES = (
    ["software"] * 40
    + ["infrastructure"] * 15
    + ["network"] * 12
    + ["database"] * 10
    + ["third-party"] * 10
    + ["security"] * 5
    + ["hardware"] * 3
    + ["other"] * 5
)
SERVICES = [f"service-{n:02d}" for n in range(30)]
ROOT_CAUSES = ["change", "configuration", "capacity", "dependency", "software defect", None]


def load(db: Database, count: int) -> None:
    """Fill the database with `count` incidents and what goes with them."""
    rnd = random.Random(7)
    incidents: list[dict[str, Any]] = []
    periods: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    surveys: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    start = NOW - timedelta(days=365)
    for n in range(1, count + 1):
        declared = start + timedelta(seconds=rnd.randrange(0, 365 * 86400))
        severity = rnd.choice(SEVERITIES)
        ack = declared + timedelta(seconds=rnd.randrange(30, 7200)) if rnd.random() < 0.97 else None
        resolved = (
            declared + timedelta(seconds=rnd.randrange(600, 3 * 86400))
            if declared < NOW - timedelta(days=3) or rnd.random() < 0.5
            else None
        )
        mitigated = declared + (resolved - declared) * 0.6 if resolved else None
        closed = resolved + timedelta(hours=2) if resolved and rnd.random() < 0.8 else None
        detect = rnd.randrange(0, 900) if rnd.random() < 0.3 else 0
        status = "closed" if closed else "resolved" if resolved else "investigating"
        reason = None
        if closed:
            reason = "false_positive" if rnd.random() < 0.02 else "resolved"
        services = ", ".join(rnd.sample(SERVICES, rnd.choice((1, 1, 1, 2))))
        incidents.append(
            {
                "id": n,
                "reference": f"INC-{declared:%Y%m%d}-{n:06d}",
                "title": f"Incident {n}",
                "description": "",
                "severity": severity,
                "category": rnd.choice(CATEGORIES),
                "impact": "high",
                "urgency": "high",
                "affected_services": services,
                "is_private": rnd.random() < 0.02,
                "priority": "P2",
                "status": status,
                "reporter_id": "U0REPORTER",
                "commander_id": "U0COMMANDER" if ack else None,
                "root_cause": "",
                "resolution": "",
                "impact_summary": "",
                "root_cause_category": rnd.choice(ROOT_CAUSES) if resolved else None,
                "closing_reason": reason,
                "declared_at": declared,
                "impact_started_at": declared - timedelta(seconds=detect),
                "acknowledged_at": ack,
                "mitigated_at": mitigated,
                "resolved_at": resolved,
                "closed_at": closed,
                "review_held_at": resolved + timedelta(days=2)
                if resolved and severity in ("sev1", "sev2") and rnd.random() < 0.7
                else None,
                "updated_at": declared,
                "revision": 0,
                "reporter_invited": True,
                "summary_pinned": True,
                "confirmation_sent": True,
                "failure_notice_sent": False,
                "setup_problems": {},
                "setup_round": 0,
            }
        )
        periods.append(
            {
                "incident_id": n,
                "ordinal": 1,
                "started_at": declared - timedelta(seconds=detect),
                "ended_at": resolved,
            }
        )
        if resolved and rnd.random() < 0.03:
            again = resolved + timedelta(hours=rnd.randrange(1, 48))
            periods.append(
                {
                    "incident_id": n,
                    "ordinal": 2,
                    "started_at": again,
                    "ended_at": again + timedelta(minutes=rnd.randrange(10, 600)),
                }
            )
        if rnd.random() < 0.05:
            audits.append(
                {
                    "incident_id": n,
                    "at": declared + timedelta(minutes=5),
                    "actor_id": "U1",
                    "field": "severity",
                    "old_value": "sev3",
                    "new_value": "sev2",
                }
            )
        if ack and rnd.random() < 0.05:
            audits.append(
                {
                    "incident_id": n,
                    "at": ack + timedelta(minutes=30),
                    "actor_id": "U1",
                    "field": "commander_id",
                    "old_value": "U0COMMANDER",
                    "new_value": "U0OTHER",
                }
            )
        if severity in ("sev1", "sev2"):
            for number in (1, 2):
                actions.append(
                    {
                        "incident_id": n,
                        "number": number,
                        "text": "Follow up",
                        "state": "done" if rnd.random() < 0.6 else "open",
                        "due_date": (declared + timedelta(days=14)).date(),
                        "created_at": declared,
                        "created_by": "U1",
                    }
                )
        if closed and rnd.random() < 0.2:
            surveys.append(
                {
                    "incident_id": n,
                    "user_id": "U0REPORTER",
                    "role": "reporter",
                    "rating": rnd.randrange(1, 6),
                    "comment": "",
                    "sent_at": closed,
                    "answered_at": closed,
                }
            )
        if n % 100 == 0:
            for k in range(40):
                timeline.append(
                    {
                        "incident_id": n,
                        "kind": "message",
                        "occurred_at": declared + timedelta(minutes=k),
                        "actor_id": "U1",
                        "text": f"message {k} of incident {n}",
                        "data": {},
                        "is_key_event": False,
                    }
                )
    bulk_insert(db, Incident.__table__, incidents)  # type: ignore[attr-defined]
    bulk_insert(db, ImpactPeriod.__table__, periods)  # type: ignore[attr-defined]
    bulk_insert(db, AuditEntry.__table__, audits)  # type: ignore[attr-defined]
    bulk_insert(db, ActionItem.__table__, actions)  # type: ignore[attr-defined]
    bulk_insert(db, SurveyResponse.__table__, surveys)  # type: ignore[attr-defined]
    bulk_insert(db, TimelineEvent.__table__, timeline)  # type: ignore[attr-defined]
    if not db.is_sqlite:
        with db.engine.begin() as connection:
            connection.execute(
                text("SELECT setval('incident_id_seq', (SELECT max(id) FROM incident))")
            )
    vacuum_analyze(
        db,
        ["incident", "impact_period", "audit_log", "action_item", "survey_response"],
    )


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Milliseconds of `repeats` calls, after one warm-up call."""
    fn()
    found = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        found.append((time.perf_counter() - began) * 1000)
    return found


Case = tuple[str, Callable[[], object], int, float | None]


def run(engine: str, url: str, count: int, repeats: int, rounds: int) -> None:
    """Load, then time every case against the baseline, `rounds` times interleaved."""
    db = Database.from_url(url)
    migrate.upgrade(db)
    began = time.perf_counter()
    load(db, count)
    print(f"{engine}: loaded {count:,} incidents in {time.perf_counter() - began:.1f} s")
    policy = default_policy()
    month = process_metrics.Filters(NOW - timedelta(days=30), NOW)
    year = process_metrics.Filters(NOW - timedelta(days=365), NOW)

    def baseline() -> None:
        with db.read_session() as session:
            session.execute(text("SELECT count(*) FROM incident")).one()

    def summary() -> None:
        with db.read_session() as session:
            process_summary.summarise(session, policy, month, NOW)

    def report() -> None:
        with db.read_session() as session:
            found = process_summary.summarise(session, policy, year, NOW)
        process_reports.markdown(found, policy, "the last 12 months", set())

    with db.read_session() as session:
        year_summary = process_summary.summarise(session, policy, year, NOW)
    few = max(repeats // 2, 3)
    cases: list[Case] = [
        ("/incident metrics 30d summary", summary, repeats, 300),
        ("12-month report (summary + Markdown)", report, few, 2000),
        (
            "chart: weekly volume",
            lambda: _with(
                db,
                lambda s: process_charts.volume_chart(
                    policy, year, process_charts.weekly_volume(s, year)
                ),
            ),
            few,
            500,
        ),
        (
            "chart: MTTA/MTTR trend",
            lambda: _with(
                db,
                lambda s: process_charts.trend_chart(
                    policy, year, process_charts.weekly_medians(s, year)
                ),
            ),
            few,
            500,
        ),
        (
            "chart: targets met",
            lambda: process_charts.compliance_chart(policy, year_summary),
            few,
            500,
        ),
        (
            "chart: services vs baseline",
            lambda: _with(
                db,
                lambda s: process_charts.service_chart(year, process_charts.service_weeks(s, year)),
            ),
            few,
            500,
        ),
    ]
    medians: dict[str, list[float]] = {"baseline": []}
    p95s: dict[str, list[float]] = {"baseline": []}
    ratios: dict[str, list[float]] = {}
    for _ in range(rounds):
        base = timed(baseline, repeats)
        base_median = statistics.median(base)
        medians["baseline"].append(base_median)
        p95s["baseline"].append(percentile(base, 0.95))
        for name, fn, times, _target in cases:
            values = timed(fn, times)
            medians.setdefault(name, []).append(statistics.median(values))
            p95s.setdefault(name, []).append(percentile(values, 0.95))
            ratios.setdefault(name, []).append(statistics.median(values) / base_median)
    print(
        f"  {'SELECT count(*) FROM incident':<38} median {spread(medians['baseline'])} ms"
        f"  p95 {spread(p95s['baseline'])} ms"
    )
    for name, _fn, _times, target in cases:
        middle = statistics.median(medians[name])
        verdict = f"  target < {target:.0f} ms: {'met' if middle < target else 'MISSED'}"
        print(
            f"  {name:<38} median {spread(medians[name], 1)} ms  p95 {spread(p95s[name], 1)} ms"
            f"  {spread(ratios[name], 0)}x count(*){verdict if target else ''}"
        )
    db.dispose()


def _with(db: Database, fn: Callable[[Any], object]) -> object:
    with db.read_session() as session:
        return fn(session)


def main() -> None:
    """Parse the flags, then load and time each engine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    add_engine_arguments(parser)
    args = parser.parse_args()
    engines = chosen_engines(parser, args)
    with tempfile.TemporaryDirectory() as tmp:
        urls: dict[str, str] = {}
        print(cores())
        for engine in engines:
            with fresh_database(engine, tmp, args.pg_url, f"metrics-{engine}") as url:
                urls[engine] = url
                if engine == engines[0]:
                    print(engine_versions({engine: url}))
                run(engine, url, args.incidents, args.repeats, args.rounds)


if __name__ == "__main__":
    main()
