"""What Slack must show after a change, recorded in the change's own transaction.

A committed change owes Slack some effects: a post in the incident's channel (and a copy
under the announcement), a direct message, an invite, and a refresh of the pinned
summary, the topic and the announcement. Each is a task row armed here, in the same
transaction as the change, so none can be lost to a crash or a Slack outage: the flow runs
them at once after the commit (`effect_delivery.run_now`) and the sweeper runs whatever
failed, with back-off, until done or given up. A post's text is written when the change is
made (it tells of that change); a refresh renders the incident as it is when it runs, so a
late retry never puts back an older state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.ids import MetadataType
from bot.models import TaskKind
from bot.services import task_schedule

CHANNEL = "channel"  # the incident's own channel
THREAD = "thread"  # the thread under the incident's announcement


def post(
    session: Session,
    incident_id: int,
    *,
    to: str,
    text: str,
    now: datetime,
    kind: MetadataType = MetadataType.NOTICE,
    update_id: int | None = None,
    button: dict[str, str] | None = None,
    blocks: list[dict[str, Any]] | None = None,
    public_update_id: int | None = None,
) -> int:
    """A post owed to Slack: in the channel, in the announcement's thread, or to a person
    (a user ID, for a direct message), optionally with one button (`action_id`, `label`,
    `value`) or Block Kit blocks of its own; returns its task's ID.

    A status update's post (`update_id`) and a public update's approval request
    (`public_update_id`) are recorded on their rows once posted."""
    task = task_schedule.arm(
        session=session,
        incident_id=incident_id,
        kind=TaskKind.SLACK_POST,
        key=f"p{uuid.uuid4().hex[:20]}",
        due_at=now,
        now=now,
    )
    task.data = {
        **task.data,
        "to": to,
        "text": text,
        "kind": str(kind),
        "update_id": update_id,
        "button": button,
        "blocks": blocks,
        "public_update_id": public_update_id,
    }
    session.add(task)
    session.flush()
    assert task.id is not None
    return task.id


def refresh(session: Session, incident_id: int, now: datetime) -> int:
    """A refresh of the summary, topic and announcement (one per incident, however many
    changes ask for it before it runs); returns its task's ID."""
    task = task_schedule.arm(
        session=session, incident_id=incident_id, kind=TaskKind.SLACK_REFRESH, due_at=now, now=now
    )
    assert task.id is not None
    return task.id


def invite(session: Session, incident_id: int, user_id: str, now: datetime) -> int:
    """Adding a person to the incident's channel; returns its task's ID."""
    task = task_schedule.arm(
        session=session,
        incident_id=incident_id,
        kind=TaskKind.ROLE_INVITE,
        key=user_id,
        due_at=now,
        now=now,
    )
    assert task.id is not None
    return task.id
