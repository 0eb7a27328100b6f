"""The renderer: user text is shown as typed, never as a ping or a link."""

from __future__ import annotations

import pytest

from bot.render import escape, link, mention, render, truncate
from bot.services.declaration import DeclareInput


def _incident_like(title: str) -> DeclareInput:
    return DeclareInput(
        title=title, severity="sev1", category="software", impact="high", urgency="high"
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "<!channel> db down & <slow>",
        "<!here>",
        "<!everyone> hello",
        "<!subteam^S0123|@oncall>",
        "<https://evil.example|https://bank.example>",
        "<@U0ALICE>",
    ],
)
def test_user_text_cannot_ping_or_link(hostile: str) -> None:
    text = render("summary.j2", incident=_incident_like(hostile))
    assert "<!" not in text
    assert "<http" not in text
    assert "<@" not in text
    assert escape(hostile) in text


def test_bot_tokens_pass_through() -> None:
    assert mention("U0ALICE") == "<@U0ALICE>"
    assert mention("S0ONCALL") == "<!subteam^S0ONCALL>"
    assert mention("C0INC") == "<#C0INC>"
    assert mention("<!channel>") == "&lt;!channel&gt;"
    assert link("https://x.example/a", "a <b>") == "<https://x.example/a|a &lt;b&gt;>"
    assert link("javascript:alert(1)", "x") == "x"


def test_truncate_marks_the_cut() -> None:
    cut = truncate("a" * 5000, 3000)
    assert len(cut) == 3000
    assert cut.endswith("(truncated)")
    assert truncate("short", 3000) == "short"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("x" * 10 + "&amp;" * 20, "x" * 10 + "&amp;" * 2),
        ("x" * 18 + "<@U0ALICE> and more text", "x" * 18),
        ("x" * 12 + "<#C0INC|inc-1> and after that", "x" * 12),
        ("x" * 5 + "<https://example.com/a/very/long/path|label> after", "x" * 5),
        ("x" * 14 + "<!date^1700000000^{time}|12:00> after", "x" * 14),
        ("plain text that is simply too long to keep whole", "plain text that is sim"),
    ],
)
def test_truncate_never_splits_an_escape_or_a_token(text: str, kept: str) -> None:
    cut = truncate(text, 35)
    assert cut == kept + "… (truncated)"
    assert len(cut) <= 35


def test_a_long_note_of_ampersands_stays_valid_mrkdwn() -> None:
    from bot import blocks

    rendered = render("note.j2", actor="U0ALICE", text="&" * 2000)
    (section,) = blocks.as_dicts(blocks.text_blocks(rendered))
    text = section["text"]["text"]
    assert len(text) <= blocks.TEXT_OBJECT_MAX
    body = text.split("\n", 1)[1].removesuffix("… (truncated)")
    assert body.startswith(">") and set(body.lstrip(">").split("&amp;")) == {""}


def test_undefined_variables_fail_loudly() -> None:
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("summary.j2")
