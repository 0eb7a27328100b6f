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
from bot.flows import incident_posts, slack_refusals
from bot.models import Incident, TaskKind
from bot.render import render
from bot.services import tasks
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


def retry_claimed(ctx: Context, claim: tasks.Claim) -> None:
    """The sweeper's runner: try again to add a role holder Slack failed to add before.

    A transient failure is retried on the set-up's schedule (`slack_refusals.retry_delay`);
    after the last attempt, or on a refusal, the channel is told in plain words.
    """
    with ctx.db.session() as session:
        incident = session.get(Incident, claim.incident_id)
    if incident is None or incident.channel_id is None:
        return
    outcome = invite(ctx, incident, [claim.key])
    now = ctx.clock.now()
    if outcome.complete:
        with ctx.db.session() as session:
            tasks.complete(session=session, claim=claim, now=now)
        text = refusal_text(incident, outcome)
        if text:
            incident_posts.post(ctx, incident, text)
        return
    assert outcome.error is not None
    delay = slack_refusals.retry_delay(claim.attempts, outcome.retry_after)
    with ctx.db.session() as session:
        tasks.release(
            session=session,
            claim=claim,
            now=now,
            error=str(outcome.error),
            retry_after=delay,
            give_up=delay is None,
        )
    if delay is None:
        incident_posts.post(
            ctx,
            incident,
            render(
                "invite_gave_up.j2",
                incident=incident,
                user=claim.key,
                reason=slack_refusals.explain(outcome.error, "incident"),
                attempts=claim.attempts,
            ),
        )


def retry_later(ctx: Context, incident: Incident, outcome: InviteOutcome) -> None:
    """Arm a retry for each person a transient failure kept out of the channel."""
    assert incident.id is not None
    now = ctx.clock.now()
    delay = slack_refusals.retry_delay(1, outcome.retry_after) or timedelta(0)
    with ctx.db.session() as session:
        for user_id in outcome.retry:
            tasks.arm(
                session=session,
                incident_id=incident.id,
                kind=TaskKind.ROLE_INVITE,
                key=user_id,
                due_at=now + delay,
                now=now,
            )
