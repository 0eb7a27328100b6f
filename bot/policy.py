"""The incident policy: severities, targets, cadence, escalation, roles, categories.

Built-in defaults follow the common incident SOP; a YAML file overrides any part.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.alert_policy import (
    DEFAULT_SEVERITY_MAP,
    AlertsPolicy,
    RecurringWindow,
    alert_notes,
    check_alerts,
)
from bot.comms_policy import (
    Channel,
    Email,
    Paging,
    Stakeholder,
    StatusPage,
    check_comms,
    fill_defaults,
    outbound_notes,
)
from bot.durations import Duration, format_duration, parse_duration
from bot.errors import ConfigError
from bot.policy_defaults import default_policy_data
from bot.report_policy import (
    DEFAULT_ROOT_CAUSES,
    ProcessTargets,
    ReportSchedule,
    Survey,
    check_reports,
)
from bot.slack.targets import SLACK_TARGET

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EscalationStep(_Strict):
    """After `after` unresolved since declare, notify `notify`."""

    after: Duration
    notify: list[str] = Field(min_length=1)
    dm: bool = False  # also send each person in `notify` a direct message
    page: bool = False  # also page through PagerDuty (policy `paging`)


MIN_UPDATE_INTERVAL = timedelta(minutes=1)
# Slack's Block Kit limits on what the policy fills: radio buttons hold at most 10 options
# (the severities in the declare form), a static select at most 100 (the categories).
MAX_SEVERITIES = 10
MAX_CATEGORIES = 100
_CHANNEL_NAME = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,79}$")


class Severity(_Strict):
    """One severity level and its targets."""

    label: str = Field(min_length=1, max_length=20)
    definition: str = Field(min_length=1, max_length=75)
    response_target: Duration
    resolution_target: Duration
    update_interval: Duration
    notify: list[str] = Field(default_factory=list)
    # Who a missed response target pings (default: the policy's response_contacts, else
    # the first escalation step's targets).
    response_contacts: list[str] = Field(default_factory=list)
    escalation: list[EscalationStep] = Field(default_factory=list)
    pir_required: bool = False

    @field_validator("escalation")
    @classmethod
    def _ordered(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        return sorted(steps, key=lambda step: step.after)

    @field_validator("update_interval")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta) -> timedelta:
        if value < MIN_UPDATE_INTERVAL:
            raise ValueError("must be at least 1m: the bot reminds at most once a minute")
        return value


class Role(_Strict):
    """An incident role and the duties sent to whoever takes it."""

    name: str = Field(min_length=1, max_length=40)
    duties: str = Field(min_length=1, max_length=2000)
    aliases: list[str] = Field(default_factory=list)


Level = Literal["high", "medium", "low"]
PriorityName = Literal["P1", "P2", "P3", "P4"]
ClosureField = Literal["root_cause", "resolution", "impact"]
CLOSURE_FIELDS: tuple[ClosureField, ...] = ("root_cause", "resolution", "impact")


class Policy(_Strict):
    """The whole incident policy."""

    announcement_channel: str | None = None
    severities: dict[str, Severity] = Field(min_length=1, max_length=MAX_SEVERITIES)
    categories: list[str] = Field(min_length=1, max_length=MAX_CATEGORIES)
    roles: dict[str, Role] = Field(min_length=1)
    contacts: dict[str, str | None] = Field(default_factory=dict)
    response_contacts: list[str] = Field(default_factory=list)
    priority_matrix: dict[Level, dict[Level, PriorityName]]
    closure_requires: list[ClosureField] = Field(default_factory=lambda: list(CLOSURE_FIELDS))
    templates_dir: Path | None = None
    stale_after: Duration = timedelta(hours=24)
    pir_on_resolve: bool = True  # draft the review when a severity that needs one resolves
    pir_review_within_business_days: int = Field(default=5, ge=1, le=30)
    alerts: AlertsPolicy = Field(default_factory=AlertsPolicy)
    root_cause_categories: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ROOT_CAUSES), min_length=1, max_length=100
    )
    process_targets: ProcessTargets = Field(default_factory=ProcessTargets)
    survey: Survey = Field(default_factory=Survey)
    reports: list[ReportSchedule] = Field(default_factory=list)
    maintenance: list[RecurringWindow] = Field(default_factory=list)
    status_page: StatusPage = Field(default_factory=StatusPage)
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    notify_via: dict[str, list[Channel]] = Field(default_factory=dict)
    email: Email = Field(default_factory=Email)
    paging: Paging = Field(default_factory=Paging)
    snooze_options: list[Duration] = Field(
        default_factory=lambda: [timedelta(minutes=30), timedelta(hours=1)],
        min_length=1,
        max_length=5,
    )

    @model_validator(mode="before")
    @classmethod
    def _sop_defaults(cls, data: Any) -> Any:
        return fill_defaults(data) if isinstance(data, dict) else data

    @field_validator("severities")
    @classmethod
    def _severity_keys(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        for key in value:
            if not _NAME.match(key):
                raise ValueError(f"severity key {key!r} must be lowercase letters, digits or _")
        return value

    @field_validator("roles")
    @classmethod
    def _role_keys(cls, value: dict[str, Role]) -> dict[str, Role]:
        missing = {"commander"} - value.keys()
        if missing:
            raise ValueError("the commander role is required")
        for key in value:
            if not _NAME.match(key):
                raise ValueError(f"role key {key!r} must be lowercase letters, digits or _")
        return value

    @field_validator("categories", "root_cause_categories")
    @classmethod
    def _menu_values(cls, value: list[str]) -> list[str]:
        # Each is the value of an option in a form's menu (declare, resolve), and Slack
        # refuses a menu whose options repeat a value.
        for item in value:
            if not 1 <= len(item) <= 40:
                raise ValueError(f"{item!r} must be 1 to 40 characters")
        repeated = sorted({item for item in value if value.count(item) > 1})
        if repeated:
            listed = ", ".join(repr(item) for item in repeated)
            raise ValueError(f"must be distinct; repeated: {listed}")
        return value

    @field_validator("contacts")
    @classmethod
    def _contact_values(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for name, target in value.items():
            if not _NAME.match(name):
                raise ValueError(f"contact name {name!r} must be lowercase letters, digits or _")
            if target is not None and not SLACK_TARGET.match(target):
                raise ValueError(
                    f"contact {name!r} is {target!r}: use a Slack user (U…), "
                    "user group (S…) or channel (C…) ID"
                )
        return value

    @field_validator("priority_matrix")
    @classmethod
    def _matrix_complete(
        cls, value: dict[Level, dict[Level, PriorityName]]
    ) -> dict[Level, dict[Level, PriorityName]]:
        for impact in ("high", "medium", "low"):
            row = value.get(impact)
            if row is None or set(row) != {"high", "medium", "low"}:
                raise ValueError(f"impact {impact!r} needs a priority for high, medium and low")
        return value

    @model_validator(mode="after")
    def _targets_known(self) -> Policy:
        for key, severity in self.severities.items():
            targets = [*severity.notify, *severity.response_contacts, *self.response_contacts]
            for step in severity.escalation:
                targets.extend(step.notify)
            for target in targets:
                if not (SLACK_TARGET.match(target) or target in self.contacts):
                    raise ValueError(
                        f"severities.{key}: unknown notify target {target!r}: use a Slack "
                        "user, user group or channel ID, or a name under contacts"
                    )
        channel = self.announcement_channel
        if channel is not None and not (_CHANNEL_ID.match(channel) or _CHANNEL_NAME.match(channel)):
            raise ValueError(
                "announcement_channel must be a channel ID such as C0123ABCD or a channel "
                "name such as #incidents"
            )
        check_alerts(self)
        check_reports(self)
        check_comms(self)
        return self

    def channels(self, severity: str) -> list[Channel]:
        """How a severity is notified: `slack`, `email`, `page` (Slack when not said)."""
        return list(self.notify_via.get(severity, ["slack"]))

    def needs_approval(self, severity: str) -> bool:
        """Whether a public update of an incident of `severity` waits for approval."""
        return severity in self.status_page.approval_severities

    # -- queries -------------------------------------------------------------------------

    def severity(self, key: str) -> Severity:
        """The severity named `key`; KeyError when the policy has no such level."""
        return self.severities[key]

    def rank(self, severity: str) -> int:
        """A severity's place in the policy's order, the most severe first (0); one past
        the last for a severity the policy does not have."""
        keys = list(self.severities)
        return keys.index(severity) if severity in keys else len(keys)

    def priority(self, impact: str, urgency: str) -> str:
        """The priority that the matrix gives an impact and an urgency."""
        return self.priority_matrix[impact][urgency]  # type: ignore[index]

    def alert_severity(self, word: str) -> str:
        """The policy's severity for an alert's own severity word (`critical`, `warning`)."""
        word = word.strip().lower()
        if word in self.severities:
            return word
        mapping = self.alerts.severity_map
        if mapping is None:
            mapping = {k: v for k, v in DEFAULT_SEVERITY_MAP.items() if v in self.severities}
        return mapping.get(word) or self.default_alert_severity()

    def default_alert_severity(self) -> str:
        """The severity of an alert nothing else decides: the third (or the last)."""
        if self.alerts.default_severity is not None:
            return self.alerts.default_severity
        keys = list(self.severities)
        return keys[min(2, len(keys) - 1)]

    def heartbeat_severity(self, configured: str | None) -> str:
        """The severity of a "monitoring silent" incident: as configured, else the second."""
        keys = list(self.severities)
        return configured or keys[min(1, len(keys) - 1)]

    def role_name(self, key: str) -> str:
        """The display name of a role."""
        return self.roles[key].name


def announcement_note(policy: Policy) -> str:
    """What the policy means for announcements, in one line (check-config, the start log)."""
    channel = policy.announcement_channel
    if channel is None:
        return (
            "announcement_channel is not set: no announcement will be made of new incidents "
            "(set it to a channel ID or #name)"
        )
    if channel.startswith("#"):
        return f"new incidents are announced in {channel} (its ID is looked up by name at start)"
    return f"new incidents are announced in channel {channel}"


def policy_notes(policy: Policy, smtp_url: str | None, smtp_from: str | None) -> list[str]:
    """What the policy and the email settings will do, a line each (check-config and the
    start log; a line with NOT SET names a setting that is missing)."""
    return [
        announcement_note(policy),
        *alert_notes(policy),
        *outbound_notes(policy, smtp_url, smtp_from),
    ]


def default_policy() -> Policy:
    """The built-in policy."""
    return Policy.model_validate(default_policy_data())


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge mappings one level deep per key; lists and scalars replace."""
    merged = dict(base)
    for key, value in override.items():
        if key in {"contacts", "roles", "priority_matrix", "notify_via"} and isinstance(
            value, dict
        ):
            merged[key] = {**base.get(key, {}), **value}
        elif key == "severities" and isinstance(value, dict):
            severities = dict(base.get(key, {}))
            for name, spec in value.items():
                if isinstance(spec, dict) and name in severities:
                    severities[name] = {**severities[name], **spec}
                else:
                    severities[name] = spec
            merged[key] = severities
        else:
            merged[key] = value
    return merged


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "is not a known key"
    return f"{location}: {message}"


def load_policy(path: Path | None) -> Policy:
    """Load the policy: defaults, overridden by the YAML file at `path` when given."""
    if path is None:
        return default_policy()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the policy file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the policy must be a mapping of keys to values")
    if isinstance(data.get("templates_dir"), str):
        data["templates_dir"] = str((Path(path).parent / data["templates_dir"]).resolve())
    try:
        return Policy.model_validate(_merge(default_policy_data(), data))
    except ValidationError as exc:
        lines = [_describe(dict(error)) for error in exc.errors()]
        raise ConfigError(f"{path}: " + "; ".join(lines)) from None


__all__ = [
    "AlertsPolicy",
    "Duration",
    "Policy",
    "RecurringWindow",
    "alert_notes",
    "announcement_note",
    "format_duration",
    "load_policy",
    "parse_duration",
]
