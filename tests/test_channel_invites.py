"""Inviting people to an incident channel: added, refused in plain words, or to retry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.flows import channel_invites
from tests.conftest import Harness


def test_invite_sorts_slack_answers(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, title="Who can join")
    guest = fake.add_user("guest", is_restricted=True)
    outsider = fake.add_user("outsider", team_id="T0PARTNER")
    before = len(fake.calls_to("conversations.invite"))

    outcome = channel_invites.invite(
        bot.ctx, incident, [fake.bob, guest, outsider, fake.bot_user_id, fake.alice, fake.bob]
    )

    assert outcome.added == (fake.bob, fake.bot_user_id, fake.alice)
    assert [(r.user_id, r.error.error) for r in outcome.refused] == [
        (guest, "user_is_restricted"),
        (outsider, "cant_invite"),
    ]
    assert outcome.retry == () and outcome.error is None and outcome.complete
    members = fake.channels[incident.channel_id].members
    assert fake.bob in members and guest not in members and outsider not in members
    # One call a person, none for the bot itself.
    assert len(fake.calls_to("conversations.invite")) - before == 4

    text = channel_invites.refusal_text(incident, outcome)
    assert (
        f"<@{guest}> could not be added to <#{incident.channel_id}> because guests can be "
        "added to channels only by a workspace admin; ask one." in text
    )
    assert f"<@{outsider}> could not be added" in text and "another organisation" in text
    assert channel_invites.refusal_text(incident, channel_invites.InviteOutcome()) == ""


def test_transient_failure_leaves_the_rest_to_retry(bot: Harness) -> None:
    fake = bot.fake
    incident = bot.declare(fake.alice, title="Slow invites")
    carol = fake.add_user("carol")
    before = len(fake.calls_to("conversations.invite"))
    fake.rate_limit("conversations.invite", retry_after=30, times=1)

    outcome = channel_invites.invite(bot.ctx, incident, [fake.bob, carol])

    assert outcome.retry == (fake.bob, carol) and not outcome.complete
    assert outcome.added == () and outcome.refused == ()
    assert outcome.error is not None and outcome.error.error == "ratelimited"
    assert outcome.retry_after == timedelta(seconds=30)
    assert len(fake.calls_to("conversations.invite")) - before == 1

    again = channel_invites.invite(bot.ctx, incident, list(outcome.retry))
    assert again.added == (fake.bob, carol) and again.complete


def test_invite_needs_a_channel(bot: Harness) -> None:
    fake = bot.fake
    fake.fail("conversations.create", error="restricted_action")
    incident = bot.declare(fake.alice, title="No channel")
    with pytest.raises(ValueError, match="has no channel"):
        channel_invites.invite(bot.ctx, incident, [fake.bob])
