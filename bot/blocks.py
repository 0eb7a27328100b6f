"""Block Kit, built by pure functions returning slack_sdk.models objects."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.models import Incident, IncidentStatus
from bot.models.incident import DESCRIPTION_MAX, OPEN_STATES, SERVICES_MAX, TITLE_MAX
from bot.policy import Policy, format_duration
from bot.render import render, truncate
from bot.services.status_updates import UpdateInput

SECTION_TEXT_MAX = 3000
MESSAGE_TEXT_MAX = 4000  # notification text; Slack allows 40,000 but shows ~4,000
OPTION_TEXT_MAX = 75
HEADER_MAX = 150
TOPIC_MAX = 250  # Slack cuts channel topics at 250 characters
LEVELS = ("high", "medium", "low")


def _plain(text: str, limit: int = OPTION_TEXT_MAX) -> PlainTextObject:
    return PlainTextObject(text=truncate(text, limit), emoji=True)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_TEXT_MAX)))


def _option(value: str, label: str, description: str | None = None) -> Option:
    return Option(
        value=value,
        text=_plain(label),
        description=_plain(description) if description else None,
    )


def _level_options() -> list[Option]:
    return [_option(level, level.capitalize()) for level in LEVELS]


def declare_modal(*, policy: Policy, title: str = "", origin_channel: str | None = None) -> View:
    """The declare modal, its title field pre-filled with `title`."""
    severity_options = [
        _option(key, severity.label, severity.definition)
        for key, severity in policy.severities.items()
    ]
    category_options = [_option(category, category) for category in policy.categories]
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.TITLE,
            label=_plain("Title"),
            element=PlainTextInputElement(
                action_id=ActionId.VALUE,
                initial_value=title[:TITLE_MAX] or None,
                max_length=TITLE_MAX,
                placeholder=_plain("Checkout fails for EU customers"),
            ),
        ),
        InputBlock(
            block_id=BlockId.DESCRIPTION,
            label=_plain("What is happening"),
            optional=True,
            element=PlainTextInputElement(
                action_id=ActionId.VALUE,
                multiline=True,
                max_length=DESCRIPTION_MAX,
                initial_value=render("description_scaffold.j2"),
            ),
        ),
        InputBlock(
            block_id=BlockId.SEVERITY,
            label=_plain("Severity"),
            element=RadioButtonsElement(action_id=ActionId.VALUE, options=severity_options),
        ),
        InputBlock(
            block_id=BlockId.CATEGORY,
            label=_plain("Category"),
            element=StaticSelectElement(
                action_id=ActionId.VALUE,
                options=category_options[:100],
                placeholder=_plain("Choose a category"),
            ),
        ),
        InputBlock(
            block_id=BlockId.IMPACT,
            label=_plain("Impact: how widely does it hurt?"),
            element=RadioButtonsElement(action_id=ActionId.VALUE, options=_level_options()),
        ),
        InputBlock(
            block_id=BlockId.URGENCY,
            label=_plain("Urgency: how fast must it be fixed?"),
            element=RadioButtonsElement(action_id=ActionId.VALUE, options=_level_options()),
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(text=render("priority_matrix.j2", matrix=policy.priority_matrix))
            ]
        ),
        InputBlock(
            block_id=BlockId.AFFECTED_SERVICES,
            label=_plain("Affected services"),
            optional=True,
            element=PlainTextInputElement(
                action_id=ActionId.VALUE,
                max_length=SERVICES_MAX,
                placeholder=_plain("checkout, payments-api"),
            ),
        ),
        InputBlock(
            block_id=BlockId.PRIVATE,
            label=_plain("Visibility"),
            optional=True,
            element=CheckboxesElement(
                action_id=ActionId.VALUE,
                options=[
                    _option(
                        "private",
                        "Private incident",
                        "Private channel; no announcement",
                    )
                ],
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=CallbackId.DECLARE,
        title=_plain("Declare an incident", 24),
        submit=_plain("Declare", 24),
        close=_plain("Cancel", 24),
        private_metadata=json.dumps({"channel_id": origin_channel}),
        blocks=blocks,
    )


_MODAL_CACHE: dict[int, tuple[Policy, dict[str, Any]]] = {}


def declare_modal_dict(
    *, policy: Policy, title: str = "", origin_channel: str | None = None
) -> dict[str, Any]:
    """The declare modal as the dict views.open takes.

    Building and validating the Block Kit models costs milliseconds of CPU that would be
    spent on every `/incident`; the modal depends only on the policy, so it is built once
    per policy and copied with the title and origin filled in.
    """
    cached = _MODAL_CACHE.get(id(policy))
    if cached is None or cached[0] is not policy:
        cached = (policy, declare_modal(policy=policy).to_dict())
        _MODAL_CACHE[id(policy)] = cached
    view: dict[str, Any] = json.loads(json.dumps(cached[1]))
    view["private_metadata"] = json.dumps({"channel_id": origin_channel})
    if title:
        for block in view["blocks"]:
            if block.get("block_id") == BlockId.TITLE:
                block["element"]["initial_value"] = title[:TITLE_MAX]
    return view


def parse_declare_state(view: dict[str, Any]) -> tuple[dict[str, object], str | None]:
    """Read the declare modal's submitted values; returns (raw fields, origin channel)."""
    values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}

    def element(block_id: str) -> dict[str, Any]:
        return values.get(block_id, {}).get(ActionId.VALUE, {}) or {}

    def text(block_id: str) -> str:
        return str(element(block_id).get("value") or "")

    def choice(block_id: str) -> str | None:
        selected = element(block_id).get("selected_option") or {}
        value = selected.get("value")
        return str(value) if value is not None else None

    description = text(BlockId.DESCRIPTION)
    if description.strip() == render("description_scaffold.j2").strip():
        description = ""
    raw: dict[str, object] = {
        "title": text(BlockId.TITLE),
        "description": description.strip(),
        "severity": choice(BlockId.SEVERITY),
        "category": choice(BlockId.CATEGORY),
        "impact": choice(BlockId.IMPACT),
        "urgency": choice(BlockId.URGENCY),
        "affected_services": " ".join(text(BlockId.AFFECTED_SERVICES).split()),
        "is_private": any(
            option.get("value") == "private"
            for option in element(BlockId.PRIVATE).get("selected_options") or []
        ),
    }
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    origin = metadata.get("channel_id") if isinstance(metadata, dict) else None
    return raw, origin if isinstance(origin, str) else None


