"""Declaring: the modal, its submission, and the set-up retry button."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import blocks
from bot.command_registry import Invocation
from bot.context import Context
from bot.errors import InvalidInput, UserError
from bot.flows import channel_setup
from bot.handlers import listener_replies
from bot.ids import ActionId, BlockId, CallbackId
from bot.services.declaration import declare, validate_declaration

log = logging.getLogger(__name__)


def open_declare_modal(ctx: Context, invocation: Invocation) -> None:
    """Open the declare modal, its title pre-filled from the command text."""
    view = blocks.declare_modal_dict(
        policy=ctx.policy, title=invocation.args, origin_channel=invocation.channel_id or None
    )
    listener_replies.open_modal(ctx, invocation.trigger_id, view)


def _field_errors(errors: dict[str, str]) -> dict[str, str]:
    known = {str(block_id) for block_id in BlockId}
    return {
        (field if field in known else BlockId.TITLE): message[:150]
        for field, message in errors.items()
    }


def register(app: App, ctx: Context) -> None:
    """Listen for the declare modal and the retry button."""

    def handle_declare_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        raw, origin = blocks.parse_declare_state(view)
        try:
            data = validate_declaration(raw, ctx.policy)
        except InvalidInput as exc:
            ack(response_action="errors", errors=_field_errors(exc.errors))
            return
        user_id = str(body["user"]["id"])
        # The record is committed before the modal closes, so a crash after the ack
        # cannot lose the incident: the scheduler finishes the Slack set-up.
        with ctx.db.session() as session:
            incident = declare(
                session=session,
                data=data,
                reporter_id=user_id,
                policy=ctx.policy,
                now=ctx.clock.now(),
                declared_in_channel=origin,
            )
        ack()
        log.info("%s declared by %s", incident.reference, user_id)
        incident_id = incident.id
        assert incident_id is not None
        listener_replies.defer(ctx, body, lambda: channel_setup.run_for(ctx, incident_id))

    def handle_retry_setup(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        listener_replies.defer(ctx, body, lambda: _retry_setup(body, respond))

    def _retry_setup(body: dict[str, Any], respond: Respond) -> None:
        actions = body.get("actions") or [{}]
        try:
            incident_id = int(actions[0].get("value", ""))
        except ValueError:
            raise UserError("That button is not valid any more.") from None
        outcome = channel_setup.run_for(ctx, incident_id)
        if outcome is None:
            respond(
                text="The set-up is already complete or being retried right now.",
                response_type="ephemeral",
                replace_original=False,
            )
        elif not outcome.done and outcome.error is not None:
            respond(
                text=f"Still not done: {channel_setup.explain(outcome.error)}. I will keep trying.",
                response_type="ephemeral",
                replace_original=False,
            )

    app.view(CallbackId.DECLARE)(handle_declare_submission)
    app.action(ActionId.RETRY_SETUP)(handle_retry_setup)
