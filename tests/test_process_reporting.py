"""Measuring the process through Slack: `/incident metrics`, closing reasons, the survey,
scheduled reports, and `GET /metrics`."""

from __future__ import annotations

import urllib.request
from datetime import timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from bot.clock import ManualClock
from bot.models import Incident, ReportRun, SurveyResponse
from bot.scheduler import sweep
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.support import reply_to, run_command


def _resolve_and_close(bot: Harness, incident: Incident, close: str) -> None:
    fake = bot.fake
    channel = incident.channel_id
    assert channel is not None
    before = len(fake.opened_views(fake.alice))
    run_command(bot, fake.alice, channel, "resolve")
    form = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    assert any(b.get("block_id") == "root_cause_category" for b in form["blocks"])
    delivery = bot.submit(
        fake.alice,
        form,
        {
            "resolution": "Rolled back",
            "root_cause": "A bad deploy",
            "root_cause_category": "change",
            "impact_summary": "Checkout down 10 minutes",
        },
    )
    assert delivery.status == 200 and not (delivery.json or {}).get("errors")
    wait_for(lambda: bot.incident(incident.reference).status == "resolved")  # type: ignore[union-attr]
    run_command(bot, fake.alice, channel, f"close {close}")
    wait_for(lambda: bot.incident(incident.reference).status == "closed")  # type: ignore[union-attr]


def _files_in(fake: Any, channel: str) -> list[Any]:
    return [f for f in fake.files.values() if f.completed and channel in f.shares]


def test_metrics_in_slack_privately_and_shared(bot: Harness, clock: ManualClock) -> None:
    fake = bot.fake
    first = bot.declare(fake.alice, title="Checkout fails", affected_services="checkout")
    second = bot.declare(fake.alice, title="Search slow", severity="sev3")
    clock.advance(timedelta(minutes=20))
    _resolve_and_close(bot, first, "resolved")
    _resolve_and_close(bot, second, "false-positive")
    text = reply_to(bot, fake.alice, fake.incidents, "metrics 7d")
    assert text.startswith(":bar_chart: *Incidents in the last 7 days*: 1 (new the period before)")
    assert "not counted: 1 false positive" in text
    assert "*Sev2*: 1" in text and "Top root causes: change (1)" in text
    assert "MTTR 20m" in text
    dm = fake.dm_channel(fake.alice)
    charts = wait_for(lambda: _files_in(fake, dm))
    assert sorted(f.name for f in charts) == [
        "incidents-per-week.png",
        "mtta-mttr-trend.png",
        "services-against-baseline.png",
        "targets-met.png",
    ]
    assert all((f.data or b"").startswith(b"\x89PNG") for f in charts)
    # --share: the summary in the channel, the charts in its thread.
    shared = reply_to(bot, fake.alice, fake.general, "metrics 7d --share")
    assert shared == "Posted the figures for the last 7 days in this channel."
    posted = wait_for(lambda: [m for m in fake.messages(fake.general) if "Incidents in" in m.text])
    assert len(posted) == 1
    wait_for(lambda: _files_in(fake, fake.general))


def test_metrics_answers_bad_requests_plainly(bot: Harness) -> None:
    fake = bot.fake
    bot.declare(fake.alice, affected_services="checkout, payments")
    unknown = reply_to(bot, fake.alice, fake.incidents, "metrics fortnight")
    assert "`fortnight` is not something I can filter by" in unknown and "`30d`" in unknown
    category = reply_to(bot, fake.alice, fake.incidents, "metrics category:weather")
    assert "not a category" in category and "software" in category
    service = reply_to(bot, fake.alice, fake.incidents, "metrics service:nosuch")
    assert "No incident has named the service `nosuch`" in service
    assert "checkout, payments" in service
    empty = reply_to(bot, fake.alice, fake.incidents, "metrics 2020-01")
    assert empty == "No incidents in January 2020."
    helped = reply_to(bot, fake.alice, fake.incidents, "metrics help")
    assert "*MTTR*" in helped and "each impact period" in helped


def test_metrics_leave_private_incidents_services_out(bot: Harness) -> None:
    fake = bot.fake
    bot.declare(fake.alice, affected_services="checkout")
    bot.declare(
        fake.alice, title="Payroll export", affected_services="payroll-db", is_private=["private"]
    )
    unknown = reply_to(bot, fake.alice, fake.incidents, "metrics service:nosuch")
    assert "Services named so far: checkout." in unknown
    # Nor does a guess confirm that some private incident named it.
    guessed = reply_to(bot, fake.alice, fake.incidents, "metrics service:payroll-db")
    assert "No incident has named the service `payroll-db`" in guessed
    text = reply_to(bot, fake.alice, fake.incidents, "metrics 7d")
    assert "*: 2" in text  # counted all the same
    assert "Top services: checkout (1)" in text and "payroll" not in text


