"""Public update drafts: who approves an incident's public updates, and what the form is
pre-filled with (the pending draft, else one that follows the last published update, else
the category's template). Nothing internal of the incident is pre-filled as public text."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from jinja2 import TemplateError
from sqlmodel import Session, col, select

from bot.alert_policy import TEMPLATES
from bot.models import Incident, IncidentStatus, PublicUpdate, PublicUpdateState
from bot.policy import Policy
from bot.services import incident_roles, status_publication

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublicDraft:
    """What a public update says: status, title, message and affected components."""

    status: str
    title: str
    message: str
    components: dict[str, str]


# The incident's lifecycle status as a public status (a reported incident is investigated).
_PUBLIC_STATUS: dict[str, str] = {
    IncidentStatus.IDENTIFIED: "identified",
    IncidentStatus.MONITORING: "monitoring",
    IncidentStatus.RESOLVED: "resolved",
    IncidentStatus.CLOSED: "resolved",
}


def approver_of(session: Session, incident: Incident) -> tuple[str | None, str]:
    """Who decides on the incident's public updates, and as which role."""
    holders = incident_roles.holders(session, incident)
    if holders.get("business_liaison"):
        return holders["business_liaison"], "business_liaison"
    return holders.get("commander") or incident.commander_id, "commander"


def _words(names: list[str]) -> str:
    if not names:
        return "our services"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _message(policy: Policy, incident: Incident, names: list[str], resolved: bool) -> str:
    page = policy.status_page
    if resolved:
        source = page.templates.get("resolved", "")
    else:
        source = page.template_for(incident.category)
    # Plain text for a form's initial value (Slack shows it as typed): nothing to escape.
    # The policy's templates parse (checked when it loads); one can still fail to render.
    try:
        return TEMPLATES.from_string(source).render(components=_words(names), count=len(names))
    except TemplateError as exc:  # the form is still usable, with an empty message
        log.warning("status_page template for %r does not render: %s", incident.category, exc)
        return ""


def prefill(session: Session, policy: Policy, incident: Incident, resolved: bool) -> PublicDraft:
    """A draft for the form: the pending one, else one following the last published."""
    assert incident.id is not None
    waiting = pending(session, incident.id)
    if waiting is not None and not resolved:
        return PublicDraft(waiting.status, waiting.title, waiting.message, waiting.components)
    last = status_publication.last_published(session, incident.id)
    status = "resolved" if resolved else _PUBLIC_STATUS.get(incident.status, "investigating")
    if last is not None:
        names = list(last.components)
        title = last.title
    else:
        words = [word.strip(",;") for word in incident.affected_services.split()]
        names = [c.name for c in policy.status_page.components_for(words)]
        # "Problems with our services" when none is named: never the incident's own
        # title, which is internal (and one click publishes it where no approval is due).
        title = f"Problems with {_words(names)}"
    components = {} if resolved else (dict(last.components) if last else {})
    if not resolved and not components:
        components = dict.fromkeys(names, "partial_outage")
    return PublicDraft(status, title, _message(policy, incident, names, resolved), components)


def pending(session: Session, incident_id: int) -> PublicUpdate | None:
    return session.exec(
        select(PublicUpdate)
        .where(
            PublicUpdate.incident_id == incident_id,
            PublicUpdate.state == PublicUpdateState.PENDING,
        )
        .order_by(col(PublicUpdate.id).desc())
        .limit(1)
    ).first()
