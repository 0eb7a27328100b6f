"""Hostile text through every entry — declare, update and resolve forms, note, action, channel
messages — on each engine: no 5xx, nothing lost or stuck, nothing evaluated, nobody pinged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from bot.models import ActionItem, InboxEvent, Incident, StatusUpdate, TimelineEvent
from bot.render import escape
from tests.conftest import Harness, wait_for
from tests.hostile_strings import CORPUS, TEMPLATE
from tests.support import form_opened, reply_to

MASS_MENTION = re.compile(r"<!(?:channel|here|everyone)(?:\|[^>]*)?>")
UNSTORABLE = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f]")
TITLE_MAX, TEXT_MAX = 150, 3000


def _fit(text: str, limit: int, *, single_line: bool = False) -> str:
    """What Slack lets a person type into a field: within its length, on one line."""
    if single_line:
        text = text.replace("\r", " ").replace("\n", " ")
    return text[:limit]


def _typed(text: str) -> str:
    """A slash command's text as a client sends it: form-encoded UTF-8, in which a lone
    surrogate cannot travel (browsers send U+FFFD for it); JSON payloads keep them."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def _triples() -> Iterator[tuple[str, str, str]]:
    for start in range(0, len(CORPUS), 3):
        chunk = [*CORPUS[start : start + 3], "x", "x"][:3]
        yield chunk[0], chunk[1], chunk[2]


def _bot_texts(bot: Harness) -> list[str]:
    texts = []
    for channel in bot.fake.channels.values():
        for message in channel.messages:
            if message.user == bot.fake.bot_user_id:
                texts.append(message.text)
                texts.extend(str(block) for block in message.blocks or [])
    return texts


def test_hostile_text_through_every_entry(bot: Harness) -> None:
    fake = bot.fake
    statuses: list[int] = []
    incident = bot.declare(fake.alice, severity="sev3", title="Hostile text drill")
    channel = incident.channel_id
    assert channel is not None

    # Channel messages: every one on the timeline, as storable text.
    posted = []
    for text in CORPUS:
        post = fake.post_user_message(fake.alice, channel, text)
        statuses.extend(d.status for d in post.deliveries)
        posted.append(post.message.ts)
    # Notes and actions, as slash commands.
    for text in CORPUS:
        statuses.append(bot.command(fake.alice, channel, _typed(f"note {text}")).status)
        statuses.append(bot.command(fake.alice, channel, _typed(f"action {text}")).status)
    # The forms: three strings a submission.
    for what, impact, steps in _triples():
        view = form_opened(bot, bot.fake.alice, channel, "update")
        answer = {
            "status": "investigating",
            "what_changed": _fit(what, TEXT_MAX),
            "current_impact": _fit(impact, TEXT_MAX),
            "next_steps": _fit(steps, TEXT_MAX),
        }
        delivery = bot.submit(fake.alice, view, answer)
        statuses.append(delivery.status)
        assert not (delivery.json or {}).get("errors"), (answer, delivery.json)
    for resolution, cause, impact in _triples():
        view = form_opened(bot, bot.fake.alice, channel, "resolve")
        answer = {
            "resolution": _fit(resolution, TEXT_MAX) or "x",
            "root_cause": _fit(cause, TEXT_MAX) or "x",
            "impact_summary": _fit(impact, TEXT_MAX) or "x",
        }
        delivery = bot.submit(fake.alice, view, answer)
        statuses.append(delivery.status)
        errors = (delivery.json or {}).get("errors") or {}
        assert not errors or all("Write it down" in e for e in errors.values()), errors
    declared = 0
    for title, description, services in _triples():
        view = bot.open_declare(fake.alice, fake.incidents)
        answer = {
            "title": _fit(title, TITLE_MAX, single_line=True),
            "description": _fit(description, TEXT_MAX),
            "affected_services": _fit(services, 500, single_line=True),
            "severity": "sev4",
            "category": "other",
            "impact": "low",
            "urgency": "low",
        }
        delivery = bot.submit(fake.alice, view, answer)
        statuses.append(delivery.status)
        errors = (delivery.json or {}).get("errors") or {}
        if errors:  # only a blank title may be refused, in words a person understands
            assert list(errors) == ["title"] and "blank" in errors["title"], errors
        else:
            declared += 1
    assert bot.ctx.wait_idle(timeout=120)  # every deferred command and set-up has run

    assert set(statuses) == {200}
    replies = [str(r.body.get("text", "")) for r in fake.responses]
    assert not [r for r in replies if "went wrong" in r or "Slack refused" in r], replies[:5]
    with bot.db.session() as session:
        assert (
            session.exec(
                select(InboxEvent).where(col(InboxEvent.state).in_(["pending", "dead"]))
            ).all()
            == []
        )
        rows = session.exec(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
        ).all()
        recorded = {row.slack_ts: row for row in rows if row.slack_ts in set(posted)}
        notes = [row for row in rows if row.kind == "note"]
        actions = session.exec(
            select(ActionItem).where(ActionItem.incident_id == incident.id)
        ).all()
        updates = session.exec(
            select(StatusUpdate).where(StatusUpdate.incident_id == incident.id)
        ).all()
        titles = session.exec(select(Incident.title)).all()
    assert len(recorded) == len(CORPUS)  # every message on the timeline
    stored = [row.text for row in rows] + [a.text for a in actions] + list(titles)
    stored += [u.what_changed + u.impact + u.next_steps for u in updates]
    assert not [text for text in stored if UNSTORABLE.search(text)]
    blank = sum(1 for text in CORPUS if not text.strip())
    assert len(notes) == len(CORPUS) - blank
    # An action that names an owner Slack does not know is refused in plain words.
    unknown_owner = sum(1 for text in CORPUS if re.search(r"<@[UW][A-Z0-9]+", text))
    assert len(actions) == len(CORPUS) - blank - unknown_owner
    assert len([r for r in replies if "owner must be a person" in r]) == unknown_owner
    assert len(updates) == len(list(_triples()))
    assert len(titles) == 1 + declared
    # Nothing was evaluated, and the bot's posts ping nobody.
    posts = _bot_texts(bot)
    assert not [text for text in posts if MASS_MENTION.search(text)]
    everything = "\n".join(posts)
    for template in TEMPLATE:  # echoed as typed: never rendered
        assert escape(template) in everything, template


