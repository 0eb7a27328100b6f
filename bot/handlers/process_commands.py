"""Measuring the process: `/incident metrics`, and the post-incident survey's buttons and
comment form."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.command_registry import Invocation, Registry, Subcommand
from bot.context import Context
from bot.flows import process_reporting, process_survey
from bot.handlers import listener_replies
from bot.handlers.action_payloads import button_value, clicked_by, trigger_id
from bot.ids import ActionId, BlockId, CallbackId
from bot.views import forms


def run_metrics(ctx: Context, invocation: Invocation) -> None:
    """`metrics [period] [filters] [--share]`."""
    process_reporting.metrics(ctx, invocation)


SUBCOMMANDS = [
    Subcommand(
        "metrics",
        "metrics [7d|30d|this month|last month|2026-11|2026-Q3] [sev1] [category:x] "
        "[service:y] [--share] [--include-all] | help",
        "the process in numbers: MTTA, MTTR, targets met, reviews, actions (charts by DM)",
        run_metrics,
    ),
]


def add_to(registry: Registry) -> None:
    """Register the process subcommands."""
    for entry in SUBCOMMANDS:
        registry.add(entry)


def register(app: App, ctx: Context) -> None:
    """Listen for the survey's buttons and comment form."""

    def handle_survey_rate_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        incident_id, rating = process_survey.parse_value(button_value(body))
        user = clicked_by(body)
        channel = str((body.get("channel") or {}).get("id") or "")
        ts = str((body.get("message") or {}).get("ts") or "")
        listener_replies.defer(
            ctx,
            body,
            lambda: process_survey.rate(ctx, incident_id, user, rating or 0, channel, ts),
        )

    def handle_survey_comment_action(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        incident_id, _ = process_survey.parse_value(button_value(body))
        trigger = trigger_id(body)
        listener_replies.defer(
            ctx,
            body,
            lambda: process_survey.open_comment(ctx, incident_id, trigger),
            opens_form=True,
        )

    def handle_survey_comment_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        incident_id = forms.view_metadata(view).get("incident_id")
        text = forms.view_values(view).get(BlockId.COMMENT, "")
        if not isinstance(incident_id, int) or not text.strip():
            ack(response_action="errors", errors={BlockId.COMMENT: "Write a comment."})
            return
        ack()
        user = clicked_by(body)
        listener_replies.defer(
            ctx, body, lambda: process_survey.comment(ctx, incident_id, user, text)
        )

    app.action(re.compile(rf"^{ActionId.SURVEY_RATE}:[1-5]$"))(handle_survey_rate_action)
    app.action(ActionId.SURVEY_COMMENT)(handle_survey_comment_action)
    app.view(CallbackId.SURVEY_COMMENT)(handle_survey_comment_submission)
