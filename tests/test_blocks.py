"""Block Kit built by the bot stays within what Slack takes, checked by the fake's rules."""

from __future__ import annotations

from typing import Any

from bot import blocks
from tests.fakeslack import blockkit


def _texts(found: list[dict[str, Any]]) -> list[str]:
    return [
        block["text"]["text"] if block["type"] == "section" else block["elements"][0]["text"]
        for block in found
    ]


def _accepted(found: list[dict[str, Any]]) -> bool:
    """Whether the fake (as strict as Slack) takes these as a message's blocks."""
    return not blockkit.validate_blocks(found) and (
        blockkit.blocks_text_length(found) <= blockkit.MAX_BLOCKS_TEXT
    )


def test_a_long_report_is_cut_to_the_message_budget_first_paragraphs_first() -> None:
    paragraphs = [f"*Part {n}*\n" + "&amp;" * 500 for n in range(12)]  # 2,510 each
    footer = "*MTTR*: from declared to resolved. " * 40
    found = blocks.as_dicts(blocks.paragraph_blocks("\n\n".join(paragraphs), footer))
    assert _accepted(found)
    assert blockkit.blocks_text_length(found) <= blocks.BLOCKS_TEXT_MAX
    texts = _texts(found)
    # The first paragraphs whole, the next one cut without splitting an escape, the rest
    # left out, and the note saying where the whole report is; no room left for the footer.
    assert texts[:3] == paragraphs[:3]
    assert texts[3].startswith("*Part 3*\n&amp;") and texts[3].endswith("&amp;… (truncated)")
    assert texts[4:] == [blocks.REPORT_CUT_NOTE]
    assert found[-1]["type"] == "context"


def test_a_report_that_fits_is_shown_whole_with_its_footer() -> None:
    text = "*Incidents*: 3\n\n*Overall*: MTTR 2h\n\n\n\n*Trends*: none"
    found = blocks.as_dicts(blocks.paragraph_blocks(text, "*MTTR*: declared to resolved"))
    assert _texts(found) == [
        "*Incidents*: 3",
        "*Overall*: MTTR 2h",
        "*Trends*: none",
        "*MTTR*: declared to resolved",
    ]
    assert [b["type"] for b in found] == ["section", "section", "section", "context"]


def test_paragraphs_beyond_the_block_count_are_cut_and_a_footer_that_fits_stays() -> None:
    many = "\n\n".join(f"line {n}" for n in range(60))
    found = blocks.as_dicts(blocks.paragraph_blocks(many, "*MTTR*: declared to resolved"))
    assert _accepted(found)
    assert len(found) == blocks.MAX_SECTIONS + 2
    assert _texts(found)[-3:] == ["line 44", blocks.REPORT_CUT_NOTE, "*MTTR*: declared to resolved"]
