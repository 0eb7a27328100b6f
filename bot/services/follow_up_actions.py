"""Follow-up actions: numbered per incident, with an owner and a due date."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.errors import UserError
from bot.models import ActionItem, ActionState, Incident, TaskKind, TimelineKind
from bot.render import clip
from bot.services import moments, task_schedule, timeline_entries

_DUE = re.compile(r"\s+due\s+(.+)$", re.IGNORECASE)
_OWNER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def parse_due(text: str, *, today: date) -> date:
    """`2026-12-01`, `today`, `tomorrow`, a weekday (the next one), or `in 3d` / `in 2w`."""
    cleaned = text.strip().lower()
    if cleaned == "today":
        return today
    if cleaned == "tomorrow":
        return today + timedelta(days=1)
    if cleaned in _WEEKDAYS:
        ahead = (_WEEKDAYS.index(cleaned) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    match = re.fullmatch(r"in\s+(\d{1,3})\s*(d|day|days|w|week|weeks)", cleaned)
    if match:
        count = int(match.group(1))
        return today + timedelta(days=count * (7 if match.group(2).startswith("w") else 1))
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise UserError(
            f"`{clip(text.strip(), 40)}` is not a date I can read: write `2026-12-01`, `tomorrow`, "
            "`friday` or `in 3d`."
        ) from None


def parse(args: str, *, today: date) -> tuple[str, str | None, date | None]:
    """Split `<text> [@owner] [due <date>]` into its parts."""
    due = None
    match = _DUE.search(args)
    if match:
        due = parse_due(match.group(1), today=today)
        args = args[: match.start()]
    owners = _OWNER.findall(args)
    owner = owners[-1] if owners else None
    if owner is not None:
        last = list(_OWNER.finditer(args))[-1]
        args = (args[: last.start()] + args[last.end() :]).strip()
    text = " ".join(args.split())
    if not text:
        raise UserError("Describe the action: `/incident action <text> [@owner] [due <date>]`.")
    if due is not None and due < today:
        raise UserError("The due date is in the past.")
    return text, owner, due


def due_moment(due: date, tz: str | None = None) -> datetime:
    """When an action due on `due` becomes overdue: the end of that day where its owner is."""
    local = datetime.combine(due + timedelta(days=1), time(0, 0), tzinfo=moments.zone(tz))
    return local.astimezone(UTC)


def add(
    session: Session,
    incident: Incident,
    *,
    text: str,
    owner: str | None,
    due: date | None,
    actor: str,
    now: datetime,
    tz: str | None = None,
) -> ActionItem:
    """Add an action to an incident (due at the end of its day in `tz`, the owner's zone)."""
    assert incident.id is not None
    number = (
        int(
            session.exec(
                select(func.coalesce(func.max(ActionItem.number), 0)).where(
                    ActionItem.incident_id == incident.id
                )
            ).one()
        )
        + 1
    )
    item = ActionItem(
        incident_id=incident.id,
        number=number,
        text=text,
        owner_id=owner,
        due_date=due,
        created_at=now,
        created_by=actor,
    )
    session.add(item)
    session.flush()
    if due is not None and owner is not None:
        task_schedule.arm(
            session=session,
            incident_id=incident.id,
            kind=TaskKind.ACTION_OVERDUE,
            key=f"a{item.id}",
            due_at=max(due_moment(due, tz), now),
            now=now,
        )
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.ACTION_ADDED,
        now=now,
        actor=actor,
        text=f"Action #{number}: {text}",
        data={"action": number, "owner": owner, "due": due.isoformat() if due else None},
    )
    return item


def complete(
    session: Session, incident: Incident, number: int, *, actor: str, now: datetime
) -> ActionItem:
    """Mark an action done (and stop its overdue reminders); the timeline records it."""
    item = session.exec(
        select(ActionItem).where(ActionItem.incident_id == incident.id, ActionItem.number == number)
    ).first()
    if item is None:
        raise UserError(f"{incident.reference} has no action #{number}.")
    if item.state == ActionState.DONE:
        raise UserError(f"Action #{number} is already done.")
    item.state = ActionState.DONE
    item.done_at = now
    item.done_by = actor
    session.add(item)
    task_schedule.cancel(
        session=session,
        incident_id=item.incident_id,
        kinds=(TaskKind.ACTION_OVERDUE,),
        key=f"a{item.id}",
        now=now,
    )
    assert incident.id is not None
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.ACTION_DONE,
        now=now,
        actor=actor,
        text=f"Action #{number} done: {item.text}",
        data={"action": number, "owner": item.owner_id},
    )
    return item


def of_incident(session: Session, incident: Incident) -> list[ActionItem]:
    """An incident's actions, in order."""
    return list(
        session.exec(
            select(ActionItem)
            .where(ActionItem.incident_id == incident.id)
            .order_by(col(ActionItem.number))
        ).all()
    )


def completion(items: list[ActionItem]) -> tuple[int, int]:
    """(done, total)."""
    return sum(1 for item in items if item.state == ActionState.DONE), len(items)


def listing(
    session: Session, *, overdue_only: bool, today: date
) -> list[tuple[Incident, ActionItem]]:
    """Actions across incidents (open and overdue only, when asked)."""
    query = select(Incident, ActionItem).where(col(ActionItem.incident_id) == col(Incident.id))
    if overdue_only:
        query = query.where(
            ActionItem.state == ActionState.OPEN,
            col(ActionItem.due_date).is_not(None),
            col(ActionItem.due_date) < today,
        )
    rows = session.exec(query.order_by(col(Incident.id), col(ActionItem.number))).all()
    return [(incident, item) for incident, item in rows]
