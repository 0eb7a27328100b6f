"""Block Kit for alerts: the triage message and its buttons, the incident's alert list, the
"all alerts resolved" prompt, and the form to attach an alert to an incident."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import TEXT_OBJECT_MAX, button_row, option, plain, section, with_button
from bot.ids import ActionId, BlockId, CallbackId
from bot.models import AlertRecord, Incident, IncidentAlert
from bot.render import escape, render, truncate

BOARD_LINES = 20
LABELS_SHOWN = 8
LABEL_VALUE_MAX = 80
MAX_INCIDENT_OPTIONS = 100


def label_line(labels: dict[str, Any]) -> str:
    """A few labels as `name=value` pairs, escaped and cut, for a context line: the first
    pairs that fit in a text object once escaped (escaping can make a pair five times as
    long), and how many more there are."""
    pairs = [
        f"`{escape(truncate(str(k), 40))}={escape(truncate(str(v), LABEL_VALUE_MAX))}`"
        for k, v in list(labels.items())[:LABELS_SHOWN]
    ]
    room = TEXT_OBJECT_MAX - len(f" and {len(labels)} more")
    shown: list[str] = []
    for pair in pairs:
        if len(" ".join([*shown, pair])) > room:
            break
        shown.append(pair)
    more = len(labels) - len(shown)
    return " ".join(shown) + (f" and {more} more" if more > 0 else "")


def triage_text(row: AlertRecord) -> str:
    """What a triage message says of its alert."""
    return render(
        "alert_triage.j2",
        alert=row,
        labels="",
        rule=row.rule,
    )


FINAL = ("declared", "attached", "ignored")  # done with: the buttons go


def triage_blocks(row: AlertRecord, text: str, handled: str | None) -> list[Block]:
    """The triage message: the alert, its labels, what was done, and the buttons (until
    it is declared, attached or ignored; a silenced alert may still become an incident)."""
    blocks: list[Block] = [section(text)]
    if row.labels:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=label_line(row.labels))]))
    if handled:
        blocks.append(section(handled))
    if row.handled.get("what") in FINAL:
        return blocks
    blocks.append(
        button_row(
            str(row.id),
            (ActionId.ALERT_DECLARE, "Declare incident", "danger"),
            (ActionId.ALERT_ATTACH, "Attach to INC-…"),
            (ActionId.ALERT_SILENCE, "Silence 1h"),
            (ActionId.ALERT_IGNORE, "Ignore"),
        )
    )
    return blocks


def board_text(alerts: list[IncidentAlert]) -> str:
    """The incident's alert list: firing first, then the latest changes."""
    ordered = sorted(alerts, key=lambda a: (a.status != "firing", -a.changed_at.timestamp()))
    firing = sum(1 for a in alerts if a.status == "firing")
    return render(
        "alert_board.j2",
        firing=firing,
        resolved=len(alerts) - firing,
        shown=ordered[:BOARD_LINES],
        hidden=max(len(ordered) - BOARD_LINES, 0),
    )


def resolved_prompt_blocks(text: str, incident: Incident) -> list[Block]:
    """*All alerts resolved — resolve the incident?* with its button."""
    return with_button(
        text, ActionId.ALERTS_RESOLVE, "Resolve the incident", str(incident.id), "primary"
    )


def attach_modal(alert_id: int, title: str, incidents: list[Incident]) -> View:
    """Choose the open incident an alert belongs to."""
    choices = [
        option(str(incident.id), f"{incident.reference} · {incident.title}")
        for incident in incidents[:MAX_INCIDENT_OPTIONS]
    ]
    blocks: list[Block] = [section(f"*Alert:* {escape(truncate(title, 300))}")]
    if choices:
        blocks.append(
            InputBlock(
                block_id=BlockId.INCIDENT,
                label=plain("Incident"),
                element=StaticSelectElement(action_id=ActionId.VALUE, options=choices),
            )
        )
    else:
        blocks.append(section("No incident is open (private incidents are not listed)."))
    return View(
        type="modal",
        callback_id=CallbackId.ALERT_ATTACH,
        title=plain("Attach alert", 24),
        submit=plain("Attach", 24) if choices else None,
        close=plain("Cancel", 24),
        private_metadata=json.dumps({"alert_id": alert_id}),
        blocks=blocks,
    )
