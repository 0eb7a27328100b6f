"""Charts of the process figures, as PNG images (matplotlib, the Agg backend).

Weekly volume by severity; MTTA and MTTR medians by week with the targets drawn; target
compliance by severity; and each service's weekly volume against its own trailing
12-week median, so a service that is watched closely is compared with itself (the services
of private incidents only when the summary includes private incidents, as its top services
do). The series come from SQL grouped by week (weeks start on Monday, in UTC).
"""

from __future__ import annotations

import io
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from sqlalchemy import Column, Float, MetaData, String, Table, and_, func, literal, select
from sqlmodel import Session

from bot.models import ImpactPeriod, Incident
from bot.policy import Policy
from bot.services import disclosure, process_metrics
from bot.services.process_metrics import LONG_PERIOD, Filters, Summary

WIDTH, HEIGHT, DPI = 8, 4.5, 100  # 800 x 450 pixels: readable on a phone
COLOURS = ("#b91c1c", "#ea580c", "#ca8a04", "#2563eb", "#7c3aed", "#0d9488", "#6b7280")
BASELINE_WEEKS = 12
MAX_SERVICES = 6


@dataclass(frozen=True)
class Chart:
    """A rendered chart."""

    filename: str
    title: str
    png: bytes


def week_of(dialect: str, column: Any) -> Any:
    """The Monday (UTC) of a timestamp's week, as `YYYY-MM-DD` text."""
    if dialect == "postgresql":
        return func.to_char(
            func.date_trunc("week", func.timezone("UTC", column)), literal("YYYY-MM-DD")
        )
    return func.date(column, "weekday 0", "-6 days")


def _indexed(filters: Filters, dialect: str) -> bool:
    """Whether to read the period's incidents by index (short periods) or in table order."""
    return dialect != "sqlite" or filters.end - filters.start < LONG_PERIOD


def _weeks(start: datetime, end: datetime) -> list[date]:
    first = start.date() - timedelta(days=start.weekday())
    weeks = []
    day = first
    while datetime(day.year, day.month, day.day, tzinfo=start.tzinfo) < end:
        weeks.append(day)
        day += timedelta(days=7)
    return weeks


def weekly_volume(session: Session, filters: Filters) -> dict[str, dict[str, int]]:
    """Incidents per week and severity."""
    dialect = session.get_bind().dialect.name
    table = Incident.__table__  # type: ignore[attr-defined]
    week = week_of(dialect, table.c.declared_at)
    rows = session.execute(
        select(week, table.c.severity, func.count())
        .where(*process_metrics.scoped(filters, dialect, use_index=_indexed(filters, dialect)))
        .group_by(week, table.c.severity)
    ).all()
    found: dict[str, dict[str, int]] = {}
    for monday, severity, count in rows:
        found.setdefault(str(monday), {})[str(severity)] = int(count)
    return found


