"""Block Kit, built by pure functions returning slack_sdk.models objects."""

from __future__ import annotations

import json
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
from bot.models import Incident
from bot.models.incident import DESCRIPTION_MAX, SERVICES_MAX, TITLE_MAX
from bot.policy import Policy
from bot.render import render, truncate

SECTION_TEXT_MAX = 3000
MESSAGE_TEXT_MAX = 4000  # notification text; Slack allows 40,000 but shows ~4,000
OPTION_TEXT_MAX = 75
HEADER_MAX = 150
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


def summary_blocks(incident: Incident, policy: Policy) -> list[Block]:
    """The pinned summary of an incident."""
    severity = policy.severity(incident.severity)
    header = f"{incident.reference} · {severity.label} · {incident.priority}"
    return [
        HeaderBlock(block_id=BlockId.SUMMARY, text=_plain(header, HEADER_MAX)),
        _section(render("summary.j2", incident=incident)),
        _section(render("summary_fields.j2", incident=incident, severity=severity)),
    ]


def summary_text(incident: Incident, policy: Policy) -> str:
    """The notification text of the summary (shown where blocks are not)."""
    severity = policy.severity(incident.severity)
    return truncate(
        render("announcement.j2", incident=incident, severity=severity, notify=[]),
        MESSAGE_TEXT_MAX,
    )


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
