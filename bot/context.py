"""What every handler, flow and job needs, built once per process."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.db import Database
from bot.integrations.smtp_mail import SmtpServer
from bot.observability import BotMetrics
from bot.policy import Policy
from bot.services.channel_index import ChannelIndex
from bot.slack.gateway import SlackGateway

log = logging.getLogger(__name__)

WORK_THREADS = 16
# Work that holds a trigger_id (opening a form): Slack lets it be used for 3 s after the
# click, so it never waits in line behind a burst of notes and messages on `work`.
FORM_THREADS = 4
# Email and pages, apart from Slack work (`bot/scheduler.py` keeps at most two of each
# kind in flight, so a dead mail server never delays a page).
OUTBOUND_THREADS = 4


@dataclass
class Context:
    """The process-wide collaborators: policy, database, Slack, clock, and a work pool.

    Listeners ack on Bolt's threads and hand anything that calls Slack to `work`, so a
    slow Slack call never holds a thread that another request needs in order to ack.
    Opening a form goes to `forms` instead: its trigger_id expires 3 s after the click.
    """

    policy: Policy
    db: Database
    slack: SlackGateway
    clock: Clock
    channels: ChannelIndex = field(init=False)
    metrics: BotMetrics = field(default_factory=BotMetrics)
    process_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    work: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="work")
    )
    forms: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(FORM_THREADS, thread_name_prefix="forms")
    )

    smtp: SmtpServer | None = None  # where email goes (None: SMTP_URL is not set)
    outbound: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(OUTBOUND_THREADS, thread_name_prefix="outbound")
    )
    outbound_busy: dict[str, int] = field(default_factory=dict)  # in flight, by task kind

    # Channel names from the policy (`#incidents`) resolved to IDs, once per process.
    resolved_channels: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set by `close`: work that goes on to the next due item (an email sender) stops.
    stopping: threading.Event = field(default_factory=threading.Event)
    _deferred: set[Future[object]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.channels = ChannelIndex(self.db)
        self.slack.observe = self.metrics.slack_call

    def defer(self, fn: Callable[[], object]) -> Future[object]:
        """Run `fn` on the work pool (its errors are logged if nobody else handles them)."""
        return self._track(self.work.submit(fn))

    def defer_form(self, fn: Callable[[], object]) -> Future[object]:
        """Run `fn`, which opens a form with a trigger_id, on the form pool: ahead of any
        backlog of Slack work, so the trigger is still valid when it is used."""
        return self._track(self.forms.submit(fn))

    def _track(self, future: Future[object]) -> Future[object]:
        with self.lock:
            self._deferred.add(future)
        future.add_done_callback(self._done)
        return future

    def defer_outbound(self, kind: str, fn: Callable[[], object]) -> Future[object]:
        """Run `fn` (an email or a page) on the outbound pool, counted as in flight for
        `kind` until it ends; `wait_idle` waits for it too."""
        with self.lock:
            self.outbound_busy[kind] = self.outbound_busy.get(kind, 0) + 1
        future = self.outbound.submit(fn)
        # Counted out before `_track` lets `wait_idle` return: idle means none in flight.
        future.add_done_callback(lambda _: self._outbound_done(kind))
        return self._track(future)

    def outbound_in_flight(self, kind: str) -> int:
        """How many emails or pages (`kind`) are being sent or wait for a thread."""
        with self.lock:
            return self.outbound_busy.get(kind, 0)

    def _outbound_done(self, kind: str) -> None:
        with self.lock:
            self.outbound_busy[kind] = max(self.outbound_busy.get(kind, 0) - 1, 0)

    def _done(self, future: Future[object]) -> None:
        with self.lock:
            self._deferred.discard(future)
        _log_failure(future)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until the work deferred so far (and what it defers in turn) has finished."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                pending = list(self._deferred)
            if not pending:
                return True
            wait(pending, timeout=max(deadline - time.monotonic(), 0))
            if time.monotonic() >= deadline:
                return False

    def close(self) -> None:
        """Let deferred work finish, then release the database."""
        self.stopping.set()
        self.forms.shutdown(wait=True)
        self.work.shutdown(wait=True)
        self.outbound.shutdown(wait=True)
        self.db.dispose()


def _log_failure(future: Future[object]) -> None:
    error = future.exception()
    if error is not None:
        log.error("deferred work failed", exc_info=error)