def test_the_survey_on_close_feeds_satisfaction(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    bot = start_bot(fake_slack, database_url, clock=clock, sweep=True)
    fake = fake_slack
    try:
        incident = bot.declare(fake.alice)
        _resolve_and_close(bot, incident, "resolved")
        dm = fake.dm_channel(fake.alice)
        survey = wait_for(lambda: [m for m in fake.messages(dm) if "How well was it" in m.text])
        assert len(survey) == 1
        fake.send_block_action(fake.alice, "survey_rate:4", channel_id=dm, message_ts=survey[0].ts)
        wait_for(lambda: any("you rated" in m.text for m in fake.messages(dm)))
        before = len(fake.opened_views(fake.alice))
        fake.send_block_action(fake.alice, "survey_comment", channel_id=dm, message_ts=survey[0].ts)
        form = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
        bot.submit(fake.alice, form, {"comment": "Fast & clear <updates>"})

        def answered() -> SurveyResponse | None:
            with bot.db.session() as session:
                row = session.exec(select(SurveyResponse)).first()
            return row if row is not None and row.comment else None

        row = wait_for(answered)
        assert (row.rating, row.comment, row.role) == (4, "Fast & clear <updates>", "reporter")
        text = reply_to(bot, fake.alice, fake.incidents, "metrics 7d")
        assert "satisfaction 4.0/5 (1 answers)" in text
    finally:
        bot.runtime.stop()


def test_a_scheduled_report_is_posted_once_across_restarts_and_replicas(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    reports = [{"name": "daily", "channel": fake.general, "schedule": "daily at 08:00 UTC"}]
    policy = make_policy(announcement_channel=fake.incidents, reports=reports)
    first = start_bot(fake, database_url, clock=clock, policy=policy)
    try:
        yesterday = clock.now().replace(hour=10, minute=0) - timedelta(days=1)
        clock.set(yesterday)
        first.declare(fake.alice, title="Yesterday's outage")
        clock.set(yesterday.replace(hour=0) + timedelta(days=1, hours=8, minutes=1))
        sweep(first.ctx)
        sweep(first.ctx)
    finally:
        first.runtime.stop()
    second = start_bot(fake, database_url, clock=clock, policy=policy)
    third = start_bot(fake, database_url, clock=clock, policy=policy)
    try:
        sweep(second.ctx)
        sweep(third.ctx)
        posts = [m for m in fake.messages(fake.general) if "Report daily" in m.text]
        assert len(posts) == 1
        assert "Incidents in " in posts[0].text and "*: 1" in posts[0].text
        wait_for(lambda: _files_in(fake, fake.general))
        with second.db.session() as session:
            runs = session.exec(select(ReportRun)).all()
        assert [(r.report, r.state) for r in runs] == [("daily", "done")]
    finally:
        second.runtime.stop()
        third.runtime.stop()


def _scrape(bot: Harness) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{bot.runtime.port}/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_prometheus_metrics_parse_and_move(bot: Harness, clock: ManualClock) -> None:
    before = _scrape(bot)
    declared = before["incident_bot_incidents_declared"]
    assert [s for s in declared.samples if s.value] == []
    bot.declare(bot.fake.alice)
    after = _scrape(bot)
    counts = {
        (s.labels["severity"], s.labels["category"]): s.value
        for s in after["incident_bot_incidents_declared"].samples
        if s.name.endswith("_total")
    }
    assert counts == {("sev2", "software"): 1.0}
    opened = {s.labels["status"]: s.value for s in after["incident_bot_open_incidents"].samples}
    assert opened == {"reported": 1.0}
    calls = after["incident_bot_slack_api_calls"].samples
    assert any(s.labels["method"] == "conversations.create" and s.value >= 1 for s in calls)
    assert "incident_bot_sweep_lag_seconds" in after
    assert "incident_bot_time_to_acknowledge_seconds" in after
    assert "incident_bot_alert_inbox_rows" in after


def test_metrics_are_served_in_socket_mode(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    bot = start_bot(fake_slack, database_url, via="socket", clock=clock)
    try:
        assert "incident_bot_open_incidents" in _scrape(bot)
    finally:
        bot.runtime.stop()
