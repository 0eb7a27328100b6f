"""Alerts in: webhooks authenticated and stored before the reply, routed into incidents,
grouped and deduplicated, shown in the incident channel, and triaged by people."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select

from bot import blocks
from bot.clock import ManualClock
from bot.models import AlertRecord, Incident, IncidentAlert, TimelineEvent, TimelineKind
from tests.alert_support import (
    GRAFANA_SECRET,
    alerts_policy,
    am_alert,
    am_body,
    post,
    post_am,
    post_generic,
)
from tests.conftest import Harness, start_bot, wait_for
from tests.fakeslack import blockkit
from tests.support import reply_to, sweep_at


def incidents(bot: Harness) -> list[Incident]:
    """Every incident, oldest first."""
    with bot.db.session() as session:
        return list(session.exec(select(Incident).order_by(Incident.id)).all())  # type: ignore[arg-type]


def alert_rows(bot: Harness) -> list[AlertRecord]:
    """Every stored alert, oldest first."""
    with bot.db.session() as session:
        return list(session.exec(select(AlertRecord).order_by(AlertRecord.id)).all())  # type: ignore[arg-type]


def handled(bot: Harness, count: int) -> list[AlertRecord]:
    """Wait until `count` alerts are stored and every one is handled."""
    return wait_for(
        lambda: (
            (rows := alert_rows(bot))
            and len(rows) == count
            and all(r.state == "done" for r in rows)
            and rows
        )
    )


def timeline(bot: Harness, incident: Incident, kind: str) -> list[TimelineEvent]:
    """An incident's timeline entries of one kind."""
    with bot.db.session() as session:
        return list(
            session.exec(
                select(TimelineEvent)
                .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == kind)
                .order_by(TimelineEvent.id)  # type: ignore[arg-type]
            ).all()
        )


def set_up_incident(bot: Harness) -> Incident:
    """The first incident, once its channel is set up."""
    first = wait_for(lambda: incidents(bot) or None)[0]
    return wait_for(lambda: bot.incident(first.reference, done=True))


def critical(name: str, fingerprint: str, **labels: str) -> dict[str, Any]:
    """A critical checkout alert (the `critical` rule declares, grouped by service)."""
    return am_alert(
        name, fingerprint=fingerprint, severity="critical", service="checkout", **labels
    )


def test_a_group_declares_once_and_a_second_alert_attaches(abot: Harness) -> None:
    port = abot.runtime.port
    first = critical("HighErrorRate", "aaaa1111")
    answer = post_am(port, [first])
    assert answer.status == 200
    assert answer.json == {"ok": True, "stored": 1, "duplicates": 0}
    incident = set_up_incident(abot)
    assert incident.title == "HighErrorRate on checkout"
    assert (incident.severity, incident.declared_via, incident.reporter_id) == (
        "sev1",
        "alerts:am",
        "",
    )
    assert incident.impact_started_at == first_start(first)
    # Alertmanager repeats the same notification: stored once, nothing new.
    assert post_am(port, [first]).json == {"ok": True, "stored": 0, "duplicates": 1}
    post_am(port, [first, critical("HighLatency", "bbbb2222")])
    handled(abot, 2)
    assert len(incidents(abot)) == 1
    assert [e.text for e in timeline(abot, incident, TimelineKind.ALERT)] == [
        "Alert attached: HighErrorRate is firing",
        "Alert attached: HighLatency is firing",
    ]
    assert incident.channel_id is not None
    boards = wait_for(
        lambda: [m for m in abot.fake.messages(incident.channel_id) if "2 firing" in m.text]
    )
    assert len(boards) == 1  # the list is edited in place, not posted again
    assert abot.fake.calls_to("chat.update")


def first_start(alert: dict[str, Any]) -> datetime:
    """When an alert says it started."""
    return datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))


