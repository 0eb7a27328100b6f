"""Alerts in Slack: the triage message's buttons, the attach form, the "all alerts
resolved" button, and `/incident silence` and `/incident maintenance`."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.command_registry import Invocation, Registry, Subcommand
from bot.context import Context
from bot.flows import alert_silences, alert_triage, incident_commands, maintenance
from bot.handlers import listener_replies
from bot.handlers.action_payloads import button_number, clicked_by, trigger_id
from bot.ids import ActionId, BlockId, CallbackId
from bot.views import forms


def run_silence(ctx: Context, invocation: Invocation) -> None:
    """`silence [duration]`: silence the incident's firing alerts in Alertmanager."""
    alert_silences.silence_incident(ctx, invocation.channel_id, invocation.user_id, invocation.args)


def run_maintenance(ctx: Context, invocation: Invocation) -> None:
    """`maintenance …`: schedule, list or end maintenance windows."""
    invocation.respond(maintenance.command(ctx, invocation.user_id, invocation.args))


SUBCOMMANDS = [
    Subcommand(
        "silence",
        "silence [duration]",
        "silence this incident's firing alerts in Alertmanager (default 1h; ends at resolve)",
        run_silence,
    ),
    Subcommand(
        "maintenance",
        "maintenance <service…> <start> <duration> [reason] [--public] | list | end <n>",
        "schedule a maintenance window: its services' alerts go to triage, not incidents",
        run_maintenance,
    ),
]


def add_to(registry: Registry) -> None:
    """Register the alert subcommands."""
    for entry in SUBCOMMANDS:
        registry.add(entry)


def register(app: App, ctx: Context) -> None:
    """Listen for the alert buttons and the attach form."""

    def handle_alert_declare_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        alert_id = button_number(body)
        trigger = trigger_id(body)
        listener_replies.defer(
            ctx, body, lambda: alert_triage.open_declare(ctx, alert_id, trigger), opens_form=True
        )

    def handle_alert_attach_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        alert_id = button_number(body)
        trigger = trigger_id(body)
        listener_replies.defer(
            ctx, body, lambda: alert_triage.open_attach(ctx, alert_id, trigger), opens_form=True
        )

    def handle_alert_silence_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        alert_id, user = button_number(body), clicked_by(body)
        listener_replies.defer(ctx, body, lambda: alert_triage.silence(ctx, alert_id, user))

    def handle_alert_ignore_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        alert_id, user = button_number(body), clicked_by(body)
        listener_replies.defer(ctx, body, lambda: alert_triage.ignore(ctx, alert_id, user))

    def handle_alerts_resolve_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        incident_id = button_number(body)
        trigger = trigger_id(body)
        listener_replies.defer(
            ctx,
            body,
            lambda: incident_commands.open_resolve_form_for(ctx, incident_id, trigger),
            opens_form=True,
        )

    def handle_alert_attach_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        alert_id = forms.view_metadata(view).get("alert_id")
        choice = forms.view_values(view).get(BlockId.INCIDENT, "")
        if not isinstance(alert_id, int) or not choice.isdigit():
            ack(response_action="errors", errors={BlockId.INCIDENT: "Choose an incident."})
            return
        ack()
        user = clicked_by(body)
        listener_replies.defer(
            ctx, body, lambda: alert_triage.attach(ctx, alert_id, int(choice), user)
        )

    app.action(ActionId.ALERT_DECLARE)(handle_alert_declare_action)
    app.action(ActionId.ALERT_ATTACH)(handle_alert_attach_action)
    app.action(ActionId.ALERT_SILENCE)(handle_alert_silence_action)
    app.action(ActionId.ALERT_IGNORE)(handle_alert_ignore_action)
    app.action(ActionId.ALERTS_RESOLVE)(handle_alerts_resolve_action)
    app.view(CallbackId.ALERT_ATTACH)(handle_alert_attach_submission)
