"""The policy's `alerts:` and `maintenance:` parts: sources, routing rules, heartbeats and
recurring maintenance windows, each checked when the policy loads."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bot.durations import Duration

if TYPE_CHECKING:
    from bot.policy import Policy

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,23}$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_RESPONDER = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^(?:[CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79})$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_AT = re.compile(r"^(daily|mon|tue|wed|thu|fri|sat|sun)\s+([01]\d|2[0-3]):([0-5]\d)$")

# Alerts' own severity words, read when a rule names no severity of the policy's.
DEFAULT_SEVERITY_MAP = {
    "critical": "sev1",
    "page": "sev1",
    "high": "sev2",
    "error": "sev2",
    "major": "sev2",
    "warning": "sev3",
    "minor": "sev3",
    "info": "sev4",
    "low": "sev4",
}

TEMPLATES = SandboxedEnvironment(autoescape=False)


def check_template(value: str) -> str:
    """A team's template, refused when it does not parse (a pydantic validator)."""
    try:
        TEMPLATES.parse(value)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a valid template: {exc.message} (line {exc.lineno})") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Matcher(_Strict):
    """How one label (or field) must look: equal to, matching a regex, or one of a list."""

    equals: str | None = None
    regex: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one(self) -> Matcher:
        given = [x for x in (self.equals, self.regex, self.in_) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, regex or in")
        return self

    def matches(self, value: str | None) -> bool:
        """Whether a label's value passes (a missing label passes nothing)."""
        if value is None:
            return False
        if self.equals is not None:
            return value == self.equals
        if self.regex is not None:
            return re.fullmatch(self.regex, value) is not None
        return value in (self.in_ or [])


def _matcher(value: object) -> object:
    # A bare value means equals: `severity: critical`.
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"equals": str(value)}
    return value


