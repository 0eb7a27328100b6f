"""The incident process in numbers: MTTx, target compliance, reviews, actions, satisfaction.

Every figure is computed in SQL on either engine (nothing loads every incident): durations
are differences of the stamped lifecycle times, medians and p90s are read from a window
of ranked durations (two rows per percentile and group), counts are grouped in the
database. The definitions are written once, here (`DEFINITIONS`), and printed in the
README and at the foot of every report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    Table,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from bot.models import (
    EXCLUDED_REASONS,
    Incident,
)
from bot.services import disclosure

DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Counted",
        "incidents declared in the period. Those closed as false positive, duplicate, planned "
        "maintenance or test are listed apart and left out of every figure (unless "
        "--include-all); incidents closed before closing reasons existed count as real.",
    ),
    (
        "MTTD",
        "time to detect: declared - impact start, for incidents whose impact start is known "
        "before the declaration (an alert's start, or `/incident started`).",
    ),
    ("MTTA", "time to acknowledge: acknowledged - declared (a commander took it, or it moved on)."),
    ("MTTM", "time to mitigate: mitigated - declared (the incident reached monitoring)."),
    (
        "MTTR",
        "time to resolve: resolved - declared; a reopened incident counts each impact period "
        "again, from the reopening to its next resolution.",
    ),
    (
        "Median, p90, mean",
        "the middle value, the value 90 % stay under (both interpolated between the nearest "
        "two), and the average.",
    ),
    (
        "Response target met",
        "acknowledged within the severity's response target. An incident not acknowledged "
        "counts (as a miss) once its target has passed.",
    ),
    (
        "Resolution target met",
        "first resolved within the severity's resolution target. An unresolved incident "
        "counts (as a miss) once its target has passed.",
    ),
    (
        "Review completion",
        "resolved incidents whose severity requires a review, with the review held within "
        "the policy's business days of the resolution.",
    ),
    (
        "First-contact resolution",
        "resolved incidents with no severity escalation and no commander handoff.",
    ),
    ("Satisfaction", "the mean 1 to 5 rating of the post-incident survey."),
)

PERCENTILES = (0.5, 0.9)
# On SQLite, a period this long reads the incidents faster in table order than through the
# declared_at index (one random read per row).
LONG_PERIOD = timedelta(days=90)
MAX_MISSES = 50


@dataclass(frozen=True)
class Filters:
    """Which incidents count: a period [start, end) and optional narrowing."""

    start: datetime
    end: datetime
    severities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    include_all: bool = False

    def shifted_back(self) -> Filters:
        """The same filters over the period just before (as long as this one)."""
        length = self.end - self.start
        return Filters(
            self.start - length,
            self.start,
            self.severities,
            self.categories,
            self.services,
            self.include_all,
        )


@dataclass(frozen=True)
class Stats:
    """A duration's distribution, in seconds."""

    count: int
    median: float
    p90: float
    mean: float


@dataclass(frozen=True)
class Compliance:
    """How many counted incidents met a target."""

    met: int
    counted: int

    @property
    def percent(self) -> float | None:
        """Met as a percentage of counted (None when nothing counted)."""
        return 100.0 * self.met / self.counted if self.counted else None


@dataclass(frozen=True)
class Miss:
    """An incident that missed a target."""

    reference: str
    title: str
    severity: str
    is_private: bool
    target: str  # response or resolution
    channel_id: str | None
    root_cause: str


@dataclass
class Summary:
    """Everything `/incident metrics` and a report show for one set of filters."""

    filters: Filters
    # Whether private incidents' details count where the figures name them (top services):
    # only when the reader may see every private incident (`--include-private`).
    include_private: bool = False
    total: int = 0
    previous_total: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    previous_by_severity: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    durations: dict[str, dict[str, Stats]] = field(default_factory=dict)  # metric → group
    response: dict[str, Compliance] = field(default_factory=dict)  # severity or "*"
    resolution: dict[str, Compliance] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    reviews: Compliance = Compliance(0, 0)
    actions_total: int = 0
    actions_done: int = 0
    actions_overdue: int = 0
    first_contact: Compliance = Compliance(0, 0)
    satisfaction: float | None = None
    satisfaction_count: int = 0
    top_categories: list[tuple[str, int]] = field(default_factory=list)
    top_services: list[tuple[str, int]] = field(default_factory=list)
    top_root_causes: list[tuple[str, int]] = field(default_factory=list)


