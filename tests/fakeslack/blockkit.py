"""Block Kit validation, and the interaction state Slack builds from a surface's blocks."""

from __future__ import annotations

import copy
import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

JSONDict = dict[str, Any]
Surface = Literal["message", "modal", "home"]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
# chat.update's `text` (its reference: "cannot exceed 4,000 characters").
MAX_UPDATE_TEXT = 4_000
# The text a message's blocks may hold in total, counted as blocks_text_length counts it.
# Slack publishes no figure and answers msg_blocks_too_long past it; the lowest total
# reported refused is 11,341 characters (slackapi/bolt-js#2867), see README.md.
MAX_BLOCKS_TEXT = 11_000
# Every text object of Block Kit (its reference: 1 to 3,000 characters).
MAX_TEXT_OBJECT = 3_000

_TEXT_KEYS = {
    "plain_text": frozenset({"type", "text", "emoji"}),
    "mrkdwn": frozenset({"type", "text", "verbatim", "emoji"}),
}

# Every property Slack accepts on each block type (the union of Slack's documentation
# and what slack_sdk's model classes can emit).
BLOCK_KEYS: Mapping[str, frozenset[str]] = {
    "section": frozenset({"type", "block_id", "text", "fields", "accessory", "expand"}),
    "divider": frozenset({"type", "block_id"}),
    "image": frozenset({"type", "block_id", "image_url", "slack_file", "alt_text", "title"}),
    "actions": frozenset({"type", "block_id", "elements"}),
    "context": frozenset({"type", "block_id", "elements"}),
    "header": frozenset({"type", "block_id", "text"}),
    "input": frozenset(
        {"type", "block_id", "label", "element", "dispatch_action", "hint", "optional"}
    ),
    "rich_text": frozenset({"type", "block_id", "elements"}),
    "video": frozenset(
        {
            "type",
            "block_id",
            "alt_text",
            "author_name",
            "description",
            "provider_icon_url",
            "provider_name",
            "thumbnail_url",
            "title",
            "title_url",
            "video_url",
        }
    ),
    "markdown": frozenset({"type", "block_id", "text"}),
    "file": frozenset({"type", "block_id", "external_id", "source"}),
    "table": frozenset({"type", "block_id", "rows", "column_settings"}),
}

# Newer message-only block types that are accepted after a check of type and block_id only.
SHALLOW_MESSAGE_BLOCKS = frozenset(
    {"alert", "call", "card", "carousel", "context_actions", "plan", "task_card"}
)

SURFACE_BLOCKS: Mapping[str, frozenset[str]] = {
    "message": frozenset(BLOCK_KEYS) | SHALLOW_MESSAGE_BLOCKS,
    "modal": frozenset(
        {"section", "divider", "image", "actions", "context", "header", "input", "rich_text"}
        | {"video"}
    ),
    "home": frozenset(
        {"section", "divider", "image", "actions", "context", "header", "input", "rich_text"}
        | {"video"}
    ),
}

_COMMON_ELEMENT = frozenset({"type", "action_id", "confirm", "focus_on_load"})
_SELECT = _COMMON_ELEMENT | {"placeholder"}
_TEXT_INPUT = _COMMON_ELEMENT | {"placeholder", "initial_value", "dispatch_action_config"}

ELEMENT_KEYS: Mapping[str, frozenset[str]] = {
    "button": frozenset(
        {
            "type",
            "action_id",
            "text",
            "value",
            "url",
            "style",
            "confirm",
            "accessibility_label",
            "agent_prompt",
            "agent_prompt_display",
            "visible_to_user_ids",
        }
    ),
    "checkboxes": _COMMON_ELEMENT | {"options", "initial_options"},
    "radio_buttons": _COMMON_ELEMENT | {"options", "initial_option"},
    "datepicker": _SELECT | {"initial_date"},
    "datetimepicker": _SELECT | {"initial_date_time"},
    "timepicker": _SELECT | {"initial_time", "timezone"},
    "static_select": _SELECT | {"options", "option_groups", "initial_option"},
    "multi_static_select": _SELECT
    | {"options", "option_groups", "initial_options", "max_selected_items"},
    "external_select": _SELECT | {"initial_option", "min_query_length"},
    "multi_external_select": _SELECT
    | {"initial_options", "min_query_length", "max_selected_items"},
    "users_select": _SELECT | {"initial_user"},
    "multi_users_select": _SELECT | {"initial_users", "max_selected_items"},
    "conversations_select": _SELECT
    | {"initial_conversation", "default_to_current_conversation", "filter"}
    | {"response_url_enabled"},
    "multi_conversations_select": _SELECT
    | {"initial_conversations", "default_to_current_conversation", "filter"}
    | {"max_selected_items"},
    "channels_select": _SELECT | {"initial_channel", "response_url_enabled"},
    "multi_channels_select": _SELECT | {"initial_channels", "max_selected_items"},
    "overflow": frozenset({"type", "action_id", "options", "confirm"}),
    "plain_text_input": _TEXT_INPUT | {"multiline", "min_length", "max_length"},
    "email_text_input": _TEXT_INPUT,
    "url_text_input": _TEXT_INPUT,
    "number_input": _TEXT_INPUT | {"is_decimal_allowed", "min_value", "max_value"},
    "rich_text_input": _TEXT_INPUT | {"min_lines", "max_lines"},
    "file_input": frozenset({"type", "action_id", "filetypes", "max_files"}),
    "image": frozenset({"type", "image_url", "slack_file", "alt_text"}),
    "workflow_button": frozenset(
        {"type", "action_id", "text", "workflow", "style", "accessibility_label"}
    ),
}

