"""Recording what happens in an incident channel: messages, edits, deletions, files,
joins and leaves, and key-event marks (a :pushpin: reaction or a pin).

One row per Slack message whatever delivered it (a `message` event, an `app_mention`, a
retry, another replica): the row's unique key is the channel and the message ts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.db import insert_or_ignore
from bot.models import TimelineEvent, TimelineKind
from bot.services import timeline_entries

KEY_REACTIONS = frozenset({"pushpin", "round_pushpin"})
SYSTEM_SUBTYPES_JOIN = {
    "channel_join": TimelineKind.MEMBER_JOINED,
    "group_join": TimelineKind.MEMBER_JOINED,
}
SYSTEM_SUBTYPES_LEAVE = {
    "channel_leave": TimelineKind.MEMBER_LEFT,
    "group_leave": TimelineKind.MEMBER_LEFT,
}
CONTENT_SUBTYPES = {None, "thread_broadcast", "me_message", "file_share", "bot_message"}
IGNORED_SUBTYPES = {"message_replied", "assistant_app_thread"}


def ts_time(ts: str | float | None, fallback: datetime) -> datetime:
    """A Slack ts (`1700000000.000100`) as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC) if ts is not None else fallback
    except (TypeError, ValueError, OverflowError):
        return fallback


def channel_of(event: dict[str, Any]) -> str | None:
    """The channel an event happened in, for the event types the timeline records."""
    kind = event.get("type")
    if kind in ("message", "app_mention"):
        channel = event.get("channel")
    elif kind in ("reaction_added", "reaction_removed"):
        channel = (event.get("item") or {}).get("channel")
    elif kind in ("pin_added", "pin_removed"):
        channel = event.get("channel_id") or (event.get("item") or {}).get("channel")
    else:
        return None
    return str(channel) if isinstance(channel, str) and channel else None


def _files(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": f.get("id"),
            "name": f.get("name") or f.get("title"),
            "title": f.get("title"),
            "permalink": f.get("permalink"),
            "mimetype": f.get("mimetype"),
        }
        for f in message.get("files") or []
        if isinstance(f, dict)
    ]


def _message_kind(message: dict[str, Any], bot_user_id: str | None) -> TimelineKind:
    subtype = message.get("subtype")
    if subtype in SYSTEM_SUBTYPES_JOIN:
        return SYSTEM_SUBTYPES_JOIN[subtype]
    if subtype in SYSTEM_SUBTYPES_LEAVE:
        return SYSTEM_SUBTYPES_LEAVE[subtype]
    if bot_user_id and message.get("user") == bot_user_id:
        return TimelineKind.BOT_POST
    if subtype == "bot_message" or (message.get("bot_id") and not message.get("user")):
        return TimelineKind.BOT_MESSAGE
    if subtype == "file_share" or message.get("files"):
        return TimelineKind.FILE_SHARED
    if subtype in CONTENT_SUBTYPES:
        return TimelineKind.MESSAGE
    return TimelineKind.SYSTEM


def _row(session: Session, key: str) -> TimelineEvent | None:
    return session.exec(select(TimelineEvent).where(TimelineEvent.dedupe_key == key)).first()


