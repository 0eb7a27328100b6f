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
from bot.slack.gateway import NOTIFICATION_TEXT_MAX

TEXT_OBJECT_MAX = 3000  # any text object: a section's, a context element's
OPTION_TEXT_MAX = 75
HEADER_MAX = 150
TOPIC_MAX = 250  # Slack cuts channel topics at 250 characters
MAX_SECTIONS = 45  # Slack allows 50 blocks in a message
# The text all the blocks of one message may hold together. Slack refuses more with
# msg_blocks_too_long and publishes no figure; the lowest total reported refused is
# 11,341 characters (slackapi/bolt-js#2867), and Slack counts some of the blocks'
# structure too, so the bot keeps well under it (tests/fakeslack/README.md has the rest).
BLOCKS_TEXT_MAX = 10_000
# Where a report cut to fit Slack can be read whole.
REPORT_CUT_NOTE = "_… cut to fit in Slack: `incident-bot report` gives the whole report._"


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
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, TEXT_OBJECT_MAX)))


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
        NOTIFICATION_TEXT_MAX,
    )


def topic_text(incident: Incident, policy: Policy) -> str:
    """The channel topic: reference, severity, status, commander."""
    severity = policy.severity(incident.severity)
    return truncate(render("topic.j2", incident=incident, severity=severity), TOPIC_MAX)


def announcement_blocks(incident: Incident, policy: Policy, notify: list[str]) -> list[Block]:
    """The announcement of a new incident in the announcement channel."""
    severity = policy.severity(incident.severity)
    return [section(render("announcement.j2", incident=incident, severity=severity, notify=notify))]


# A button: its action_id, its label and optionally its style (`primary`, `danger`).
Button = tuple[str, str] | tuple[str, str, str]


def button_row(value: str, *buttons: Button) -> ActionsBlock:
    """A row of buttons that all carry `value` (the row they act on)."""
    return ActionsBlock(
        block_id=BlockId.ACTIONS,
        elements=[
            ButtonElement(
                action_id=button[0],
                text=plain(button[1]),
                value=value,
                style=button[2] if len(button) == 3 else None,
            )
            for button in buttons
        ],
    )


def with_button(
    text: str, action_id: str, label: str, value: str, style: str | None = None
) -> list[Block]:
    """A section of text with one button under it."""
    button: Button = (action_id, label, style) if style else (action_id, label)
    return [section(text), button_row(value, button)]


def setup_failed_blocks(text: str, incident_id: int) -> list[Block]:
    """The note to a reporter that part of the set-up failed, with a retry button."""
    return with_button(text, ActionId.RETRY_SETUP, "Retry now", str(incident_id))


def text_blocks(text: str) -> list[Block]:
    """One section of mrkdwn text (cut to Slack's limit)."""
    return [section(text)]


def small_print(text: str) -> ContextBlock:
    """A line of mrkdwn in small print (cut to a text object's limit)."""
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, TEXT_OBJECT_MAX))])


def paragraph_blocks(text: str, footer: str | None = None) -> list[Block]:
    """Long mrkdwn text as one section per paragraph, and an optional footer in small
    print, within BLOCKS_TEXT_MAX in all. When it does not fit, the text comes first: its
    last paragraphs are cut, the footer goes unless it still fits, and REPORT_CUT_NOTE says
    so."""
    parts = [truncate(part, TEXT_OBJECT_MAX) for part in text.split("\n\n") if part.strip()]
    notes = [truncate(footer, TEXT_OBJECT_MAX)] if footer else []
    if sum(map(len, parts + notes)) > BLOCKS_TEXT_MAX or len(parts) > MAX_SECTIONS:
        budget = BLOCKS_TEXT_MAX - len(REPORT_CUT_NOTE)
        parts = _first_within(parts[:MAX_SECTIONS], budget)
        room = budget - sum(map(len, parts))
        notes = [REPORT_CUT_NOTE, *(note for note in notes if len(note) <= room)]
    return [*(section(part) for part in parts), *(small_print(note) for note in notes)]


# A paragraph cut shorter than this is left out rather than shown as a stub.
_SHORTEST_CUT = 200


def _first_within(parts: list[str], budget: int) -> list[str]:
    """The first paragraphs within `budget` characters in all, the last one cut to fit."""
    kept: list[str] = []
    for part in parts:
        room = budget - sum(map(len, kept))
        if len(part) <= room:
            kept.append(part)
            continue
        if room >= _SHORTEST_CUT:
            kept.append(truncate(part, room))
        break
    return kept


def as_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    """Blocks as the dicts the Web API takes."""
    return [block.to_dict() for block in blocks]


# -- modals run from an incident channel ------------------------------------------------
