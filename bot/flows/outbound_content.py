"""What an outbound email or page says, and where it goes, decided when it is sent.

Email recipients: the policy's `email.addresses` by contact name or Slack ID, else the
Slack profile's email (`users.info`, the `users:read.email` scope), user groups expanded.
Everything is rendered from `disclosure.outside`: an email or a page is read outside the
incident's channel, so a private incident is its reference only.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.context import Context
from bot.flows import slack_refusals
from bot.integrations import pagerduty
from bot.models import Incident, ScheduledTask
from bot.policy import Policy, format_duration
from bot.render import render_document
from bot.services import disclosure
from bot.slack import targets as slack_targets
from bot.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)

HEADINGS = {
    "declared": "Declared",
    "reopened": "Reopened",
    "escalation": "Escalation",
    "resolved": "Resolved",
}


@dataclass
class Recipients:
    """The addresses an email goes to, and the targets that have none."""

    addresses: list[str] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)


def _person(ctx: Context, user_id: str) -> list[str]:
    """A Slack person's profile email (none for a bot or a deactivated account)."""
    user = ctx.slack.user(user_id)
    if user is None or user.deleted or user.is_bot or not user.email:
        return []
    return [user.email]


def _resolve(ctx: Context, name: str) -> list[str]:
    """The addresses of one target: a contact name, a Slack person or user group."""
    book = ctx.policy.email.addresses
    if name in book:
        return list(book[name])
    target = slack_targets.contact(ctx.policy.contacts, name)
    if target is None:
        return []
    if target in book:
        return list(book[target])
    try:
        if slack_targets.kind(target) == "person":
            return _person(ctx, target)
        if slack_targets.kind(target) == "group":
            found: list[str] = []
            for member in ctx.slack.usergroup_members(target):
                found.extend(book.get(member) or _person(ctx, member))
            return found
    except SlackCallFailed as exc:
        if slack_refusals.is_transient(exc):
            raise
        log.warning("no email address for %s: Slack answered %s", name, exc.error)
        return []
    return [target] if "@" in target else []


def recipients(ctx: Context, data: dict[str, Any]) -> Recipients:
    """Where an email task's data says it goes, resolved now (SlackCallFailed if Slack is
    away: try again later)."""
    found = Recipients()
    addresses = [str(address) for address in data.get("to") or []]
    for name in data.get("targets") or []:
        resolved = _resolve(ctx, str(name))
        if resolved:
            addresses.extend(resolved)
        else:
            found.unreached.append(str(name))
    found.addresses = list(dict.fromkeys(a.strip() for a in addresses if a.strip()))
    return found


def _severity_label(policy: Policy, key: str) -> str:
    severity = policy.severities.get(key)
    return severity.label if severity is not None else key


def content(ctx: Context, incident: Incident, task: ScheduledTask) -> tuple[str, str, str]:
    """Subject, plain text and HTML: as the task gives them, or rendered now from its
    template and the incident as an outside audience may see it."""
    data = task.data
    if data.get("subject") and (data.get("text") or data.get("html")):
        text = str(data.get("text") or "")
        body = str(data.get("html") or f"<pre>{html.escape(text)}</pre>")
        return str(data["subject"]), text, body
    what = str(data.get("template") or "declared")
    view = disclosure.outside(incident)
    label = _severity_label(ctx.policy, incident.severity)
    link = f"https://slack.com/app_redirect?channel={view.channel_id}" if view.channel_id else None
    reasons = {
        "declared": f"you are on the list for {label} incidents",
        "reopened": f"you are on the list for {label} incidents",
        "escalation": f"an escalation step of the {label} policy",
        "resolved": "you were emailed about this incident",
    }
    context: dict[str, Any] = {
        "incident": view,
        "what": what,
        "heading": HEADINGS.get(what, what.capitalize()),
        "severity": label,
        "after": format_duration(timedelta(seconds=int(data.get("after") or 0))),
        "link": link,
        "reason": reasons.get(what),
    }
    prefix = ctx.policy.email.subject_prefix
    subject = f"{prefix} {context['heading']}: {view.reference} ({label}) {view.title}".strip()
    return (
        subject,
        render_document("email_notice.txt.j2", **context),
        render_document("email_notice.html.j2", **context),
    )


def _pager_severity(policy: Policy, key: str) -> pagerduty.PagerSeverity:
    """The policy's first severity is critical, the second error, the third warning."""
    return pagerduty.PAGER_SEVERITIES[min(policy.rank(key), len(pagerduty.PAGER_SEVERITIES) - 1)]


def page_event(
    ctx: Context, incident: Incident, task: ScheduledTask, routing_key: str
) -> dict[str, Any]:
    """The Events API v2 event a PAGE task sends, from what outsiders may see."""
    action = str(task.data.get("action") or "trigger")
    view = disclosure.outside(incident)
    severity = str(task.data.get("severity") or incident.severity)
    label = _severity_label(ctx.policy, severity)
    links = []
    if view.channel_id:
        href = f"https://slack.com/app_redirect?channel={view.channel_id}"
        links.append({"href": href, "text": "Incident channel in Slack"})
    return pagerduty.event(
        routing_key=routing_key,
        action=action,  # type: ignore[arg-type]
        key=pagerduty.dedup_key(incident.reference),
        summary=f"{view.reference} ({label}): {view.title}",
        source=ctx.policy.paging.source,
        severity=_pager_severity(ctx.policy, severity),
        # When it happened: the declaration, the escalation step or the reopening the
        # trigger is for (its task falls due then), not the first declaration.
        timestamp=task.due_at if action == "trigger" else ctx.clock.now(),
        component=view.affected_services or None,
        custom_details={
            "reference": view.reference,
            "severity": label,
            "priority": view.priority,
            "status": view.status,
            **({"category": view.category} if view.category else {}),
            **({"step": task.data["step"]} if "step" in task.data else {}),
        },
        links=links,
    )
