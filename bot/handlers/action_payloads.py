"""Reading a block action's payload: who clicked, and the button's value."""

from __future__ import annotations

from typing import Any

from bot.errors import UserError


def clicked_by(body: dict[str, Any]) -> str:
    """The user ID of the person who used the element."""
    return str((body.get("user") or {}).get("id") or "")


def trigger_id(body: dict[str, Any]) -> str:
    """The trigger_id a form may be opened with (for 3 s after the click)."""
    return str(body.get("trigger_id") or "")


def button_value(body: dict[str, Any]) -> str:
    """The value of the button that was clicked ("" when it has none)."""
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _row_id(text: str) -> int:
    if not text.isdigit():
        raise UserError("That button is not valid any more.")
    return int(text)


def button_number(body: dict[str, Any]) -> int:
    """A button value that is a row ID, or a clear refusal."""
    return _row_id(button_value(body))


def button_number_and_word(body: dict[str, Any]) -> tuple[int, str]:
    """A button value `<row ID>:<word>` (the word may be missing), or a clear refusal."""
    number, _, word = button_value(body).partition(":")
    return _row_id(number), word