def summary_blocks(
    incident: Incident, policy: Policy, holders: dict[str, str] | None = None
) -> list[Block]:
    """The pinned summary of an incident."""
    severity = policy.severity(incident.severity)
    header = f"{incident.reference} · {severity.label} · {incident.priority}"
    return [
        HeaderBlock(block_id=BlockId.SUMMARY, text=_plain(header, HEADER_MAX)),
        _section(render("summary.j2", incident=incident)),
        _section(
            render(
                "summary_fields.j2",
                incident=incident,
                severity=severity,
                roles=policy.roles,
                holders=holders or {},
            )
        ),
    ]


def summary_text(incident: Incident, policy: Policy) -> str:
    """The notification text of the summary (shown where blocks are not)."""
    severity = policy.severity(incident.severity)
    return truncate(
        render("announcement.j2", incident=incident, severity=severity, notify=[]),
        MESSAGE_TEXT_MAX,
    )


def topic_text(incident: Incident, policy: Policy) -> str:
    """The channel topic: reference, severity, status, commander."""
    severity = policy.severity(incident.severity)
    return truncate(render("topic.j2", incident=incident, severity=severity), TOPIC_MAX)


def announcement_blocks(incident: Incident, policy: Policy, notify: list[str]) -> list[Block]:
    """The announcement of a new incident in the announcement channel."""
    severity = policy.severity(incident.severity)
    return [
        _section(render("announcement.j2", incident=incident, severity=severity, notify=notify))
    ]


def setup_failed_blocks(text: str, incident_id: int) -> list[Block]:
    """The note to a reporter that part of the set-up failed, with a retry button."""
    return [
        _section(text),
        ActionsBlock(
            block_id=BlockId.ACTIONS,
            elements=[
                ButtonElement(
                    action_id=ActionId.RETRY_SETUP,
                    text=_plain("Retry now"),
                    value=str(incident_id),
                )
            ],
        ),
    ]


def text_blocks(text: str) -> list[Block]:
    """One section of mrkdwn text (cut to Slack's limit)."""
    return [_section(text)]


def as_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    """Blocks as the dicts the Web API takes."""
    return [block.to_dict() for block in blocks]


# -- modals run from an incident channel ------------------------------------------------

UPDATE_CHOICES = [
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=24),
]
TO_BE_INVESTIGATED = "To be investigated"


def _metadata(incident: Incident, **extra: Any) -> str:
    return json.dumps({"incident_id": incident.id, **extra})


def _text_input(
    block_id: str,
    label: str,
    *,
    multiline: bool = True,
    optional: bool = False,
    initial: str | None = None,
    placeholder: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=_plain(label),
        optional=optional,
        element=PlainTextInputElement(
            action_id=ActionId.VALUE,
            multiline=multiline,
            max_length=DESCRIPTION_MAX,
            initial_value=initial[:DESCRIPTION_MAX] if initial else None,
            placeholder=_plain(placeholder) if placeholder else None,
        ),
    )


def next_update_choices(incident: Incident, policy: Policy) -> list[timedelta]:
    """The next-update times the form offers: each one is honoured exactly as chosen."""
    return sorted({*UPDATE_CHOICES, policy.severity(incident.severity).update_interval})


