"""The nag's buttons (post an update, snooze) and `/incident reminders`."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt import Ack, App

from bot.command_registry import Invocation
from bot.context import Context
from bot.errors import UserError
from bot.flows import reminder_controls
from bot.handlers import listener_replies
from bot.handlers.action_payloads import button_value, clicked_by, trigger_id
from bot.ids import ActionId


def run_reminders(ctx: Context, invocation: Invocation) -> None:
    """`reminders`: what is scheduled for this incident, and what was sent."""
    invocation.respond(reminder_controls.listing(ctx, invocation.channel_id))


def _value(body: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(button_value(body) or "{}")
    except ValueError:
        value = {}
    if not isinstance(value, dict) or not isinstance(value.get("task"), int):
        raise UserError("That button is not valid any more.")
    return value


def register(app: App, ctx: Context) -> None:
    """Listen for the nag's buttons."""

    def handle_nag_update_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        task_id = _value(body)["task"]
        trigger = trigger_id(body)
        listener_replies.defer(
            ctx,
            body,
            lambda: reminder_controls.open_update_form(ctx, task_id, trigger),
            opens_form=True,
        )

    def handle_nag_snooze_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        value = _value(body)
        seconds = value.get("seconds")
        if not isinstance(seconds, int):
            raise UserError("That snooze is not offered any more.")
        user = clicked_by(body)
        listener_replies.defer(
            ctx, body, lambda: reminder_controls.snooze(ctx, value["task"], seconds, user)
        )

    app.action(ActionId.NAG_UPDATE)(handle_nag_update_action)
    app.action(re.compile(rf"^{ActionId.NAG_SNOOZE}:\d+$"))(handle_nag_snooze_action)
