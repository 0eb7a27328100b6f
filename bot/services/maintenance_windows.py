"""Maintenance windows: while one covers an alert's service, the alert declares nothing.

Windows come from `/incident maintenance` (rows) and from the policy's `maintenance:`
list (recurring: `sun 02:00` for 2h in a time zone). An alert a window covers is not
dropped: it goes to triage with a note naming the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, or_, select

from bot.alert_policy import RecurringWindow
from bot.errors import UserError
from bot.models import EVERY_SERVICE, MaintenanceWindow
from bot.policy import Policy, parse_duration
from bot.render import clip
from bot.services import status_publication
from bot.services.moments import parse_moment

PUBLIC_FLAG = "--public"  # also announce the window on the status page
MAX_LENGTH = timedelta(days=14)


@dataclass(frozen=True)
class Window:
    """A window in effect or to come, whichever kind it is."""

    services: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    reason: str
    id: int | None = None  # None for a recurring window of the policy
    created_by: str | None = None

    def covers(self, services: set[str], now: datetime) -> bool:
        """Whether this window is on now for any of `services`."""
        if not self.starts_at <= now < self.ends_at:
            return False
        return EVERY_SERVICE in self.services or bool(services & set(self.services))

    @property
    def label(self) -> str:
        """How the window is named in notes: `#3` or `recurring`."""
        return f"#{self.id}" if self.id is not None else "recurring"


def occurrence(window: RecurringWindow, now: datetime) -> tuple[datetime, datetime]:
    """The recurring window's occurrence in effect at `now`, or else its next one."""
    zone = ZoneInfo(window.timezone)
    local = now.astimezone(zone)
    hour, minute = window.time_of_day()
    weekday = window.weekday()
    # The latest start at or before now (looking back up to a week), then forward.
    for back in range(8):
        day = (local - timedelta(days=back)).date()
        if weekday is not None and day.weekday() != weekday:
            continue
        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        if start <= now:
            if now < start + window.duration:
                return start, start + window.duration
            break
    step = 1 if weekday is None else 7
    for ahead in range(8):
        day = (local + timedelta(days=ahead)).date()
        if weekday is not None and day.weekday() != weekday:
            continue
        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        if start > now:
            return start, start + window.duration
    start = now + timedelta(days=step)  # unreachable in practice: a day or week always comes
    return start, start + window.duration


def windows(session: Session, policy: Policy, now: datetime) -> list[Window]:
    """Every window in effect now or still to come, soonest first."""
    rows = session.exec(
        select(MaintenanceWindow).where(
            col(MaintenanceWindow.ends_at) > now,
            or_(
                col(MaintenanceWindow.ended_early_at).is_(None),
                col(MaintenanceWindow.ended_early_at) > now,
            ),
        )
    ).all()
    found = [
        Window(
            services=tuple(row.services.get("services") or ()),
            starts_at=row.starts_at,
            ends_at=row.ended_early_at or row.ends_at,
            reason=row.reason,
            id=row.id,
            created_by=row.created_by,
        )
        for row in rows
    ]
    for recurring in policy.maintenance:
        start, end = occurrence(recurring, now)
        found.append(Window(tuple(recurring.services), start, end, recurring.reason))
    return sorted(found, key=lambda window: (window.starts_at, window.id or 0))


def covering(session: Session, policy: Policy, services: set[str], now: datetime) -> Window | None:
    """The window that is on now for any of these services, if one is."""
    services = {service for service in services if service}
    if not services:
        services = set()
    for window in windows(session, policy, now):
        if window.covers(services, now):
            return window
    return None


@dataclass(frozen=True)
class WindowInput:
    """A window as `/incident maintenance` reads it."""

    services: tuple[str, ...]
    starts_at: datetime
    duration: timedelta
    reason: str


def parse(args: str, *, now: datetime, tz: str | None) -> WindowInput:
    """`<service…> <start> <duration> [reason]`: start is `now`, `14:00` or a date and time."""
    words = args.split()
    usage = (
        "Write `/incident maintenance <service…> <start> <duration> [reason]`, for example "
        "`/incident maintenance checkout payments 22:00 2h card network upgrade` "
        "(start: `now`, `22:00` or `2026-11-27 22:00` in your timezone; `*` for every service)."
    )
    for index in range(1, len(words)):
        for width in (2, 1):
            start_words = words[index : index + width]
            if len(start_words) < width or index + width >= len(words):
                continue
            start_text = " ".join(start_words)
            try:
                duration = parse_duration(words[index + width])
                if start_text.lower() == "now":
                    start = now
                else:
                    start = parse_moment(start_text, now=now, tz=tz, future=True)
            except (UserError, ValueError):
                continue
            services = tuple(dict.fromkeys(w.strip(",").lower() for w in words[:index]))
            reason = " ".join(words[index + width + 1 :])
            if duration > MAX_LENGTH:
                raise UserError("A maintenance window lasts at most 14 days.")
            if start + duration <= now:
                raise UserError(f"That window would already be over. {usage}")
            return WindowInput(tuple(s for s in services if s), start, duration, clip(reason, 300))
    raise UserError(usage)


def create(session: Session, data: WindowInput, *, actor: str, now: datetime) -> MaintenanceWindow:
    """Record a window."""
    row = MaintenanceWindow(
        services={"services": list(data.services)},
        starts_at=data.starts_at,
        ends_at=data.starts_at + data.duration,
        reason=data.reason,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def end(session: Session, window_id: int, *, actor: str, now: datetime) -> MaintenanceWindow:
    """End a window now (or cancel one still to come)."""
    row = session.get(MaintenanceWindow, window_id)
    if row is None or (row.ended_early_at or row.ends_at) <= now:
        raise UserError(f"There is no maintenance window #{window_id} in effect or to come.")
    row.ended_early_at = now
    row.ended_by = actor
    session.add(row)
    status_publication.end_maintenance(session, window_id, now)
    session.flush()
    return row


def split_public(args: str) -> tuple[str, bool]:
    """The arguments without `--public`, and whether it was there."""
    words = args.split()
    kept = [word for word in words if word.lower() != PUBLIC_FLAG]
    return " ".join(kept), len(kept) != len(words)