class Rule(_Strict):
    """A routing rule: the first whose `match` fits an alert decides what happens to it."""

    name: str = Field(min_length=1, max_length=80)
    match: dict[str, Annotated[Matcher, BeforeValidator(_matcher)]] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)  # only these sources (default: all)
    action: Literal["declare", "triage", "drop"]
    severity: str | None = None
    category: str | None = None
    services: list[str] = Field(default_factory=list)
    commander: str | None = None
    responders: list[str] = Field(default_factory=list)
    private: bool = False
    title: Annotated[str, BeforeValidator(check_template)] = Field(
        default="{{ alert.title }}", min_length=1, max_length=2000
    )
    description: Annotated[str, BeforeValidator(check_template)] = Field(
        default="{{ alert.description }}", max_length=4000
    )
    group_by: list[str] = Field(default_factory=list)
    group_window: Duration | None = None
    auto_resolve: bool = False

    @field_validator("match")
    @classmethod
    def _label_names(cls, value: dict[str, Matcher]) -> dict[str, Matcher]:
        for key in value:
            if not _LABEL.match(key):
                raise ValueError(f"{key!r} is not a label name")
        return value

    @field_validator("commander")
    @classmethod
    def _commander(cls, value: str | None) -> str | None:
        if value is not None and not _USER.match(value):
            raise ValueError(f"{value!r} is not a Slack user ID (U…)")
        return value

    @field_validator("responders")
    @classmethod
    def _responders(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _RESPONDER.match(item):
                raise ValueError(f"{item!r} is not a Slack user (U…) or user group (S…) ID")
        return value


class Heartbeat(_Strict):
    """An alert that always fires while monitoring works (Alertmanager's `Watchdog`)."""

    alertname: str = Field(default="Watchdog", min_length=1, max_length=200)
    expect_every: Duration = timedelta(minutes=5)
    declare: bool = False  # open a "monitoring silent" incident when it stops
    severity: str | None = None  # default: the policy's second severity (Sev2)


class Source(_Strict):
    """Where alerts come from: `POST /alerts/<name>`, its format and its secret."""

    format: Literal["alertmanager", "grafana", "generic"]
    secret: str | None = Field(default=None, min_length=16)
    secret_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    # Where silences are made (Alertmanager's own URL), and its bearer token if it wants one.
    alertmanager_url: str | None = Field(default=None, pattern=r"^https?://")
    alertmanager_token_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    heartbeat: Heartbeat | None = None

    @model_validator(mode="after")
    def _has_secret(self) -> Source:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of secret_env (recommended) or secret")
        return self

    def secret_value(self) -> str | None:
        """The shared secret (None when its environment variable is unset)."""
        if self.secret is not None:
            return self.secret
        assert self.secret_env is not None
        return os.environ.get(self.secret_env) or None

    def alertmanager_token(self) -> str | None:
        """The bearer token for Alertmanager's API, if one is configured."""
        if self.alertmanager_token_env is None:
            return None
        return os.environ.get(self.alertmanager_token_env) or None


class AlertsPolicy(_Strict):
    """Alert sources, routing rules, and where alerts nobody declared go."""

    sources: dict[str, Source] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    default_action: Literal["triage", "drop"] = "triage"
    triage_channel: str | None = None  # default: the announcement channel
    group_window: Duration = timedelta(minutes=10)
    # An alert's own severity word → a severity of the policy (default: DEFAULT_SEVERITY_MAP,
    # where the policy has those severities).
    severity_map: dict[str, str] | None = None
    default_severity: str | None = None  # default: the policy's third severity (or last)
    default_category: str | None = None  # default: the policy's first category
    # How long a handled alert no incident holds is kept (those an incident holds stay).
    retention: Duration = timedelta(days=30)

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, Source]) -> dict[str, Source]:
        for key in value:
            if not _NAME.match(key):
                raise ValueError(
                    f"source name {key!r} must be lowercase letters, digits, - or _ (at most 24)"
                )
        return value

    @field_validator("triage_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL.match(value):
            raise ValueError("must be a channel ID such as C0123ABCD or a name such as #alerts")
        return value

    @model_validator(mode="after")
    def _rules_known(self) -> AlertsPolicy:
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rule names must be distinct")
        for index, rule in enumerate(self.rules):
            for source in rule.sources:
                if source not in self.sources:
                    raise ValueError(f"rules.{index}.sources: unknown source {source!r}")
        return self

    def rule(self, name: str | None) -> Rule | None:
        """The rule called `name`."""
        return next((rule for rule in self.rules if rule.name == name), None)


class RecurringWindow(_Strict):
    """A maintenance window that comes back: `at: sun 02:00` (or `daily 03:00`)."""

    services: list[str] = Field(min_length=1)
    at: str
    duration: Duration
    timezone: str = "UTC"
    reason: str = Field(default="", max_length=300)

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        text = " ".join(value.lower().split())
        if not _AT.match(text):
            raise ValueError(f"{value!r}: write it like 'sun 02:00' or 'daily 03:30'")
        return text

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone") from None
        return value

    def weekday(self) -> int | None:
        """0 for Monday … 6 for Sunday; None for daily."""
        day = self.at.split()[0]
        return None if day == "daily" else _WEEKDAYS.index(day)

    def time_of_day(self) -> tuple[int, int]:
        """Hour and minute it starts, in its time zone."""
        hour, minute = self.at.split()[1].split(":")
        return int(hour), int(minute)


__all__ = [
    "DEFAULT_SEVERITY_MAP",
    "TEMPLATES",
    "AlertsPolicy",
    "Heartbeat",
    "Matcher",
    "RecurringWindow",
    "Rule",
    "Source",
    "check_template",
]


def alert_notes(policy: Policy) -> list[str]:
    """What the policy's alerts part means, one line each (secrets checked, not shown)."""
    alerts = policy.alerts
    if not alerts.sources:
        return ["alerts: no alert sources (monitoring cannot declare incidents)"]
    lines = []
    for name, source in alerts.sources.items():
        secret = "secret set" if source.secret_value() else f"SECRET {source.secret_env} NOT SET"
        extra = f", heartbeat {source.heartbeat.alertname}" if source.heartbeat else ""
        silences = ", silences in " + source.alertmanager_url if source.alertmanager_url else ""
        lines.append(f"alerts: POST /alerts/{name} ({source.format}, {secret}{extra}{silences})")
    lines.append(
        f"alerts: {len(alerts.rules)} rule(s); unmatched alerts: {alerts.default_action}; "
        f"{len(policy.maintenance)} recurring maintenance window(s)"
    )
    return lines


def check_alerts(policy: Policy) -> None:
    """Alert settings name only the policy's severities and categories, and triage has a
    channel to go to."""
    alerts = policy.alerts
    where: list[tuple[str, str | None]] = [("alerts.default_severity", alerts.default_severity)]
    where += [(f"alerts.severity_map.{k}", v) for k, v in (alerts.severity_map or {}).items()]
    for name, source in alerts.sources.items():
        if source.heartbeat is not None:
            where.append((f"alerts.sources.{name}.heartbeat.severity", source.heartbeat.severity))
    for index, rule in enumerate(alerts.rules):
        where.append((f"alerts.rules.{index}.severity", rule.severity))
        if rule.category is not None and rule.category not in policy.categories:
            raise ValueError(
                f"alerts.rules.{index}.category: {rule.category!r} is not one of the "
                "policy's categories"
            )
    for path, severity in where:
        if severity is not None and severity not in policy.severities:
            raise ValueError(
                f"{path}: {severity!r} is not a severity of the policy "
                f"({', '.join(policy.severities)})"
            )
    category = alerts.default_category
    if category is not None and category not in policy.categories:
        raise ValueError(f"alerts.default_category: {category!r} is not a category")
    uses_triage = alerts.default_action == "triage" or any(
        rule.action == "triage" for rule in alerts.rules
    )
    if (
        alerts.sources
        and uses_triage
        and not (alerts.triage_channel or policy.announcement_channel)
    ):
        raise ValueError(
            "alerts: set alerts.triage_channel (or announcement_channel): alerts for a "
            "person to triage need a channel"
        )
