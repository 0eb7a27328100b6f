"""Follow-up actions and the review meeting, run from an incident's channel."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.context import Context
from bot.errors import UserError
from bot.flows import effect_delivery, incident_changes, review_generation
from bot.models import ActionItem, Incident
from bot.render import render
from bot.services import effect_queue, follow_up_actions, incident_lifecycle, incident_queries
from bot.services.moments import zone


def request_review(ctx: Context, channel_id: str, actor: str) -> str:
    """Generate the review draft now and share it in the channel; what to tell the actor."""
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    generated = review_generation.request(ctx, incident.id, actor)
    return f"Draft v{generated.draft.version} of the review is in the channel" + (
        f" (read {generated.history_calls} page(s) of Slack history to fill gaps)."
        if generated.history_calls
        else "."
    )


def mark_review_held(ctx: Context, channel_id: str, actor: str) -> None:
    """Record that the review meeting took place; its reminders stop."""
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    incident_changes.change_and_show(
        ctx,
        incident.id,
        actor,
        lambda s, i, now: incident_lifecycle.mark_review_held(s, i, actor=actor, now=now),
        "review_held.j2",
    )


def _timezone(ctx: Context, user_id: str) -> str:
    person = ctx.slack.user(user_id)
    return person.tz if person is not None else "UTC"


def add_action(ctx: Context, channel_id: str, actor: str, args: str) -> ActionItem:
    """`action <text> [@owner] [due <date>]`: dates are read in the actor's timezone."""
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    tz = _timezone(ctx, actor)
    today = ctx.clock.now().astimezone(zone(tz)).date()
    text, owner, due = follow_up_actions.parse(args, today=today)
    severity = ctx.policy.severity(incident.severity)
    if severity.pir_required and (owner is None or due is None):
        missing = " and ".join(
            word
            for word, absent in (("an owner", owner is None), ("a due date", due is None))
            if absent
        )
        raise UserError(
            f"{severity.label} actions need an owner and a due date; this one lacks {missing}: "
            "`/incident action <text> @owner due <date>`."
        )
    if owner is not None:
        owner = incident_changes.person(ctx, owner, who="The owner")
    now = ctx.clock.now()
    changed = incident_changes.change(
        ctx,
        incident.id,
        lambda s, i: follow_up_actions.add(
            s, i, text=text, owner=owner, due=due, actor=actor, now=now, tz=tz
        ),
        _tell("action_added.j2", actor),
    )
    effect_delivery.deliver(ctx, changed.effects)
    return changed.result


def complete_action(ctx: Context, channel_id: str, actor: str, number: int) -> None:
    """`action done <n>`."""
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    now = ctx.clock.now()
    changed = incident_changes.change(
        ctx,
        incident.id,
        lambda s, i: follow_up_actions.complete(s, i, number, actor=actor, now=now),
        _tell("action_done.j2", actor),
    )
    effect_delivery.deliver(ctx, changed.effects)


def _tell(template: str, actor: str) -> incident_changes.Show[ActionItem]:
    """The post in the channel that tells of an action added or done."""

    def show(session: Session, incident: Incident, item: ActionItem, at: datetime) -> list[int]:
        assert incident.id is not None
        text = render(template, actor=actor, incident=incident, item=item)
        return [effect_queue.post(session, incident.id, to=effect_queue.CHANNEL, text=text, now=at)]

    return show


def list_actions(ctx: Context, channel_id: str) -> str:
    """The incident's follow-up actions and their state."""
    with ctx.db.session() as session:
        incident = incident_queries.require_by_channel(session, channel_id)
        items = follow_up_actions.of_incident(session, incident)
    done, _ = follow_up_actions.completion(items)
    return render(
        "actions_list.j2",
        incident=incident,
        items=items,
        done=done,
        today=ctx.clock.now().date(),
    )
