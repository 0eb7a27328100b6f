"""Paging through PagerDuty's Events API v2, against a local endpoint that checks every
event against the schema: trigger, acknowledge, resolve, escalation pages, 429/5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import ManualClock
from bot.integrations import pagerduty
from bot.models import Incident, ScheduledTask, TaskState
from bot.policy import Policy
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.fakepagerduty import FakePagerDuty
from tests.fakeslack import FakeSlack
from tests.support import comms_entries, resolve_by_form, run_command, sweep_and_settle, tasks_of

ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey32"
KEY_ENV = "TEST_PAGERDUTY_ROUTING_KEY"


@pytest.fixture
def pd(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePagerDuty]:
    monkeypatch.setenv(KEY_ENV, ROUTING_KEY)
    fake = FakePagerDuty().start()
    try:
        yield fake
    finally:
        fake.stop()


def _policy(fake: FakeSlack, pd: FakePagerDuty, *, step_pages: bool = False) -> Policy:
    data = make_policy(announcement_channel=fake.incidents).model_dump(mode="json")
    data["paging"] = {"routing_key_env": KEY_ENV, "events_url": pd.url, "source": "shop-prod"}
    if step_pages:
        data["severities"]["sev2"]["escalation"][0]["page"] = True
    return Policy.model_validate(data)


def _bot(fake: FakeSlack, database_url: str, clock: ManualClock, policy: Policy) -> Harness:
    return start_bot(fake, database_url, clock=clock, policy=policy)


def page_tasks(bot: Harness, incident: Incident) -> list[ScheduledTask]:
    return tasks_of(bot, incident, "page")


def test_sev1_is_triggered_acknowledged_and_resolved_with_one_dedup_key(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, pd: FakePagerDuty
) -> None:
    fake = fake_slack
    with _bot(fake, database_url, clock, _policy(fake, pd)) as bot:
        incident = bot.declare(
            fake.alice,  # type: ignore[attr-defined]
            severity="sev1",
            title="Checkout is down",
            affected_services="checkout",
        )
        channel = incident.channel_id
        assert channel is not None
        key = f"incident-bot/{incident.reference}"
        sweep_and_settle(bot, clock, incident.declared_at)
        assert pd.actions() == [("trigger", key)]
        (trigger,) = pd.events
        assert trigger["routing_key"] == ROUTING_KEY
        assert trigger["payload"]["severity"] == "critical"
        assert trigger["payload"]["source"] == "shop-prod"
        assert trigger["payload"]["component"] == "checkout"
        assert trigger["payload"]["summary"] == f"{incident.reference} (Sev1): Checkout is down"
        assert trigger["links"][0]["href"].endswith(channel)

        run_command(bot, fake.alice, channel, f"role commander <@{fake.bob}|bob>")  # type: ignore[attr-defined]
        wait_for(lambda: (bot.incident(incident.reference) or incident).commander_id)
        sweep_and_settle(bot, clock, clock.now() + timedelta(minutes=1))
        assert pd.actions() == [("trigger", key), ("acknowledge", key)]

        resolve_by_form(bot, incident, resolution="Rolled back")
        sweep_and_settle(bot, clock, clock.now() + timedelta(minutes=1))
        sweep_and_settle(bot, clock, clock.now() + timedelta(hours=6))
        assert pd.actions() == [("trigger", key), ("acknowledge", key), ("resolve", key)]
        assert pd.rejected == []
        assert [
            (c["via"], c["what"], c["outcome"], c["to"]) for c in comms_entries(bot, incident)
        ] == [
            ("page", "trigger", "sent", [key]),
            ("page", "acknowledge", "sent", [key]),
            ("page", "resolve", "sent", [key]),
        ]

        # Reopened: a new impact period pages again, under the same key.
        run_command(bot, fake.alice, channel, "reopen")  # type: ignore[attr-defined]
        wait_for(lambda: (bot.incident(incident.reference) or incident).status == "investigating")
        sweep_and_settle(bot, clock, clock.now() + timedelta(minutes=1))
        assert pd.actions()[3:] == [("trigger", key)]


def test_an_escalation_step_with_page_pages_a_sev2(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, pd: FakePagerDuty
) -> None:
    fake = fake_slack
    with _bot(fake, database_url, clock, _policy(fake, pd, step_pages=True)) as bot:
        incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
        sweep_and_settle(bot, clock, incident.declared_at)
        assert pd.events == []  # Sev2 is notified by Slack and email, not paged
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(minutes=30))
        assert pd.actions() == [("trigger", f"incident-bot/{incident.reference}")]
        assert pd.events[0]["payload"]["severity"] == "error"
        assert pd.events[0]["payload"]["custom_details"]["step"] == 0
        # Stamped with the step's time, not the declaration's.
        stamp = datetime.fromisoformat(pd.events[0]["payload"]["timestamp"])
        assert stamp == incident.declared_at + timedelta(minutes=30)
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(hours=1, minutes=59))
        assert len(pd.events) == 1  # the later steps do not page


def test_a_step_page_not_due_yet_is_off_once_resolved(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, pd: FakePagerDuty
) -> None:
    fake = fake_slack
    with _bot(fake, database_url, clock, _policy(fake, pd, step_pages=True)) as bot:
        incident = bot.declare(fake.alice, severity="sev2")  # type: ignore[attr-defined]
        assert incident.channel_id is not None
        clock.set(incident.declared_at + timedelta(minutes=10))
        resolve_by_form(bot, incident, resolution="Fixed")
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(hours=1))
        assert pd.requests == 0  # neither the step's trigger nor a resolve for it
        assert {t.state for t in page_tasks(bot, incident)} == {TaskState.CANCELLED}


def test_rate_limits_and_outages_are_retried_and_the_page_goes_once(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, pd: FakePagerDuty
) -> None:
    fake = fake_slack
    with _bot(fake, database_url, clock, _policy(fake, pd)) as bot:
        incident = bot.declare(fake.alice, severity="sev1")  # type: ignore[attr-defined]
        pd.fail(429)
        pd.fail(500)
        sweep_and_settle(bot, clock, incident.declared_at)
        (task,) = page_tasks(bot, incident)
        assert task.state == TaskState.PENDING
        assert task.last_error == "PagerDuty is rate-limiting events (429)"
        sweep_and_settle(bot, clock, task.due_at)
        (task,) = page_tasks(bot, incident)
        assert task.state == TaskState.PENDING and task.attempts == 2
        assert task.last_error is not None and task.last_error.startswith("PagerDuty answered 500")
        assert pd.events == []
        sweep_and_settle(bot, clock, task.due_at)
        sweep_and_settle(bot, clock, task.due_at + timedelta(minutes=5))
        assert pd.requests == 3
        assert pd.actions() == [("trigger", f"incident-bot/{incident.reference}")]
        (task,) = page_tasks(bot, incident)
        assert task.state == TaskState.DONE and task.last_error is None
        assert [c["outcome"] for c in comms_entries(bot, incident)] == ["sent"]


def test_a_page_refused_for_good_is_told_in_the_channel(
    fake_slack: FakeSlack,
    database_url: str,
    clock: ManualClock,
    pd: FakePagerDuty,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_slack
    with _bot(fake, database_url, clock, _policy(fake, pd)) as bot:
        incident = bot.declare(fake.alice, severity="sev1")  # type: ignore[attr-defined]
        assert incident.channel_id is not None
        monkeypatch.setenv(KEY_ENV, "not-a-routing-key")  # PagerDuty answers 400
        sweep_and_settle(bot, clock, incident.declared_at)
        (task,) = page_tasks(bot, incident)
        assert task.state == TaskState.DEAD and pd.events == []
        (told,) = [m.text for m in fake.messages(incident.channel_id) if "did not go out" in m.text]
        assert incident.reference in told and "page the on-call by hand" in told
        assert "'routing_key' must be a 32 character string" in told
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(hours=1))
        assert (
            len([m for m in fake.messages(incident.channel_id) if "did not go out" in m.text]) == 1
        )


def test_a_private_incident_is_paged_without_its_title(
    fake_slack: FakeSlack, database_url: str, clock: ManualClock, pd: FakePagerDuty
) -> None:
    fake = fake_slack
    with _bot(fake, database_url, clock, _policy(fake, pd)) as bot:
        incident = bot.declare(
            fake.alice,  # type: ignore[attr-defined]
            severity="sev1",
            title="Payroll export leaked",
            affected_services="payroll",
            is_private=["private"],
        )
        sweep_and_settle(bot, clock, incident.declared_at)
        (event,) = pd.events
        assert event["payload"]["summary"] == f"{incident.reference} (Sev1): A private incident"
        assert "payroll" not in str(event).lower()
        assert "links" not in event


def test_without_a_routing_key_nothing_is_paged_and_check_config_says_so(
    fake_slack: FakeSlack,
    database_url: str,
    clock: ManualClock,
    pd: FakePagerDuty,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = fake_slack
    monkeypatch.delenv(KEY_ENV)
    with _bot(fake, database_url, clock, _policy(fake, pd)) as bot:
        incident = bot.declare(fake.alice, severity="sev1")  # type: ignore[attr-defined]
        sweep_and_settle(bot, clock, incident.declared_at + timedelta(hours=1))
        assert page_tasks(bot, incident) == []
        assert pd.requests == 0

    path = tmp_path / "policy.yml"
    path.write_text(f"paging:\n  routing_key_env: {KEY_ENV}\n")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"paging: ROUTING KEY {KEY_ENV} NOT SET: nobody will be paged (wanted for sev1)" in out
    monkeypatch.setenv(KEY_ENV, ROUTING_KEY)
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "paging: PagerDuty events to https://events.pagerduty.com/v2/enqueue for sev1" in out
    assert ROUTING_KEY not in out
    path.write_text("announcement_channel: '#incidents'\n")
    assert main(["check-config", str(path)]) == 0
    assert "paging: no paging.routing_key_env in the policy" in capsys.readouterr().out


def test_an_invalid_event_is_refused_for_good_with_pagerdutys_reasons(
    pd: FakePagerDuty,
) -> None:
    with pytest.raises(pagerduty.PagingError) as caught:
        pagerduty.send(pd.url, {"routing_key": "short", "event_action": "resolve"})
    assert not caught.value.transient
    assert caught.value.status == 400
    assert "'routing_key' must be a 32 character string" in caught.value.reason
    assert "'dedup_key' is required" in caught.value.reason
    pd.fail(503)
    with pytest.raises(pagerduty.PagingError) as caught:
        pagerduty.send(pd.url, {"routing_key": ROUTING_KEY, "event_action": "resolve"})
    assert caught.value.transient
