"""Telling the status page that something was published: a counter of publications in
this process, bumped after every commit that wrote published data (`status_*` rows), and
a version row in the database, moved in the same transaction as such a write.

The page renders again on the next request after a change in this process; other
replicas see the version move within the page's render interval (one second).
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session as OrmSession

from bot.models import (
    StatusComponentImpact,
    StatusIncident,
    StatusIncidentUpdate,
    StatusMaintenance,
    StatusPageVersion,
)

_STATUS_TABLES = (StatusIncident, StatusIncidentUpdate, StatusComponentImpact, StatusMaintenance)


class _Generation:
    """A counter of publications in this process."""

    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


_generation = _Generation()


def invalidate() -> None:
    """Mark what the page rendered so far as stale (called after a publication commits)."""
    with _generation.lock:
        _generation.value += 1


def generation() -> int:
    """A number that changes every time something is published in this process."""
    return _generation.value


def version(session: OrmSession) -> int:
    """The count of commits that changed published data, in any replica (0 before any)."""
    table = StatusPageVersion.__table__  # type: ignore[attr-defined]
    value = session.execute(select(table.c.version).where(table.c.id == 1)).scalar()
    return int(value or 0)


def _flushed(session: OrmSession, _context: Any) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if not any(isinstance(row, _STATUS_TABLES) for row in touched):
        return
    session.info["status_page_changed"] = True
    if session.info.get("status_page_counted"):
        return
    # In the same transaction as the change: the count moves if, and when, it commits.
    session.info["status_page_counted"] = True
    table = StatusPageVersion.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        update(table).where(table.c.id == 1).values(version=table.c.version + 1)
    )


def _committed(session: OrmSession) -> None:
    session.info.pop("status_page_counted", None)
    if session.info.pop("status_page_changed", False):
        invalidate()


def _rolled_back(session: OrmSession, _previous: Any) -> None:
    session.info.pop("status_page_changed", None)
    session.info.pop("status_page_counted", None)


def watch_publications() -> None:
    """Invalidate the page after every commit that wrote published data (once per process).

    Other replicas see a publication within the page's render interval (one second).
    """
    if event.contains(OrmSession, "after_flush", _flushed):
        return
    event.listen(OrmSession, "after_flush", _flushed)
    event.listen(OrmSession, "after_commit", _committed)
    event.listen(OrmSession, "after_soft_rollback", _rolled_back)
