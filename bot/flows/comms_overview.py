"""`/incident comms`: what an incident told the outside world, where and when (status page,
email, pages, stakeholder updates), what is failing, and what is due next."""

from __future__ import annotations

from bot.context import Context
from bot.flows import incident_changes
from bot.models import TaskState
from bot.render import render
from bot.services import comms_history, disclosure

SHOWN = 15  # the newest entries of each list; the count of the rest is given


def describe(ctx: Context, channel_id: str) -> str:
    """The comms overview of the incident whose channel this is."""
    incident = incident_changes.incident_in(ctx, channel_id)
    assert incident.id is not None
    with ctx.db.read_session() as session:
        history = comms_history.load(session, incident.id)
    updates, sent, outbound = history.updates, history.sent, history.outbound
    return render(
        "comms_overview.j2",
        incident=incident,
        updates=updates[-SHOWN:],
        earlier_updates=max(len(updates) - SHOWN, 0),
        sent=sent[-SHOWN:],
        earlier_sent=max(len(sent) - SHOWN, 0),
        failing=[o for o in outbound if o.state == TaskState.DEAD or o.last_error],
        due=[o for o in outbound if o.state == TaskState.PENDING and not o.last_error][:SHOWN],
        status_page=ctx.policy.status_page,
        channels=ctx.policy.channels(incident.severity),
        publishable=disclosure.may_publish(incident),
    )
