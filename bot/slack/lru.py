"""A bounded, thread-safe cache whose entries expire: what the gateway remembers of Slack."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Cached(Generic[V]):
    """A value found in the cache (which may itself be None: "Slack has no such thing")."""

    value: V


class ExpiringLru(Generic[K, V]):
    """Keeps up to `maxsize` entries, each until its time-to-live runs out.

    When full, the least recently used entry goes. `monotonic` is the time source in
    seconds (injected by tests). One lock guards the entries; callers fetch a missing
    value outside it, so two threads may both fetch the same key once, harmlessly.
    """

    def __init__(self, maxsize: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._monotonic = monotonic
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> Cached[V] | None:
        """The live entry for `key`, or None when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if self._monotonic() >= expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return Cached(value)

    def put(self, key: K, value: V, ttl: timedelta) -> None:
        """Remember `value` for `ttl`, dropping the least recently used entry when full."""
        with self._lock:
            self._entries[key] = (self._monotonic() + ttl.total_seconds(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
