"""The forms of a running incident (status update, resolve, hand-over), and reading any
submitted form's values and metadata."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import option, plain, section
from bot.ids import ActionId, BlockId, CallbackId
from bot.models import Incident, IncidentStatus
from bot.models.incident import DESCRIPTION_MAX, OPEN_STATES
from bot.policy import Policy, format_duration
from bot.render import render
from bot.services.status_updates import UpdateInput

UPDATE_CHOICES = [
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=24),
]


TO_BE_INVESTIGATED = "To be investigated"


def _metadata(incident: Incident, **extra: Any) -> str:
    return json.dumps({"incident_id": incident.id, **extra})


def _text_input(
    block_id: str,
    label: str,
    *,
    multiline: bool = True,
    optional: bool = False,
    initial: str | None = None,
    placeholder: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=plain(label),
        optional=optional,
        element=PlainTextInputElement(
            action_id=ActionId.VALUE,
            multiline=multiline,
            max_length=DESCRIPTION_MAX,
            initial_value=initial[:DESCRIPTION_MAX] if initial else None,
            placeholder=plain(placeholder) if placeholder else None,
        ),
    )


def next_update_choices(incident: Incident, policy: Policy) -> list[timedelta]:
    """The next-update times the form offers: each one is honoured exactly as chosen."""
    return sorted({*UPDATE_CHOICES, policy.severity(incident.severity).update_interval})


class FormError(Exception):
    """A submitted form with field errors, keyed by block ID (shown under each field)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def parse_update_state(view: dict[str, Any], *, now: datetime) -> UpdateInput:
    """Read the status update form; the next update must be one of the offered times."""
    values = view_values(view)
    try:
        status = IncidentStatus(values.get(BlockId.STATUS) or "")
    except ValueError:
        raise FormError({BlockId.STATUS: "Choose a status."}) from None
    offered = view_metadata(view).get("next_update_choices")
    chosen = values.get(BlockId.NEXT_UPDATE) or ""
    if not chosen.isdigit() or (isinstance(offered, list) and int(chosen) not in offered):
        raise FormError({BlockId.NEXT_UPDATE: "Choose when the next update is due."})
    return UpdateInput(
        status=status,
        what_changed=values.get(BlockId.WHAT_CHANGED, ""),
        impact=values.get(BlockId.CURRENT_IMPACT, ""),
        next_steps=values.get(BlockId.NEXT_STEPS, ""),
        next_update_at=now + timedelta(seconds=int(chosen)),
    )


def update_modal(incident: Incident, policy: Policy) -> View:
    """The structured status update form."""
    interval = policy.severity(incident.severity).update_interval
    choices = next_update_choices(incident, policy)
    due_options = [option(str(int(c.total_seconds())), f"In {format_duration(c)}") for c in choices]
    initial_due = next(o for o in due_options if o.value == str(int(interval.total_seconds())))
    states = [s for s in OPEN_STATES if s != "reported" or incident.status == "reported"]
    status_options = [option(s.value, s.value.capitalize()) for s in states]
    initial_status = next((o for o in status_options if o.value == incident.status), None)
    return View(
        type="modal",
        callback_id=CallbackId.UPDATE,
        title=plain("Status update", 24),
        submit=plain("Post update", 24),
        close=plain("Cancel", 24),
        private_metadata=_metadata(
            incident, next_update_choices=[int(c.total_seconds()) for c in choices]
        ),
        blocks=[
            section(f"*{incident.reference}*"),
            InputBlock(
                block_id=BlockId.STATUS,
                label=plain("Status"),
                element=StaticSelectElement(
                    action_id=ActionId.VALUE,
                    options=status_options,
                    initial_option=initial_status,
                ),
            ),
            _text_input(
                BlockId.WHAT_CHANGED,
                "What changed",
                optional=True,
                placeholder="No change, investigation ongoing",
            ),
            _text_input(
                BlockId.CURRENT_IMPACT,
                "Current impact",
                optional=True,
                initial=incident.impact_summary or None,
            ),
            _text_input(BlockId.NEXT_STEPS, "Next steps", optional=True),
            InputBlock(
                block_id=BlockId.NEXT_UPDATE,
                label=plain("Next update due"),
                element=StaticSelectElement(
                    action_id=ActionId.VALUE, options=due_options, initial_option=initial_due
                ),
            ),
        ],
    )