class FormError(Exception):
    """A submitted form with field errors, keyed by block ID (shown under each field)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def parse_update_state(view: dict[str, Any], *, now: datetime) -> UpdateInput:
    """Read the status update form; the next update must be one of the offered times."""
    values = view_values(view)
    try:
        status = IncidentStatus(values.get(BlockId.STATUS) or "")
    except ValueError:
        raise FormError({BlockId.STATUS: "Choose a status."}) from None
    offered = view_metadata(view).get("next_update_choices")
    chosen = values.get(BlockId.NEXT_UPDATE) or ""
    if not chosen.isdigit() or (isinstance(offered, list) and int(chosen) not in offered):
        raise FormError({BlockId.NEXT_UPDATE: "Choose when the next update is due."})
    return UpdateInput(
        status=status,
        what_changed=values.get(BlockId.WHAT_CHANGED, ""),
        impact=values.get(BlockId.CURRENT_IMPACT, ""),
        next_steps=values.get(BlockId.NEXT_STEPS, ""),
        next_update_at=now + timedelta(seconds=int(chosen)),
    )


def update_modal(incident: Incident, policy: Policy) -> View:
    """The structured status update form."""
    interval = policy.severity(incident.severity).update_interval
    choices = next_update_choices(incident, policy)
    due_options = [
        _option(str(int(c.total_seconds())), f"In {format_duration(c)}") for c in choices
    ]
    initial_due = next(o for o in due_options if o.value == str(int(interval.total_seconds())))
    states = [s for s in OPEN_STATES if s != "reported" or incident.status == "reported"]
    status_options = [_option(s.value, s.value.capitalize()) for s in states]
    initial_status = next((o for o in status_options if o.value == incident.status), None)
    return View(
        type="modal",
        callback_id=CallbackId.UPDATE,
        title=_plain("Status update", 24),
        submit=_plain("Post update", 24),
        close=_plain("Cancel", 24),
        private_metadata=_metadata(
            incident, next_update_choices=[int(c.total_seconds()) for c in choices]
        ),
        blocks=[
            _section(f"*{incident.reference}*"),
            InputBlock(
                block_id=BlockId.STATUS,
                label=_plain("Status"),
                element=StaticSelectElement(
                    action_id=ActionId.VALUE,
                    options=status_options,
                    initial_option=initial_status,
                ),
            ),
            _text_input(
                BlockId.WHAT_CHANGED,
                "What changed",
                optional=True,
                placeholder="No change, investigation ongoing",
            ),
            _text_input(
                BlockId.CURRENT_IMPACT,
                "Current impact",
                optional=True,
                initial=incident.impact_summary or None,
            ),
            _text_input(BlockId.NEXT_STEPS, "Next steps", optional=True),
            InputBlock(
                block_id=BlockId.NEXT_UPDATE,
                label=_plain("Next update due"),
                element=StaticSelectElement(
                    action_id=ActionId.VALUE, options=due_options, initial_option=initial_due
                ),
            ),
        ],
    )


def resolve_modal(incident: Incident) -> View:
    """The resolve form: resolution, root cause and impact ("to be investigated" is fine)."""
    return View(
        type="modal",
        callback_id=CallbackId.RESOLVE,
        title=_plain("Resolve incident", 24),
        submit=_plain("Resolve", 24),
        close=_plain("Cancel", 24),
        private_metadata=_metadata(incident),
        blocks=[
            _section(
                f"*{incident.reference}* is already resolved: update its resolution details."
                if incident.status == "resolved"
                else f"*{incident.reference}*: what fixed it, and why did it happen?"
            ),
            _text_input(
                BlockId.RESOLUTION,
                "Resolution",
                initial=incident.resolution or TO_BE_INVESTIGATED,
            ),
            _text_input(
                BlockId.ROOT_CAUSE,
                "Root cause",
                initial=incident.root_cause or TO_BE_INVESTIGATED,
            ),
            _text_input(
                BlockId.IMPACT_SUMMARY,
                "Impact: who and what was affected",
                initial=incident.impact_summary or TO_BE_INVESTIGATED,
            ),
        ],
    )


def handoff_modal(incident: Incident, role: str, role_name: str, user_id: str) -> View:
    """The handoff note asked for when a role changes hands."""
    return View(
        type="modal",
        callback_id=CallbackId.HANDOFF,
        title=_plain("Handoff note", 24),
        submit=_plain("Hand over", 24),
        close=_plain("Cancel", 24),
        private_metadata=_metadata(incident, role=role, user=user_id),
        blocks=[
            _section(
                render("handoff_intro.j2", incident=incident, role_name=role_name, user_id=user_id)
            ),
            _text_input(BlockId.KNOWN, "What is known"),
            _text_input(BlockId.IN_PROGRESS, "What is in progress"),
            _text_input(BlockId.PENDING, "What is pending", optional=True),
        ],
    )


def view_values(view: dict[str, Any]) -> dict[str, str]:
    """Block ID → submitted text or selected value, for the simple modals above."""
    values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}
    result: dict[str, str] = {}
    for block_id, actions in values.items():
        element = actions.get(ActionId.VALUE) or {}
        if "selected_option" in element:
            selected = element.get("selected_option") or {}
            result[block_id] = str(selected.get("value") or "")
        else:
            result[block_id] = str(element.get("value") or "")
    return result


def view_metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON private_metadata of a submitted view ({} if unreadable)."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
