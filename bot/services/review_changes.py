"""What changed between two versions of a review draft, section by section.

Both versions are compared as the Markdown that was uploaded: the sections (`## …`) are
matched by heading, table rows by their first cell, and other lines as they stand. The
lines that say when and which draft this is, and the list of changes itself, are left out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.services.review_wording import TBI

HEADER = "Overview"
CHANGES_HEADING = "## Changes since"
VOLATILE_PREFIXES = ("*Draft v",)
SHOWN_ADDITIONS = 8


@dataclass
class Change:
    """One changed section: a line about it, and the entries it gained."""

    text: str
    details: list[str] = field(default_factory=list)


def sections(markdown: str) -> dict[str, list[str]]:
    """The draft's sections by heading (the part before the first is the overview)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = found.setdefault(HEADER, [])
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = None if line.startswith(CHANGES_HEADING) else []
            if current is not None:
                found[line[3:].strip()] = current
            continue
        if line.startswith("# "):
            continue
        if current is not None and line.strip() and not line.startswith(VOLATILE_PREFIXES):
            current.append(line.rstrip())
    return found


def _cells(line: str) -> list[str]:
    return [part.strip() for part in line.strip().strip("|").split(" | ")]


def _rows(lines: list[str]) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in lines:
        if line.startswith("|") and not line.startswith("| ---"):
            key = _cells(line)[0]
            rows[key] = line
    return rows


def _minus(left: list[str], right: list[str], key: Callable[[str], str] = str) -> list[str]:
    """The lines of `left` that `right` lacks (counting repeats), compared by `key`; the
    lines of `left` as written."""
    remaining = Counter(key(line) for line in right)
    out = []
    for line in left:
        if remaining[key(line)]:
            remaining[key(line)] -= 1
        else:
            out.append(line)
    return out


def _row_name(key: str) -> str:
    return f"#{key}" if key.isdigit() else (key or "a row")


def _key(line: str) -> str:
    """What a line is about: the words before its first colon (`- **Cause:** …` → Cause)."""
    head, colon, _ = line.partition(":")
    return head.strip(" -*#>").strip() if colon else ""


def _filled(added: list[str], removed: list[str], section: str) -> list[str]:
    """The things that said To be investigated before and say something now."""
    now_known = {_key(line) for line in added if TBI not in line}
    filled = [
        _key(line) or section
        for line in removed
        if TBI in line and (_key(line) in now_known or line.strip(" -") == TBI)
    ]
    return list(dict.fromkeys(filled))


# A dated timeline stamp (an entry's, or a line of the routine discussion's summary), and
# the line that says how times are written.
_DATED = re.compile(r"^(- (?:\*\*)?)\d{4}-\d\d-\d\d (\d\d:\d\d)")
_TIMES_NOTE = "All times UTC"


def _undated(line: str) -> str:
    """A timeline line without its date, if it has one."""
    return _DATED.sub(r"\1\2", line)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _timeline(added: list[str], removed: list[str]) -> Change:
    entries = [line for line in added if line.startswith("- **")]
    gone = [line for line in removed if line.startswith("- **")]
    replies = [line for line in added if line.startswith("  - ")]
    parts = []
    if entries:
        parts.append(_plural(len(entries), "entry", "entries") + " added")
    if gone:
        parts.append(_plural(len(gone), "entry", "entries") + " removed")
    if replies:
        parts.append(_plural(len(replies), "thread reply", "thread replies") + " added")
    if len(added) + len(removed) > len(entries) + len(gone) + len(replies):
        parts.append("routine discussion updated")
    details = [line[2:] for line in entries[:SHOWN_ADDITIONS]]
    if len(entries) > SHOWN_ADDITIONS:
        details.append(f"… and {len(entries) - SHOWN_ADDITIONS} more")
    return Change("Timeline: " + "; ".join(parts), details)


def _describe(name: str, old: list[str], new: list[str]) -> Change | None:
    old_rows, new_rows = _rows(old), _rows(new)
    old_text = [line for line in old if not line.startswith("|")]
    new_text = [line for line in new if not line.startswith("|")]
    if name == "Timeline":
        # A timeline that comes to span midnight is dated from then on: an entry whose
        # stamp only gained its date is the same entry, not a new one.
        old_text = [line for line in old_text if not line.startswith(_TIMES_NOTE)]
        new_text = [line for line in new_text if not line.startswith(_TIMES_NOTE)]
        added = _minus(new_text, old_text, key=_undated)
        removed = _minus(old_text, new_text, key=_undated)
        return _timeline(added, removed) if added or removed else None
    added, removed = _minus(new_text, old_text), _minus(old_text, new_text)
    parts: list[str] = []
    for verb, keys in (
        ("added", [k for k in new_rows if k not in old_rows]),
        ("changed", [k for k in new_rows if k in old_rows and new_rows[k] != old_rows[k]]),
        ("removed", [k for k in old_rows if k not in new_rows]),
    ):
        if keys:
            parts.append(", ".join(_row_name(k) for k in keys) + " " + verb)
    filled = _filled(added, removed, name)
    if filled:
        parts.append(
            "filled in" if filled == [name] else ", ".join(k for k in filled) + " filled in"
        )
    if len(removed) > len(filled) or len(added) > len(filled):
        parts.append("updated")
    if not parts:
        return None
    return Change(f"{name}: {'; '.join(parts)}")


def between(previous: str, current: str) -> list[Change]:
    """The sections of `current` that differ from `previous`, with what changed in each."""
    old, new = sections(previous), sections(current)
    changes: list[Change] = []
    for name, lines in new.items():
        if name not in old:
            changes.append(Change(f"{name}: new section"))
            continue
        change = _describe(name, old[name], lines)
        if change is not None:
            changes.append(change)
    changes.extend(Change(f"{name}: section removed") for name in old if name not in new)
    return changes