def test_resolved_alerts_ask_a_person_to_resolve(abot: Harness) -> None:
    port = abot.runtime.port
    alerts = [critical("DiskFull", "cccc3333"), critical("DiskSlow", "dddd4444")]
    post_am(port, alerts)
    incident = set_up_incident(abot)
    handled(abot, 2)
    post_am(
        port,
        [
            am_alert(
                "DiskFull",
                fingerprint="cccc3333",
                status="resolved",
                severity="critical",
                service="checkout",
            )
        ],
    )
    handled(abot, 3)
    channel = incident.channel_id
    assert channel is not None
    wait_for(lambda: [m for m in abot.fake.messages(channel) if "1 firing · 1 resolved" in m.text])
    assert not [m for m in abot.fake.messages(channel) if "All alerts" in m.text]
    post_am(
        port,
        [
            am_alert(
                "DiskSlow",
                fingerprint="dddd4444",
                status="resolved",
                severity="critical",
                service="checkout",
            )
        ],
    )
    prompt = wait_for(lambda: [m for m in abot.fake.messages(channel) if "All alerts" in m.text])
    assert len(prompt) == 1
    assert abot.incident(incident.reference).status == "reported"  # a person decides
    # A repeat of the resolved notification asks nothing more.
    post_am(
        port,
        [
            am_alert(
                "DiskSlow",
                fingerprint="dddd4444",
                status="resolved",
                severity="critical",
                service="checkout",
            )
        ],
    )
    time.sleep(0.3)
    assert len([m for m in abot.fake.messages(channel) if "All alerts" in m.text]) == 1
    before = len(abot.fake.opened_views(abot.fake.alice))
    delivery = abot.fake.send_block_action(abot.fake.alice, "alerts_resolve", channel_id=channel)
    assert delivery.status == 200
    form = wait_for(lambda: abot.fake.opened_views(abot.fake.alice)[before:] or None)[-1]
    assert form["callback_id"] == "incident_resolve"


