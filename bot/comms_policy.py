"""The policy's outward communication: the status page, the stakeholder matrix, which
channels each severity is notified through (Slack, email, paging), and where email and
pages go. Defaults follow the SOP's communication rules."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bot.alert_policy import check_template
from bot.durations import Duration
from bot.integrations import smtp_mail
from bot.slack.targets import SLACK_TARGET

if TYPE_CHECKING:
    from bot.policy import Policy

_ENV = r"^[A-Z_][A-Z0-9_]*$"
_PATH = re.compile(r"^/[a-z0-9][a-z0-9_/-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")

# A component's state on the status page, worst last (Statuspage's words).
ComponentState = Literal[
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
]
COMPONENT_STATES: tuple[ComponentState, ...] = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)
STATE_LABELS: dict[str, str] = {
    "operational": "Operational",
    "under_maintenance": "Under maintenance",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}
# A public update's status (Statuspage's incident statuses).
PublicStatus = Literal["investigating", "identified", "monitoring", "resolved"]
PUBLIC_STATUSES: tuple[PublicStatus, ...] = (
    "investigating",
    "identified",
    "monitoring",
    "resolved",
)
Channel = Literal["slack", "email", "page"]

DEFAULT_PUBLIC_TEMPLATES: dict[str, str] = {
    "default": "We are investigating reports of problems with {{ components }}. "
    "We will post an update as soon as we know more.",
    "resolved": "This incident has been resolved: {{ components }} {{ 'is' if count == 1 "
    "else 'are' }} working normally again. Thank you for your patience.",
    "network": "We are investigating network connectivity problems affecting {{ components }}.",
    "database": "We are investigating degraded performance of {{ components }}.",
    "security": "We are investigating a problem affecting {{ components }}. "
    "We will share more as soon as we can.",
    "third-party": "A provider we rely on is having problems that affect {{ components }}. "
    "We are working with them.",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(_Strict):
    """A component of the status page: a name people know, optionally in a group."""

    name: str = Field(min_length=1, max_length=60)
    group: str | None = Field(default=None, min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=200)
    # Affected-services words that mean this component (pre-fill the public update form).
    services: list[str] = Field(default_factory=list)


class StatusPage(_Strict):
    """The public status page, served in HTTP mode."""

    enabled: bool = True
    path: str = "/status"
    title: str = Field(default="System status", min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=300)
    components: list[Component] = Field(default_factory=list, max_length=100)
    history_days: int = Field(default=90, ge=7, le=365)
    # Severities whose public updates need the business liaison's approval (or the
    # commander's when there is no liaison).
    approval_severities: list[str] = Field(default_factory=lambda: ["sev1", "sev2"])
    # Pre-filled public messages by category (Jinja, `components` and `count` given; each
    # must parse), with `default` for the rest and `resolved` for the resolved update.
    templates: dict[str, Annotated[str, BeforeValidator(check_template)]] = Field(
        default_factory=lambda: dict(DEFAULT_PUBLIC_TEMPLATES)
    )
    # The form holds public title and message to these (the page cuts anything longer).
    max_title: int = Field(default=120, ge=20, le=255)
    max_message: int = Field(default=2000, ge=100, le=5000)

    @field_validator("path")
    @classmethod
    def _path_shape(cls, value: str) -> str:
        value = value.rstrip("/") or "/status"
        if not _PATH.match(value):
            raise ValueError("must be a path such as /status (lowercase letters, digits, - _ /)")
        if value.split("/")[1] in {"slack", "alerts", "metrics", "healthz"}:
            raise ValueError(f"{value} is taken by the bot's own endpoints")
        return value

    @field_validator("components")
    @classmethod
    def _distinct(cls, value: list[Component]) -> list[Component]:
        names = [component.name.casefold() for component in value]
        if len(set(names)) != len(names):
            raise ValueError("component names must be distinct")
        return value

    def component(self, name: str) -> Component | None:
        """The component called `name` (any case), or None."""
        wanted = name.strip().casefold()
        return next((c for c in self.components if c.name.casefold() == wanted), None)

    def components_for(self, words: Iterable[str]) -> list[Component]:
        """The components some words name, by the component's name or one of its
        `services` (any case), in the policy's order."""
        wanted = {word.strip().casefold() for word in words}
        return [
            c
            for c in self.components
            if c.name.casefold() in wanted or any(s.casefold() in wanted for s in c.services)
        ]

    def template_for(self, category: str) -> str:
        """The pre-filled public message for an incident of `category`."""
        return self.templates.get(category) or self.templates.get("default") or ""