_SELECTS = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
    }
)
_MULTI_SELECTS = frozenset({f"multi_{t}" for t in _SELECTS})

SECTION_ACCESSORIES = (
    _SELECTS
    | _MULTI_SELECTS
    | {"button", "checkboxes", "datepicker", "image", "overflow", "radio_buttons"}
    | {"timepicker", "workflow_button"}
)
ACTIONS_ELEMENTS = (
    _SELECTS
    | _MULTI_SELECTS
    | {"button", "checkboxes", "datepicker", "datetimepicker", "overflow", "radio_buttons"}
    | {"timepicker", "workflow_button"}
)
INPUT_ELEMENTS = (
    _SELECTS
    | _MULTI_SELECTS
    | {"checkboxes", "datepicker", "datetimepicker", "email_text_input", "file_input"}
    | {"number_input", "plain_text_input", "radio_buttons", "rich_text_input", "timepicker"}
    | {"url_text_input"}
)
MODAL_ONLY_ELEMENTS = frozenset({"file_input"})

_OPTION_KEYS = frozenset({"text", "value", "description", "url"})
_OPTION_GROUP_KEYS = frozenset({"label", "options"})
_CONFIRM_KEYS = frozenset({"title", "text", "confirm", "deny", "style"})
_FILTER_KEYS = frozenset({"include", "exclude_external_shared_channels", "exclude_bot_users"})

