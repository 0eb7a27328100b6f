"""What a Slack refusal means for a step: try again later, or tell someone in plain words.

Only transient errors are retried, on a bounded schedule; every other error code, known or
not, is permanent: retrying will not change Slack's answer, so a person is told why and
what to do. Plain words are chosen by the method that answered, then by the channel the
step acts on (the incident channel, the announcement channel, a direct message), then by
the error code alone. Each is a clause that follows "because".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from bot.slack.gateway import SlackCallFailed
from bot.slack.webapi import TRANSIENT_ERRORS

# Errors after which the same call may well succeed later (method-specific ones, such as a
# channel migration or a message-rate cap, included).
TRANSIENT = TRANSIENT_ERRORS
# Answers that mean what the step wanted is already so.
ALREADY_DONE = frozenset({"already_in_channel", "cant_invite_self", "already_pinned"})

# Waits after the n-th failed attempt (Retry-After when Slack asks for longer). Eleven
# attempts over about an hour and a quarter outlast a realistic Slack outage; after the
# last the bot gives up on the steps still failing and tells the reporter.
RETRY_DELAYS: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (15, 30, 60, 120, 240, 480, 900, 900, 900, 900)
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1

_BUG = "Slack refused the request the bot made (`{error}` from {method}); please report this bug"
_BAD_MESSAGE = "Slack refused the message the bot built (`{error}`); please report this bug"
_BAD_NAME = "Slack refused the channel name the bot chose (`{error}`); please report this bug"
_REINSTALL = "Slack did not accept the bot's token; reinstall the app and update SLACK_BOT_TOKEN"
_DEPRECATED = "Slack no longer offers a method the bot uses ({method}); upgrade the bot"
_ENTERPRISE_MOVE = "the workspace is moving into an Enterprise organisation"

ERROR_WORDS: dict[str, str] = {
    # Transient: said while the bot keeps trying.
    "ratelimited": "Slack asked the bot to slow down",
    "rate_limited": "Slack asked the bot to slow down",
    "message_limit_exceeded": "the workspace has reached Slack's message limit for now",
    "timeout": "Slack did not answer in time",
    "server_error": "Slack had an internal error",
    "internal_error": "Slack had an internal error",
    "fatal_error": "Slack had an internal error",
    "service_unavailable": "Slack is unavailable",
    "request_timeout": "Slack did not receive the whole request",
    "connection_error": "the bot could not reach Slack",
    "team_added_to_org": _ENTERPRISE_MOVE,
    "org_login_required": _ENTERPRISE_MOVE,
    "external_channel_migrating": "the channel is being migrated by Slack",
    # Permanent, whatever the method.
    "access_denied": "Slack denied the bot access; a workspace admin should check the app",
    "accesslimited": "Slack refuses the bot from its network; check the workspace's allowed "
    "IP addresses",
    "account_inactive": _REINSTALL,
    "invalid_auth": _REINSTALL,
    "not_authed": _REINSTALL,
    "token_expired": _REINSTALL,
    "token_revoked": _REINSTALL,
    "not_allowed_token_type": "the bot used the wrong kind of token; SLACK_BOT_TOKEN must be "
    "a bot token (xoxb-…)",
    "team_access_not_granted": "the app is not installed for this workspace; install it there",
    "two_factor_setup_required": "Slack wants two-factor authentication set up for the app's "
    "installer",
    "missing_scope": "the Slack app lacks a permission; an admin must reinstall it from "
    "manifest.yml",
    "no_permission": "the app lacks a permission for this; an admin must reinstall it from "
    "manifest.yml",
    "ekm_access_denied": "workspace administrators have suspended this (Enterprise Key "
    "Management); ask them to restore it",
    "enterprise_is_restricted": "the bot cannot do this for a whole Enterprise organisation; "
    "install it on the workspace",
    "deprecated_endpoint": _DEPRECATED,
    "method_deprecated": _DEPRECATED,
    "invalid_arg_name": _BUG,
    "invalid_arguments": _BUG,
    "invalid_array_arg": _BUG,
    "invalid_charset": _BUG,
    "invalid_form_data": _BUG,
    "invalid_post_type": _BUG,
    "missing_post_type": _BUG,
    "missing_argument": _BUG,
    "method_not_supported_for_channel_type": _BUG,
    "invalid_cursor": _BUG,
    "invalid_limit": _BUG,
    "invalid_types": _BUG,
    "invalid_metadata_filter_keys": _BUG,
    "invalid_ts_latest": _BUG,
    "invalid_ts_oldest": _BUG,
    # conversations.create
    "cannot_create_channel": "Slack would not create the channel; ask a workspace admin "
    "whether channel creation is limited",
    "canvas_disabled_user_team": "canvases are turned off in this workspace and Slack would "
    "not create the channel with one; ask a workspace admin",
    "invalid_name": _BAD_NAME,
    "invalid_name_maxlength": _BAD_NAME,
    "invalid_name_punctuation": _BAD_NAME,
    "invalid_name_required": _BAD_NAME,
    "invalid_name_specials": _BAD_NAME,
    "no_channel": _BAD_NAME,
    "name_taken": "every channel name the bot tried was taken; archive or rename old channels "
    "with this incident's reference",
    # conversations.invite and conversations.open: the person
    "user_is_restricted": "guests can be added to channels only by a workspace admin; ask one",
    "ura_max_channels": "a single-channel guest cannot join a second channel; a workspace "
    "admin can make them a multi-channel guest",
    "cant_invite": "Slack does not let the bot invite this person here (a guest, or someone "
    "from another organisation); ask a workspace admin",
    "no_external_invite_permission": "the bot may not invite people from other "
    "organisations; ask a workspace admin",
    "invitee_cant_see_channel": "the channel is not shared with the person's workspace; ask "
    "an Enterprise admin",
    "org_user_not_in_team": "the person is in the Enterprise organisation but not in this "
    "workspace; ask an admin to add them to it",
    "user_not_found": "Slack does not know this person (the account may be deactivated)",
    "user_disabled": "the person's account is deactivated",
    "user_not_visible": "Slack does not let the bot see this person",
    "invalid_user_combination": "Slack does not let the bot message someone from another "
    "organisation before they share a channel",
    "no_user": _BUG,
    "not_enough_users": _BUG,
    "too_many_users": _BUG,
    "users_list_not_supplied": _BUG,
    # usergroups.users.list: an escalation's direct messages to a user group's members
    "no_such_subteam": "the user group does not exist (any more); fix `contacts` in the policy",
    "plan_upgrade_required": "this Slack plan has no user groups; name people or channels in "
    "`contacts` instead",
    # conversations.setTopic
    "too_long": _BUG,
    # chat.postMessage
    "as_user_not_supported": _BAD_MESSAGE,
    "attachment_payload_limit_exceeded": _BAD_MESSAGE,
    "cannot_reply_to_message": _BAD_MESSAGE,
    "draft_already_deleted": _BAD_MESSAGE,
    "draft_already_sent": _BAD_MESSAGE,
    "draft_has_conflict": _BAD_MESSAGE,
    "draft_not_found": _BAD_MESSAGE,
    "duplicate_channel_not_found": _BAD_MESSAGE,
    "duplicate_message_not_found": _BAD_MESSAGE,
    "invalid_blocks": _BAD_MESSAGE,
    "invalid_blocks_format": _BAD_MESSAGE,
    "invalid_metadata_format": _BAD_MESSAGE,
    "invalid_metadata_schema": _BAD_MESSAGE,
    "markdown_text_conflict": _BAD_MESSAGE,
    "metadata_must_be_sent_from_app": _BAD_MESSAGE,
    "metadata_too_large": _BAD_MESSAGE,
    "missing_file_data": _BAD_MESSAGE,
    "msg_blocks_too_long": _BAD_MESSAGE,
    "no_text": _BAD_MESSAGE,
    "team_not_found": _BAD_MESSAGE,
    "too_many_attachments": _BAD_MESSAGE,
    "too_many_contact_cards": _BAD_MESSAGE,
    "restricted_action_non_threadable_channel": _BAD_MESSAGE,
    "restricted_action_thread_locked": _BAD_MESSAGE,
    "slack_connect_canvas_sharing_blocked": "an admin blocks sharing canvases in Slack Connect "
    "channels",
    "slack_connect_file_link_sharing_blocked": "an admin blocks sharing file links in Slack "
    "Connect channels",
    "slack_connect_lists_sharing_blocked": "an admin blocks sharing lists in Slack Connect "
    "channels",
    "messages_tab_disabled": "the bot's Messages tab is turned off; an admin can turn it on "
    "under App Home in the app's settings",
    "restricted_action": "a workspace setting stops the bot from doing this; ask a workspace admin",
    "restricted_action_read_only_channel": "the channel is read-only for the bot",
    "restricted_action_thread_only_channel": "the channel accepts only thread replies",
    # pins.add
    "bad_timestamp": _BUG,
    "no_item_specified": _BUG,
    "file_not_found": _BUG,
    "file_not_shared": _BUG,
    "not_pinnable": _BUG,
    "message_not_found": "someone deleted the message before it could be pinned",
    "too_many_pins": "the channel already has as many pins as Slack allows; unpin something",
    # conversations.join
    "channel_is_limited_access": "the channel's access is limited; invite the bot there",
    "too_many_members": "the channel has as many members as Slack allows",
    # the channel a step acts on, when no better words say which
    "channel_not_found": "a channel was not found (check announcement_channel in the policy)",
    "is_archived": "the channel is archived",
    "not_in_channel": "the bot is not in the channel; invite it there",
}

# Words for what an error says about one method in particular.
METHOD_ERROR_WORDS: dict[tuple[str, str], str] = {
    ("conversations.create", "restricted_action"): "a workspace setting stops the bot from "
    "creating channels; ask a workspace admin to allow it",
    ("conversations.setTopic", "user_is_restricted"): "a workspace setting stops the bot from "
    "setting channel topics; ask a workspace admin",
    ("chat.postMessage", "restricted_action"): "a workspace setting stops the bot from "
    "posting there; ask a workspace admin",
    ("pins.add", "restricted_action"): "a workspace setting stops the bot from pinning "
    "messages; ask a workspace admin",
    ("pins.add", "not_in_channel"): _BUG,
    ("conversations.join", "method_not_supported_for_channel_type"): "the announcement "
    "channel is private and the bot is not in it; invite the bot there (`/invite`)",
}

_LIVE_CHANNEL = "set `announcement_channel` in the policy to a live channel"

# Words for an error about the channel a step acts on, by which channel that is.
PLACE_WORDS: dict[str, dict[str, str]] = {
    "incident": {
        "channel_not_found": "the incident channel no longer exists (or the bot cannot see it)",
        "is_archived": "the incident channel has been archived; unarchive it",
        "not_in_channel": "the bot is no longer in the incident channel; invite it back",
    },
    "announcement": {
        "channel_not_found": "the announcement channel does not exist, or it is private and "
        "the bot is not in it; invite the bot there or " + _LIVE_CHANNEL,
        "is_archived": "the announcement channel is archived: " + _LIVE_CHANNEL,
        "not_in_channel": "the bot is not in the announcement channel; invite it there",
        "restricted_action_read_only_channel": "the announcement channel is read-only for the "
        "bot; let it post there or " + _LIVE_CHANNEL,
        "restricted_action_thread_only_channel": "the announcement channel accepts only thread "
        "replies; allow posts there or " + _LIVE_CHANNEL,
        "channel_is_limited_access": "the announcement channel's access is limited; invite the "
        "bot there or " + _LIVE_CHANNEL,
        "too_many_members": "the announcement channel is full: " + _LIVE_CHANNEL,
    },
    "contact": {
        "channel_not_found": "the contact channel does not exist, or it is private and the bot "
        "is not in it; invite the bot there or change `contacts` in the policy",
        "is_archived": "the contact channel is archived; change `contacts` in the policy",
        "not_in_channel": "the bot is not in the contact channel; invite it there",
    },
    "dm": {
        "channel_not_found": "the bot cannot open a direct message with this person",
        "not_in_channel": "the bot cannot open a direct message with this person",
        "is_archived": "the bot cannot open a direct message with this person",
    },
}


def is_transient(error: SlackCallFailed) -> bool:
    """Whether trying the same call again later may succeed (unknown errors: no)."""
    return error.error in TRANSIENT


def explain(error: SlackCallFailed, place: str | None = None) -> str:
    """A refusal in plain words: why, and what to do where a person can do something."""
    words = METHOD_ERROR_WORDS.get((error.method, error.error))
    if words is None and place is not None:
        words = PLACE_WORDS.get(place, {}).get(error.error)
    if words is None:
        words = ERROR_WORDS.get(error.error)
    if words is None:
        return f"Slack answered `{error.error}` to {error.method}"
    return words.format(error=error.error, method=error.method)


def retry_delay(attempts: int, retry_after: timedelta | None = None) -> timedelta | None:
    """How long to wait after the `attempts`-th failed attempt; None once it was the last."""
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[max(attempts, 1) - 1]
    return max(delay, retry_after) if retry_after is not None else delay


def longest_retry_after(errors: Iterable[SlackCallFailed]) -> timedelta | None:
    """The longest Retry-After among failed calls, if any asked for one."""
    waits = [error.retry_after for error in errors if error.retry_after is not None]
    return max(waits) if waits else None


def total_retry_time() -> timedelta:
    """How long the bot keeps retrying at least, from the first failure to giving up."""
    return sum(RETRY_DELAYS, timedelta())
