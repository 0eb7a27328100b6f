"""The summary of a period: every figure of `process_metrics.DEFINITIONS`, in SQL.

The incidents the filters count are read once, into a temporary table of their figures
(one row per incident: seconds to detect, acknowledge, mitigate and first resolve, whether
each target was met or missed, whether it was a first-contact resolution); every
aggregate then reads that narrow table instead of the incidents again. The temporary
table lives in the caller's transaction and is dropped at the end.

Private incidents count in every figure, but the services they name (free text, often as
telling as a title) are left out of the top services unless the report includes private
incidents (`include_private`, the CLI's `--include-private`).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from bot.models import (
    EXCLUDED_REASONS,
    ActionItem,
    AuditEntry,
    ImpactPeriod,
    Incident,
    SurveyResponse,
)
from bot.policy import Policy
from bot.services import disclosure
from bot.services.process_metrics import (
    LONG_PERIOD,
    MAX_MISSES,
    Compliance,
    Filters,
    Miss,
    Summary,
    sample_stats,
    scoped,
    seconds_between,
    temporary,
)
from bot.services.reminder_rules import business_days_after

# Temporary tables, named once so that their statements are compiled once (a temporary
# table belongs to one connection: two reports at once each have their own).
TEMPORARY = MetaData()
FACTS = Table(
    "process_facts",
    TEMPORARY,
    Column("id", Integer, primary_key=True),
    Column("severity", String(20)),
    Column("category", String(40)),
    Column("root_cause_category", String(40)),
    Column("services", String(500)),
    Column("is_private", Boolean),
    Column("detect", Float),
    Column("acknowledge", Float),
    Column("mitigate", Float),
    Column("resolve", Float),
    Column("waited", Float),  # declared to now: a target is missed once it passed
    Column("resolved", Boolean),
    Column("first_contact", Boolean),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
PERIODS = Table(
    "process_periods",
    TEMPORARY,
    Column("severity", String(20)),
    Column("secs", Float),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def _target(policy: Policy, facts: Table, kind: str) -> ColumnElement[float]:
    """The severity's response or resolution target, in seconds, per facts row."""
    return case(
        *(
            (
                facts.c.severity == key,
                (
                    severity.response_target if kind == "response" else severity.resolution_target
                ).total_seconds(),
            )
            for key, severity in policy.severities.items()
        ),
        else_=None,
    )


def _checks(policy: Policy, facts: Table) -> dict[str, tuple[Any, Any]]:
    """(counted, met) per target: done in time, or not done once the target has passed."""
    found = {}
    for kind, took in (("response", facts.c.acknowledge), ("resolution", facts.c.resolve)):
        target = _target(policy, facts, kind)
        found[kind] = (
            or_(took.is_not(None), facts.c.waited > target),
            and_(took.is_not(None), took <= target),
        )
    return found


def _rank(policy: Policy, column: Any) -> ColumnElement[int]:
    return case(
        *((column == key, index) for index, key in enumerate(policy.severities)), else_=None
    )


def _facts(session: Session, policy: Policy, filters: Filters, now: datetime) -> Any:
    """The counted incidents' figures, one row each, in the facts table's column order."""
    dialect = session.get_bind().dialect.name
    table = Incident.__table__  # type: ignore[attr-defined]
    period = ImpactPeriod.__table__  # type: ignore[attr-defined]
    audit = AuditEntry.__table__  # type: ignore[attr-defined]
    declared = table.c.declared_at
    first = period.alias("first_period")
    escalated = select(audit.c.incident_id).where(
        audit.c.field == "severity",
        _rank(policy, audit.c.new_value) < _rank(policy, audit.c.old_value),
    )
    handed_over = select(audit.c.incident_id).where(
        audit.c.field == "commander_id", audit.c.old_value.is_not(None)
    )
    detect = case(
        (
            table.c.impact_started_at < declared,
            seconds_between(dialect, table.c.impact_started_at, declared),
        ),
        else_=None,
    )
    rows = select(
        table.c.id,
        table.c.severity,
        table.c.category,
        table.c.root_cause_category,
        table.c.affected_services,
        table.c.is_private,
        detect,
        seconds_between(dialect, declared, table.c.acknowledged_at),
        seconds_between(dialect, declared, table.c.mitigated_at),
        seconds_between(dialect, declared, first.c.ended_at),
        seconds_between(dialect, declared, literal(now, type_=declared.type)),
        table.c.resolved_at.is_not(None),
        and_(
            table.c.resolved_at.is_not(None),
            table.c.id.not_in(escalated),
            table.c.id.not_in(handed_over),
        ),
    ).select_from(
        table.outerjoin(first, and_(first.c.incident_id == table.c.id, first.c.ordinal == 1))
    )
    sequential = dialect == "sqlite" and filters.end - filters.start >= LONG_PERIOD
    return rows.where(*scoped(filters, dialect, use_index=not sequential))


