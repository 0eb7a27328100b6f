"""Outward communication armed with an incident's changes: email and pages
(`notification_rules`) and the stakeholder matrix's updates (`stakeholder_rules`).

Called by `reminder_rules` in the same transaction as the change, so a change and what it
owes the outside world commit together; the task rows are delivered by the sweep.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.models import Incident
from bot.policy import Policy
from bot.services import notification_rules, stakeholder_rules


def on_declared(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """A new incident: email and page as its severity says; stakeholder updates begin."""
    notification_rules.on_declared(session, incident, policy, now)
    stakeholder_rules.on_declared(session, incident, policy, now)


def on_acknowledged(session: Session, incident: Incident, now: datetime) -> None:
    """Someone took the incident: a page sent for it is acknowledged."""
    notification_rules.on_acknowledged(session, incident, now)


def on_severity_change(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """New severity: the stakeholders and channels that apply to it change."""
    notification_rules.on_severity_change(session, incident, policy, now)
    stakeholder_rules.on_severity_change(session, incident, policy, now)


def on_resolved(session: Session, incident: Incident, now: datetime) -> None:
    """Resolved or closed: pages are resolved, stakeholder updates stop."""
    notification_rules.on_resolved(session, incident, now)
    stakeholder_rules.on_resolved(session, incident, now)


def on_reopened(session: Session, incident: Incident, policy: Policy, now: datetime) -> None:
    """Reopened: paging and stakeholder updates start again as for a new impact period."""
    notification_rules.on_reopened(session, incident, policy, now)
    stakeholder_rules.on_reopened(session, incident, policy, now)