StakeholderTemplate = Literal["executives", "business_units", "customer_support"]


class Stakeholder(_Strict):
    """One row of the stakeholder matrix: who hears what, for which severities, how often."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    # Slack targets: user (U…), user group (S…) or channel (C…) IDs, or contact names.
    targets: list[str] = Field(default_factory=list)
    email: list[str] = Field(default_factory=list)  # addresses or mailing lists
    severities: list[str] = Field(min_length=1)
    every: Duration
    template: StakeholderTemplate = "executives"
    skip_unchanged: bool = True  # no update when nothing changed since the last one

    @field_validator("every")
    @classmethod
    def _at_least_five_minutes(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5):
            raise ValueError("must be at least 5m")
        return value

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _EMAIL.match(address):
                raise ValueError(f"{address!r} is not an email address")
        return value


# The SOP's stakeholder matrix, by severity rank (0: the most severe): executives for the
# first, business units and customer support for the first two. No targets until the
# policy names them.
DEFAULT_STAKEHOLDERS: list[tuple[str, int, str]] = [
    ("executives", 1, "2h"),
    ("business_units", 2, "4h"),
    ("customer_support", 2, "30m"),
]
# The SOP's channels by severity rank: Sev1 phone + Slack + email, Sev2 Slack + email,
# Sev3 email + Slack, Sev4 (and any lower) email.
DEFAULT_NOTIFY_VIA: list[list[Channel]] = [
    ["page", "slack", "email"],
    ["slack", "email"],
    ["email", "slack"],
    ["email"],
]
APPROVAL_RANKS = 2  # by default the two most severe levels' public updates need approval


def fill_defaults(data: dict[str, object]) -> dict[str, object]:
    """The SOP's defaults for what the policy leaves out, by severity rank, so a policy with
    its own severity names gets them too: `notify_via` for each severity not given,
    `status_page.approval_severities` and the `stakeholders` matrix."""
    severities = data.get("severities")
    if not isinstance(severities, dict):
        return data
    keys = [str(key) for key in severities]
    filled = dict(data)
    given = data.get("notify_via")
    notify: dict[str, object] = dict(given) if isinstance(given, dict) else {}
    for rank, key in enumerate(keys):
        notify.setdefault(key, list(DEFAULT_NOTIFY_VIA[min(rank, len(DEFAULT_NOTIFY_VIA) - 1)]))
    if given is None or isinstance(given, dict):
        filled["notify_via"] = notify
    page = data.get("status_page")
    if page is None or isinstance(page, dict):
        page = dict(page or {})
        page.setdefault("approval_severities", keys[:APPROVAL_RANKS])
        filled["status_page"] = page
    if "stakeholders" not in data:
        filled["stakeholders"] = [
            {"name": name, "severities": keys[:ranks], "every": every, "template": name}
            for name, ranks, every in DEFAULT_STAKEHOLDERS
        ]
    return filled


class Email(_Strict):
    """Where email goes: addresses for contacts and people, by contact name or Slack ID.

    A Slack user with no address here is looked up with `users.info` (its profile email).
    """

    addresses: dict[str, list[str]] = Field(default_factory=dict)
    subject_prefix: str = Field(default="[incident]", max_length=40)

    @field_validator("addresses")
    @classmethod
    def _valid(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, addresses in value.items():
            for address in addresses:
                if not _EMAIL.match(address):
                    raise ValueError(f"{name}: {address!r} is not an email address")
        return value


class Paging(_Strict):
    """Paging through PagerDuty's Events API v2."""

    routing_key: str | None = Field(default=None, min_length=32, max_length=32)
    routing_key_env: str | None = Field(default=None, pattern=_ENV)
    events_url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern="^https?://")
    source: str = Field(default="incident-bot", min_length=1, max_length=255)

    @model_validator(mode="after")
    def _one_key(self) -> Paging:
        if self.routing_key is not None and self.routing_key_env is not None:
            raise ValueError("give one of routing_key_env (recommended) or routing_key")
        return self

    def key(self) -> str | None:
        """The integration's routing key (None when not configured or its variable unset)."""
        if self.routing_key is not None:
            return self.routing_key
        if self.routing_key_env is not None:
            return os.environ.get(self.routing_key_env) or None
        return None


