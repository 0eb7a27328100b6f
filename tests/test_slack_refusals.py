"""Every error Slack documents for the set-up's and the reminders' methods is classified and
put in words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.flows import slack_refusals
from bot.slack.gateway import SlackCallFailed
from bot.slack.webapi import TRANSIENT_ERRORS
from tests.fakeslack.spec import common_errors, method_spec

# The Web API methods the set-up steps call, by the channel their errors are about.
PLACE_METHODS: dict[str | None, tuple[str, ...]] = {
    # The channel step; a user group's members for an escalation's direct messages.
    None: ("conversations.create", "conversations.list", "auth.test", "usergroups.users.list"),
    "incident": (
        "conversations.invite",
        "conversations.setTopic",
        "chat.postMessage",
        "conversations.history",
        "pins.add",
    ),
    "announcement": ("chat.postMessage", "conversations.join", "conversations.history"),
    "dm": ("conversations.open", "chat.postMessage", "conversations.history"),
    "contact": ("chat.postMessage", "conversations.join", "conversations.history"),
}
# What the gateway reports for failures that carry no Slack error code.
GATEWAY_ERRORS = {"timeout", "connection_error", "server_error"}


def _documented(method: str) -> frozenset[str]:
    spec = method_spec(method)
    assert spec is not None, method
    return spec.errors | common_errors()


@pytest.mark.parametrize("place", list(PLACE_METHODS))
def test_every_documented_error_is_classified_with_words(place: str | None) -> None:
    for method in PLACE_METHODS[place]:
        for code in sorted(_documented(method) | GATEWAY_ERRORS):
            if code in slack_refusals.ALREADY_DONE:
                continue
            words = slack_refusals.explain(SlackCallFailed(method, code), place)
            assert not words.startswith("Slack answered"), (method, code)
            assert "{" not in words and words == words.strip(), (method, code)


def test_transient_errors_are_those_that_pass() -> None:
    assert TRANSIENT_ERRORS <= slack_refusals.TRANSIENT
    for code in ("ratelimited", "rate_limited", "internal_error", "fatal_error", "timeout"):
        assert slack_refusals.is_transient(SlackCallFailed("chat.postMessage", code))
    for code in ("user_is_restricted", "cant_invite", "is_archived", "missing_scope"):
        assert not slack_refusals.is_transient(SlackCallFailed("conversations.invite", code))


def test_unknown_errors_are_permanent_and_named() -> None:
    error = SlackCallFailed("pins.add", "something_new")
    assert not slack_refusals.is_transient(error)
    assert slack_refusals.explain(error, "incident") == "Slack answered `something_new` to pins.add"


def test_the_same_code_reads_by_method_and_by_channel() -> None:
    archived = SlackCallFailed("chat.postMessage", "is_archived")
    assert "announcement_channel" in slack_refusals.explain(archived, "announcement")
    assert "incident channel has been archived" in slack_refusals.explain(archived, "incident")
    guest = SlackCallFailed("conversations.invite", "user_is_restricted")
    assert "guests" in slack_refusals.explain(guest, "incident")
    topic = SlackCallFailed("conversations.setTopic", "user_is_restricted")
    assert "setting channel topics" in slack_refusals.explain(topic, "incident")
    private = SlackCallFailed("conversations.join", "method_not_supported_for_channel_type")
    assert "private" in slack_refusals.explain(private, "announcement")


def test_retries_are_bounded_and_cover_an_outage() -> None:
    assert slack_refusals.total_retry_time() >= timedelta(hours=1)
    assert len(slack_refusals.RETRY_DELAYS) + 1 == slack_refusals.MAX_ATTEMPTS
    assert slack_refusals.retry_delay(1) == timedelta(seconds=15)
    assert slack_refusals.retry_delay(1, timedelta(minutes=2)) == timedelta(minutes=2)
    assert slack_refusals.retry_delay(7, timedelta(seconds=1)) == timedelta(minutes=15)
    assert slack_refusals.retry_delay(slack_refusals.MAX_ATTEMPTS - 1) is not None
    assert slack_refusals.retry_delay(slack_refusals.MAX_ATTEMPTS) is None
