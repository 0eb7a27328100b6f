"""Adding people to an incident's channel, with Slack's refusals sorted and put in words.

The set-up invites the reporter and `/incident role` the new role holder through `invite`,
so both treat Slack's answers alike: someone already there counts as added; a refusal that
retrying cannot change (a guest, a person from another organisation, an archived channel)
comes back in plain words; a transient failure comes back for the caller to retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.context import Context
from bot.flows import slack_refusals
from bot.models import Incident
from bot.render import render
from bot.slack.gateway import SlackCallFailed


@dataclass(frozen=True)
class Refusal:
    """One person Slack will not add, whatever the number of tries."""

    user_id: str
    error: SlackCallFailed

    @property
    def reason(self) -> str:
        """Why, and what to do, as a clause that follows "because"."""
        return slack_refusals.explain(self.error, "incident")


@dataclass(frozen=True)
class InviteOutcome:
    """How inviting people went: added, refused for good, or to be tried again later."""

    added: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = ()
    retry: tuple[str, ...] = ()
    error: SlackCallFailed | None = None  # the transient failure behind `retry`

    @property
    def complete(self) -> bool:
        """Whether nothing is left to try again."""
        return not self.retry

    @property
    def retry_after(self) -> timedelta | None:
        """How long Slack asked the bot to wait before trying again, if it did."""
        return self.error.retry_after if self.error is not None else None


def invite(ctx: Context, incident: Incident, user_ids: list[str]) -> InviteOutcome:
    """Invite people to the incident's channel, one call each, and sort Slack's answers.

    After a transient failure the people not yet asked are left to try again with it,
    rather than pressing on against a rate limit or an outage.
    """
    if incident.channel_id is None:
        raise ValueError(f"{incident.reference} has no channel yet")
    bot_user_id = ctx.slack.identity().user_id
    added: list[str] = []
    refused: list[Refusal] = []
    retry: list[str] = []
    transient: SlackCallFailed | None = None
    for user_id in dict.fromkeys(user_ids):
        if user_id == bot_user_id:
            added.append(user_id)
            continue
        if transient is not None:
            retry.append(user_id)
            continue
        try:
            ctx.slack.invite(incident.channel_id, [user_id])
        except SlackCallFailed as exc:
            if exc.error in slack_refusals.ALREADY_DONE:
                added.append(user_id)
            elif slack_refusals.is_transient(exc):
                transient = exc
                retry.append(user_id)
            else:
                refused.append(Refusal(user_id=user_id, error=exc))
            continue
        added.append(user_id)
    return InviteOutcome(
        added=tuple(added), refused=tuple(refused), retry=tuple(retry), error=transient
    )


def refusal_text(incident: Incident, outcome: InviteOutcome) -> str:
    """Who could not be added to the channel and why, in plain words ("" if nobody)."""
    if not outcome.refused:
        return ""
    return render("invite_refused.j2", incident=incident, refused=outcome.refused)
