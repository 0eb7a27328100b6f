"""The `/incident` slash command: dispatch to the subcommand registry."""

from __future__ import annotations

from functools import cache
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.command_registry import Invocation, Registry, Subcommand, split
from bot.context import Context
from bot.flows import incident_changes
from bot.handlers import (
    alert_actions,
    comms_commands,
    declare_form,
    lifecycle_commands,
    listener_replies,
    process_commands,
    review_commands,
)
from bot.ids import COMMAND
from bot.render import render


def build_registry() -> Registry:
    """Every `/incident` subcommand, in the order `help` lists them."""
    registry = Registry()
    registry.add(
        Subcommand(
            name="declare",
            usage="declare [title]",
            help="declare a new incident (opens a form; plain `/incident` does too)",
            run=declare_form.open_declare_modal,
            opens_form=True,
        )
    )
    lifecycle_commands.add_to(registry)
    review_commands.add_to(registry)
    alert_actions.add_to(registry)
    process_commands.add_to(registry)
    comms_commands.add_to(registry)
    registry.add(Subcommand(name="help", usage="help", help="show this list", run=_run_help))
    return registry


def help_text(registry: Registry) -> str:
    """The help, generated from the registry."""
    return render("help.j2", command=COMMAND, entries=registry.entries)


@cache
def _help() -> str:
    # The registry is complete once built and help.j2 is the bot's own (no team override),
    # so the text is the same for every request.
    return help_text(_REGISTRY)


def _run_help(ctx: Context, invocation: Invocation) -> None:
    invocation.respond(_help())


_REGISTRY = build_registry()


def _respond(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral")


def register(app: App, ctx: Context) -> None:
    """Listen for `/incident`."""

    def handle_incident_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        word, args = split(str(command.get("text") or ""))
        invocation = Invocation(
            user_id=str(command["user_id"]),
            channel_id=str(command.get("channel_id") or ""),
            trigger_id=str(command.get("trigger_id") or ""),
            name=word or "declare",
            args=args,
            respond=lambda text: _respond(respond, text),
        )
        found = _REGISTRY.get(invocation.name)
        if found is None:
            invocation.respond(
                render("unknown_command.j2", command=COMMAND, word=word) + "\n\n" + _help()
            )
            return
        entry = found
        text = f"{COMMAND} {command.get('text') or ''}".strip()

        def run() -> None:
            incident_changes.record_command(ctx, invocation.channel_id, invocation.user_id, text)
            entry.run(ctx, invocation)

        listener_replies.defer(ctx, command, run, opens_form=entry.may_open_form(args))

    app.command(COMMAND)(handle_incident_command)
