"""The process figures, computed in SQL, against incidents with known times."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.cli import main
from bot.db import Database
from bot.models import ActionItem, AuditEntry, ImpactPeriod, Incident, SurveyResponse
from bot.policy import default_policy
from bot.services import process_metrics, process_summary
from bot.services.declaration import DeclareInput, declare

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NOVEMBER = process_metrics.Filters(
    datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def _incident(
    session: Session, at: datetime, severity: str, category: str = "software", **fields: object
) -> Incident:
    data = DeclareInput(
        title=f"{severity} at {at:%d %H:%M}",
        severity=severity,
        category=category,
        impact="high",
        urgency="high",
        affected_services=str(fields.pop("services", "checkout")),
    )
    incident = declare(
        session=session,
        data=data,
        reporter_id="U0REPORTER",
        policy=default_policy(),
        now=at,
        impact_started_at=fields.pop("impact_started_at", None),  # type: ignore[arg-type]
    )
    resolved = fields.pop("resolved_after", None)
    for key, value in fields.items():
        setattr(incident, key, at + value if isinstance(value, timedelta) else value)
    if isinstance(resolved, timedelta):
        incident.resolved_at = at + resolved
        first = session.exec(
            select(ImpactPeriod).where(ImpactPeriod.incident_id == incident.id)
        ).one()
        first.ended_at = at + resolved
        session.add(first)
    session.add(incident)
    session.flush()
    return incident


@pytest.fixture
def story(db: Database) -> Database:
    """Five incidents in November 2026 with known times (one closed as a false positive)."""
    with db.session() as session:
        a = _incident(
            session,
            datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
            "sev1",
            impact_started_at=datetime(2026, 11, 2, 9, 55, tzinfo=UTC),
            acknowledged_at=10 * MIN,
            mitigated_at=HOUR,
            resolved_after=3 * HOUR,
            root_cause_category="change",
        )
        b = _incident(
            session,
            datetime(2026, 11, 5, 10, 0, tzinfo=UTC),
            "sev1",
            category="network",
            services="checkout, payments",
            acknowledged_at=20 * MIN,
            resolved_after=5 * HOUR,
            root_cause_category="change",
        )
        session.add(
            ImpactPeriod(
                incident_id=b.id,
                ordinal=2,
                started_at=b.declared_at + 6 * HOUR,
                ended_at=b.declared_at + 7 * HOUR,
            )
        )
        session.add(
            AuditEntry(
                incident_id=b.id,
                at=b.declared_at + HOUR,
                actor_id="U1",
                field="commander_id",
                old_value="U0FIRST",
                new_value="U0SECOND",
            )
        )
        c = _incident(
            session,
            datetime(2026, 11, 10, 10, 0, tzinfo=UTC),
            "sev2",
            acknowledged_at=30 * MIN,
            resolved_after=2 * HOUR,
            root_cause_category="capacity",
        )
        session.add(
            AuditEntry(
                incident_id=c.id,
                at=c.declared_at + MIN,
                actor_id="U1",
                field="severity",
                old_value="sev3",
                new_value="sev2",
            )
        )
        _incident(
            session,
            datetime(2026, 11, 12, 10, 0, tzinfo=UTC),
            "sev2",
            acknowledged_at=5 * MIN,
            resolved_after=HOUR,
            closing_reason="false_positive",
        )
        _incident(session, NOW - 30 * HOUR, "sev3", services="search")
        # Last month: for the change against the previous period.
        _incident(session, datetime(2026, 10, 20, 10, 0, tzinfo=UTC), "sev1")
        assert a.id is not None and c.id is not None
        session.add(
            ActionItem(
                incident_id=a.id,
                number=1,
                text="Add a canary",
                state="done",
                created_at=NOW,
                created_by="U1",
            )
        )
        session.add(
            ActionItem(
                incident_id=a.id,
                number=2,
                text="Alert on errors",
                due_date=datetime(2026, 11, 20).date(),
                created_at=NOW,
                created_by="U1",
            )
        )
        session.add(
            SurveyResponse(
                incident_id=a.id,
                user_id="U1",
                role="reporter",
                rating=4,
                sent_at=NOW,
                answered_at=NOW,
            )
        )
        session.add(
            SurveyResponse(
                incident_id=c.id,
                user_id="U1",
                role="reporter",
                rating=5,
                sent_at=NOW,
                answered_at=NOW,
            )
        )
    return db


def test_the_figures_match_the_definitions(story: Database) -> None:
    with story.session() as session:
        summary = process_summary.summarise(session, default_policy(), NOVEMBER, NOW)
    assert summary.by_severity == {"sev1": 2, "sev2": 1, "sev3": 1}
    assert (summary.total, summary.previous_total) == (4, 1)
    assert summary.excluded == {"false_positive": 1}
    mtta = summary.durations["MTTA"]
    assert mtta["*"] == process_metrics.Stats(3, 1200.0, 1680.0, 1200.0)
    assert mtta["sev1"] == process_metrics.Stats(2, 900.0, 1140.0, 900.0)
    mttr = summary.durations["MTTR"]["*"]
    assert (mttr.count, mttr.median, mttr.p90, mttr.mean) == (4, 9000.0, 15840.0, 9900.0)
    assert summary.durations["MTTD"]["*"] == process_metrics.Stats(1, 300.0, 300.0, 300.0)
    assert summary.durations["MTTM"]["*"].count == 1
    assert summary.response["*"] == process_metrics.Compliance(2, 4)
    assert summary.response["sev1"] == process_metrics.Compliance(1, 2)
    assert summary.response["sev3"] == process_metrics.Compliance(0, 1)
    assert summary.resolution["*"] == process_metrics.Compliance(2, 4)
    assert summary.response["*"].percent == 50.0
    missed = sorted((m.target, m.severity) for m in summary.misses)
    assert missed == [
        ("resolution", "sev1"),
        ("resolution", "sev3"),
        ("response", "sev1"),
        ("response", "sev3"),
    ]
    assert summary.first_contact == process_metrics.Compliance(1, 3)
    assert (summary.actions_total, summary.actions_done, summary.actions_overdue) == (2, 1, 1)
    assert (summary.satisfaction, summary.satisfaction_count) == (4.5, 2)
    assert summary.top_categories == [("software", 3), ("network", 1)]
    assert summary.top_root_causes == [("change", 2), ("capacity", 1)]
    assert summary.top_services == [("checkout", 3), ("payments", 1), ("search", 1)]
    # Sev1 and Sev2 need a review; none was held.
    assert summary.reviews == process_metrics.Compliance(0, 3)


def test_filters_and_include_all(story: Database) -> None:
    sev1 = process_metrics.Filters(NOVEMBER.start, NOVEMBER.end, severities=("sev1",))
    every = process_metrics.Filters(NOVEMBER.start, NOVEMBER.end, include_all=True)
    payments = process_metrics.Filters(NOVEMBER.start, NOVEMBER.end, services=("Payments",))
    with story.session() as session:
        assert process_summary.summarise(session, default_policy(), sev1, NOW).total == 2
        assert process_summary.summarise(session, default_policy(), every, NOW).total == 5
        assert process_summary.summarise(session, default_policy(), payments, NOW).total == 1


def test_the_charts_are_real_pngs_with_content(story: Database) -> None:
    import io

    from matplotlib import image

    from bot.services import process_charts

    with story.session() as session:
        summary = process_summary.summarise(session, default_policy(), NOVEMBER, NOW)
        charts = process_charts.charts(session, default_policy(), summary)
        volume = process_charts.weekly_volume(session, NOVEMBER)
    assert [c.filename for c in charts] == [
        "incidents-per-week.png",
        "mtta-mttr-trend.png",
        "targets-met.png",
        "services-against-baseline.png",
    ]
    # Weeks start on Monday (UTC): 2 Nov is a Monday, 5 Nov in the same week.
    assert volume["2026-11-02"] == {"sev1": 2}
    assert volume["2026-11-23"] == {"sev3": 1}
    with story.session() as session:
        medians = process_charts.weekly_medians(session, NOVEMBER)
    assert medians["MTTA"]["2026-11-02"] == 15.0 and medians["MTTR"]["2026-11-02"] == 240.0
    assert medians["MTTA"]["2026-11-09"] == 30.0 and medians["MTTR"]["2026-11-09"] == 120.0
    for chart in charts:
        assert chart.png.startswith(b"\x89PNG\r\n\x1a\n")
        pixels = image.imread(io.BytesIO(chart.png))
        assert pixels.shape[:2] == (450, 800)
        assert len({tuple(p) for p in pixels.reshape(-1, pixels.shape[2])[::97]}) > 5


def test_the_report_command_in_every_format(
    story: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", story.engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("INCIDENT_BOT_CONFIG", raising=False)
    period = ["report", "--from", "2026-11-01", "--to", "2026-11-30"]
    assert main([*period, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["incidents"] == 4 and data["excluded"] == {"false_positive": 1}
    assert data["durations_seconds"]["MTTA"]["*"] == {
        "count": 3,
        "median": 1200.0,
        "p90": 1680.0,
        "mean": 1200.0,
    }
    assert data["response_target"]["*"]["percent"] == 50.0
    assert "MTTR" in data["definitions"]
    assert main([*period, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 5  # the false positive too, marked by its closing reason
    first = rows[0]
    assert first["declared_at"] == "2026-11-02T10:00:00+00:00"
    assert first["seconds_to_acknowledge"] == "600" and first["seconds_to_detect"] == "300"
    assert [r["closing_reason"] for r in rows].count("false_positive") == 1
    assert main([*period, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# Incident report: 2026-11-01 to 2026-11-30 (UTC)")
    assert "| MTTA | 20m | 28m | 20m | 3 |" in markdown and "## Definitions" in markdown
    out = tmp_path / "report.html"
    assert main([*period, "--format", "html", "--output", str(out)]) == 0
    page = out.read_text()
    assert page.count('src="data:image/png;base64,') == 4 and "<script" not in page
    assert main(["report", "--from", "2026-11-30", "--to", "2026-11-01"]) == 2
    assert "--to is before --from" in capsys.readouterr().err
    assert main([*period, "--severity", "sev9"]) == 2


def test_private_titles_stay_out_of_exports_unless_asked(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.session() as session:
        _incident(session, datetime(2026, 11, 3, 9, 0, tzinfo=UTC), "sev1", is_private=True)
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    period = ["report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv"]
    assert main(period) == 0
    hidden = capsys.readouterr().out
    assert "sev1 at 03 09:00" not in hidden and "a private incident" in hidden
    assert main([*period, "--include-private"]) == 0
    assert "sev1 at 03 09:00" in capsys.readouterr().out


def _public_and_private(db: Database) -> None:
    """A public incident naming checkout, a private one naming its own services."""
    with db.session() as session:
        _incident(session, datetime(2026, 11, 3, 9, 0, tzinfo=UTC), "sev2", services="checkout")
        _incident(
            session,
            datetime(2026, 11, 4, 9, 0, tzinfo=UTC),
            "sev1",
            "security",
            services="payroll-db, HR portal",
            root_cause_category="security",
            is_private=True,
        )


def test_private_details_stay_out_of_report_exports_unless_asked(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _public_and_private(db)
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    period = ["report", "--from", "2026-11-01", "--to", "2026-11-30", "--format"]

    def rows(*extra: str) -> dict[str, tuple[str, ...]]:
        assert main([*period, "csv", *extra]) == 0
        found = csv.DictReader(io.StringIO(capsys.readouterr().out))
        keys = ("category", "services", "root_cause_category")
        return {row["private"]: tuple(row[key] for key in keys) for row in found}

    assert rows() == {"no": ("software", "checkout", ""), "yes": ("", "", "")}
    assert rows("--include-private")["yes"] == ("security", "payroll-db, HR portal", "security")

    assert main([*period, "json"]) == 0
    hidden = capsys.readouterr().out
    assert json.loads(hidden)["incidents"] == 2  # counted all the same
    assert json.loads(hidden)["top_services"] == [["checkout", 1]]
    assert main([*period, "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "- Top services: checkout (1)\n" in markdown
    for text in (hidden, markdown):
        assert "payroll" not in text and "hr portal" not in text.lower()
    assert main([*period, "json", "--include-private"]) == 0
    assert json.loads(capsys.readouterr().out)["top_services"] == [
        ["checkout", 1],
        ["hr portal", 1],
        ["payroll-db", 1],
    ]
    assert main([*period, "markdown", "--include-private"]) == 0
    assert "- Top services: checkout (1), hr portal (1), payroll-db (1)\n" in (
        capsys.readouterr().out
    )


def test_private_services_stay_out_of_the_services_chart_unless_asked(db: Database) -> None:
    from bot.services import process_charts

    _public_and_private(db)
    policy = default_policy()
    checkout_only = process_charts.service_chart(NOVEMBER, {"checkout": {"2026-11-02": 1}}).png

    def services_chart(summary: process_metrics.Summary) -> bytes:
        (chart,) = [
            c
            for c in process_charts.charts(session, policy, summary)
            if c.filename == "services-against-baseline.png"
        ]
        return chart.png

    with db.session() as session:
        hidden = process_summary.summarise(session, policy, NOVEMBER, NOW)
        assert services_chart(hidden) == checkout_only
        assert hidden.total == 2 and hidden.top_services == [("checkout", 1)]
        shown = process_summary.summarise(session, policy, NOVEMBER, NOW, include_private=True)
        assert ("payroll-db", 1) in shown.top_services
        assert services_chart(shown) != checkout_only


def test_periods_are_read_in_the_persons_time_zone() -> None:
    from zoneinfo import ZoneInfo

    from bot.errors import UserError
    from bot.services.report_periods import parse, period

    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # already 1 December in Berlin
    start, end, label = period(["this", "month"], now=now, tz=berlin)
    assert (start, label) == (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), "December 2026 so far")
    start, end, label = period(["last", "month"], now=now, tz=berlin)
    assert (start, end) == (
        datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
    )
    start, end, label = period(["2026-q3"], now=now, tz=berlin)
    assert label == "2026 Q3" and start == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    request = parse(
        "last month sev1 category:network --include-all",
        default_policy(),
        now=now,
        tz="Europe/Berlin",
    )
    assert request.filters.severities == ("sev1",) and request.filters.include_all
    with pytest.raises(UserError, match="not something I can filter by"):
        parse("--everything", default_policy(), now=now, tz=None)


def test_a_report_schedule_in_bad_syntax_is_refused(tmp_path: Path) -> None:
    from bot.errors import ConfigError
    from bot.policy import load_policy

    path = tmp_path / "policy.yml"
    path.write_text(
        "reports:\n  - {name: monthly, channel: '#ops', schedule: 'every first monday'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert "reports.0.schedule" in str(caught.value) and "monthly on 1 at 09:00" in str(
        caught.value
    )


def test_the_readme_prints_the_definitions_as_the_code_has_them() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for name, text in process_metrics.DEFINITIONS:
        assert f"| {name} | {text} |" in readme
