"""Block Kit, built by pure functions returning slack_sdk.models objects."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)

from bot.ids import ActionId, BlockId
from bot.models import Incident
from bot.policy import Policy
from bot.render import render, truncate

SECTION_TEXT_MAX = 3000
MESSAGE_TEXT_MAX = 4000  # notification text; Slack allows 40,000 but shows ~4,000
OPTION_TEXT_MAX = 75
HEADER_MAX = 150
TOPIC_MAX = 250  # Slack cuts channel topics at 250 characters
MAX_SECTIONS = 45  # Slack allows 50 blocks in a message


def plain(text: str, limit: int = OPTION_TEXT_MAX) -> PlainTextObject:
    """Plain text (emoji shown), cut to `limit` with a visible mark."""
    return PlainTextObject(text=truncate(text, limit), emoji=True)


def option(value: str, label: str, description: str | None = None) -> Option:
    """A choice in a menu or a set of buttons, its label and description cut to fit."""
    return Option(
        value=value,
        text=plain(label),
        description=plain(description) if description else None,
    )


def section(text: str) -> SectionBlock:
    """A mrkdwn section, cut to Slack's limit with a visible mark."""
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_TEXT_MAX)))


def summary_blocks(
    incident: Incident, policy: Policy, holders: dict[str, str] | None = None
) -> list[Block]:
    """The pinned summary of an incident."""
    severity = policy.severity(incident.severity)
    header = f"{incident.reference} · {severity.label} · {incident.priority}"
    return [
        HeaderBlock(block_id=BlockId.SUMMARY, text=plain(header, HEADER_MAX)),
        section(render("summary.j2", incident=incident)),
        section(
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
    return [section(render("announcement.j2", incident=incident, severity=severity, notify=notify))]


def with_button(
    text: str, action_id: str, label: str, value: str, style: str | None = None
) -> list[Block]:
    """A section of text with one button under it."""
    return [
        section(text),
        ActionsBlock(
            block_id=BlockId.ACTIONS,
            elements=[
                ButtonElement(action_id=action_id, text=plain(label), value=value, style=style)
            ],
        ),
    ]


def setup_failed_blocks(text: str, incident_id: int) -> list[Block]:
    """The note to a reporter that part of the set-up failed, with a retry button."""
    return with_button(text, ActionId.RETRY_SETUP, "Retry now", str(incident_id))


def text_blocks(text: str) -> list[Block]:
    """One section of mrkdwn text (cut to Slack's limit)."""
    return [section(text)]


def paragraph_blocks(text: str, footer: str | None = None) -> list[Block]:
    """Long mrkdwn text as one section per paragraph (each within Slack's limit), and an
    optional footer in small print."""
    parts = [part for part in text.split("\n\n") if part.strip()][:MAX_SECTIONS]
    found: list[Block] = [section(part) for part in parts]
    if footer:
        found.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(footer, 3000))]))
    return found


def as_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    """Blocks as the dicts the Web API takes."""
    return [block.to_dict() for block in blocks]


# -- modals run from an incident channel ------------------------------------------------
