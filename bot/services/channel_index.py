"""Which incident a channel belongs to, cached in the process.

An incident's channel never changes once set, so a found mapping is kept (bounded, least
recently used first out). A channel that is no incident's is not remembered: it may become
one at any moment, on another replica, and its events must not be dropped meanwhile.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import sqlalchemy
from sqlmodel import Session, col, select

from bot.db import Database
from bot.models import Incident

MAX_ENTRIES = 10_000
# Built once: a lookup outside a session is one Core statement on a connection.
_INCIDENT_OF_CHANNEL = sqlalchemy.select(col(Incident.id)).where(
    col(Incident.channel_id) == sqlalchemy.bindparam("channel")
)


class ChannelIndex:
    """Channel ID → incident ID, read through to the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._found: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def incident_id(self, channel: str, session: Session | None = None) -> int | None:
        """The incident whose channel this is, if any (read in `session` when given)."""
        with self._lock:
            found = self._found.get(channel)
            if found is not None:
                self._found.move_to_end(channel)
                return found
        incident_id: int | None
        if session is not None:
            incident_id = session.exec(
                select(Incident.id).where(Incident.channel_id == channel)
            ).first()
        else:
            with self.db.connection() as connection:
                incident_id = connection.execute(
                    _INCIDENT_OF_CHANNEL, {"channel": channel}
                ).scalar()
        if incident_id is not None:
            self.remember(channel, incident_id)
        return incident_id

    def remember(self, channel: str, incident_id: int) -> None:
        """Record a mapping (found in the database, or just made by this process)."""
        with self._lock:
            self._found[channel] = incident_id
            self._found.move_to_end(channel)
            if len(self._found) > MAX_ENTRIES:
                self._found.popitem(last=False)
