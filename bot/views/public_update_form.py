"""The public update form (`/incident statuspage`), the approval request's buttons, and
reading a submitted form."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import option, plain, section, small_print
from bot.comms_policy import COMPONENT_STATES, PUBLIC_STATUSES, STATE_LABELS, StatusPage
from bot.ids import ActionId, BlockId, CallbackId
from bot.models import Incident
from bot.services.public_drafts import PublicDraft
from bot.views.forms import FormError, view_metadata, view_values

MESSAGE_MAX = 3000  # Slack's limit for a plain-text input
MAX_OPTIONS = 100  # Slack's limit for a select's options
IMPACT_STATES = [state for state in COMPONENT_STATES if state != "operational"]


def public_update_modal(
    incident: Incident,
    page: StatusPage,
    draft: PublicDraft,
    *,
    approval_note: str,
    replaces: int | None = None,
) -> View:
    """The form for a public update, pre-filled with `draft`. Title and message are held
    to what the page shows whole (`max_title`, `max_message`), so what is approved is
    what is published."""
    message_max = min(page.max_message, MESSAGE_MAX)
    statuses = [option(status, status.capitalize()) for status in PUBLIC_STATUSES]
    blocks: list[Block] = [
        section(f"*{incident.reference}*: what everyone will read on the status page."),
        small_print(approval_note),
        InputBlock(
            block_id=BlockId.PUBLIC_STATUS,
            label=plain("Status"),
            element=StaticSelectElement(
                action_id=ActionId.VALUE,
                options=statuses,
                initial_option=next((o for o in statuses if o.value == draft.status), None),
            ),
        ),
        InputBlock(
            block_id=BlockId.PUBLIC_TITLE,
            label=plain("Public title"),
            element=PlainTextInputElement(
                action_id=ActionId.VALUE,
                max_length=page.max_title,
                initial_value=draft.title[: page.max_title] or None,
            ),
        ),
        InputBlock(
            block_id=BlockId.PUBLIC_MESSAGE,
            label=plain("Message"),
            hint=plain("Plain words for customers: no internal names, no blame, no guesses."),
            element=PlainTextInputElement(
                action_id=ActionId.VALUE,
                multiline=True,
                max_length=message_max,
                initial_value=draft.message[:message_max] or None,
            ),
        ),
    ]
    choices = [option(c.name, c.name[:75]) for c in page.components[:MAX_OPTIONS]]
    if choices:
        chosen = [o for o in choices if o.value in draft.components]
        worst = [s for s in IMPACT_STATES if s in draft.components.values()]
        states = [option(state, STATE_LABELS[state]) for state in IMPACT_STATES]
        blocks += [
            InputBlock(
                block_id=BlockId.COMPONENTS,
                label=plain("Affected components"),
                optional=True,
                hint=plain("Components not chosen are shown as operational."),
                element=StaticMultiSelectElement(
                    action_id=ActionId.VALUE,
                    options=choices,
                    initial_options=chosen or None,
                    placeholder=plain("None: an update without impact"),
                ),
            ),
            InputBlock(
                block_id=BlockId.COMPONENT_STATE,
                label=plain("Their state"),
                element=StaticSelectElement(
                    action_id=ActionId.VALUE,
                    options=states,
                    initial_option=next(
                        (o for o in states if o.value == (worst[-1] if worst else "")),
                        states[IMPACT_STATES.index("partial_outage")],
                    ),
                ),
            ),
        ]
    return View(
        type="modal",
        callback_id=CallbackId.PUBLIC_UPDATE,
        title=plain("Status page update", 24),
        submit=plain("Submit", 24),
        close=plain("Cancel", 24),
        private_metadata=json.dumps({"incident_id": incident.id, "replaces": replaces}),
        blocks=blocks,
    )


def _selected(view: dict[str, Any], block_id: str) -> list[str]:
    values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}
    element = (values.get(block_id) or {}).get(ActionId.VALUE) or {}
    return [str(o.get("value") or "") for o in element.get("selected_options") or []]


def _too_long(limit: int) -> str:
    # A form opened before the policy's limit went down: the page would cut the text.
    return f"The status page shows at most {limit:,} characters: shorten it."


def parse_public_update(view: dict[str, Any], page: StatusPage) -> PublicDraft:
    """Read the form; a component the policy does not have (any more), or a text longer
    than the page shows, is refused inline."""
    values = view_values(view)
    errors: dict[str, str] = {}
    status = values.get(BlockId.PUBLIC_STATUS, "")
    if status not in PUBLIC_STATUSES:
        errors[BlockId.PUBLIC_STATUS] = "Choose a status."
    title = " ".join(values.get(BlockId.PUBLIC_TITLE, "").split())
    if not title:
        errors[BlockId.PUBLIC_TITLE] = "Give the update a title people will recognise."
    elif len(title) > page.max_title:
        errors[BlockId.PUBLIC_TITLE] = _too_long(page.max_title)
    message = values.get(BlockId.PUBLIC_MESSAGE, "").strip()
    if not message:
        errors[BlockId.PUBLIC_MESSAGE] = "Write what customers should know."
    elif len(message) > page.max_message:
        errors[BlockId.PUBLIC_MESSAGE] = _too_long(page.max_message)
    names: list[str] = []
    for chosen in _selected(view, BlockId.COMPONENTS):
        component = page.component(chosen)
        if component is None:
            errors[BlockId.COMPONENTS] = (
                f"“{chosen[:60]}” is not a component of the status page "
                "(status_page.components in the policy)."
            )
            break
        names.append(component.name)
    state = values.get(BlockId.COMPONENT_STATE, "") or "partial_outage"
    if names and state not in IMPACT_STATES:
        errors[BlockId.COMPONENT_STATE] = "Choose the components' state."
    if errors:
        raise FormError(errors)
    components = {} if status == "resolved" else dict.fromkeys(names, state)
    return PublicDraft(status, title, message, components)


def replaced_update(view: dict[str, Any]) -> int | None:
    """The pending update an edited form replaces, if it is an edit."""
    replaces = view_metadata(view).get("replaces")
    return replaces if isinstance(replaces, int) else None


def approval_blocks(text: str, update_id: int) -> list[Block]:
    """The approval request: the update as it will read, with Approve, Edit and Reject."""
    value = str(update_id)
    return [
        section(text),
        ActionsBlock(
            block_id=BlockId.ACTIONS,
            elements=[
                ButtonElement(
                    action_id=ActionId.PUBLIC_APPROVE,
                    text=plain("Approve and publish"),
                    value=value,
                    style="primary",
                ),
                ButtonElement(action_id=ActionId.PUBLIC_EDIT, text=plain("Edit"), value=value),
                ButtonElement(
                    action_id=ActionId.PUBLIC_REJECT,
                    text=plain("Reject"),
                    value=value,
                    style="danger",
                ),
            ],
        ),
    ]
