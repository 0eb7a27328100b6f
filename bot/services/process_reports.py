"""A summary of the process as people read it: in Slack, Markdown, CSV, JSON or HTML.

Private incidents keep their titles out of anything shown to people who may not see them
(`visible` names the ones the reader may); counts always include them. Exports are in
UTC; the Slack summary names the period as the person asked for it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Container
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jinja2
from sqlalchemy import select
from sqlmodel import Session

from bot.models import Incident
from bot.policy import Policy, format_duration
from bot.render import TEMPLATES_DIR, render
from bot.services import disclosure, process_metrics
from bot.services.markdown_text import cell
from bot.services.process_charts import Chart
from bot.services.process_metrics import Compliance, Filters, Stats, Summary

METRICS = ("MTTD", "MTTA", "MTTM", "MTTR")


class Everything:
    """Every incident is visible (an export asked for with --include-private)."""

    def __contains__(self, reference: object) -> bool:
        return True


def duration(seconds: float | None) -> str:
    """Seconds as `1h30m` (`-` when there is no value)."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    return format_duration(timedelta(seconds=round(whole / 60) * 60))


def percent(value: Compliance | None) -> str:
    """`83% (5/6)`, or `-` when nothing counted."""
    if value is None or value.percent is None:
        return "-"
    return f"{value.percent:.0f}% ({value.met}/{value.counted})"


def change(now: int, before: int) -> str:
    """The change against the previous period, in words."""
    if before == 0:
        return "none before" if now == 0 else "new"
    ratio = (now - before) / before * 100
    return f"{ratio:+.0f}% vs {before}"


def trend_notes(summary: Summary, policy: Policy) -> list[str]:
    """What moved a lot against the previous period (volume at least doubled or halved)."""
    notes = []
    for key, severity in policy.severities.items():
        now = summary.by_severity.get(key, 0)
        before = summary.previous_by_severity.get(key, 0)
        if before >= 2 and now >= 2 * before:
            notes.append(f"{severity.label} volume {now / before:.1f} times the previous period")
        elif before >= 4 and now * 2 <= before:
            notes.append(f"{severity.label} volume down to {now} from {before}")
    targets = policy.process_targets
    mttd = summary.durations.get("MTTD", {}).get("*")
    if mttd is not None and mttd.median > targets.detect.total_seconds():
        limit = format_duration(targets.detect)
        notes.append(f"median time to detect {duration(mttd.median)}, over the {limit} target")
    fcr = summary.first_contact.percent
    if fcr is not None and fcr < targets.first_contact_resolution:
        goal = targets.first_contact_resolution
        notes.append(f"first-contact resolution {fcr:.0f}%, under the {goal:.0f}% target")
    if summary.satisfaction is not None and summary.satisfaction < targets.satisfaction:
        score, goal_score = summary.satisfaction, targets.satisfaction
        notes.append(f"satisfaction {score:.1f}/5, under the {goal_score:.1f} target")
    return notes


def shown_title(reference: str, title: str, is_private: bool, visible: Container[str]) -> str:
    """An incident's title, or only that it is private, for this reader (`disclosure`
    decides)."""
    return disclosure.listed_title(
        title, is_private=is_private, reader_may_see=reference in visible
    )


def context(
    summary: Summary, policy: Policy, label: str, visible: Container[str]
) -> dict[str, Any]:
    """What every format's template gets."""
    severities = [
        {
            "key": key,
            "label": severity.label,
            "count": summary.by_severity.get(key, 0),
            "change": change(
                summary.by_severity.get(key, 0), summary.previous_by_severity.get(key, 0)
            ),
            "durations": {m: summary.durations.get(m, {}).get(key) for m in METRICS},
            "response": summary.response.get(key),
            "resolution": summary.resolution.get(key),
        }
        for key, severity in policy.severities.items()
        if summary.by_severity.get(key) or summary.previous_by_severity.get(key)
    ]
    misses = [
        {
            "reference": miss.reference,
            "title": shown_title(miss.reference, miss.title, miss.is_private, visible),
            "severity": policy.severities[miss.severity].label
            if miss.severity in policy.severities
            else miss.severity,
            "target": miss.target,
            "channel_id": miss.channel_id
            if disclosure.shows_details(miss.is_private, miss.reference in visible)
            else None,
            "root_cause": miss.root_cause
            if disclosure.shows_details(miss.is_private, miss.reference in visible)
            else "",
        }
        for miss in summary.misses
    ]
    return {
        "label": label,
        "summary": summary,
        "severities": severities,
        "overall": {m: summary.durations.get(m, {}).get("*") for m in METRICS},
        "misses": misses,
        "notes": trend_notes(summary, policy),
        "definitions": process_metrics.DEFINITIONS,
        "duration": duration,
        "percent": percent,
        "change": change,
        "metrics": METRICS,
    }


def slack_text(summary: Summary, policy: Policy, label: str, visible: Container[str]) -> str:
    """The Slack summary (mrkdwn)."""
    if summary.total == 0 and not summary.excluded:
        return f"No incidents in {label}."
    return render("metrics_summary.j2", **context(summary, policy, label, visible))