def test_an_auto_resolve_rule_resolves_when_every_alert_is_resolved(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    rules = [
        {
            "name": "auto",
            "match": {"severity": "critical"},
            "action": "declare",
            "auto_resolve": True,
        }
    ]
    bot = start_bot(
        fake_slack, database_url, clock=clock, policy=alerts_policy(fake_slack, rules=rules)
    )
    try:
        post_am(bot.runtime.port, [critical("Flap", "eeee5555")])
        incident = set_up_incident(bot)
        post_am(
            bot.runtime.port,
            [
                am_alert(
                    "Flap",
                    fingerprint="eeee5555",
                    status="resolved",
                    severity="critical",
                    service="checkout",
                )
            ],
        )
        resolved = wait_for(
            lambda: (i := bot.incident(incident.reference)) and i.status == "resolved" and i
        )
        assert "resolved automatically by the alert rule auto" in resolved.resolution
    finally:
        bot.runtime.stop()


def test_bad_requests_get_clear_answers_and_store_nothing(abot: Harness) -> None:
    port = abot.runtime.port
    body = am_body([critical("X", "ffff6666")])
    assert post(port, "am", body).status == 401
    assert post(port, "am", body, {"Authorization": "Bearer wrong-secret-0123456789"}).status == 401
    assert post(port, "nope", body, {"Authorization": "Bearer x"}).status == 404
    auth = {"Authorization": "Bearer alertmanager-test-secret-0123456789"}
    big = post(port, "am", b"{" + b" " * (1024 * 1024 + 10) + b"}", auth)
    assert big.status == 413
    broken = post(port, "am", b"{not json", auth)
    assert (broken.status, broken.json["field"]) == (400, "body")
    missing = post(port, "am", json.dumps({"version": "4"}).encode(), auth)
    assert (missing.status, missing.json["field"]) == (400, "alerts")
    no_labels = post(port, "am", json.dumps({"alerts": [{"status": "firing"}]}).encode(), auth)
    assert (no_labels.status, no_labels.json["field"]) == (400, "alerts[0].labels")
    bad_time = dict(critical("X", "ffff6666"), startsAt="yesterday")
    wrong = post(port, "am", am_body([bad_time]), auth)
    assert wrong.status == 400 and "alerts[0].startsAt" in wrong.json["error"]
    assert alert_rows(abot) == []
    assert post_am(port, [critical("X", "ffff6666")]).status == 200  # still serving


def test_an_unmatched_alert_is_triaged_and_each_button_acts(abot: Harness) -> None:
    fake, port = abot.fake, abot.runtime.port
    post_am(
        port, [am_alert("CertExpiring", fingerprint="1111aaaa", severity="warning", service="edge")]
    )
    triage = wait_for(
        lambda: [m for m in fake.messages(fake.incidents) if "CertExpiring" in m.text]
    )
    assert len(triage) == 1
    message = triage[0]
    actions = [
        e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == ["alert_declare", "alert_attach", "alert_silence", "alert_ignore"]
    # Ignore: the message says who, and the buttons go.
    fake.send_block_action(
        fake.alice, "alert_ignore", channel_id=fake.incidents, message_ts=message.ts
    )
    wait_for(lambda: "Ignored by" in json.dumps(fake_message(fake, message.ts).blocks))

    # Declare: the form is filled in from the alert; submitting attaches the alert.
    post_am(
        port,
        [am_alert("QueueBacklog", fingerprint="2222bbbb", severity="warning", service="billing")],
    )
    second = wait_for(
        lambda: [m for m in fake.messages(fake.incidents) if "QueueBacklog" in m.text]
    )[0]
    before = len(fake.opened_views(fake.bob))
    fake.send_block_action(
        fake.bob, "alert_declare", channel_id=fake.incidents, message_ts=second.ts
    )
    form = wait_for(lambda: fake.opened_views(fake.bob)[before:] or None)[-1]
    title = next(b for b in form["blocks"] if b.get("block_id") == "title")
    assert title["element"]["initial_value"] == "QueueBacklog is firing"
    delivery = abot.submit(
        fake.bob,
        form,
        {
            "title": "Billing queue backlog",
            "severity": "sev3",
            "category": "software",
            "impact": "medium",
            "urgency": "medium",
        },
    )
    assert delivery.status == 200 and not (delivery.json or {}).get("errors")
    incident = wait_for(
        lambda: (found := incidents(abot)) and abot.incident(found[-1].reference, done=True)
    )
    assert incident.reporter_id == fake.bob
    wait_for(
        lambda: f"Declared as *{incident.reference}*" in fake_message(fake, second.ts).text_blocks()
    )
    with abot.db.session() as session:
        held = session.exec(
            select(IncidentAlert).where(IncidentAlert.incident_id == incident.id)
        ).all()
    assert [h.fingerprint for h in held] == ["2222bbbb"]

    # Attach: a third alert joins that incident through the form.
    post_am(
        port, [am_alert("QueueSlow", fingerprint="3333cccc", severity="warning", service="billing")]
    )
    third = wait_for(lambda: [m for m in fake.messages(fake.incidents) if "QueueSlow" in m.text])[0]
    before = len(fake.opened_views(fake.alice))
    fake.send_block_action(
        fake.alice, "alert_attach", channel_id=fake.incidents, message_ts=third.ts
    )
    chooser = wait_for(lambda: fake.opened_views(fake.alice)[before:] or None)[-1]
    assert chooser["callback_id"] == "alert_attach"
    abot.submit(fake.alice, chooser, {"incident": str(incident.id)})
    wait_for(lambda: len(timeline(abot, incident, TimelineKind.ALERT)) == 2)
    wait_for(
        lambda: f"Attached to *{incident.reference}*" in fake_message(fake, third.ts).text_blocks()
    )


def fake_message(fake: Any, ts: str) -> Any:
    """A message in #incidents by its ts, with a helper to read all its text."""
    message = next(m for m in fake.messages(fake.incidents) if m.ts == ts)

    class View:
        blocks = message.blocks
        text = message.text

        @staticmethod
        def text_blocks() -> str:
            return json.dumps(message.blocks)

    return View


def test_a_drop_rule_stores_and_posts_nothing(abot: Harness) -> None:
    fake = abot.fake
    before = len(fake.messages(fake.incidents))
    post_am(abot.runtime.port, [am_alert("Chatty", fingerprint="4444dddd", severity="info")])
    rows = handled(abot, 1)
    assert (rows[0].action, rows[0].rule) == ("dropped", "noise")
    assert len(fake.messages(fake.incidents)) == before


def test_grafana_and_generic_payloads(abot: Harness) -> None:
    port = abot.runtime.port
    # The shape Grafana's webhook contact point documents, with basic auth.
    grafana = {
        "receiver": "incident-bot",
        "status": "firing",
        "orgId": 1,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "CPUHigh", "grafana_folder": "Prod", "service": "api"},
                "annotations": {"summary": "CPU above 90%"},
                "startsAt": "2026-11-26T10:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example/alerting/grafana/abc/view",
                "fingerprint": "57c6d9296de2ad39",
                "silenceURL": "https://grafana.example/alerting/silence/new",
                "dashboardURL": "https://grafana.example/d/abc",
                "panelURL": "https://grafana.example/d/abc?viewPanel=2",
                "values": {"B": 93.1},
                "valueString": "[ var='B' value=93.1 ]",
            }
        ],
        "groupLabels": {"alertname": "CPUHigh"},
        "commonLabels": {"alertname": "CPUHigh"},
        "commonAnnotations": {},
        "externalURL": "https://grafana.example/",
        "version": "1",
        "groupKey": '{}:{alertname="CPUHigh"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] CPUHigh",
        "state": "alerting",
        "message": "CPU above 90%",
    }
    basic = base64.b64encode(f"grafana:{GRAFANA_SECRET}".encode()).decode()
    body = json.dumps(grafana).encode()
    assert (
        post(
            port,
            "grafana",
            body,
            {"Authorization": "Basic " + base64.b64encode(b"grafana:wrong").decode()},
        ).status
        == 401
    )
    assert post(port, "grafana", body, {"Authorization": f"Basic {basic}"}).status == 200
    # The generic format: signed, with a replay window, resolved by its dedup key.
    payload = {
        "title": "Nightly backup failed",
        "severity": "critical",
        "service": "checkout",
        "dedup_key": "backup-42",
        "details": {"exit": 3},
        "link": "https://ci.example/42",
    }
    assert post_generic(port, payload, at=int(time.time()) - 600).status == 401
    missing = post_generic(port, {"status": "firing"})
    assert (missing.status, missing.json["field"]) == (400, "title")
    assert post_generic(port, payload).status == 200
    rows = handled(abot, 2)
    grafana_row = next(r for r in rows if r.source == "grafana")
    assert (grafana_row.title, grafana_row.link) == (
        "CPU above 90%",
        "https://grafana.example/d/abc?viewPanel=2",
    )
    assert grafana_row.action == "triage"
    incident = set_up_incident(abot)
    assert incident.declared_via == "alerts:generic"
    post_generic(port, {**payload, "status": "resolved"})
    handled(abot, 3)
    assert [e.text for e in timeline(abot, incident, TimelineKind.ALERT)] == [
        "Alert attached: Nightly backup failed",
        "Alert resolved: Nightly backup failed",
    ]