def summarise(
    session: Session,
    policy: Policy,
    filters: Filters,
    now: datetime,
    *,
    include_private: bool = False,
) -> Summary:
    """Every figure for the filters (as of `now`); private incidents' services named only
    with `include_private`."""
    with temporary(session, FACTS, _facts(session, policy, filters, now)) as facts:
        return _summary(session, facts, policy, filters, now, include_private)


def _summary(
    session: Session,
    facts: Table,
    policy: Policy,
    filters: Filters,
    now: datetime,
    include_private: bool,
) -> Summary:
    dialect = session.get_bind().dialect.name
    table = Incident.__table__  # type: ignore[attr-defined]
    summary = Summary(filters, include_private=include_private)
    _by_severity(session, facts, policy, summary)
    previous = scoped(filters.shifted_back(), dialect)
    summary.previous_by_severity = _counts(session, table.c.severity, previous)
    summary.previous_total = sum(summary.previous_by_severity.values())
    if not filters.include_all:
        excluded = [
            *scoped(filters, dialect, exclusions=False),
            table.c.closing_reason.in_([str(r) for r in EXCLUDED_REASONS]),
        ]
        summary.excluded = _counts(session, table.c.closing_reason, excluded)
    severity = facts.c.severity
    summary.durations = {
        "MTTD": sample_stats(session, facts, facts.c.detect, severity),
        "MTTA": sample_stats(session, facts, facts.c.acknowledge, severity),
        "MTTM": sample_stats(session, facts, facts.c.mitigate, severity),
    }
    with temporary(session, PERIODS, _periods(facts, dialect)) as periods:
        summary.durations["MTTR"] = sample_stats(
            session, periods, periods.c.secs, periods.c.severity
        )
    summary.misses = _misses(session, facts, policy)
    summary.reviews = _reviews(session, facts, policy)
    _actions(session, facts, summary, now.date())
    _satisfaction(session, facts, summary)
    summary.top_categories = _top(session, facts.c.category, [])
    summary.top_root_causes = _top(
        session, facts.c.root_cause_category, [facts.c.root_cause_category.is_not(None)]
    )
    summary.top_services = _top_services(session, facts, include_private)
    return summary


def _counts(session: Session, column: Any, where: list[Any]) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return {str(row[0]): int(row[1]) for row in rows}


def _flag(column: Any) -> ColumnElement[int]:
    return func.sum(case((column, 1), else_=0))


def _by_severity(session: Session, facts: Table, policy: Policy, summary: Summary) -> None:
    """Counts, target compliance and first-contact resolution, per severity, at once."""
    c = facts.c
    checks = _checks(policy, facts)
    (response_counted, response_met), (resolution_counted, resolution_met) = (
        checks["response"],
        checks["resolution"],
    )
    rows = session.execute(
        select(
            c.severity,
            func.count(),
            _flag(response_counted),
            _flag(and_(response_counted, response_met)),
            _flag(resolution_counted),
            _flag(and_(resolution_counted, resolution_met)),
            _flag(c.resolved),
            _flag(c.first_contact),
        ).group_by(c.severity)
    ).all()
    for row in rows:
        key = str(row[0])
        summary.by_severity[key] = int(row[1])
        summary.response[key] = Compliance(int(row[3] or 0), int(row[2] or 0))
        summary.resolution[key] = Compliance(int(row[5] or 0), int(row[4] or 0))
    summary.total = sum(summary.by_severity.values())
    for results in (summary.response, summary.resolution):
        results["*"] = Compliance(
            sum(v.met for v in results.values()), sum(v.counted for v in results.values())
        )
    summary.first_contact = Compliance(
        sum(int(row[7] or 0) for row in rows), sum(int(row[6] or 0) for row in rows)
    )