# -- SQL building blocks ---------------------------------------------------------------


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    """`end - start` in seconds, on either engine."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    # julianday is a double of days: rounded to the millisecond, exact seconds stay exact.
    return cast(func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3), Float)


def _services_column(dialect: str) -> ColumnElement[str]:
    """`,a,b,` from `A, b`: services as a comma-bounded lowercase list, for LIKE."""
    column = Incident.__table__.c.affected_services  # type: ignore[attr-defined]
    return literal(",") + func.replace(func.lower(column), " ", "") + literal(",")


def scoped(
    filters: Filters, dialect: str, *, exclusions: bool = True, use_index: bool = True
) -> list[Any]:
    """WHERE clauses for the incidents the filters count (`use_index=False`: compare an
    expression, so that the database reads the table in order instead of by index)."""
    table = Incident.__table__  # type: ignore[attr-defined]
    declared: Any = table.c.declared_at
    if not use_index:
        declared = func.coalesce(declared, declared)
    where: list[Any] = [declared >= filters.start, declared < filters.end]
    if filters.severities:
        where.append(table.c.severity.in_(filters.severities))
    if filters.categories:
        where.append(table.c.category.in_(filters.categories))
    if filters.services:
        services = _services_column(dialect)
        where.append(
            or_(*(services.like(f"%,{s.lower().replace(' ', '')},%") for s in filters.services))
        )
    if exclusions and not filters.include_all:
        where.append(
            or_(
                table.c.closing_reason.is_(None),
                table.c.closing_reason.not_in([str(r) for r in EXCLUDED_REASONS]),
            )
        )
    return where


@contextmanager
def temporary(session: Session, table: Table, rows: Any) -> Iterator[Table]:
    """A temporary table filled from a SELECT, for several aggregates to read; dropped at
    the end (it lives in the caller's transaction and connection)."""
    bind = session.connection()
    table.create(bind)
    try:
        session.execute(insert(table).from_select([c.name for c in table.columns], rows))
        yield table
    except BaseException:
        raise  # the rollback that follows takes the table with it (it was made in this
        # transaction), and PostgreSQL refuses any statement in a failed transaction
    else:
        table.drop(bind)


def sample_stats(
    session: Session, table: Table, secs: Any, group: Any, *, overall: bool = True
) -> dict[str, Stats]:
    """Median, p90 and mean of a column of a temporary table, per group and (with
    `overall`) for all ("*").

    PostgreSQL has `percentile_cont`; SQLite reads the two values around each percentile
    with `ORDER BY … LIMIT 2 OFFSET k` along an index (group, value), and (value) for all:
    no sort and no window. Both interpolate linearly between the nearest two.
    """
    present = secs.is_not(None)
    if session.get_bind().dialect.name == "postgresql":
        figures = [
            func.count(secs),
            func.avg(secs),
            *(func.percentile_cont(p).within_group(secs) for p in PERCENTILES),
        ]
        rows = list(session.execute(select(group, *figures).where(present).group_by(group)).all())
        if overall:
            rows.append(session.execute(select(literal("*"), *figures).where(present)).one())
        return {
            str(row[0]): Stats(int(row[1]), float(row[3]), float(row[4]), float(row[2]))
            for row in rows
            if row[1]
        }
    # Plain DDL: an Index object would stay attached to the (module-level) table.
    name = f"{table.name}_{secs.name}"
    session.execute(
        text(f'CREATE INDEX "ix_{name}_g" ON "{table.name}" ("{group.name}", "{secs.name}")')
    )
    if overall:
        session.execute(text(f'CREATE INDEX "ix_{name}" ON "{table.name}" ("{secs.name}")'))
    counts = session.execute(
        select(group, func.count(secs), func.avg(secs)).where(present).group_by(group)
    ).all()
    groups: list[tuple[str, Any, int, float]] = [
        (str(g), group == g, int(n), float(mean)) for g, n, mean in counts if n
    ]
    total = sum(n for _, _, n, _ in groups)
    if total and overall:
        mean = sum(m * n for _, _, n, m in groups) / total
        groups.append(("*", None, total, mean))
    # Every value needed, in one statement: two rows around each percentile of each group.
    parts = []
    for index, (_, where, n, _) in enumerate(groups):
        for p in PERCENTILES:
            low = (n - 1) * round(p * 10) // 10
            query = select(literal(f"{index}:{p}").label("tag"), secs.label("secs"))
            query = query.where(present) if where is None else query.where(present, where)
            parts.append(query.order_by(secs).limit(2).offset(low).subquery().select())
    values: dict[str, list[float]] = {}
    if parts:
        for tag, value in session.execute(union_all(*parts)).all():
            values.setdefault(str(tag), []).append(float(value))
    stats = {}
    for index, (name, _, n, mean) in enumerate(groups):
        found = []
        for p in PERCENTILES:
            low = (n - 1) * round(p * 10) // 10
            pair = sorted(values[f"{index}:{p}"])
            upper = pair[1] if len(pair) > 1 else pair[0]
            found.append(pair[0] + (p * (n - 1) - low) * (upper - pair[0]))
        stats[name] = Stats(n, found[0], found[1], mean)
    return stats


def known_services(session: Session) -> set[str]:
    """Every service an incident that is not private has named (lowercase, without spaces):
    a private incident's services are as telling as its title."""
    table = Incident.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select(table.c.affected_services)
        .where(
            table.c.affected_services != "",
            *disclosure.detail_rows(table.c.is_private, reader_sees_all=False),
        )
        .distinct()
    ).all()
    return {
        part.strip().lower().replace(" ", "")
        for (text,) in rows
        for part in str(text).split(",")
        if part.strip()
    }