def test_hostile_labels_are_stored_whole_and_shown_escaped_and_cut(abot: Harness) -> None:
    fake = abot.fake
    long_value = "x" * 10_000
    labels = {
        "note": "<!here> ping",
        "rtl": "\u202eevil\u202c עברית",
        "emoji": "🔥" * 50,
        "long": long_value,
    }
    alert = am_alert("<!channel> Weird", fingerprint="5555eeee", severity="warning", **labels)
    alert["annotations"]["summary"] = "<!everyone> " + "y" * 5000
    assert post_am(abot.runtime.port, [alert]).status == 200
    row = handled(abot, 1)[0]
    assert row.labels["long"] == long_value and row.labels["note"] == "<!here> ping"
    message = wait_for(
        lambda: [m for m in fake.messages(fake.incidents) if "Weird" in json.dumps(m.blocks)]
    )[0]
    shown = json.dumps(message.blocks) + message.text
    for token in ("<!here>", "<!channel>", "<!everyone>"):
        assert token not in shown
    assert "&lt;!here&gt;" in shown
    assert long_value not in shown and len(message.text) < 4000
    for block in message.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


def test_labels_that_grow_when_escaped_still_fit_the_triage_message(abot: Harness) -> None:
    fake = abot.fake
    # Eight labels shown, each value 80 `&` (400 characters once escaped): over the 3,000
    # characters a context element holds unless the line is cut after escaping.
    labels = {"alertname": "&" * 80, "severity": "warning"}
    labels |= {f"{'k' * 38}_{n}": "&" * 80 for n in range(8)}
    alert = am_alert("Ampersands", fingerprint="6666ffff")
    alert["labels"] = labels
    assert post_am(abot.runtime.port, [alert]).status == 200
    handled(abot, 1)
    message = wait_for(
        lambda: [m for m in fake.messages(fake.incidents) if "Ampersands" in m.text]
    )[0]
    (context,) = [b for b in message.blocks if b["type"] == "context"]
    line = context["elements"][0]["text"]
    assert len(line) <= 3000
    assert line.startswith(f"`alertname={'&amp;' * 80}` `severity=warning` ")
    shown = line.count("`") // 2
    assert 2 < shown < len(labels) and line.endswith(f" and {len(labels) - shown} more")
    assert blockkit.blocks_text_length(message.blocks) <= blocks.BLOCKS_TEXT_MAX


