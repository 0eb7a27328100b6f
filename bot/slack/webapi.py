"""Web API plumbing: the two clients and their retry rules, and failures in the flows' terms.

Two clients share one token. Calls that are safe to repeat (reads, edits, pins, invites,
topics, views) retry on 429, 5xx and dropped connections through slack_sdk's retry
handlers. Calls that create something (a message, a channel, a file share) retry only on
429, which Slack guarantees it did not act on; after a 5xx or a timeout their outcome is
unknown, so they are not repeated blindly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10

# Errors after which the same call may well succeed later.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        "timeout",
        "connection_error",
        "server_error",
        "rate_limited",  # chat.postMessage: too many messages for now
        "message_limit_exceeded",  # chat.postMessage: a free workspace's message quota
        "external_channel_migrating",  # conversations.invite, pins.add
        "org_login_required",  # the workspace is moving into an Enterprise organisation
    }
)
# Errors after which Slack may or may not have acted.
UNKNOWN_OUTCOME_ERRORS = frozenset(
    {"fatal_error", "internal_error", "request_timeout", "timeout", "server_error"}
)


class SlackCallFailed(Exception):
    """A Web API call that did not succeed, in terms the flows can act on."""

    def __init__(
        self,
        method: str,
        error: str,
        *,
        retry_after: timedelta | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.retry_after = retry_after
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed."""
        return self.error in TRANSIENT_ERRORS

    @property
    def unknown_outcome(self) -> bool:
        """Whether Slack may have carried the call out despite the failure."""
        return self.error in UNKNOWN_OUTCOME_ERRORS


class ShortRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Waits out a 429 inside the client only when Slack asks for a short pause.

    A longer Retry-After goes back to the caller, which reschedules the work for then
    instead of holding a thread (and every reminder queued behind it) asleep.
    """

    def __init__(
        self,
        max_retry_count: int = 2,
        max_wait_seconds: float = 5.0,
        on_rate_limited: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds
        self.on_rate_limited = on_rate_limited

    def _can_retry(
        self,
        *,
        state: Any,
        request: Any,
        response: Any = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        if self.on_rate_limited is not None:
            self.on_rate_limited()
        for name, values in (response.headers or {}).items():
            if name.lower() == "retry-after":
                try:
                    return float(values[0] if isinstance(values, list) else values) <= (
                        self.max_wait_seconds
                    )
                except (TypeError, ValueError):
                    return False
        return True


# Methods that only read: repeating one that timed out changes nothing.
READ_METHODS = frozenset(
    {
        "auth.test",
        "chat.getPermalink",
        "conversations.history",
        "conversations.list",
        "conversations.replies",
        "usergroups.users.list",
        "users.conversations",
        "users.info",
    }
)


class UnansweredRetryHandler(ConnectionErrorRetryHandler):
    """Retries a call whose connection failed (refused, reset: Slack never saw it), and a
    read that timed out, but not a write that timed out: Slack may still carry that one out
    later, and an edit repeated at once could then be overtaken by the stale original. Such
    a timeout goes back to the caller, which tries again later (`bot.flows.effect_delivery`)."""

    def _can_retry(
        self,
        *,
        state: Any,
        request: Any,
        response: Any = None,
        error: Exception | None = None,
    ) -> bool:
        timed_out = isinstance(error, TimeoutError) or isinstance(
            getattr(error, "reason", None), TimeoutError
        )
        method = str(getattr(request, "url", "")).rsplit("/", 1)[-1].split("?")[0]
        if timed_out and method not in READ_METHODS:
            return False
        return bool(
            super()._can_retry(state=state, request=request, response=response, error=error)
        )


def make_clients(
    token: str,
    base_url: str,
    timeout: int = DEFAULT_TIMEOUT,
    on_rate_limited: Callable[[], None] | None = None,
) -> tuple[WebClient, WebClient]:
    """The retrying client for repeatable calls and the 429-only client for creating calls
    (`on_rate_limited` hears of every 429)."""
    retrying = WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ShortRateLimitRetryHandler(on_rate_limited=on_rate_limited),
            ServerErrorRetryHandler(max_retry_count=2),
            UnansweredRetryHandler(max_retry_count=2),
        ],
    )
    creating = WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[ShortRateLimitRetryHandler(on_rate_limited=on_rate_limited)],
    )
    return retrying, creating


def api_failure(method: str, exc: SlackApiError) -> SlackCallFailed:
    """The failure of `method` that Slack answered with an error or an HTTP error status."""
    response = exc.response
    status = getattr(response, "status_code", None)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    error = str(data.get("error") or "")
    retry_after: timedelta | None = None
    if status == 429:
        error = "ratelimited"
        header = (response.headers or {}).get("Retry-After") or (response.headers or {}).get(
            "retry-after"
        )
        try:
            retry_after = timedelta(seconds=max(int(str(header)), 1))
        except (TypeError, ValueError):
            retry_after = timedelta(seconds=30)
    elif status is not None and status >= 500:
        error = "server_error"
    if not error:
        error = f"http_{status}"
    log.warning("Slack %s failed: %s (HTTP %s)", method, error, status)
    return SlackCallFailed(method, error, retry_after=retry_after, status=status)
