"""`/incident pir [held]`, `/incident action …` and `/incident actions`."""

from __future__ import annotations

from bot.command_registry import Invocation, Registry, Subcommand
from bot.context import Context
from bot.errors import UserError
from bot.flows import follow_up_tracking


def run_pir(ctx: Context, invocation: Invocation) -> None:
    """`pir`: generate the review draft and share it; `pir held`: the review took place."""
    word = invocation.args.strip().lower()
    if word in ("held", "done"):
        follow_up_tracking.mark_review_held(ctx, invocation.channel_id, invocation.user_id)
        return
    if word:
        raise UserError("Use `/incident pir` for a draft, `/incident pir held` once it was held.")
    invocation.respond(
        follow_up_tracking.request_review(ctx, invocation.channel_id, invocation.user_id)
    )


def run_action(ctx: Context, invocation: Invocation) -> None:
    """`action <text> [@owner] [due <date>]`, or `action done <n>`."""
    words = invocation.args.split()
    if len(words) == 2 and words[0].lower() == "done":
        number = words[1].lstrip("#")
        if not number.isdigit():
            raise UserError("Give the action's number: `/incident action done 3`.")
        follow_up_tracking.complete_action(
            ctx, invocation.channel_id, invocation.user_id, int(number)
        )
        return
    follow_up_tracking.add_action(ctx, invocation.channel_id, invocation.user_id, invocation.args)


def run_actions(ctx: Context, invocation: Invocation) -> None:
    """`actions`: the incident's follow-up actions and their state."""
    invocation.respond(follow_up_tracking.list_actions(ctx, invocation.channel_id))


def add_to(registry: Registry) -> None:
    """Register the review subcommands."""
    registry.add(
        Subcommand(
            "pir",
            "pir [held]",
            "draft the post-incident review from the timeline; `held` once the review met",
            run_pir,
        )
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