def test_a_declared_incident_waits_for_slack_and_loses_nothing(
    abot: Harness, clock: ManualClock
) -> None:
    fake = abot.fake
    fake.server_error("conversations.create", times=50)
    post_am(abot.runtime.port, [critical("Outage", "6666ffff")])
    rows = handled(abot, 1)
    assert rows[0].action == "declared"
    # The set-up tried at once (after the alert was handled) has failed and been given back.
    assert abot.ctx.wait_idle()
    with abot.db.session() as session:
        incident = session.exec(select(Incident)).one()
    assert incident.channel_id is None
    fake.clear_faults()
    sweep_at(abot, clock, clock.now() + timedelta(minutes=5))
    wait_for(lambda: abot.incident(incident.reference, done=True))


def test_maintenance_reply_lists_nothing_at_first(abot: Harness) -> None:
    text = reply_to(abot, abot.fake.alice, abot.fake.incidents, "maintenance list")
    assert text == "No maintenance window is in effect or scheduled."


def test_a_rule_names_the_commander_and_invites_its_responders(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    fake = fake_slack
    carol = fake.add_user("carol", real_name="Carol Example")
    oncall = fake.add_usergroup("oncall", members=[fake.bob, carol])
    rules = [
        {
            "name": "paging",
            "match": {"severity": "critical"},
            "action": "declare",
            "commander": fake.alice,
            "responders": [oncall],
            "services": ["checkout", "payments"],
        }
    ]
    bot = start_bot(fake, database_url, clock=clock, policy=alerts_policy(fake, rules=rules))
    try:
        post_am(bot.runtime.port, [critical("PaymentsDown", "abab1212")])
        incident = set_up_incident(bot)
        assert incident.commander_id == fake.alice and incident.reporter_id == fake.alice
        assert incident.acknowledged_at is None  # named in advance, not yet acting
        assert incident.affected_services == "checkout, payments"
        assert incident.channel_id is not None
        members = wait_for(
            lambda: (
                {fake.alice, fake.bob, carol} <= fake.channels[incident.channel_id].members
                and fake.channels[incident.channel_id].members
            )
        )
        assert fake.bot_user_id in members
    finally:
        bot.runtime.stop()
