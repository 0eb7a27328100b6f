"""Reading what `/incident metrics` and `incident-bot report` are asked for: a period (in
the person's time zone) and filters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.errors import UserError
from bot.policy import Policy
from bot.render import clip
from bot.services.moments import zone
from bot.services.process_metrics import Filters

_DAYS = re.compile(r"^(\d{1,3})d$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-q([1-4])$")
# A period "until now" ends just after now, so what happened this very second counts.
_NOW = timedelta(seconds=1)
PERIODS_HELP = (
    "`7d`, `30d` (the last days), `this month`, `last month`, `2026-11` (a month), "
    "`2026-Q3` (a quarter)"
)


@dataclass(frozen=True)
class Request:
    """A parsed request: the filters, how to name the period, and whether to share."""

    filters: Filters
    label: str
    share: bool = False


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _month(year: int, month: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def period(words: list[str], *, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime, str]:
    """The period the words name (default: the last 30 days), as UTC bounds and a label."""
    text = " ".join(words).lower()
    local = now.astimezone(tz)
    if not text:
        text = "30d"
    if match := _DAYS.match(text):
        days = int(match.group(1))
        if not 1 <= days <= 366:
            raise UserError("A period of days is 1d to 366d.")
        return now - timedelta(days=days), now + _NOW, f"the last {days} days"
    if text == "this month":
        start, end = _month(local.year, local.month, tz)
        return start, min(end, now + _NOW), local.strftime("%B %Y") + " so far"
    if text == "last month":
        year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
        start, end = _month(year, month, tz)
        return start, end, date(year, month, 1).strftime("%B %Y")
    if match := _MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise UserError(f"`{clip(text, 20)}` is not a month.")
        start, end = _month(year, month, tz)
        return start, end, date(year, month, 1).strftime("%B %Y")
    if match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        start, _ = _month(year, 3 * quarter - 2, tz)
        _, end = _month(year, 3 * quarter, tz)
        return start, end, f"{year} Q{quarter}"
    raise UserError(f"`{clip(text, 40)}` is not a period I know. Use {PERIODS_HELP}.")


def parse(args: str, policy: Policy, *, now: datetime, tz: str | None) -> Request:
    """`[period] [sev1] [category:x] [service:y] [--share] [--include-all]`."""
    severities: list[str] = []
    categories: list[str] = []
    services: list[str] = []
    period_words: list[str] = []
    share = include_all = False
    labels = {s.label.lower(): key for key, s in policy.severities.items()}
    for word in args.split():
        lowered = word.lower()
        if lowered == "--share":
            share = True
        elif lowered == "--include-all":
            include_all = True
        elif lowered in policy.severities or lowered in labels:
            severities.append(labels.get(lowered, lowered))
        elif lowered.startswith("category:"):
            category = word.split(":", 1)[1]
            if category not in policy.categories:
                raise UserError(
                    f"`{clip(category, 40)}` is not a category. Choose from: "
                    + ", ".join(policy.categories)
                    + "."
                )
            categories.append(category)
        elif lowered.startswith("service:"):
            service = word.split(":", 1)[1].strip()
            if not service:
                raise UserError("Name the service: `service:checkout`.")
            services.append(service)
        elif lowered.startswith("-") or ":" in lowered:
            raise UserError(_unknown(word, policy))
        else:
            period_words.append(word)
    try:
        start, end, label = period(period_words, now=now, tz=zone(tz))
    except UserError as exc:
        if period_words and len(period_words) == 1 and not severities:
            raise UserError(_unknown(period_words[0], policy)) from None
        raise exc
    filters = Filters(
        start, end, tuple(severities), tuple(categories), tuple(services), include_all
    )
    return Request(filters, label, share)


def _unknown(word: str, policy: Policy) -> str:
    return (
        f"`{clip(word, 40)}` is not something I can filter by. Periods: {PERIODS_HELP}. "
        f"Severities: {', '.join(policy.severities)}. Filters: `category:<name>`, "
        "`service:<name>`. Options: `--share` (post in the channel), `--include-all` (count "
        "false positives, duplicates, maintenance and tests too)."
    )
