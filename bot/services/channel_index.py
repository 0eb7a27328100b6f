"""Which incident a channel belongs to, cached in the process.

An incident's channel never changes once set, so a found mapping is kept (bounded, least
recently used first out); a channel that is no incident's is remembered only briefly, in
case it becomes one.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from sqlmodel import Session, select

from bot.db import Database
from bot.models import Incident

MAX_ENTRIES = 10_000
NEGATIVE_TTL_SECONDS = 30.0


class ChannelIndex:
    """Channel ID → incident ID, read through to the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._found: OrderedDict[str, int] = OrderedDict()
        self._missing: dict[str, float] = {}
        self._lock = threading.Lock()

    def incident_id(self, channel: str, session: Session | None = None) -> int | None:
        """The incident whose channel this is, if any (read in `session` when given)."""
        now = time.monotonic()
        with self._lock:
            found = self._found.get(channel)
            if found is not None:
                self._found.move_to_end(channel)
                return found
            if self._missing.get(channel, 0.0) > now:
                return None
        query = select(Incident.id).where(Incident.channel_id == channel)
        if session is not None:
            incident_id = session.exec(query).first()
        else:
            with self.db.session() as own:
                incident_id = own.exec(query).first()
        with self._lock:
            if incident_id is None:
                if len(self._missing) > MAX_ENTRIES:
                    self._missing.clear()
                self._missing[channel] = now + NEGATIVE_TTL_SECONDS
                return None
            self._found[channel] = incident_id
            if len(self._found) > MAX_ENTRIES:
                self._found.popitem(last=False)
            return incident_id

    def remember(self, channel: str, incident_id: int) -> None:
        """Record a mapping this process has just made (a new incident channel)."""
        with self._lock:
            self._missing.pop(channel, None)
            self._found[channel] = incident_id