def _periods(facts: Table, dialect: str) -> Any:
    """Time to resolve per impact period (severity, seconds): the first from the
    declaration (already in the facts), a reopened one from its reopening."""
    period = ImpactPeriod.__table__  # type: ignore[attr-defined]
    later = seconds_between(dialect, period.c.started_at, period.c.ended_at)
    joined = facts.join(period, and_(period.c.incident_id == facts.c.id, period.c.ordinal > 1))
    first = select(facts.c.severity, facts.c.resolve).where(facts.c.resolve.is_not(None))
    reopened = (
        select(facts.c.severity, later).select_from(joined).where(period.c.ended_at.is_not(None))
    )
    return union_all(first, reopened)


def _misses(session: Session, facts: Table, policy: Policy) -> list[Miss]:
    table = Incident.__table__  # type: ignore[attr-defined]
    found: list[Miss] = []
    for kind, (counted, met) in _checks(policy, facts).items():
        rows = session.execute(
            select(
                table.c.reference,
                table.c.title,
                table.c.severity,
                table.c.is_private,
                table.c.channel_id,
                table.c.root_cause,
            )
            .select_from(facts.join(table, table.c.id == facts.c.id))
            .where(counted, not_(met))
            .order_by(table.c.declared_at)
            .limit(MAX_MISSES)
        ).all()
        found.extend(Miss(r[0], r[1], r[2], bool(r[3]), kind, r[4], r[5] or "") for r in rows)
    return found


def _reviews(session: Session, facts: Table, policy: Policy) -> Compliance:
    """Required reviews held within the business days (counted as the reminders count)."""
    table = Incident.__table__  # type: ignore[attr-defined]
    required = [key for key, severity in policy.severities.items() if severity.pir_required]
    if not required:
        return Compliance(0, 0)
    rows = session.execute(
        select(table.c.resolved_at, table.c.review_held_at)
        .select_from(facts.join(table, table.c.id == facts.c.id))
        .where(facts.c.severity.in_(required), table.c.resolved_at.is_not(None))
    ).all()
    days = policy.pir_review_within_business_days
    met = sum(
        1
        for resolved, held in rows
        if held is not None and _aware(held) <= business_days_after(_aware(resolved), days)
    )
    return Compliance(met, len(rows))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _actions(session: Session, facts: Table, summary: Summary, today: date) -> None:
    actions = ActionItem.__table__  # type: ignore[attr-defined]
    row = session.execute(
        select(
            func.count(actions.c.id),
            _flag(actions.c.state == "done"),
            _flag(and_(actions.c.state != "done", actions.c.due_date < today)),
        ).select_from(actions.join(facts, actions.c.incident_id == facts.c.id))
    ).one()
    summary.actions_total = int(row[0] or 0)
    summary.actions_done = int(row[1] or 0)
    summary.actions_overdue = int(row[2] or 0)


def _satisfaction(session: Session, facts: Table, summary: Summary) -> None:
    survey = SurveyResponse.__table__  # type: ignore[attr-defined]
    row = session.execute(
        select(func.avg(survey.c.rating), func.count(survey.c.rating))
        .select_from(survey.join(facts, survey.c.incident_id == facts.c.id))
        .where(survey.c.rating.is_not(None))
    ).one()
    summary.satisfaction = float(row[0]) if row[0] is not None else None
    summary.satisfaction_count = int(row[1] or 0)


def _top(session: Session, column: Any, where: list[Any], limit: int = 5) -> list[tuple[str, int]]:
    rows = session.execute(
        select(column, func.count())
        .where(*where)
        .group_by(column)
        .order_by(func.count().desc(), column)
        .limit(limit)
    ).all()
    return [(str(row[0]), int(row[1])) for row in rows]


def _top_services(
    session: Session, facts: Table, include_private: bool, limit: int = 5
) -> list[tuple[str, int]]:
    """Services named most (by private incidents too only if `include_private`); grouped
    in SQL by the text as typed, then split by comma."""
    where = [
        facts.c.services != "",
        *disclosure.detail_rows(facts.c.is_private, reader_sees_all=include_private),
    ]
    rows = session.execute(
        select(facts.c.services, func.count()).where(*where).group_by(facts.c.services)
    ).all()
    counted: Counter[str] = Counter()
    for text, count in rows:
        for name in {part.strip().lower() for part in str(text).split(",") if part.strip()}:
            counted[name] += int(count)
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:limit]
