"""Reading a block action's payload: who clicked, and the button's value."""

from __future__ import annotations

from typing import Any

from bot.errors import UserError


def clicked_by(body: dict[str, Any]) -> str:
    """The user ID of the person who used the element."""
    return str((body.get("user") or {}).get("id") or "")


def button_value(body: dict[str, Any]) -> str:
    """The value of the button that was clicked ("" when it has none)."""
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def button_number(body: dict[str, Any]) -> int:
    """A button value that is a row ID, or a clear refusal."""
    value = button_value(body)
    if not value.isdigit():
        raise UserError("That button is not valid any more.")
    return int(value)
