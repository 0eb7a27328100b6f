"""What every handler, flow and job needs, built once per process."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.db import Database
from bot.policy import Policy
from bot.services.channel_index import ChannelIndex
from bot.slack.gateway import SlackGateway

log = logging.getLogger(__name__)

WORK_THREADS = 16


@dataclass
class Context:
    """The process-wide collaborators: policy, database, Slack, clock, and a work pool.

    Listeners ack on Bolt's threads and hand anything that calls Slack to `work`, so a
    slow Slack call never holds a thread that another request needs in order to ack.
    """

    policy: Policy
    db: Database
    slack: SlackGateway
    clock: Clock
    channels: ChannelIndex = field(init=False)
    process_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    work: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="work")
    )

    # Channel names from the policy (`#incidents`) resolved to IDs, once per process.
    resolved_channels: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.channels = ChannelIndex(self.db)

    def defer(self, fn: Callable[[], object]) -> Future[object]:
        """Run `fn` on the work pool (its errors are logged if nobody else handles them)."""
        future = self.work.submit(fn)
        future.add_done_callback(_log_failure)
        return future

    def close(self) -> None:
        """Let deferred work finish, then release the database."""
        self.work.shutdown(wait=True)
        self.db.dispose()


def _log_failure(future: Future[object]) -> None:
    error = future.exception()
    if error is not None:
        log.error("deferred work failed", exc_info=error)