def weekly_medians(session: Session, filters: Filters) -> dict[str, dict[str, float]]:
    """MTTA and MTTR (first resolution) medians per week, in minutes."""
    dialect = session.get_bind().dialect.name
    table = Incident.__table__  # type: ignore[attr-defined]
    period = ImpactPeriod.__table__  # type: ignore[attr-defined]
    first = period.alias("first_period")
    declared = table.c.declared_at
    rows = (
        select(
            week_of(dialect, declared),
            process_metrics.seconds_between(dialect, declared, table.c.acknowledged_at),
            process_metrics.seconds_between(dialect, declared, first.c.ended_at),
        )
        .select_from(
            table.outerjoin(first, and_(first.c.incident_id == table.c.id, first.c.ordinal == 1))
        )
        .where(*process_metrics.scoped(filters, dialect, use_index=_indexed(filters, dialect)))
    )
    if dialect == "postgresql":
        # percentile_cont per week, straight from the incidents (it skips NULLs).
        inner = rows.subquery("samples")
        week_, ack_, res_ = inner.c
        medians = session.execute(
            select(
                week_,
                func.percentile_cont(0.5).within_group(ack_),
                func.percentile_cont(0.5).within_group(res_),
            ).group_by(week_)
        ).all()
        return {
            metric: {
                str(row[0]): float(row[index]) / 60 for row in medians if row[index] is not None
            }
            for metric, index in (("MTTA", 1), ("MTTR", 2))
        }
    weeks = Table(
        "process_weeks",
        MetaData(),
        Column("week", String(10)),
        Column("acknowledge", Float),
        Column("resolve", Float),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    found: dict[str, dict[str, float]] = {}
    with process_metrics.temporary(session, weeks, rows) as table_:
        for metric, column in (("MTTA", table_.c.acknowledge), ("MTTR", table_.c.resolve)):
            stats = process_metrics.sample_stats(
                session, table_, column, table_.c.week, overall=False
            )
            found[metric] = {week: value.median / 60 for week, value in stats.items()}
    return found


def service_weeks(
    session: Session, filters: Filters, *, include_private: bool = False
) -> dict[str, dict[str, int]]:
    """Incidents per service and week, from 12 weeks before the period to its end (private
    incidents only with `include_private`)."""
    dialect = session.get_bind().dialect.name
    table = Incident.__table__  # type: ignore[attr-defined]
    wider = Filters(
        filters.start - timedelta(weeks=BASELINE_WEEKS),
        filters.end,
        filters.severities,
        filters.categories,
        filters.services,
        filters.include_all,
    )
    week = week_of(dialect, table.c.declared_at)
    where = [
        *process_metrics.scoped(wider, dialect, use_index=_indexed(wider, dialect)),
        table.c.affected_services != "",
        *disclosure.detail_rows(table.c.is_private, reader_sees_all=include_private),
    ]
    rows = session.execute(
        select(week, table.c.affected_services, func.count())
        .where(*where)
        .group_by(week, table.c.affected_services)
    ).all()
    found: dict[str, dict[str, int]] = {}
    for monday, text, count in rows:
        for name in {p.strip().lower() for p in str(text).split(",") if p.strip()}:
            weeks = found.setdefault(name, {})
            weeks[str(monday)] = weeks.get(str(monday), 0) + int(count)
    return found


def _figure(title: str) -> tuple[Figure, Any]:
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    # Fixed margins: a layout engine (tight, constrained) costs more than the drawing.
    figure.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.2)
    axes = figure.subplots()
    axes.set_title(title, fontsize=14, loc="left")
    axes.tick_params(labelsize=10)
    axes.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


MAX_TICKS = 14