VIEW_KEYS = frozenset(
    {
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "clear_on_close",
        "notify_on_close",
        "external_id",
        "submit_disabled",
    }
)
# Read-only properties Slack puts on views it returns; apps often echo them back.
VIEW_RESPONSE_KEYS = frozenset(
    {
        "id",
        "team_id",
        "state",
        "hash",
        "previous_view_id",
        "root_view_id",
        "app_id",
        "app_installed_team_id",
        "bot_id",
    }
)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Checker:
    """Collects Slack-style validation messages with JSON pointers."""

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self.errors: list[str] = []

    def error(self, pointer: str, message: str) -> None:
        """Record one problem at `pointer`."""
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def keys(self, obj: JSONDict, allowed: frozenset[str], pointer: str) -> None:
        """Reject properties Slack does not know."""
        for key in obj:
            if key not in allowed:
                self.error(pointer, f"invalid additional property: {key}")

    def string(
        self,
        obj: JSONDict,
        key: str,
        pointer: str,
        *,
        max_len: int | None = None,
        required: bool = False,
        min_len: int = 0,
    ) -> None:
        """Check a string property."""
        if key not in obj:
            if required:
                self.error(pointer, f"missing required field: {key}")
            return
        value = obj[key]
        where = f"{pointer}/{key}"
        if not isinstance(value, str):
            self.error(where, "must be a string")
        elif max_len is not None and len(value) > max_len:
            self.error(where, f"must be less than {max_len + 1} characters")
        elif len(value) < min_len:
            self.error(where, f"must be more than {min_len - 1} characters")

    def boolean(self, obj: JSONDict, key: str, pointer: str) -> None:
        """Check an optional boolean property."""
        if key in obj and not isinstance(obj[key], bool):
            self.error(f"{pointer}/{key}", "must be a boolean")

    def text(
        self,
        obj: JSONDict,
        key: str,
        pointer: str,
        *,
        plain: bool = False,
        max_len: int | None = None,
        required: bool = False,
        min_len: int = 1,
    ) -> None:
        """Check a text composition object held in `obj[key]`."""
        if key not in obj:
            if required:
                self.error(pointer, f"missing required field: {key}")
            return
        self.text_object(
            obj[key], f"{pointer}/{key}", plain=plain, max_len=max_len, min_len=min_len
        )

    def text_object(
        self,
        value: object,
        pointer: str,
        *,
        plain: bool = False,
        max_len: int | None = None,
        min_len: int = 1,
    ) -> None:
        """Check one text composition object."""
        if not isinstance(value, dict):
            self.error(pointer, "must be a text object")
            return
        kind = value.get("type")
        if kind not in _TEXT_KEYS:
            self.error(f"{pointer}/type", "must be one of plain_text, mrkdwn")
            return
        if plain and kind != "plain_text":
            self.error(f"{pointer}/type", "must be plain_text")
        self.keys(value, _TEXT_KEYS[kind], pointer)
        self.string(value, "text", pointer, max_len=max_len, required=True, min_len=min_len)
        self.boolean(value, "emoji", pointer)
        self.boolean(value, "verbatim", pointer)

    def items(
        self, obj: JSONDict, key: str, pointer: str, *, max_items: int, min_items: int = 1
    ) -> list[Any]:
        """Check a list property's size and return its items."""
        value = obj.get(key)
        if not isinstance(value, list):
            self.error(f"{pointer}/{key}" if key in obj else pointer, f"{key} must be an array")
            return []
        if len(value) > max_items:
            self.error(f"{pointer}/{key}", f"must be less than {max_items + 1} items")
        if len(value) < min_items:
            self.error(f"{pointer}/{key}", f"must provide at least {min_items} items")
        return value

    def blocks(self, blocks: object, pointer: str, max_blocks: int) -> None:
        """Check an array of blocks for the checker's surface."""
        if not isinstance(blocks, list):
            self.error(pointer, "must be an array")
            return
        if len(blocks) > max_blocks:
            self.error(pointer, f"must be less than {max_blocks + 1} items")
        seen_ids: set[str] = set()
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}", seen_ids)

    def block(self, block: object, pointer: str, seen_ids: set[str]) -> None:
        """Check one layout block."""
        if not isinstance(block, dict):
            self.error(pointer, "must be an object")
            return
        kind = block.get("type")
        if not isinstance(kind, str):
            self.error(pointer, "missing required field: type")
            return
        if kind not in SURFACE_BLOCKS[self.surface]:
            known = kind in BLOCK_KEYS or kind in SHALLOW_MESSAGE_BLOCKS
            reason = f"not supported in {self.surface} surfaces" if known else "unsupported"
            self.error(f"{pointer}/type", f"block type {kind!r} is {reason}")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id:
                self.error(f"{pointer}/block_id", "must be a non-empty string")
            elif len(block_id) > 255:
                self.error(f"{pointer}/block_id", "must be less than 256 characters")
            elif block_id in seen_ids:
                self.error(f"{pointer}/block_id", f"invalid duplicate block_id: {block_id}")
            else:
                seen_ids.add(block_id)
        if kind in SHALLOW_MESSAGE_BLOCKS:
            return
        self.keys(block, BLOCK_KEYS[kind], pointer)
        getattr(self, f"_block_{kind}")(block, pointer)

    def _block_section(self, block: JSONDict, pointer: str) -> None:
        if "text" not in block and "fields" not in block:
            self.error(pointer, "must provide either text or fields")
        self.text(block, "text", pointer, max_len=3000)
        if "fields" in block:
            for index, item in enumerate(self.items(block, "fields", pointer, max_items=10)):
                self.text_object(item, f"{pointer}/fields/{index}", max_len=2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory", SECTION_ACCESSORIES, set())
        self.boolean(block, "expand", pointer)

    def _block_divider(self, block: JSONDict, pointer: str) -> None:
        return None

    def _image(self, block: JSONDict, pointer: str) -> None:
        has_url = "image_url" in block
        has_file = "slack_file" in block
        if has_url == has_file:
            self.error(pointer, "must provide exactly one of image_url or slack_file")
        self.string(block, "image_url", pointer, max_len=3000, min_len=1)
        if has_file and not isinstance(block["slack_file"], dict):
            self.error(f"{pointer}/slack_file", "must be an object")
        self.string(block, "alt_text", pointer, max_len=2000, required=True)

    def _block_image(self, block: JSONDict, pointer: str) -> None:
        self._image(block, pointer)
        self.text(block, "title", pointer, plain=True, max_len=2000)

    def _block_actions(self, block: JSONDict, pointer: str) -> None:
        action_ids: set[str] = set()
        for index, item in enumerate(self.items(block, "elements", pointer, max_items=25)):
            self.element(item, f"{pointer}/elements/{index}", ACTIONS_ELEMENTS, action_ids)

    def _block_context(self, block: JSONDict, pointer: str) -> None:
        for index, item in enumerate(self.items(block, "elements", pointer, max_items=10)):
            where = f"{pointer}/elements/{index}"
            if isinstance(item, dict) and item.get("type") == "image":
                self.keys(item, ELEMENT_KEYS["image"], where)
                self._image(item, where)
            else:
                self.text_object(item, where, max_len=MAX_TEXT_OBJECT)

    def _block_header(self, block: JSONDict, pointer: str) -> None:
        self.text(block, "text", pointer, plain=True, max_len=150, required=True)

    def _block_input(self, block: JSONDict, pointer: str) -> None:
        self.text(block, "label", pointer, plain=True, max_len=2000, required=True)
        self.text(block, "hint", pointer, plain=True, max_len=2000)
        self.boolean(block, "optional", pointer)
        self.boolean(block, "dispatch_action", pointer)
        if "element" not in block:
            self.error(pointer, "missing required field: element")
        else:
            self.element(block["element"], f"{pointer}/element", INPUT_ELEMENTS, set())

    def _block_rich_text(self, block: JSONDict, pointer: str) -> None:
        self.items(block, "elements", pointer, max_items=10_000, min_items=0)

    def _block_video(self, block: JSONDict, pointer: str) -> None:
        for key in ("alt_text", "thumbnail_url", "video_url"):
            self.string(block, key, pointer, required=True, min_len=1)
        self.text(block, "title", pointer, plain=True, max_len=199, required=True)

    def _block_markdown(self, block: JSONDict, pointer: str) -> None:
        self.string(block, "text", pointer, max_len=12_000, required=True, min_len=1)

    def _block_file(self, block: JSONDict, pointer: str) -> None:
        self.string(block, "external_id", pointer, required=True)
        self.string(block, "source", pointer, required=True)

    def _block_table(self, block: JSONDict, pointer: str) -> None:
        self.items(block, "rows", pointer, max_items=100)

    def element(
        self, element: object, pointer: str, allowed: frozenset[str], action_ids: set[str]
    ) -> None:
        """Check one interactive (or image) element placed where `allowed` types may go."""
        if not isinstance(element, dict):
            self.error(pointer, "must be an object")
            return
        kind = element.get("type")
        if kind not in ELEMENT_KEYS:
            self.error(f"{pointer}/type", f"unsupported element type: {kind!r}")
            return
        if kind not in allowed:
            self.error(f"{pointer}/type", f"element type {kind!r} is not allowed here")
            return
        if kind in MODAL_ONLY_ELEMENTS and self.surface != "modal":
            self.error(f"{pointer}/type", f"element type {kind!r} is only allowed in modals")
        self.keys(element, ELEMENT_KEYS[kind], pointer)
        action_id = element.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or not action_id:
                self.error(f"{pointer}/action_id", "must be a non-empty string")
            elif len(action_id) > 255:
                self.error(f"{pointer}/action_id", "must be less than 256 characters")
            elif action_id in action_ids:
                self.error(f"{pointer}/action_id", f"invalid duplicate action_id: {action_id}")
            else:
                action_ids.add(action_id)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{pointer}/confirm")
        self.text(element, "placeholder", pointer, plain=True, max_len=150)
        self.boolean(element, "focus_on_load", pointer)
        check = getattr(self, f"_element_{kind}", None)
        if check is not None:
            check(element, pointer)

    def confirm(self, value: object, pointer: str) -> None:
        """Check a confirmation dialog object."""
        if not isinstance(value, dict):
            self.error(pointer, "must be an object")
            return
        self.keys(value, _CONFIRM_KEYS, pointer)
        self.text(value, "title", pointer, plain=True, max_len=100, required=True)
        self.text(value, "text", pointer, max_len=300, required=True)
        self.text(value, "confirm", pointer, plain=True, max_len=30, required=True)
        self.text(value, "deny", pointer, plain=True, max_len=30, required=True)
        if value.get("style", "primary") not in ("primary", "danger"):
            self.error(f"{pointer}/style", "must be one of primary, danger")

    def option(self, value: object, pointer: str, *, plain: bool) -> None:
        """Check an option object (plain_text text unless mrkdwn is allowed)."""
        if not isinstance(value, dict):
            self.error(pointer, "must be an object")
            return
        self.keys(value, _OPTION_KEYS, pointer)
        self.text(value, "text", pointer, plain=plain, max_len=75, required=True)
        self.string(value, "value", pointer, max_len=150, required=True, min_len=1)
        self.text(value, "description", pointer, plain=plain, max_len=75)
        self.string(value, "url", pointer, max_len=3000)

    def options(
        self, element: JSONDict, pointer: str, *, max_items: int, plain: bool = True
    ) -> list[JSONDict]:
        """Check `options` (or `option_groups`) and return every option."""
        found: list[JSONDict] = []
        values: set[str] = set()
        if "options" in element and "option_groups" in element:
            self.error(pointer, "must provide only one of options or option_groups")
        if "option_groups" in element:
            groups = self.items(element, "option_groups", pointer, max_items=100)
            for g_index, group in enumerate(groups):
                where = f"{pointer}/option_groups/{g_index}"
                if not isinstance(group, dict):
                    self.error(where, "must be an object")
                    continue
                self.keys(group, _OPTION_GROUP_KEYS, where)
                self.text(group, "label", where, plain=True, max_len=75, required=True)
                for index, item in enumerate(self.items(group, "options", where, max_items=100)):
                    self.option(item, f"{where}/options/{index}", plain=True)
                    self.unique_value(item, f"{where}/options/{index}", values)
                    if isinstance(item, dict):
                        found.append(item)
            return found
        for index, item in enumerate(self.items(element, "options", pointer, max_items=max_items)):
            self.option(item, f"{pointer}/options/{index}", plain=plain)
            self.unique_value(item, f"{pointer}/options/{index}", values)
            if isinstance(item, dict):
                found.append(item)
        return found

    def unique_value(self, option: object, pointer: str, seen: set[str]) -> None:
        """Reject an option whose value another option of the same element has (the option
        object's reference: "A unique string value ...")."""
        value = option.get("value") if isinstance(option, dict) else None
        if not isinstance(value, str):
            return
        if value in seen:
            self.error(f"{pointer}/value", f"invalid duplicate option value: {value}")
        seen.add(value)

    def initial_options(
        self, element: JSONDict, pointer: str, options: list[JSONDict], *, multi: bool
    ) -> None:
        """Check that initial option(s) are among the element's options."""
        key = "initial_options" if multi else "initial_option"
        if key not in element:
            return
        initial = element[key] if multi else [element[key]]
        if not isinstance(initial, list):
            self.error(f"{pointer}/{key}", "must be an array")
            return
        for item in initial:
            if item not in options:
                self.error(f"{pointer}/{key}", "must match one of the provided options")

    def _select_common(self, element: JSONDict, pointer: str, *, multi: bool) -> None:
        if multi and "max_selected_items" in element:
            value = element["max_selected_items"]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                self.error(f"{pointer}/max_selected_items", "must be a positive integer")

    def _element_button(self, element: JSONDict, pointer: str) -> None:
        self.text(element, "text", pointer, plain=True, max_len=75, required=True)
        self.string(element, "value", pointer, max_len=2000)
        self.string(element, "url", pointer, max_len=3000)
        self.string(element, "accessibility_label", pointer, max_len=75)
        if "style" in element and element["style"] not in ("primary", "danger"):
            self.error(f"{pointer}/style", "must be one of primary, danger")

    def _element_static_select(self, element: JSONDict, pointer: str) -> None:
        options = self.options(element, pointer, max_items=100)
        self.initial_options(element, pointer, options, multi=False)

    def _element_multi_static_select(self, element: JSONDict, pointer: str) -> None:
        options = self.options(element, pointer, max_items=100)
        self.initial_options(element, pointer, options, multi=True)
        self._select_common(element, pointer, multi=True)

    def _element_multi_external_select(self, element: JSONDict, pointer: str) -> None:
        self._select_common(element, pointer, multi=True)

    def _element_multi_users_select(self, element: JSONDict, pointer: str) -> None:
        self._select_common(element, pointer, multi=True)

    def _element_multi_conversations_select(self, element: JSONDict, pointer: str) -> None:
        self._select_common(element, pointer, multi=True)

    def _element_multi_channels_select(self, element: JSONDict, pointer: str) -> None:
        self._select_common(element, pointer, multi=True)

    def _element_conversations_select(self, element: JSONDict, pointer: str) -> None:
        self._filter(element, pointer)

    def _filter(self, element: JSONDict, pointer: str) -> None:
        if "filter" in element:
            if isinstance(element["filter"], dict):
                self.keys(element["filter"], _FILTER_KEYS, f"{pointer}/filter")
            else:
                self.error(f"{pointer}/filter", "must be an object")

    def _element_overflow(self, element: JSONDict, pointer: str) -> None:
        self.options(element, pointer, max_items=5)

    def _element_checkboxes(self, element: JSONDict, pointer: str) -> None:
        options = self.options(element, pointer, max_items=10, plain=False)
        self.initial_options(element, pointer, options, multi=True)

    def _element_radio_buttons(self, element: JSONDict, pointer: str) -> None:
        options = self.options(element, pointer, max_items=10, plain=False)
        self.initial_options(element, pointer, options, multi=False)

    def _element_datepicker(self, element: JSONDict, pointer: str) -> None:
        value = element.get("initial_date")
        if value is not None and not (isinstance(value, str) and _DATE_RE.match(value)):
            self.error(f"{pointer}/initial_date", "must be a date in the format YYYY-MM-DD")

    def _element_timepicker(self, element: JSONDict, pointer: str) -> None:
        value = element.get("initial_time")
        if value is not None and not (isinstance(value, str) and _TIME_RE.match(value)):
            self.error(f"{pointer}/initial_time", "must be a time in the format HH:mm")

    def _element_datetimepicker(self, element: JSONDict, pointer: str) -> None:
        value = element.get("initial_date_time")
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            self.error(f"{pointer}/initial_date_time", "must be a UNIX timestamp in seconds")

    def _element_plain_text_input(self, element: JSONDict, pointer: str) -> None:
        self.string(element, "initial_value", pointer)
        self.boolean(element, "multiline", pointer)
        bounds: dict[str, int] = {}
        for key, low in (("min_length", 0), ("max_length", 1)):
            if key in element:
                value = element[key]
                if not isinstance(value, int) or isinstance(value, bool):
                    self.error(f"{pointer}/{key}", "must be an integer")
                elif not low <= value <= 3000:
                    self.error(f"{pointer}/{key}", f"must be between {low} and 3000")
                else:
                    bounds[key] = value
        if bounds.get("min_length", 0) > bounds.get("max_length", 3000):
            self.error(f"{pointer}/min_length", "must not be greater than max_length")

    def _element_number_input(self, element: JSONDict, pointer: str) -> None:
        if not isinstance(element.get("is_decimal_allowed"), bool):
            self.error(pointer, "missing required field: is_decimal_allowed")
        for key in ("initial_value", "min_value", "max_value"):
            self.string(element, key, pointer)

    def _element_image(self, element: JSONDict, pointer: str) -> None:
        self._image(element, pointer)

    def _element_workflow_button(self, element: JSONDict, pointer: str) -> None:
        self.text(element, "text", pointer, plain=True, max_len=75, required=True)
        if not isinstance(element.get("workflow"), dict):
            self.error(pointer, "missing required field: workflow")


def validate_blocks(blocks: object, surface: Surface = "message") -> list[str]:
    """Problems Slack would report for `blocks` on `surface`; empty when valid."""
    checker = _Checker(surface)
    limit = MAX_MESSAGE_BLOCKS if surface == "message" else MAX_VIEW_BLOCKS
    checker.blocks(blocks, "/blocks", limit)
    return checker.errors


def blocks_text_length(value: object) -> int:
    """The text `value` (blocks, or any part of them) holds: every string under a `text`
    key, at any depth (text objects, rich_text elements, a markdown block's text), which
    is how Slack's msg_blocks_too_long limit has been measured in public reports."""
    if isinstance(value, list):
        return sum(blocks_text_length(item) for item in value)
    if not isinstance(value, dict):
        return 0
    total = 0
    for key, item in value.items():
        if key == "text" and isinstance(item, str):
            total += len(item)
        else:
            total += blocks_text_length(item)
    return total


def validate_view(view: object) -> list[str]:
    """Problems Slack would report for a modal or home tab view; empty when valid."""
    if not isinstance(view, dict):
        return ["must be an object [json-pointer:/view]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return ["must be one of modal, home [json-pointer:/view/type]"]
    checker = _Checker("modal" if kind == "modal" else "home")
    checker.keys(view, VIEW_KEYS | VIEW_RESPONSE_KEYS, "/view")
    if kind == "modal":
        checker.text(view, "title", "/view", plain=True, max_len=24, required=True)
        checker.text(view, "submit", "/view", plain=True, max_len=24)
        checker.text(view, "close", "/view", plain=True, max_len=24)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and "submit" not in view:
            checker.error("/view", "submit is required when an input block is within the blocks")
    checker.string(view, "private_metadata", "/view", max_len=3000)
    checker.string(view, "callback_id", "/view", max_len=255)
    checker.string(view, "external_id", "/view", max_len=255)
    for key in ("clear_on_close", "notify_on_close", "submit_disabled"):
        checker.boolean(view, key, "/view")
    if "blocks" not in view:
        checker.error("/view", "missing required field: blocks")
    else:
        checker.blocks(view["blocks"], "/view/blocks", MAX_VIEW_BLOCKS)
    return checker.errors


# --- interaction state -------------------------------------------------------------------


def all_options(element: JSONDict) -> list[JSONDict]:
    """Every option of a select-like element, option groups flattened."""
    options: list[JSONDict] = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def iter_elements(blocks: list[JSONDict]) -> Iterator[tuple[JSONDict, JSONDict]]:
    """Each (block, interactive element) pair in `blocks`."""
    for block in blocks:
        kind = block.get("type")
        if kind == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        elif kind == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, dict):
                    yield block, element


def find_action(blocks: list[JSONDict], action_id: str) -> tuple[JSONDict, JSONDict] | None:
    """The (block, element) whose element has `action_id`, if any."""
    for block, element in iter_elements(blocks):
        if element.get("action_id") == action_id:
            return block, element
    return None


def _generated_id() -> str:
    return secrets.token_urlsafe(4).replace("-", "x").replace("_", "y")


def assign_ids(blocks: list[JSONDict]) -> list[JSONDict]:
    """A deep copy of `blocks` with the block_id/action_id Slack generates where missing."""
    copied: list[JSONDict] = copy.deepcopy(blocks)
    for block in copied:
        if isinstance(block, dict) and "block_id" not in block:
            block["block_id"] = _generated_id()
    for _, element in iter_elements(copied):
        if element.get("type") not in ("image", None) and "action_id" not in element:
            element["action_id"] = _generated_id()
    return copied


def initial_state(element: JSONDict) -> JSONDict:
    """The state Slack reports for an element the user did not touch."""
    kind = element["type"]
    state: JSONDict = {"type": kind}
    if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        state["value"] = element.get("initial_value")
    elif kind == "rich_text_input":
        state["rich_text_value"] = element.get(
            "initial_value", {"type": "rich_text", "elements": []}
        )
    elif kind in ("static_select", "external_select", "radio_buttons"):
        state["selected_option"] = element.get("initial_option")
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        state["selected_options"] = list(element.get("initial_options") or [])
    elif kind == "users_select":
        state["selected_user"] = element.get("initial_user")
    elif kind == "multi_users_select":
        state["selected_users"] = list(element.get("initial_users") or [])
    elif kind == "conversations_select":
        state["selected_conversation"] = element.get("initial_conversation")
    elif kind == "multi_conversations_select":
        state["selected_conversations"] = list(element.get("initial_conversations") or [])
    elif kind == "channels_select":
        state["selected_channel"] = element.get("initial_channel")
    elif kind == "multi_channels_select":
        state["selected_channels"] = list(element.get("initial_channels") or [])
    elif kind == "datepicker":
        state["selected_date"] = element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = element.get("initial_time")
        if "timezone" in element:
            state["timezone"] = element["timezone"]
    elif kind == "datetimepicker":
        state["selected_date_time"] = element.get("initial_date_time")
    elif kind == "file_input":
        state["files"] = []
    return state


def state_is_empty(state: JSONDict) -> bool:
    """Whether an element state holds no user input."""
    for key, value in state.items():
        if key in ("type", "timezone"):
            continue
        if key == "rich_text_value":
            return not (isinstance(value, dict) and value.get("elements"))
        return value is None or value in ("", [])
    return True


class StateBuilder:
    """Turns plain Python values into the element state Slack would send."""

    def __init__(
        self, user_exists: Callable[[str], bool], conversation_exists: Callable[[str], bool]
    ) -> None:
        self.user_exists = user_exists
        self.conversation_exists = conversation_exists

    def state(self, element: JSONDict, value: object, where: str) -> JSONDict:
        """The state of `element` after the user entered `value`."""
        kind = element.get("type")
        handler = getattr(self, f"_state_{kind}", None)
        if handler is None:
            raise AssertionError(f"{where}: a {kind!r} element holds no value a user can enter")
        state: JSONDict = handler(element, value, where)
        return state

    def _text(self, element: JSONDict, value: object, where: str) -> JSONDict:
        if not isinstance(value, str):
            raise AssertionError(f"{where}: {element['type']} takes a str, got {value!r}")
        return {"type": element["type"], "value": value}

    def _state_plain_text_input(self, element: JSONDict, value: object, where: str) -> JSONDict:
        state = self._text(element, value, where)
        text: str = state["value"]
        if not element.get("multiline") and "\n" in text:
            raise AssertionError(f"{where}: a single-line input cannot hold a newline")
        low, high = element.get("min_length", 0), element.get("max_length", 3000)
        if text and not low <= len(text) <= high:
            raise AssertionError(
                f"{where}: Slack only accepts {low}..{high} characters here, got {len(text)}"
            )
        return state

    def _state_email_text_input(self, element: JSONDict, value: object, where: str) -> JSONDict:
        state = self._text(element, value, where)
        if state["value"] and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", state["value"]):
            raise AssertionError(f"{where}: Slack would reject {value!r} as an email address")
        return state

    def _state_url_text_input(self, element: JSONDict, value: object, where: str) -> JSONDict:
        state = self._text(element, value, where)
        if state["value"] and not re.match(r"^https?://\S+$", state["value"]):
            raise AssertionError(f"{where}: Slack would reject {value!r} as a URL")
        return state

    def _state_number_input(self, element: JSONDict, value: object, where: str) -> JSONDict:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise AssertionError(f"{where}: number_input takes a number, got {value!r}")
        text = str(value)
        try:
            number = float(text)
        except ValueError:
            raise AssertionError(f"{where}: {value!r} is not a number") from None
        if not element.get("is_decimal_allowed") and not re.match(r"^-?\d+$", text):
            raise AssertionError(f"{where}: decimals are not allowed in this number_input")
        low = float(element.get("min_value", "-inf"))
        high = float(element.get("max_value", "inf"))
        if not low <= number <= high:
            raise AssertionError(f"{where}: {text} is outside the allowed range")
        return {"type": "number_input", "value": text}

    def _state_rich_text_input(self, element: JSONDict, value: object, where: str) -> JSONDict:
        if isinstance(value, dict):
            return {"type": "rich_text_input", "rich_text_value": value}
        if not isinstance(value, str):
            raise AssertionError(f"{where}: rich_text_input takes a str or a rich_text block")
        rich = {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": value}]}
            ],
        }
        return {"type": "rich_text_input", "rich_text_value": rich}

    def _option(self, element: JSONDict, value: object, where: str) -> JSONDict:
        if isinstance(value, dict) and element["type"].endswith("external_select"):
            return value
        if not isinstance(value, str):
            raise AssertionError(f"{where}: give the selected option's value (str), not {value!r}")
        if element["type"].endswith("external_select"):
            return {"text": {"type": "plain_text", "text": value}, "value": value}
        for option in all_options(element):
            if option.get("value") == value:
                return dict(option)
        values = [o.get("value") for o in all_options(element)]
        raise AssertionError(f"{where}: {value!r} is not one of the options {values}")

    def _options(self, element: JSONDict, value: object, where: str) -> list[JSONDict]:
        if not isinstance(value, list | tuple):
            raise AssertionError(f"{where}: {element['type']} takes a list of option values")
        limit = element.get("max_selected_items")
        if isinstance(limit, int) and len(value) > limit:
            raise AssertionError(f"{where}: at most {limit} items can be selected")
        return [self._option(element, item, where) for item in value]

    def _state_static_select(self, element: JSONDict, value: object, where: str) -> JSONDict:
        return {"type": element["type"], "selected_option": self._option(element, value, where)}

    _state_external_select = _state_static_select
    _state_radio_buttons = _state_static_select
    _state_overflow = _state_static_select

    def _state_multi_static_select(self, element: JSONDict, value: object, where: str) -> JSONDict:
        return {"type": element["type"], "selected_options": self._options(element, value, where)}

    _state_multi_external_select = _state_multi_static_select
    _state_checkboxes = _state_multi_static_select

    def _ids(
        self, value: object, where: str, exists: Callable[[str], bool], what: str, multi: bool
    ) -> Any:
        items = value if multi else [value]
        if not isinstance(items, list | tuple):
            raise AssertionError(f"{where}: give a list of {what} ids")
        for item in items:
            if not isinstance(item, str) or not exists(item):
                raise AssertionError(f"{where}: {item!r} is not a {what} in the workspace")
        return list(items) if multi else value

    def _state_users_select(self, element: JSONDict, value: object, where: str) -> JSONDict:
        user = self._ids(value, where, self.user_exists, "user", multi=False)
        return {"type": "users_select", "selected_user": user}

    def _state_multi_users_select(self, element: JSONDict, value: object, where: str) -> JSONDict:
        users = self._ids(value, where, self.user_exists, "user", multi=True)
        return {"type": "multi_users_select", "selected_users": users}

    def _state_conversations_select(self, element: JSONDict, value: object, where: str) -> JSONDict:
        conv = self._ids(value, where, self.conversation_exists, "conversation", multi=False)
        return {"type": "conversations_select", "selected_conversation": conv}

    def _state_multi_conversations_select(
        self, element: JSONDict, value: object, where: str
    ) -> JSONDict:
        convs = self._ids(value, where, self.conversation_exists, "conversation", multi=True)
        return {"type": "multi_conversations_select", "selected_conversations": convs}

    def _state_channels_select(self, element: JSONDict, value: object, where: str) -> JSONDict:
        channel = self._ids(value, where, self.conversation_exists, "channel", multi=False)
        return {"type": "channels_select", "selected_channel": channel}

    def _state_multi_channels_select(
        self, element: JSONDict, value: object, where: str
    ) -> JSONDict:
        channels = self._ids(value, where, self.conversation_exists, "channel", multi=True)
        return {"type": "multi_channels_select", "selected_channels": channels}

    def _state_datepicker(self, element: JSONDict, value: object, where: str) -> JSONDict:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = value.isoformat()
        if not isinstance(value, str) or not _DATE_RE.match(value):
            raise AssertionError(f"{where}: datepicker takes a date or 'YYYY-MM-DD'")
        return {"type": "datepicker", "selected_date": value}

    def _state_timepicker(self, element: JSONDict, value: object, where: str) -> JSONDict:
        if isinstance(value, dt.time):
            value = value.strftime("%H:%M")
        if not isinstance(value, str) or not _TIME_RE.match(value):
            raise AssertionError(f"{where}: timepicker takes a time or 'HH:MM'")
        state: JSONDict = {"type": "timepicker", "selected_time": value}
        if "timezone" in element:
            state["timezone"] = element["timezone"]
        return state

    def _state_datetimepicker(self, element: JSONDict, value: object, where: str) -> JSONDict:
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise AssertionError(f"{where}: give an aware datetime")
            value = int(value.timestamp())
        if not isinstance(value, int) or isinstance(value, bool):
            raise AssertionError(f"{where}: datetimepicker takes an aware datetime or epoch int")
        return {"type": "datetimepicker", "selected_date_time": value}

    def _state_file_input(self, element: JSONDict, value: object, where: str) -> JSONDict:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise AssertionError(f"{where}: file_input takes a list of file objects")
        return {"type": "file_input", "files": list(value)}

    def view_state(self, view: JSONDict, values: Mapping[str, object]) -> JSONDict:
        """The `state.values` Slack sends on submission of `view` with `values` entered."""
        blocks: list[JSONDict] = view.get("blocks") or []
        by_id = {b.get("block_id"): b for b in blocks if b.get("block_id")}
        for wanted in values:
            if wanted not in by_id:
                known = sorted(str(k) for k in by_id)
                raise AssertionError(f"no block with block_id {wanted!r} in the view: {known}")
        result: JSONDict = {}
        for block, element in iter_elements(blocks):
            block_id = block.get("block_id")
            action_id = element.get("action_id")
            if not block_id or not action_id:
                continue
            where = f"block {block_id!r} / action {action_id!r}"
            is_input = block.get("type") == "input"
            if block_id in values:
                given = values[block_id]
                if block.get("type") == "actions":
                    if not isinstance(given, Mapping):
                        raise AssertionError(f"{where}: give {{action_id: value}} for actions")
                    if action_id not in given:
                        continue
                    given = given[action_id]
                state = self.state(element, given, where)
            elif is_input:
                state = initial_state(element)
            else:
                continue
            if is_input and not block.get("optional") and state_is_empty(state):
                raise AssertionError(
                    f"{where}: the input is required, so Slack would not let the user submit "
                    "without a value"
                )
            result.setdefault(block_id, {})[action_id] = state
        return result
