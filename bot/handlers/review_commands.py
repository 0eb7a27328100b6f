"""`/incident pir`, `/incident action …` and `/incident actions`."""

from __future__ import annotations

from bot.command_registry import Invocation, Registry, Subcommand
from bot.context import Context
from bot.errors import UserError
from bot.flows import incident_posts as show
from bot.flows import review_generation
from bot.render import render
from bot.services import follow_up_actions, incident_queries


def run_pir(ctx: Context, invocation: Invocation) -> None:
    """`pir`: generate the review draft and share it in the channel."""
    with ctx.db.session() as session:
        incident = incident_queries.require_by_channel(session, invocation.channel_id)
    assert incident.id is not None
    generated = review_generation.request(ctx, incident.id, invocation.user_id)
    invocation.respond(
        f"Draft v{generated.draft.version} of the review is in the channel"
        + (
            f" (read {generated.history_calls} page(s) of Slack history to fill gaps)."
            if generated.history_calls
            else "."
        )
    )


def run_action(ctx: Context, invocation: Invocation) -> None:
    """`action <text> [@owner] [due <date>]`, or `action done <n>`."""
    now = ctx.clock.now()
    words = invocation.args.split()
    with ctx.db.session() as session:
        incident = incident_queries.require_by_channel(session, invocation.channel_id)
    assert incident.id is not None
    if len(words) == 2 and words[0].lower() == "done":
        if not words[1].lstrip("#").isdigit():
            raise UserError("Give the action's number: `/incident action done 3`.")
        with ctx.db.session() as session:
            fresh = session.get(type(incident), incident.id)
            assert fresh is not None
            item = follow_up_actions.complete(
                session, fresh, int(words[1].lstrip("#")), actor=invocation.user_id, now=now
            )
        show.post(
            ctx,
            incident,
            render("action_done.j2", actor=invocation.user_id, incident=incident, item=item),
        )
        return
    text, owner, due = follow_up_actions.parse(invocation.args, today=now.date())
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
        person = ctx.slack.user(owner)
        if person is None or person.deleted or person.is_bot:
            raise UserError("The owner must be a person in this workspace: pick them with @.")
    with ctx.db.session() as session:
        fresh = session.get(type(incident), incident.id)
        assert fresh is not None
        item = follow_up_actions.add(
            session, fresh, text=text, owner=owner, due=due, actor=invocation.user_id, now=now
        )
    show.post(
        ctx,
        incident,
        render("action_added.j2", actor=invocation.user_id, incident=incident, item=item),
    )


def run_actions(ctx: Context, invocation: Invocation) -> None:
    """`actions`: the incident's follow-up actions and their state."""
    with ctx.db.session() as session:
        incident = incident_queries.require_by_channel(session, invocation.channel_id)
        items = follow_up_actions.of_incident(session, incident)
    done, _ = follow_up_actions.completion(items)
    invocation.respond(
        render(
            "actions_list.j2",
            incident=incident,
            items=items,
            done=done,
            today=ctx.clock.now().date(),
        )
    )


def add_to(registry: Registry) -> None:
    """Register the review subcommands."""
    registry.add(
        Subcommand("pir", "pir", "draft the post-incident review from the timeline", run_pir)
    )
    registry.add(
        Subcommand(
            "action",
            "action <text> [@owner] [due <date>] | action done <n>",
            "add a follow-up action, or complete one",
            run_action,
        )
    )
    registry.add(Subcommand("actions", "actions", "list the follow-up actions", run_actions))