@lru_cache(maxsize=2)
def _environment(html: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=html,  # noqa: S701 - Markdown is not HTML; the HTML template escapes
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["cell"] = cell
    return environment


def markdown(summary: Summary, policy: Policy, label: str, visible: Container[str]) -> str:
    """The report as Markdown."""
    template = _environment(False).get_template("report.md.j2")
    return template.render(**context(summary, policy, label, visible)).strip() + "\n"


def html(
    summary: Summary,
    policy: Policy,
    label: str,
    visible: Container[str],
    charts: list[Chart],
    generated_at: datetime,
) -> str:
    """The report as one self-contained HTML file, the charts embedded."""
    images = [
        {"title": chart.title, "data": base64.b64encode(chart.png).decode()} for chart in charts
    ]
    template = _environment(True).get_template("report.html.j2")
    return template.render(
        **context(summary, policy, label, visible), charts=images, generated_at=generated_at
    )


def _stats(stats: Stats | None) -> dict[str, float] | None:
    if stats is None:
        return None
    return {"count": stats.count, "median": stats.median, "p90": stats.p90, "mean": stats.mean}


def _compliance(value: Compliance | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"met": value.met, "counted": value.counted, "percent": value.percent}


def to_json(summary: Summary, policy: Policy, label: str, visible: Container[str]) -> str:
    """The aggregates as JSON (seconds, UTC)."""
    filters = summary.filters
    data = {
        "period": {
            "label": label,
            "start": filters.start.isoformat(),
            "end": filters.end.isoformat(),
            "severities": list(filters.severities),
            "categories": list(filters.categories),
            "services": list(filters.services),
            "include_all": filters.include_all,
        },
        "incidents": summary.total,
        "previous_period_incidents": summary.previous_total,
        "by_severity": summary.by_severity,
        "excluded": summary.excluded,
        "durations_seconds": {
            metric: {group: _stats(stats) for group, stats in groups.items()}
            for metric, groups in summary.durations.items()
        },
        "response_target": {k: _compliance(v) for k, v in summary.response.items()},
        "resolution_target": {k: _compliance(v) for k, v in summary.resolution.items()},
        "review_completion": _compliance(summary.reviews),
        "first_contact_resolution": _compliance(summary.first_contact),
        "actions": {
            "total": summary.actions_total,
            "done": summary.actions_done,
            "overdue": summary.actions_overdue,
        },
        "satisfaction": {"mean": summary.satisfaction, "responses": summary.satisfaction_count},
        "top_categories": summary.top_categories,
        "top_services": summary.top_services,
        "top_root_causes": summary.top_root_causes,
        "missed_targets": [
            {
                "reference": m.reference,
                "title": shown_title(m.reference, m.title, m.is_private, visible),
                "severity": m.severity,
                "target": m.target,
            }
            for m in summary.misses
        ],
        "definitions": dict(process_metrics.DEFINITIONS),
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


CSV_TIMES = (
    "declared_at",
    "impact_started_at",
    "acknowledged_at",
    "identified_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "review_held_at",
)


def to_csv(session: Session, filters: Filters, visible: Container[str]) -> str:
    """One row per incident: every lifecycle time (UTC) and the durations in seconds (a
    private incident the reader may not see: no title, category, services or root cause)."""
    table = Incident.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    columns = [
        table.c.reference,
        table.c.title,
        table.c.is_private,
        table.c.severity,
        table.c.priority,
        table.c.category,
        table.c.affected_services,
        table.c.status,
        table.c.closing_reason,
        table.c.root_cause_category,
        *(table.c[name] for name in CSV_TIMES),
    ]
    rows = session.execute(
        select(*columns)
        .where(*process_metrics.scoped(filters, dialect, exclusions=False))
        .order_by(table.c.declared_at)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "reference",
            "title",
            "private",
            "severity",
            "priority",
            "category",
            "services",
            "status",
            "closing_reason",
            "root_cause_category",
            *CSV_TIMES,
            "seconds_to_detect",
            "seconds_to_acknowledge",
            "seconds_to_mitigate",
            "seconds_to_resolve",
        ]
    )
    for row in rows:
        values = row._mapping
        times = {name: values[name] for name in CSV_TIMES}
        declared = times["declared_at"]

        def since(moment: datetime | None, start: datetime | None = declared) -> str:
            if moment is None or start is None:
                return ""
            return str(round((moment - start).total_seconds()))

        detect = ""
        if times["impact_started_at"] is not None and times["impact_started_at"] < declared:
            detect = since(declared, times["impact_started_at"])
        details = disclosure.shows_details(values["is_private"], values["reference"] in visible)
        writer.writerow(
            [
                values["reference"],
                shown_title(values["reference"], values["title"], values["is_private"], visible),
                "yes" if values["is_private"] else "no",
                values["severity"],
                values["priority"],
                values["category"] if details else "",
                values["affected_services"] if details else "",
                values["status"],
                values["closing_reason"] or "",
                (values["root_cause_category"] or "") if details else "",
                *(t.isoformat() if t is not None else "" for t in times.values()),
                detect,
                since(times["acknowledged_at"]),
                since(times["mitigated_at"]),
                since(times["resolved_at"]),
            ]
        )
    return out.getvalue()
