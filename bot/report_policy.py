"""The policy's process targets, root-cause categories, survey and scheduled reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.durations import Duration

if TYPE_CHECKING:
    from bot.policy import Policy

_SCHEDULE = re.compile(
    r"^(?:(?P<monthly>monthly on (?P<day>\d{1,2}))"
    r"|(?P<weekly>weekly on (?P<weekday>mon|tue|wed|thu|fri|sat|sun))"
    r"|(?P<daily>daily))"
    r" at (?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)"
    r"(?: (?P<zone>[A-Za-z_]+(?:/[A-Za-z_+-]+)*))?$",
    re.IGNORECASE,
)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CHANNEL = re.compile(r"^(?:[CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79})$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

DEFAULT_ROOT_CAUSES = [
    "change",
    "configuration",
    "capacity",
    "dependency",
    "hardware",
    "software defect",
    "security",
    "process",
    "unknown",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProcessTargets(_Strict):
    """Targets for the process itself (the SOP's): drawn on charts, compared in reports."""

    detect: Duration = timedelta(minutes=5)
    first_contact_resolution: float = Field(default=80.0, ge=0, le=100)  # percent
    satisfaction: float = Field(default=4.0, ge=1, le=5)


class Survey(_Strict):
    """The post-incident survey sent on close."""

    enabled: bool = True
    business_liaison: bool = True  # ask the business liaison too, not only the reporter


@dataclass(frozen=True)
class Period:
    """A reporting period: [start, end), with a key that names it once (`2026-11`)."""

    key: str
    start: datetime
    end: datetime
    label: str


class Scope(_Strict):
    """Which incidents a report covers."""

    severities: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    include_all: bool = False  # count false positives, duplicates, maintenance and tests


class ReportSchedule(_Strict):
    """A report posted on a schedule: `monthly on 1 at 09:00 Europe/Berlin`."""

    name: str
    channel: str
    schedule: str
    scope: Scope = Field(default_factory=Scope)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lowercase letters, digits, - or _ (at most 40)")
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL.match(value):
            raise ValueError("must be a channel ID such as C0123ABCD or a name such as #ops")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        text = " ".join(value.split())
        match = _SCHEDULE.match(text)
        if match is None:
            raise ValueError(
                f"{value!r}: write it like 'monthly on 1 at 09:00 Europe/Berlin', "
                "'weekly on mon at 09:00' or 'daily at 08:30 UTC'"
            )
        if match.group("day") is not None and not 1 <= int(match.group("day")) <= 28:
            raise ValueError(f"{value!r}: a monthly report's day is 1 to 28")
        zone = match.group("zone")
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r}: {zone!r} is not a known time zone") from None
        return text

    def _parts(self) -> re.Match[str]:
        match = _SCHEDULE.match(self.schedule)
        assert match is not None
        return match

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone (UTC when it names none)."""
        return ZoneInfo(self._parts().group("zone") or "UTC")

    def latest(self, now: datetime) -> tuple[datetime, Period]:
        """The most recent due time at or before `now`, and the period it reports on."""
        parts = self._parts()
        zone = self.zone
        local = now.astimezone(zone)
        hour, minute = int(parts.group("hour")), int(parts.group("minute"))
        if parts.group("monthly") is not None:
            day = int(parts.group("day"))
            due = local.replace(day=day, hour=hour, minute=minute, second=0, microsecond=0)
            if due > local:
                due = _add_months(due, -1)
            start = _add_months(due.replace(day=1, hour=0, minute=0), -1)
            end = due.replace(day=1, hour=0, minute=0)
            period = Period(start.strftime("%Y-%m"), start, end, start.strftime("%B %Y"))
        else:
            due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if parts.group("weekly") is not None:
                back = (due.weekday() - _WEEKDAYS.index(parts.group("weekday").lower())) % 7
                due -= timedelta(days=back)
                if due > local:
                    due -= timedelta(days=7)
                end = due.replace(hour=0, minute=0) - timedelta(days=due.weekday())
                start = end - timedelta(days=7)
                iso = start.isocalendar()
                key = f"{iso.year}-W{iso.week:02d}"
                label = f"the week of {start:%Y-%m-%d}"
            else:
                if due > local:
                    due -= timedelta(days=1)
                end = due.replace(hour=0, minute=0)
                start = end - timedelta(days=1)
                key, label = start.strftime("%Y-%m-%d"), start.strftime("%Y-%m-%d")
            period = Period(key, start, end, label)
        return due, period


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)


def check_reports(policy: Policy) -> None:
    """The scheduled reports name severities and categories the policy has, each report once."""
    names = [report.name for report in policy.reports]
    if len(set(names)) != len(names):
        raise ValueError("reports: report names must be distinct")
    for index, report in enumerate(policy.reports):
        for key in report.scope.severities:
            if key not in policy.severities:
                raise ValueError(f"reports.{index}.scope.severities: {key!r} is not a severity")
        for category in report.scope.categories:
            if category not in policy.categories:
                raise ValueError(
                    f"reports.{index}.scope.categories: {category!r} is not a category"
                )
