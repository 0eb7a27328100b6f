"""The post-incident survey's message (rating buttons) and its comment form."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.blocks import plain, section
from bot.ids import ActionId, BlockId, CallbackId

RATINGS = ((1, "1 · poor"), (2, "2"), (3, "3"), (4, "4"), (5, "5 · great"))


def _comment_button(incident_id: int, label: str) -> ButtonElement:
    return ButtonElement(
        action_id=ActionId.SURVEY_COMMENT,
        text=plain(label),
        value=json.dumps({"incident": incident_id}),
    )


def survey_blocks(text: str, incident_id: int) -> list[Block]:
    """The survey: five rating buttons and a comment button."""
    return [
        section(text),
        ActionsBlock(
            block_id=BlockId.ACTIONS,
            elements=[
                ButtonElement(
                    action_id=f"{ActionId.SURVEY_RATE}:{value}",
                    text=plain(label),
                    value=json.dumps({"incident": incident_id, "rating": value}),
                )
                for value, label in RATINGS
            ]
            + [_comment_button(incident_id, "Add a comment")],
        ),
    ]


def thanks_blocks(text: str, incident_id: int, *, commented: bool) -> list[Block]:
    """After a rating: thanks, and the comment button (to add or change one)."""
    label = "Change your comment" if commented else "Add a comment"
    return [
        section(text),
        ActionsBlock(block_id=BlockId.ACTIONS, elements=[_comment_button(incident_id, label)]),
    ]


def comment_modal(incident_id: int, reference: str) -> View:
    """A comment on how the incident was handled."""
    return View(
        type="modal",
        callback_id=CallbackId.SURVEY_COMMENT,
        title=plain("Your feedback", 24),
        submit=plain("Send", 24),
        close=plain("Cancel", 24),
        private_metadata=json.dumps({"incident_id": incident_id}),
        blocks=[
            section(f"How was *{reference}* handled for you? What should we do better?"),
            InputBlock(
                block_id=BlockId.COMMENT,
                label=plain("Comment"),
                element=PlainTextInputElement(
                    action_id=ActionId.VALUE, multiline=True, max_length=3000
                ),
            ),
        ],
    )