def outbound_notes(policy: Policy, smtp_url: str | None, smtp_from: str | None) -> list[str]:
    """What email and paging will do with this policy and these settings, one line each
    (check-config and the start log; secrets are never shown)."""
    emailing = [key for key in policy.severities if "email" in policy.channels(key)]
    wanted = f" (wanted for {', '.join(emailing)})" if emailing else ""
    if smtp_url is None:
        lines = [f"email: SMTP_URL is not set: no email will be sent{wanted}"]
    elif smtp_from is None:
        lines = [f"email: SMTP_FROM NOT SET: no email will be sent{wanted}"]
    else:
        try:
            server = smtp_mail.parse_url(smtp_url, smtp_from)
        except ValueError as exc:
            lines = [f"email: SMTP_URL is invalid: {exc}"]
        else:
            lines = [f"email: through {server.describe()}{wanted}"]
    paging = policy.paging
    paged = [
        key
        for key, severity in policy.severities.items()
        if "page" in policy.channels(key) or any(step.page for step in severity.escalation)
    ]
    which = ", ".join(paged) if paged else "no severity"
    if paging.routing_key is None and paging.routing_key_env is None:
        lines.append("paging: no paging.routing_key_env in the policy: nobody will be paged")
    elif paging.key() is None:
        lines.append(
            f"paging: ROUTING KEY {paging.routing_key_env} NOT SET: nobody will be paged "
            f"(wanted for {which})"
        )
    else:
        lines.append(f"paging: PagerDuty events to {paging.events_url} for {which}")
    return lines


def check_comms(policy: Policy) -> None:
    """Refuse outward settings that name severities, contacts or people the policy does
    not have (ValueError naming the path)."""
    for key in policy.notify_via:
        if key not in policy.severities:
            raise ValueError(f"notify_via.{key}: {key!r} is not a severity")
    for key in policy.status_page.approval_severities:
        if key not in policy.severities:
            raise ValueError(f"status_page.approval_severities: {key!r} is not a severity")
    names = [stakeholder.name for stakeholder in policy.stakeholders]
    if len(set(names)) != len(names):
        raise ValueError("stakeholders: stakeholder names must be distinct")
    for index, stakeholder in enumerate(policy.stakeholders):
        for key in stakeholder.severities:
            if key not in policy.severities:
                raise ValueError(f"stakeholders.{index}.severities: {key!r} is not a severity")
        for target in stakeholder.targets:
            if not (SLACK_TARGET.match(target) or target in policy.contacts):
                raise ValueError(
                    f"stakeholders.{index}.targets: unknown target {target!r}: use a Slack "
                    "user, user group or channel ID, or a name under contacts"
                )
    for name in policy.email.addresses:
        if not (SLACK_TARGET.match(name) or name in policy.contacts):
            raise ValueError(
                f"email.addresses.{name}: not a contact name or a Slack user or group ID"
            )
