"""Fault injection and Slack's per-method rate budgets."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .spec import MethodSpec

FaultKind = Literal["fail", "rate_limit", "server_error", "delay"]

WINDOW_SECONDS = 60.0


@dataclass
class Fault:
    """One injected misbehaviour for the next `remaining` calls of a method."""

    kind: FaultKind
    remaining: int
    error: str = "internal_error"
    retry_after: int = 1
    status: int = 500
    seconds: float = 0.0
    then_apply: bool = True


class FaultPlan:
    """Faults queued per method; each call consumes one use of the oldest fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Fault]] = {}

    def add(self, method: str, fault: Fault) -> None:
        """Queue `fault` for `method`."""
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.setdefault(method, deque()).append(fault)

    def take(self, method: str) -> Fault | None:
        """The fault the next call of `method` suffers, if any, using it up once."""
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            return fault

    def pending(self, method: str | None = None) -> int:
        """How many faulty calls are still queued (for `method`, or in total)."""
        with self._lock:
            queues = [self._faults.get(method, deque())] if method else self._faults.values()
            return sum(f.remaining for q in queues for f in q)

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._faults.clear()


class RateBudgets:
    """Per-minute budgets by tier, and chat.postMessage's one-per-second-per-channel bucket."""

    def __init__(self, clock: Callable[[], float], post_message_burst: int = 4) -> None:
        self.clock = clock
        self.post_message_burst = post_message_burst
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}

    def reset(self) -> None:
        """Start every budget afresh."""
        with self._lock:
            self._windows.clear()
            self._buckets.clear()

    def charge(self, spec: MethodSpec, channel: str | None) -> int | None:
        """Spend one call of `spec`; the Retry-After seconds when over budget, else None."""
        now = self.clock()
        with self._lock:
            if spec.name == "chat.postMessage":
                return self._charge_bucket(f"{spec.name}:{channel or ''}", now)
            limit = spec.per_minute
            if limit is None:
                return None
            window = self._windows.setdefault(spec.name, deque())
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= limit:
                return max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
            window.append(now)
            return None

    def _charge_bucket(self, key: str, now: float) -> int | None:
        capacity = float(self.post_message_burst)
        tokens, last = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + max(0.0, now - last))
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil(1.0 - tokens))
        self._buckets[key] = (tokens - 1.0, now)
        return None
