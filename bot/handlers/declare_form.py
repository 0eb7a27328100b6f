"""Declaring: the modal, its submission, and the set-up retry button."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.command_registry import Invocation
from bot.context import Context
from bot.errors import InvalidInput
from bot.flows import alert_triage, declaring
from bot.handlers import listener_replies
from bot.handlers.action_payloads import button_value
from bot.ids import ActionId, BlockId, CallbackId
from bot.render import clip
from bot.services.declaration import validate_declaration
from bot.views.declare_modal import declared_alert, parse_declare_state

log = logging.getLogger(__name__)


def open_declare_modal(ctx: Context, invocation: Invocation) -> None:
    """Open the declare modal, its title pre-filled from the command text."""
    declaring.open_form(ctx, invocation.trigger_id, invocation.args, invocation.channel_id or None)


def _field_errors(errors: dict[str, str]) -> dict[str, str]:
    known = {str(block_id) for block_id in BlockId}
    return {
        (field if field in known else BlockId.TITLE): clip(message, 150)
        for field, message in errors.items()
    }


def register(app: App, ctx: Context) -> None:
    """Listen for the declare modal and the retry button."""

    def handle_declare_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        raw, origin = parse_declare_state(view)
        try:
            data = validate_declaration(raw, ctx.policy)
        except InvalidInput as exc:
            ack(response_action="errors", errors=_field_errors(exc.errors))
            return
        user = str(body["user"]["id"])
        incident = declaring.record(ctx, data, user, origin)
        ack()
        incident_id = incident.id
        assert incident_id is not None
        alert_id = declared_alert(view)

        def set_up() -> None:
            declaring.set_up(ctx, incident_id)
            if alert_id is not None:
                alert_triage.declared(ctx, alert_id, incident_id, user)

        listener_replies.defer(ctx, body, set_up)

    def handle_retry_setup(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        incident_id = declaring.parse_retry_value(button_value(body))

        def retry() -> None:
            text = declaring.retry_set_up(ctx, incident_id)
            if text is not None:
                respond(text=text, response_type="ephemeral", replace_original=False)

        listener_replies.defer(ctx, body, retry)

    app.view(CallbackId.DECLARE)(handle_declare_submission)
    app.action(ActionId.RETRY_SETUP)(handle_retry_setup)
