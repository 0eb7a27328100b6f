"""Running an incident from its channel: `/incident` subcommands and their forms.

Each listener parses what the person sent and hands it to `bot.flows.incident_commands`.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.command_registry import Invocation, Registry, Subcommand
from bot.context import Context
from bot.errors import UserError
from bot.flows import incident_changes
from bot.flows import incident_commands as flow
from bot.handlers import listener_replies
from bot.handlers.reminder_buttons import run_reminders
from bot.ids import BlockId, CallbackId
from bot.models import IncidentStatus
from bot.render import clip
from bot.services import incident_closure, incident_lifecycle, incident_roles
from bot.views import forms

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
RESOLVE_FIELDS = (
    (BlockId.RESOLUTION, "resolution"),
    (BlockId.ROOT_CAUSE, "root_cause"),
    (BlockId.IMPACT_SUMMARY, "impact"),
)


def mentioned_user(text: str) -> str:
    """The user ID of a mention a person typed (`<@U123>` as Slack escapes it)."""
    match = _MENTION.match(text.strip())
    if match is None:
        raise UserError(
            "Mention the person with @ and pick them from the list: "
            "`/incident role commander @name`."
        )
    return match.group(1)


# -- subcommands ----------------------------------------------------------------------


def run_update(ctx: Context, invocation: Invocation) -> None:
    """`update`: the structured status update form."""
    flow.open_update_form(ctx, invocation.channel_id, invocation.trigger_id)


def _resolves(args: str) -> bool:
    """Whether `status <args>` resolves (and so opens the resolve form)."""
    try:
        return incident_lifecycle.parse_status(args.split(maxsplit=1)[0]) == IncidentStatus.RESOLVED
    except (IndexError, UserError):
        return False


def run_status(ctx: Context, invocation: Invocation) -> None:
    """`status <state>`."""
    if not invocation.args:
        invocation.respond(flow.describe_status(ctx, invocation.channel_id))
        return
    target = incident_lifecycle.parse_status(invocation.args.split()[0])
    if target == IncidentStatus.RESOLVED:
        run_resolve(ctx, invocation)
    elif target == IncidentStatus.CLOSED:
        run_close(ctx, invocation)
    else:
        flow.set_status(ctx, invocation.channel_id, invocation.user_id, target)


def run_severity(ctx: Context, invocation: Invocation) -> None:
    """`severity <sev>`."""
    if not invocation.args:
        labels = ", ".join(s.label for s in ctx.policy.severities.values())
        raise UserError(f"Give the new severity: `/incident severity <{labels}>`.")
    key = incident_lifecycle.parse_severity(invocation.args.split()[0], ctx.policy)
    flow.set_severity(ctx, invocation.channel_id, invocation.user_id, key)


def run_priority(ctx: Context, invocation: Invocation) -> None:
    """`priority P2` or `priority <impact> <urgency>`."""
    priority, impact, urgency = incident_lifecycle.parse_priority(invocation.args, ctx.policy)
    flow.set_priority(ctx, invocation.channel_id, invocation.user_id, priority, impact, urgency)


def run_role(ctx: Context, invocation: Invocation) -> None:
    """`role <role> @user`: assign, or hand over with a note when someone holds it."""
    words = invocation.args.split()
    if len(words) < 2:
        names = ", ".join(f"`{k.replace('_', '-')}`" for k in ctx.policy.roles)
        raise UserError(f"Usage: `/incident role <role> @person`. Roles: {names}.")
    role = incident_roles.parse_role(" ".join(words[:-1]), ctx.policy)
    user_id = mentioned_user(words[-1])
    flow.request_role(
        ctx, invocation.channel_id, invocation.user_id, role, user_id, invocation.trigger_id
    )


def run_note(ctx: Context, invocation: Invocation) -> None:
    """`note <text>`."""
    flow.add_note(ctx, invocation.channel_id, invocation.user_id, invocation.args)


def run_resolve(ctx: Context, invocation: Invocation) -> None:
    """`resolve`: the resolution form (also to fill in details once resolved)."""
    flow.open_resolve_form(ctx, invocation.channel_id, invocation.trigger_id)


def run_close(ctx: Context, invocation: Invocation) -> None:
    """`close [reason]`: only from resolved, with the required fields filled; without a
    reason, a form asks why."""
    if not invocation.args:
        flow.open_close_form(ctx, invocation.channel_id, invocation.trigger_id)
        return
    reason = incident_closure.parse_closing_reason(invocation.args.split()[0])
    flow.close(ctx, invocation.channel_id, invocation.user_id, reason)


def run_reopen(ctx: Context, invocation: Invocation) -> None:
    """`reopen`: back to investigating, with a new impact period."""
    flow.reopen(ctx, invocation.channel_id, invocation.user_id)


def run_started(ctx: Context, invocation: Invocation) -> None:
    """`started <time>`: when the impact began."""
    if not invocation.args:
        raise UserError("Give the time the impact started: `/incident started 14:05`.")
    flow.set_started(ctx, invocation.channel_id, invocation.user_id, invocation.args)


def run_list(ctx: Context, invocation: Invocation) -> None:
    """`list`: open incidents; private ones only for their members."""
    invocation.respond(flow.open_incidents_for(ctx, invocation.user_id))


SUBCOMMANDS = [
    Subcommand(
        "update", "update", "post a structured status update (form)", run_update, opens_form=True
    ),
    Subcommand(
        "status",
        "status <state>",
        "move the lifecycle: investigating, identified, monitoring, resolved, closed",
        run_status,
        opens_form=_resolves,  # `status resolved` opens the resolve form
    ),
    Subcommand("severity", "severity <sev>", "change the severity (Sev1 to Sev4)", run_severity),
    Subcommand(
        "priority",
        "priority <P1-P4 | impact urgency>",
        "change the priority, directly or from impact and urgency",
        run_priority,
    ),
    Subcommand(
        "role",
        "role <role> @person",
        "assign commander, technical-lead, communications-lead or business-liaison",
        run_role,
        opens_form=True,  # a commander handing over gets the handoff form
    ),
    Subcommand("note", "note <text>", "add a note to the timeline", run_note),
    Subcommand("started", "started <time>", "set when the impact started (`14:05`)", run_started),
    Subcommand(
        "resolve",
        "resolve",
        "resolve: resolution, root cause, impact (form)",
        run_resolve,
        opens_form=True,
    ),
    Subcommand(
        "close",
        "close [resolved|false-positive|duplicate|maintenance|test]",
        "close a resolved incident (a form asks why; only real ones count in the figures)",
        run_close,
        opens_form=lambda args: not args,  # without a reason, a form asks why
    ),
    Subcommand("reopen", "reopen", "reopen a resolved or closed incident", run_reopen),
    Subcommand("reminders", "reminders", "what reminders are scheduled, and when", run_reminders),
    Subcommand("list", "list", "list the open incidents", run_list),
]


def add_to(registry: Registry) -> None:
    """Register the lifecycle subcommands."""
    for entry in SUBCOMMANDS:
        registry.add(entry)


# -- modal submissions ----------------------------------------------------------------


def _incident_of(view: dict[str, Any]) -> int:
    incident_id = forms.view_metadata(view).get("incident_id")
    if not isinstance(incident_id, int):
        raise UserError("That form is not valid any more.")
    return incident_id


def _form_error(ack: Ack, block: str, error: UserError) -> None:
    ack(response_action="errors", errors={block: clip(error.message, 150)})


def register(app: App, ctx: Context) -> None:
    """Listen for the update, resolve and handoff forms."""

    def handle_update_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id = _incident_of(view)
        user = str(body["user"]["id"])
        try:
            data = forms.parse_update_state(view, now=ctx.clock.now())
            effects = flow.record_update(ctx, incident_id, user, data)
        except forms.FormError as exc:
            ack(response_action="errors", errors=exc.errors)
            return
        except UserError as exc:
            _form_error(ack, BlockId.STATUS, exc)
            return
        ack()
        listener_replies.defer(ctx, body, lambda: incident_changes.publish(ctx, effects))

    def handle_resolve_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id = _incident_of(view)
        values = forms.view_values(view)
        user = str(body["user"]["id"])
        fields = {key: values.get(block, "").strip() for block, key in RESOLVE_FIELDS}
        empty = {
            str(block): "Write it down, or leave “To be investigated”."
            for block, key in RESOLVE_FIELDS
            if not fields[key]
        }
        if empty:
            ack(response_action="errors", errors=empty)
            return
        category = values.get(BlockId.ROOT_CAUSE_CATEGORY) or None
        if category is not None and category not in ctx.policy.root_cause_categories:
            category = None  # the form is older than the policy
        try:
            effects = flow.record_resolution(ctx, incident_id, user, fields, category)
        except UserError as exc:
            _form_error(ack, BlockId.RESOLUTION, exc)
            return
        ack()
        listener_replies.defer(ctx, body, lambda: incident_changes.publish(ctx, effects))

    def handle_handoff_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id = _incident_of(view)
        metadata = forms.view_metadata(view)
        role, user_id = str(metadata.get("role", "")), str(metadata.get("user", ""))
        if role not in ctx.policy.roles or not user_id:
            ack(response_action="errors", errors={BlockId.KNOWN: "This form is out of date."})
            return
        values = forms.view_values(view)
        note = {
            "known": values.get(BlockId.KNOWN, "").strip(),
            "in_progress": values.get(BlockId.IN_PROGRESS, "").strip(),
            "pending": values.get(BlockId.PENDING, "").strip(),
        }
        actor = str(body["user"]["id"])
        try:
            effects = flow.record_role(ctx, incident_id, role, user_id, actor=actor, handoff=note)
        except UserError as exc:
            _form_error(ack, BlockId.KNOWN, exc)
            return
        ack()
        listener_replies.defer(ctx, body, lambda: incident_changes.publish(ctx, effects))

    app.view(CallbackId.UPDATE)(handle_update_submission)
    app.view(CallbackId.RESOLVE)(handle_resolve_submission)

    def handle_close_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id = _incident_of(view)
        try:
            reason = incident_closure.parse_closing_reason(
                forms.view_values(view).get(BlockId.CLOSING_REASON) or "resolved"
            )
            ack()
        except UserError as exc:
            _form_error(ack, BlockId.CLOSING_REASON, exc)
            return
        user = str(body["user"]["id"])
        listener_replies.defer(ctx, body, lambda: flow.close_by_id(ctx, incident_id, user, reason))

    app.view(CallbackId.HANDOFF)(handle_handoff_submission)
    app.view(CallbackId.CLOSE)(handle_close_submission)
