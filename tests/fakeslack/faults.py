"""Fault injection and Slack's per-method rate budgets."""

from __future__ import annotations

import math
import random
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


ChaosKind = Literal["rate_limit", "server_error", "server_error_applied", "timeout_applied"]
CHAOS_KINDS: tuple[ChaosKind, ...] = (
    "rate_limit",
    "server_error",
    "server_error_applied",
    "timeout_applied",
)


@dataclass
class Chaos:
    """Random faults: each call fails with probability `rate`, in one of `kinds`."""

    rate: float
    kinds: tuple[ChaosKind, ...]
    rng: random.Random
    timeout_seconds: float
    methods: frozenset[str] | None  # None: every method
    spared: frozenset[str]

    def roll(self, method: str) -> Fault | None:
        """The fault this call suffers, if it draws one."""
        if method in self.spared or (self.methods is not None and method not in self.methods):
            return None
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        if kind == "rate_limit":
            return Fault("rate_limit", 1, retry_after=self.rng.choice((1, 2)))
        if kind == "timeout_applied":
            return Fault("delay", 1, seconds=self.timeout_seconds, then_apply=True)
        return Fault("server_error", 1, status=500, then_apply=kind == "server_error_applied")


class FaultPlan:
    """Faults queued per method; each call consumes one use of the oldest fault. With
    chaos on, a call with no queued fault may draw a random one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Fault]] = {}
        self._chaos: Chaos | None = None
        self.chaos_log: list[tuple[str, str]] = []  # (method, fault kind) of each drawn

    def chaos(self, chaos: Chaos | None) -> None:
        """Turn random faults on (or off with None)."""
        with self._lock:
            self._chaos = chaos

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
                drawn = self._chaos.roll(method) if self._chaos is not None else None
                if drawn is not None:
                    self.chaos_log.append((method, drawn.kind))
                return drawn
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
        """Forget every queued fault, and stop the chaos."""
        with self._lock:
            self._faults.clear()
            self._chaos = None


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
