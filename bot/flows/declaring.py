"""Declaring an incident: the form, the record (before the form closes), the set-up."""

from __future__ import annotations

import logging

from bot.context import Context
from bot.errors import UserError
from bot.flows import channel_setup, incident_changes
from bot.models import Incident
from bot.services.declaration import DeclareInput, declare
from bot.views.declare_modal import declare_modal_dict

log = logging.getLogger(__name__)


def open_form(ctx: Context, trigger_id: str, title: str, origin_channel: str | None) -> None:
    """Open the declare form, its title pre-filled."""
    view = declare_modal_dict(policy=ctx.policy, title=title, origin_channel=origin_channel)
    incident_changes.open_form(ctx, trigger_id, view)


def record(ctx: Context, data: DeclareInput, reporter: str, origin: str | None) -> Incident:
    """Commit the incident, its timeline entry and its set-up task.

    Done before the form closes, so a crash after the ack cannot lose the incident: the
    sweeper finishes the Slack set-up.
    """
    with ctx.db.session() as session:
        incident = declare(
            session=session,
            data=data,
            reporter_id=reporter,
            policy=ctx.policy,
            now=ctx.clock.now(),
            declared_in_channel=origin,
        )
    log.info("%s declared by %s", incident.reference, reporter)
    return incident


def set_up(ctx: Context, incident_id: int) -> None:
    """Set the incident up in Slack now (the sweeper retries whatever fails)."""
    channel_setup.run_for(ctx, incident_id)


def retry_set_up(ctx: Context, incident_id: int) -> str | None:
    """*Retry now*: run the missing set-up steps; what to tell the person, if anything."""
    outcome = channel_setup.run_for(ctx, incident_id)
    if outcome is None:
        return "The set-up is already complete or being retried right now."
    if not outcome.done and outcome.error is not None:
        return f"Still not done: {channel_setup.explain(outcome.error)}. I will keep trying."
    return None


def parse_retry_value(value: str) -> int:
    """The incident a *Retry now* button stands for."""
    try:
        return int(value)
    except ValueError:
        raise UserError("That button is not valid any more.") from None
