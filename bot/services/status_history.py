"""A status page component's history: each day's worst state, minutes per state, and the
uptime, from stretches of impact.

Uptime is computed the way Atlassian Statuspage does it: a major outage counts fully as
downtime, a partial outage at 30 % of its duration (`PARTIAL_WEIGHT`), and degraded
performance and maintenance not at all. Overlapping stretches count once, at the worst
state among them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import NamedTuple

from bot.comms_policy import COMPONENT_STATES, STATE_LABELS

PARTIAL_WEIGHT = 0.3  # Statuspage's weight of a partial outage in the uptime figure
RANK: dict[str, int] = {state: index for index, state in enumerate(COMPONENT_STATES)}
# Statuspage's level for each component state, in the same order (worst last): the page's
# indicator says the worst of them. An incident's impact is on the same scale, where
# maintenance counts as none (`impact`).
LEVELS: dict[str, str] = {
    "operational": "none",
    "under_maintenance": "maintenance",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
LEVEL_ORDER: tuple[str, ...] = tuple(LEVELS.values())


def worst(states: list[str]) -> str:
    """The worst of some component states (operational when there are none)."""
    known = [s for s in states if s in RANK]
    return max(known, key=RANK.__getitem__) if known else "operational"


def highest(levels: Iterable[str]) -> str:
    """The highest of some Statuspage levels (none when there are none)."""
    return max((x for x in levels if x in LEVEL_ORDER), key=LEVEL_ORDER.index, default="none")


def impact(states: list[str]) -> str:
    """Statuspage's impact of an incident whose components are in these states."""
    level = LEVELS[worst(states)]
    return "none" if level == "maintenance" else level


class Day(NamedTuple):
    """One bar of a component's history (a tuple: thousands are built per rendering)."""

    day: date
    state: str  # the worst state of the day
    minutes: dict[str, int]  # minutes per state other than operational
    uptime: float  # percent of the day (the part of today elapsed so far)

    @property
    def label(self) -> str:
        """The tooltip: the date and what happened."""
        if not self.minutes:
            return f"{self.day.isoformat()}: No downtime recorded"
        parts = [
            f"{STATE_LABELS[state].lower()} {_duration(minutes)}"
            for state in reversed(COMPONENT_STATES)
            if (minutes := self.minutes.get(state, 0))
        ]
        what = ", ".join(parts) if parts else "no downtime recorded"
        return f"{self.day.isoformat()}: {what[:1].upper()}{what[1:]}"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def calendar_of(first: datetime, now: datetime, days: int) -> list[tuple[date, float]]:
    """Each day of the history with its length in minutes (today: so far)."""
    result = []
    for index in range(days):
        day_start = first + timedelta(days=index)
        result.append((day_start.date(), min((now - day_start).total_seconds() / 60, 1440.0)))
    return result


def history(
    intervals: list[tuple[datetime, datetime, str]],
    first: datetime,
    now: datetime,
    calendar: list[tuple[date, float]],
) -> tuple[list[Day], float, int]:
    """Per-day worst state and minutes per state, the uptime and the outage days."""
    # In seconds since the epoch (a UTC day is 86,400 of them): datetimes cost more here.
    origin, until = first.timestamp(), now.timestamp()
    spans = [(s.timestamp(), e.timestamp(), RANK[state]) for s, e, state in intervals]
    # Cut the overlapping intervals into stretches with one worst state each.
    edges = sorted({origin, until, *(t for s, e, _ in spans for t in (s, e) if origin < t < until)})
    per_day: dict[int, dict[str, float]] = {}
    for start, end in itertools.pairwise(edges):
        rank = max((r for s, e, r in spans if s <= start and e >= end), default=0)
        if rank == 0:
            continue
        state = COMPONENT_STATES[rank]
        moment = start
        while moment < end:
            index = int((moment - origin) // 86400)
            stop = min(end, origin + (index + 1) * 86400)
            minutes = per_day.setdefault(index, {})
            minutes[state] = minutes.get(state, 0.0) + (stop - moment) / 60
            moment = stop
    result: list[Day] = []
    total_down = 0.0
    outage_days = 0
    for index, (day, length) in enumerate(calendar):
        minutes = per_day.get(index, {})
        if not minutes:
            result.append(Day(day, "operational", {}, 100.0))
            continue
        down = minutes.get("major_outage", 0.0) + PARTIAL_WEIGHT * minutes.get(
            "partial_outage", 0.0
        )
        total_down += down
        if minutes.get("major_outage") or minutes.get("partial_outage"):
            outage_days += 1
        result.append(
            Day(
                day=day,
                state=worst(list(minutes)),
                minutes={s: max(round(m), 1) for s, m in minutes.items()},
                uptime=100.0 * (1 - down / length) if length > 0 else 100.0,
            )
        )
    total_minutes = sum(length for _, length in calendar)
    uptime = 100.0 * (1 - total_down / total_minutes) if total_minutes > 0 else 100.0
    return result, uptime, outage_days