def test_unreadable_form_text_gets_a_message_a_person_understands() -> None:
    from bot.errors import InvalidInput
    from bot.policy import default_policy
    from bot.services.declaration import validate_declaration

    raw = {
        "title": b"\xff\xfe not text",
        "description": "ok",
        "severity": "sev3",
        "category": "other",
        "impact": "low",
        "urgency": "low",
    }
    try:
        validate_declaration(raw, default_policy())
    except InvalidInput as exc:
        assert exc.errors == {
            "title": "Title holds characters that cannot be stored: retype it without them"
        }
    else:
        raise AssertionError("the form was accepted")


def test_the_inbox_command_lists_and_replays_stuck_events(
    bot: Harness, capsys: Any, monkeypatch: Any
) -> None:
    from bot.cli import main
    from bot.scheduler import sweep

    fake = bot.fake
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    with bot.db.engine.begin() as connection:  # a fault the operator fixes later
        if bot.db.is_sqlite:
            connection.exec_driver_sql(
                "CREATE TRIGGER outage BEFORE INSERT ON timeline_event "
                "WHEN NEW.text = 'stuck' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION outage() RETURNS trigger AS $$ BEGIN IF NEW.text = 'stuck' "
                "THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER outage BEFORE INSERT ON timeline_event "
                "FOR EACH ROW EXECUTE FUNCTION outage()"
            )
    post = fake.post_user_message(fake.alice, channel, "stuck")
    monkeypatch.setenv("DATABASE_URL", bot.db.engine.url.render_as_string(hide_password=False))
    assert main(["inbox"]) == 0
    listed = capsys.readouterr().out
    assert "pending" in listed and "disk full" in listed and "stuck" not in listed
    with bot.db.engine.begin() as connection:
        if bot.db.is_sqlite:
            connection.exec_driver_sql("DROP TRIGGER outage")
        else:
            connection.exec_driver_sql("DROP TRIGGER outage ON timeline_event")
            connection.exec_driver_sql("DROP FUNCTION outage()")
    assert main(["inbox", "--replay"]) == 0
    assert "1 event(s) put up" in capsys.readouterr().out
    bot.ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    sweep(bot.ctx)
    with bot.db.session() as session:
        row = session.exec(
            select(TimelineEvent).where(TimelineEvent.slack_ts == post.message.ts)
        ).first()
    assert row is not None and row.text == "stuck"
    assert main(["inbox"]) == 0
    assert "nothing pending" in capsys.readouterr().out


def test_history_read_to_fill_a_gap_is_made_storable_too(bot: Harness) -> None:
    from sqlalchemy import delete

    from bot.models import ProcessHeartbeat

    fake = bot.fake
    incident = bot.declare(fake.alice)
    channel = incident.channel_id
    assert channel is not None
    assert bot.command(fake.alice, channel, "note Context for the review").status == 200
    wait_for(lambda: [m for m in fake.messages(channel) if "Context for" in m.text])
    missed = fake.post_user_message(
        fake.alice, channel, "nul \x00 and half \ud83d emoji", deliver=False
    )
    with bot.db.session() as session:  # no process was alive while it was posted
        session.execute(delete(ProcessHeartbeat))
    bot.ctx.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    reply = reply_to(bot, fake.alice, channel, "pir")
    assert "Draft v1" in reply
    with bot.db.session() as session:
        row = session.exec(
            select(TimelineEvent).where(TimelineEvent.slack_ts == missed.message.ts)
        ).one()
    assert row.text == "nul \u2400 and half \ufffd emoji"