def _upsert(
    session: Session,
    incident_id: int,
    channel: str,
    ts: str,
    now: datetime,
    fill: dict[str, Any],
) -> TimelineEvent:
    """The message's row, created if missing (safe against a concurrent insert)."""
    key = timeline_entries.message_key(channel, ts)
    row = _row(session, key)
    if row is not None:
        return row
    row = TimelineEvent(
        incident_id=incident_id,
        kind=fill.get("kind", TimelineKind.MESSAGE),
        occurred_at=ts_time(ts, now),
        actor_id=fill.get("actor_id"),
        text=fill.get("text", ""),
        data=fill.get("data", {}),
        dedupe_key=key,
        channel_id=channel,
        slack_ts=ts,
        thread_ts=fill.get("thread_ts"),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = _row(session, key)
        if existing is None:
            raise  # not a concurrent insert of the same message: a real failure
        return existing
    return row


def _insert_new(
    session: Session | Connection,
    incident_id: int,
    channel: str,
    ts: str,
    now: datetime,
    fill: dict[str, Any],
) -> bool:
    """The common case in one statement: a message seen for the first time."""
    params = {
        "incident_id": incident_id,
        "kind": str(fill["kind"]),
        "occurred_at": ts_time(ts, now),
        "actor_id": fill["actor_id"],
        "text": fill["text"],
        "data": fill["data"],
        "dedupe_key": timeline_entries.message_key(channel, ts),
        "channel_id": channel,
        "slack_ts": ts,
        "thread_ts": fill["thread_ts"],
        "is_key_event": False,
    }
    table = TimelineEvent.__table__  # type: ignore[attr-defined]
    bind = session if isinstance(session, Connection) else session.get_bind()
    statement = insert_or_ignore(table, INSERT_COLUMNS, "dedupe_key", bind.dialect.name)
    return session.execute(statement, params).scalar() is not None


def record_new_message(
    connection: Connection,
    incident_id: int,
    event: dict[str, Any],
    *,
    now: datetime,
    bot_user_id: str | None,
) -> bool:
    """Record a message seen for the first time in one statement, outside any transaction
    (True); False when it is anything else — an edit, a deletion, a message already
    recorded or held as a placeholder — which `ingest` records instead."""
    channel = channel_of(event)
    ts = event.get("ts")
    if (
        channel is None
        or not ts
        or event.get("type") not in ("message", "app_mention")
        or event.get("subtype") in ("message_changed", "message_deleted", *IGNORED_SUBTYPES)
        or event.get("hidden")
    ):
        return False
    fill = _content(event, bot_user_id)
    return _insert_new(connection, incident_id, channel, str(ts), now, fill)


INSERT_COLUMNS = (
    "incident_id",
    "kind",
    "occurred_at",
    "actor_id",
    "text",
    "data",
    "dedupe_key",
    "channel_id",
    "slack_ts",
    "thread_ts",
    "is_key_event",
)


def _content(message: dict[str, Any], bot_user_id: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    files = _files(message)
    if files:
        data["files"] = files
    if message.get("subtype"):
        data["subtype"] = message["subtype"]
    if message.get("bot_id"):
        data["bot_id"] = message["bot_id"]
        if message.get("username"):
            data["username"] = message["username"]
    thread_ts = message.get("thread_ts")
    return {
        "kind": _message_kind(message, bot_user_id),
        "actor_id": message.get("user") or message.get("bot_id"),
        "text": str(message.get("text") or ""),
        "data": data,
        "thread_ts": thread_ts if thread_ts and thread_ts != message.get("ts") else None,
    }


def _new_message(
    session: Session,
    incident_id: int,
    channel: str,
    message: dict[str, Any],
    now: datetime,
    bot_user_id: str | None,
) -> str:
    ts = message.get("ts")
    if not ts:
        return "ignored"
    fill = _content(message, bot_user_id)
    if _insert_new(session, incident_id, channel, str(ts), now, fill):
        return "recorded"
    row = _upsert(session, incident_id, channel, str(ts), now, fill)
    if row.edited_at is None and row.deleted_at is None and not row.text and fill["text"]:
        # A placeholder (made by an early reaction or pin): fill it in.
        row.text = fill["text"]
        row.kind = fill["kind"]
        row.actor_id = fill["actor_id"]
        row.thread_ts = fill["thread_ts"]
        row.data = {**fill["data"], **row.data}
        session.add(row)
    return "recorded"


def _edited(
    session: Session,
    incident_id: int,
    channel: str,
    event: dict[str, Any],
    now: datetime,
    bot_user_id: str | None,
) -> str:
    message = event.get("message") or {}
    ts = message.get("ts")
    if not ts:
        return "ignored"
    fill = _content(message, bot_user_id)
    previous = event.get("previous_message") or {}
    row = _upsert(
        session,
        incident_id,
        channel,
        str(ts),
        now,
        {**fill, "text": str(previous.get("text") or "")} if previous else fill,
    )
    new_text = fill["text"]
    if new_text == row.text and not _files(message):
        return "unchanged"  # unfurls and other edits that change no text
    edited = message.get("edited") or {}
    edited_at = ts_time(edited.get("ts") or event.get("event_ts") or event.get("ts"), now)
    history = list(row.data.get("history") or [])
    history.append({"text": row.text, "replaced_at": edited_at.isoformat()})
    row.data = {**row.data, **fill["data"], "history": history}
    row.text = new_text
    row.edited_at = edited_at
    session.add(row)
    return "edited"


def _deleted(
    session: Session, incident_id: int, channel: str, event: dict[str, Any], now: datetime
) -> str:
    ts = event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
    if not ts:
        return "ignored"
    previous = event.get("previous_message") or {}
    row = _upsert(
        session,
        incident_id,
        channel,
        str(ts),
        now,
        {
            "kind": TimelineKind.MESSAGE,
            "actor_id": previous.get("user"),
            "text": str(previous.get("text") or ""),
            "data": {},
        },
    )
    if row.deleted_at is None:
        row.deleted_at = ts_time(event.get("event_ts") or event.get("ts"), now)
        session.add(row)
    return "deleted"


def _mark(
    session: Session,
    incident_id: int,
    channel: str,
    ts: str,
    mark: str,
    *,
    on: bool,
    now: datetime,
) -> str:
    row = _upsert(session, incident_id, channel, ts, now, {"kind": TimelineKind.MESSAGE})
    marks = set(row.data.get("key_marks") or [])
    if on:
        marks.add(mark)
    else:
        marks.discard(mark)
    row.data = {**row.data, "key_marks": sorted(marks)}
    row.is_key_event = bool(marks)
    session.add(row)
    return "marked" if on else "unmarked"


def ingest(
    session: Session,
    incident_id: int,
    event: dict[str, Any],
    *,
    now: datetime,
    bot_user_id: str | None,
) -> str:
    """Record one event of an incident channel; returns what was done (for logs and tests)."""
    channel = channel_of(event)
    if channel is None:
        return "ignored"
    kind = event.get("type")
    if kind in ("message", "app_mention"):
        subtype = event.get("subtype")
        if subtype == "message_changed":
            return _edited(session, incident_id, channel, event, now, bot_user_id)
        if subtype == "message_deleted":
            return _deleted(session, incident_id, channel, event, now)
        if subtype in IGNORED_SUBTYPES or event.get("hidden"):
            return "ignored"
        return _new_message(session, incident_id, channel, event, now, bot_user_id)
    if kind in ("reaction_added", "reaction_removed"):
        item = event.get("item") or {}
        if event.get("reaction") not in KEY_REACTIONS or item.get("type") != "message":
            return "ignored"
        return _mark(
            session,
            incident_id,
            channel,
            str(item.get("ts")),
            f"reaction:{event.get('user')}",
            on=kind == "reaction_added",
            now=now,
        )
    if kind in ("pin_added", "pin_removed"):
        item = event.get("item") or {}
        message = item.get("message") or {}
        ts = message.get("ts") or item.get("ts")
        if not ts:
            return "ignored"
        return _mark(session, incident_id, channel, str(ts), "pin", on=kind == "pin_added", now=now)
    return "ignored"
