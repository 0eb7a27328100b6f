"""The declare form: built from the policy (and cached per policy), and read back when submitted."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import option, plain
from bot.ids import ActionId, BlockId, CallbackId
from bot.models.incident import DESCRIPTION_MAX, SERVICES_MAX, TITLE_MAX
from bot.policy import Policy
from bot.render import render
from bot.views.forms import view_metadata

LEVELS = ("high", "medium", "low")


def _level_options() -> list[Option]:
    return [option(level, level.capitalize()) for level in LEVELS]


def declare_modal(*, policy: Policy, title: str = "", origin_channel: str | None = None) -> View:
    """The declare modal, its title field pre-filled with `title`."""
    severity_options = [
        option(key, severity.label, severity.definition)
        for key, severity in policy.severities.items()
    ]
    category_options = [option(category, category) for category in policy.categories]
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.TITLE,
            label=plain("Title"),
            element=PlainTextInputElement(
                action_id=ActionId.VALUE,
                initial_value=title[:TITLE_MAX] or None,
                max_length=TITLE_MAX,
                placeholder=plain("Checkout fails for EU customers"),
            ),
        ),
        InputBlock(
            block_id=BlockId.DESCRIPTION,
            label=plain("What is happening"),
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
            label=plain("Severity"),
            element=RadioButtonsElement(action_id=ActionId.VALUE, options=severity_options),
        ),
        InputBlock(
            block_id=BlockId.CATEGORY,
            label=plain("Category"),
            element=StaticSelectElement(
                action_id=ActionId.VALUE,
                options=category_options[:100],
                placeholder=plain("Choose a category"),
            ),
        ),
        InputBlock(
            block_id=BlockId.IMPACT,
            label=plain("Impact: how widely does it hurt?"),
            element=RadioButtonsElement(action_id=ActionId.VALUE, options=_level_options()),
        ),
        InputBlock(
            block_id=BlockId.URGENCY,
            label=plain("Urgency: how fast must it be fixed?"),
            element=RadioButtonsElement(action_id=ActionId.VALUE, options=_level_options()),
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(text=render("priority_matrix.j2", matrix=policy.priority_matrix))
            ]
        ),
        InputBlock(
            block_id=BlockId.AFFECTED_SERVICES,
            label=plain("Affected services"),
            optional=True,
            element=PlainTextInputElement(
                action_id=ActionId.VALUE,
                max_length=SERVICES_MAX,
                placeholder=plain("checkout, payments-api"),
            ),
        ),
        InputBlock(
            block_id=BlockId.PRIVATE,
            label=plain("Visibility"),
            optional=True,
            element=CheckboxesElement(
                action_id=ActionId.VALUE,
                options=[
                    option(
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
        title=plain("Declare an incident", 24),
        submit=plain("Declare", 24),
        close=plain("Cancel", 24),
        private_metadata=json.dumps({"channel_id": origin_channel}),
        blocks=blocks,
    )


_MODAL_CACHE: dict[int, tuple[Policy, dict[str, Any]]] = {}


def declare_modal_dict(
    *,
    policy: Policy,
    title: str = "",
    origin_channel: str | None = None,
    description: str = "",
    services: str = "",
    alert_id: int | None = None,
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
    metadata: dict[str, Any] = {"channel_id": origin_channel}
    if alert_id is not None:
        metadata["alert_id"] = alert_id  # declared from an alert's triage message
    view["private_metadata"] = json.dumps(metadata)
    filled = {
        BlockId.TITLE: title[:TITLE_MAX],
        BlockId.DESCRIPTION: description[:DESCRIPTION_MAX],
        BlockId.AFFECTED_SERVICES: services[:SERVICES_MAX],
    }
    for block in view["blocks"]:
        value = filled.get(block.get("block_id"))
        if value:
            block["element"]["initial_value"] = value
    return view


def declared_alert(view: dict[str, Any]) -> int | None:
    """The alert a submitted declare form was opened from, if any."""
    value = view_metadata(view).get("alert_id")
    return value if isinstance(value, int) else None


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
    origin = view_metadata(view).get("channel_id")
    return raw, origin if isinstance(origin, str) else None