def resolve_modal(incident: Incident, root_causes: list[str] | None = None) -> View:
    """The resolve form: resolution, root cause (and its category) and impact ("to be
    investigated" is fine)."""
    category: list[InputBlock] = []
    if root_causes:
        choices = [option(name, name) for name in root_causes[:100]]
        initial = next((c for c in choices if c.value == incident.root_cause_category), None)
        category.append(
            InputBlock(
                block_id=BlockId.ROOT_CAUSE_CATEGORY,
                label=plain("Root cause category"),
                optional=True,
                element=StaticSelectElement(
                    action_id=ActionId.VALUE,
                    options=choices,
                    initial_option=initial,
                    placeholder=plain("For the reports: what kind of cause"),
                ),
            )
        )
    return View(
        type="modal",
        callback_id=CallbackId.RESOLVE,
        title=plain("Resolve incident", 24),
        submit=plain("Resolve", 24),
        close=plain("Cancel", 24),
        private_metadata=_metadata(incident),
        blocks=[
            section(
                f"*{incident.reference}* is already resolved: update its resolution details."
                if incident.status == "resolved"
                else f"*{incident.reference}*: what fixed it, and why did it happen?"
            ),
            _text_input(
                BlockId.RESOLUTION,
                "Resolution",
                initial=incident.resolution or TO_BE_INVESTIGATED,
            ),
            _text_input(
                BlockId.ROOT_CAUSE,
                "Root cause",
                initial=incident.root_cause or TO_BE_INVESTIGATED,
            ),
            *category,
            _text_input(
                BlockId.IMPACT_SUMMARY,
                "Impact: who and what was affected",
                initial=incident.impact_summary or TO_BE_INVESTIGATED,
            ),
        ],
    )


CLOSING_CHOICES = (
    ("resolved", "Resolved", "A real incident, now resolved"),
    ("false_positive", "False positive", "Nothing was wrong (left out of the figures)"),
    ("duplicate", "Duplicate", "Another incident covers it (left out of the figures)"),
    ("planned_maintenance", "Planned maintenance", "Expected work (left out of the figures)"),
    ("test", "Test", "An exercise or a test (left out of the figures)"),
)


def close_modal(incident: Incident) -> View:
    """The close form: why the incident is closed."""
    choices = [option(value, label, hint) for value, label, hint in CLOSING_CHOICES]
    return View(
        type="modal",
        callback_id=CallbackId.CLOSE,
        title=plain("Close incident", 24),
        submit=plain("Close", 24),
        close=plain("Cancel", 24),
        private_metadata=_metadata(incident),
        blocks=[
            section(f"*{incident.reference}*: why is it closed?"),
            InputBlock(
                block_id=BlockId.CLOSING_REASON,
                label=plain("Closing reason"),
                element=RadioButtonsElement(
                    action_id=ActionId.VALUE, options=choices, initial_option=choices[0]
                ),
            ),
        ],
    )


def handoff_modal(incident: Incident, role: str, role_name: str, user_id: str) -> View:
    """The handoff note asked for when a role changes hands."""
    return View(
        type="modal",
        callback_id=CallbackId.HANDOFF,
        title=plain("Handoff note", 24),
        submit=plain("Hand over", 24),
        close=plain("Cancel", 24),
        private_metadata=_metadata(incident, role=role, user=user_id),
        blocks=[
            section(
                render("handoff_intro.j2", incident=incident, role_name=role_name, user_id=user_id)
            ),
            _text_input(BlockId.KNOWN, "What is known"),
            _text_input(BlockId.IN_PROGRESS, "What is in progress"),
            _text_input(BlockId.PENDING, "What is pending", optional=True),
        ],
    )


def view_values(view: dict[str, Any]) -> dict[str, str]:
    """Block ID → submitted text or selected value, for the simple modals above."""
    values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}
    result: dict[str, str] = {}
    for block_id, actions in values.items():
        element = actions.get(ActionId.VALUE) or {}
        if "selected_option" in element:
            selected = element.get("selected_option") or {}
            result[block_id] = str(selected.get("value") or "")
        else:
            result[block_id] = str(element.get("value") or "")
    return result


def view_metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON private_metadata of a submitted view ({} if unreadable)."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
