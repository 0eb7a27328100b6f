"""Putting entries on an incident's timeline (once, where a dedupe key is given)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.db import insert_or_ignore
from bot.models import ScheduledTask, TimelineEvent, TimelineKind


def record(
    session: Session,
    incident_id: int,
    kind: str,
    *,
    now: datetime,
    actor: str | None = None,
    text: str = "",
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    channel_id: str | None = None,
    slack_ts: str | None = None,
    thread_ts: str | None = None,
) -> bool:
    """Put an entry on the timeline; with a dedupe key it lands at most once (False if not)."""
    values: dict[str, Any] = {
        "incident_id": incident_id,
        "kind": str(kind),
        "occurred_at": now,
        "actor_id": actor,
        "text": text,
        "data": data or {},
        "dedupe_key": dedupe_key,
        "channel_id": channel_id,
        "slack_ts": slack_ts,
        "thread_ts": thread_ts,
        "is_key_event": False,
    }
    if dedupe_key is None:
        session.add(TimelineEvent(**values))
        return True
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    statement = insert_or_ignore(table, tuple(values), "dedupe_key", dialect)
    return session.execute(statement, values).scalar() is not None


def record_comms(
    session: Session,
    task: ScheduledTask,
    *,
    via: str,
    to: list[str],
    what: str,
    outcome: str,
    text: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Put what one occurrence of an outward task (an email, a page, a stakeholder update)
    did one way (`email`, `page`, `slack`) on the timeline, once: to whom, what, and how it
    ended (`sent`, `skipped`, `gave_up`, …). `/incident comms` lists these entries."""
    occurrence = int(task.data.get("occurrence", 0))
    return record(
        session,
        task.incident_id,
        TimelineKind.COMMS,
        now=now,
        text=text,
        data={
            "via": via,
            "to": to,
            "what": what,
            "outcome": outcome,
            "task_id": task.id,
            "occurrence": occurrence,
            **(extra or {}),
        },
        dedupe_key=f"comms:{via}:{task.id}:{occurrence}",
    )


def record_bot_post(
    session: Session,
    incident_id: int,
    *,
    channel_id: str,
    ts: str,
    text: str,
    bot_user_id: str,
    now: datetime,
    kind: str,
    thread_ts: str | None = None,
) -> None:
    """Put one of the bot's own messages on the timeline (once, under its message key)."""
    record(
        session,
        incident_id,
        TimelineKind.BOT_POST,
        now=now,
        actor=bot_user_id,
        text=text,
        dedupe_key=message_key(channel_id, ts),
        channel_id=channel_id,
        slack_ts=ts,
        thread_ts=thread_ts,
        data={"kind": kind},
    )


def message_key(channel_id: str, ts: str) -> str:
    """The dedupe key of a Slack message's timeline row."""
    return f"msg:{channel_id}:{ts}"