def _ticks(axes: Any, weeks: list[date]) -> None:
    """Week labels under the x axis, at most `MAX_TICKS` of them (a year has 53 weeks)."""
    step = max(1, -(-len(weeks) // MAX_TICKS))
    shown = list(range(0, len(weeks), step))
    axes.set_xticks(shown, [weeks[i].strftime("%d %b") for i in shown], rotation=45, ha="right")
    axes.set_xlim(-0.6, max(len(weeks) - 0.4, 0.4))


def volume_chart(policy: Policy, filters: Filters, volume: dict[str, dict[str, int]]) -> Chart:
    """Weekly incident volume, stacked by severity."""
    weeks = _weeks(filters.start, filters.end)
    figure, axes = _figure("Incidents per week, by severity")
    bottom = [0] * len(weeks)
    positions = list(range(len(weeks)))
    for index, (key, severity) in enumerate(policy.severities.items()):
        heights = [volume.get(week.isoformat(), {}).get(key, 0) for week in weeks]
        if not any(heights):
            continue
        axes.bar(
            positions,
            heights,
            bottom=bottom,
            label=severity.label,
            color=COLOURS[index % len(COLOURS)],
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    _ticks(axes, weeks)
    axes.set_ylabel("incidents")
    if any(bottom):
        axes.legend(fontsize=10, frameon=False)
    else:
        axes.text(0.5, 0.5, "No incidents", transform=axes.transAxes, ha="center", fontsize=14)
    return Chart("incidents-per-week.png", "Incidents per week", _png(figure))


def trend_chart(policy: Policy, filters: Filters, medians: dict[str, dict[str, float]]) -> Chart:
    """MTTA and MTTR medians per week, with the targets as lines."""
    weeks = _weeks(filters.start, filters.end)
    figure, axes = _figure("Median time to acknowledge and to resolve (minutes)")
    positions = list(range(len(weeks)))
    for index, metric in enumerate(("MTTA", "MTTR")):
        values = [medians[metric].get(week.isoformat()) for week in weeks]
        points = [(x, v) for x, v in zip(positions, values, strict=True) if v is not None]
        if points:
            axes.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker="o",
                label=metric,
                color=COLOURS[3 + index],
                linewidth=2,
            )
    keys = list(filters.severities) or list(policy.severities)[:1]
    severity = policy.severity(keys[0])
    axes.axhline(
        severity.response_target.total_seconds() / 60,
        color=COLOURS[3],
        linestyle="--",
        label=f"{severity.label} response target",
    )
    axes.axhline(
        severity.resolution_target.total_seconds() / 60,
        color=COLOURS[4],
        linestyle="--",
        label=f"{severity.label} resolution target",
    )
    _ticks(axes, weeks)
    axes.set_yscale("symlog", linthresh=10)
    axes.legend(fontsize=9, frameon=False)
    return Chart("mtta-mttr-trend.png", "MTTA and MTTR", _png(figure))


def compliance_chart(policy: Policy, summary: Summary) -> Chart:
    """Response and resolution target compliance by severity, in percent."""
    figure, axes = _figure("Targets met, by severity (%)")
    keys = [key for key in policy.severities if key in summary.by_severity]
    positions = list(range(len(keys)))
    for offset, (name, results, colour) in enumerate(
        (("response", summary.response, COLOURS[3]), ("resolution", summary.resolution, COLOURS[4]))
    ):
        values = [(results.get(k) or process_metrics.Compliance(0, 0)).percent or 0 for k in keys]
        axes.bar(
            [p + offset * 0.4 - 0.2 for p in positions], values, width=0.4, label=name, color=colour
        )
    axes.set_xticks(positions, [policy.severity(k).label for k in keys])
    axes.set_ylim(0, 105)
    if keys:
        axes.legend(fontsize=10, frameon=False)
    else:
        axes.text(0.5, 0.5, "No incidents", transform=axes.transAxes, ha="center", fontsize=14)
    return Chart("targets-met.png", "Targets met", _png(figure))


def service_chart(filters: Filters, weeks_by_service: dict[str, dict[str, int]]) -> Chart:
    """Each service's weekly volume divided by its trailing 12-week median (1 = usual)."""
    weeks = _weeks(filters.start, filters.end)
    figure, axes = _figure("Incidents per week against each service's own 12-week median")
    positions = list(range(len(weeks)))
    busiest = sorted(weeks_by_service, key=lambda s: -sum(weeks_by_service[s].values()))
    for index, service in enumerate(busiest[:MAX_SERVICES]):
        counts = weeks_by_service[service]
        ratios = []
        for week in weeks:
            trailing = [
                counts.get((week - timedelta(weeks=back)).isoformat(), 0)
                for back in range(1, BASELINE_WEEKS + 1)
            ]
            baseline = max(statistics.median(trailing), 1.0)  # a quiet service: per incident
            ratios.append(counts.get(week.isoformat(), 0) / baseline)
        axes.plot(
            positions,
            ratios,
            marker="o",
            label=service[:30],
            color=COLOURS[index % len(COLOURS)],
            linewidth=2,
        )
    axes.axhline(1.0, color="#111827", linestyle=":", linewidth=1)
    _ticks(axes, weeks)
    axes.set_ylabel("times its usual weekly volume")
    if busiest:
        axes.legend(fontsize=9, frameon=False)
    else:
        axes.text(0.5, 0.5, "No services named", transform=axes.transAxes, ha="center", fontsize=14)
    return Chart("services-against-baseline.png", "Services against their baseline", _png(figure))


def charts(session: Session, policy: Policy, summary: Summary) -> list[Chart]:
    """All four charts for a summary."""
    filters = summary.filters
    return [
        volume_chart(policy, filters, weekly_volume(session, filters)),
        trend_chart(policy, filters, weekly_medians(session, filters)),
        compliance_chart(policy, summary),
        service_chart(
            filters, service_weeks(session, filters, include_private=summary.include_private)
        ),
    ]


__all__ = ["Chart", "charts"]
