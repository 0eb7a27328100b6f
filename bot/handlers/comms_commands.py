"""Outward communication from the incident channel: `/incident statuspage` (the public
update form and its approval buttons) and `/incident comms` (what went out, what is due)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.command_registry import Invocation, Registry, Subcommand
from bot.context import Context
from bot.errors import UserError
from bot.flows import comms_overview, public_updates
from bot.handlers import listener_replies
from bot.handlers.action_payloads import button_number, button_number_and_word, clicked_by
from bot.ids import ActionId, BlockId, CallbackId
from bot.render import clip
from bot.views import forms
from bot.views import public_update_form as form


def run_statuspage(ctx: Context, invocation: Invocation) -> None:
    """`statuspage [resolved]`: write a public update (form)."""
    public_updates.open_form(
        ctx, invocation.channel_id, invocation.user_id, invocation.trigger_id, invocation.args
    )


def run_comms(ctx: Context, invocation: Invocation) -> None:
    """`comms`: what went out, where and when, and what is due next."""
    invocation.respond(comms_overview.describe(ctx, invocation.channel_id))


SUBCOMMANDS = [
    Subcommand(
        "statuspage",
        "statuspage [resolved]",
        "write a public status page update (approved by the business liaison when needed)",
        run_statuspage,
        aliases=("status-page",),
        opens_form=True,
    ),
    Subcommand(
        "comms",
        "comms",
        "what went out (status page, email, pages, stakeholders), where and when, what is due",
        run_comms,
    ),
]


def add_to(registry: Registry) -> None:
    """Register the outward communication subcommands."""
    for entry in SUBCOMMANDS:
        registry.add(entry)


def register(app: App, ctx: Context) -> None:
    """Listen for the public update form and the approval buttons."""

    def handle_public_update_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        incident_id = forms.view_metadata(view).get("incident_id")
        if not isinstance(incident_id, int):
            ack(response_action="errors", errors={BlockId.PUBLIC_TITLE: "This form is too old."})
            return
        user = clicked_by(body)
        try:
            draft = form.parse_public_update(view, ctx.policy.status_page)
            saved = public_updates.save(ctx, incident_id, user, draft, form.replaced_update(view))
        except forms.FormError as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        except UserError as exc:
            ack(
                response_action="errors",
                errors={BlockId.PUBLIC_TITLE: clip(exc.message, 150)},
            )
            return
        ack()
        listener_replies.defer(ctx, body, lambda: public_updates.after_save(ctx, saved, user))

    def handle_public_approve_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        update_id, user = button_number(body), clicked_by(body)
        listener_replies.defer(
            ctx, body, lambda: public_updates.decide(ctx, update_id, user, approve=True)
        )

    def handle_public_reject_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        update_id, user = button_number(body), clicked_by(body)
        listener_replies.defer(
            ctx, body, lambda: public_updates.decide(ctx, update_id, user, approve=False)
        )

    def handle_public_edit_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        update_id, user = button_number(body), clicked_by(body)
        trigger = str(body.get("trigger_id") or "")
        listener_replies.defer(
            ctx,
            body,
            lambda: public_updates.open_edit(ctx, update_id, user, trigger),
            opens_form=True,
        )

    def handle_public_write_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        incident_id, kind = button_number_and_word(body)
        user, trigger = clicked_by(body), str(body.get("trigger_id") or "")
        listener_replies.defer(
            ctx,
            body,
            lambda: public_updates.open_form_for(
                ctx, incident_id, user, trigger, resolved=kind == "resolved"
            ),
            opens_form=True,
        )

    app.view(CallbackId.PUBLIC_UPDATE)(handle_public_update_submission)
    app.action(ActionId.PUBLIC_APPROVE)(handle_public_approve_action)
    app.action(ActionId.PUBLIC_REJECT)(handle_public_reject_action)
    app.action(ActionId.PUBLIC_EDIT)(handle_public_edit_action)
    app.action(ActionId.PUBLIC_WRITE)(handle_public_write_action)
