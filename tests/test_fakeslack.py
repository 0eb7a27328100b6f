"""The fake Slack workspace, exercised through the real slack_sdk WebClient and slack_bolt App."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from slack_bolt import Ack, App, BoltContext, BoltRequest, Respond
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.models import blocks as sdk_blocks
from slack_sdk.webhook import WebhookClient

from tests.fakeslack import BoltAppServer, FakeSlack, blockkit, encodings, methods
from tests.fakeslack.spec import UNLISTED_ERRORS, available_methods, common_errors, method_spec

SECRET = "s3cr3t"
BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"

T = TypeVar("T")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A running fake workspace that must not hit internal errors."""
    with FakeSlack(signing_secret=SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake
        assert fake.internal_errors == []


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """The real WebClient pointed at the fake."""
    return WebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=5)


@pytest.fixture
def alice(fake: FakeSlack) -> str:
    """A human workspace member."""
    return fake.add_user("alice", real_name="Alice A", tz="Europe/London")


@pytest.fixture
def incidents(fake: FakeSlack, alice: str) -> str:
    """A public channel with alice and the bot in it."""
    return fake.add_channel("incidents", members=[alice])


def wait_until(predicate: Callable[[], T], timeout: float = 3.0) -> T:
    """Poll `predicate` until it returns something truthy (listeners run after the ack)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


def api_error(call: Any, *args: Any, **kwargs: Any) -> str:
    """The Slack error code raised by `call`."""
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    error: str = info.value.response["error"]
    return error


def option(text: str, value: str, kind: str = "plain_text") -> dict[str, Any]:
    """A select, checkbox or radio option."""
    return {"text": {"type": kind, "text": text}, "value": value}


def input_block(
    block_id: str, label: str, kind: str, *, optional: bool = True, **element: Any
) -> dict[str, Any]:
    """An input block whose element (of type `kind`) has action_id "value"."""
    return {
        "type": "input",
        "block_id": block_id,
        **({"optional": True} if optional else {}),
        "label": {"type": "plain_text", "text": label},
        "element": {"type": kind, "action_id": "value", **element},
    }


MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare an incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "private_metadata": "origin=C1",
    "blocks": [
        input_block("title", "Title", "plain_text_input", optional=False, max_length=80),
        input_block(
            "severity",
            "Severity",
            "static_select",
            optional=False,
            options=[option("SEV1", "sev1"), option("SEV2", "sev2")],
            initial_option=option("SEV2", "sev2"),
        ),
        input_block(
            "impact",
            "Impact",
            "checkboxes",
            options=[option("*Customers*", "customers", "mrkdwn"), option("Staff", "staff")],
        ),
        input_block("commander", "Commander", "users_select"),
        input_block("responders", "Responders", "multi_users_select"),
        input_block("channel", "Channel", "conversations_select"),
        input_block("started", "Started on", "datepicker"),
        input_block("at", "At", "timepicker"),
        input_block("customers", "Customers affected", "number_input", is_decimal_allowed=False),
        input_block(
            "kind",
            "Kind",
            "radio_buttons",
            options=[option("Outage", "outage"), option("Degraded", "degraded")],
        ),
        input_block(
            "teams",
            "Teams",
            "multi_static_select",
            options=[option("Web", "web"), option("DB", "db")],
        ),
    ],
}


# --- reference data and error-code contract ----------------------------------------------


def test_reference_data_matches_the_implemented_methods() -> None:
    assert set(available_methods()) == set(methods.HANDLERS)
    create = method_spec("conversations.create")
    assert create is not None
    assert create.tier == 2 and create.per_minute == 20
    assert create.required_args == ["name"]
    post = method_spec("chat.postMessage")
    assert post is not None and post.tier is None
    assert "ratelimited" in common_errors()
    assert method_spec("../common_errors") is None
    # The errors answered beyond a method's reference entry are chat.postMessage's, and
    # only where the entry does not list them already.
    for name, extra in UNLISTED_ERRORS.items():
        spec = method_spec(name)
        assert spec is not None and not extra & spec.errors, name
        assert extra <= post.errors


def _codes_by_function(tree: ast.Module) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Literal SlackError codes raised, and module functions called, by each function."""
    raised: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        raised[node.name] = set()
        calls[node.name] = set()
        for inner in ast.walk(node):
            if not isinstance(inner, ast.Call):
                continue
            if isinstance(inner.func, ast.Name) and inner.func.id == "SlackError":
                first = inner.args[0]
                if node.name == "check_required":
                    continue  # data-driven; checked through missing_arg_error below
                assert isinstance(first, ast.Constant), f"{node.name}: non-literal error code"
                raised[node.name].add(str(first.value))
            elif isinstance(inner.func, ast.Name):
                calls[node.name].add(inner.func.id)
    return raised, calls


def test_every_error_code_returned_is_documented_for_its_method() -> None:
    tree = ast.parse(inspect.getsource(methods))
    raised, calls = _codes_by_function(tree)
    handlers = {
        func.__name__: name for name, func in methods.HANDLERS.items() if func.__name__ in raised
    }
    assert len(handlers) == len(methods.HANDLERS)
    # ApiContext helpers (ctx.str_arg, ...) may only raise common errors.
    context_source = ast.parse(inspect.getsource(methods.ApiContext))
    context_codes, _ = _codes_by_function(context_source)
    assert set().union(*context_codes.values()) <= common_errors()
    for function, method in handlers.items():
        spec = method_spec(method)
        assert spec is not None
        seen, todo, codes = set(), [function], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in raised:
                continue
            seen.add(name)
            codes |= raised[name]
            todo.extend(calls[name])
        undocumented = {c for c in codes if not spec.allows(c)}
        assert not undocumented, f"{method} can return undocumented {undocumented}"
        for arg in spec.required_args:
            assert spec.allows(methods.missing_arg_error(spec, arg)), (method, arg)
        # The answer to a JSON body where Slack reads form data only.
        assert spec.allows(encodings.json_body_refused(spec).error), method


# --- Web API: auth and arguments ---------------------------------------------------------


def test_tokens_are_checked(fake: FakeSlack, incidents: str) -> None:
    assert api_error(WebClient(base_url=fake.api_url).auth_test) == "not_authed"
    assert api_error(WebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test) == (
        "invalid_auth"
    )
    app_client = WebClient(token=APP_TOKEN, base_url=fake.api_url)
    assert api_error(app_client.chat_postMessage, channel=incidents, text="x") == (
        "not_allowed_token_type"
    )
    bot_client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    assert api_error(bot_client.apps_connections_open, app_token=BOT_TOKEN) == (
        "not_allowed_token_type"
    )
    identity = bot_client.auth_test()
    assert (identity["user_id"], identity["bot_id"], identity["team_id"]) == (
        "UBOT",
        "BBOT",
        "T0FAKE",
    )


def test_missing_required_arguments_get_slacks_errors(client: WebClient, incidents: str) -> None:
    def raw(method: str, **params: Any) -> str:
        return api_error(client.api_call, method, params=params)

    assert raw("chat.postMessage", text="hi") == "channel_not_found"
    assert raw("chat.postMessage", channel=incidents) == "no_text"
    assert raw("conversations.create") == "invalid_name_required"
    assert raw("conversations.invite", channel=incidents) == "no_user"
    assert raw("pins.add", channel=incidents) == "no_item_specified"
    assert raw("users.info") == "user_not_found"
    assert raw("views.open", trigger_id="1.2.ab") == "invalid_arguments"
    assert raw("files.getUploadURLExternal", filename="a.txt") == "missing_argument"
    assert raw("conversations.list", limit="many") == "invalid_limit"
    assert raw("conversations.history", channel=incidents, oldest="yesterday") == (
        "invalid_ts_oldest"
    )
    assert raw("chat.postMessage", channel=incidents, text="x", unfurl_links="maybe") == (
        "invalid_arguments"
    )
    assert raw("no.suchMethod") == "unknown_method"
    assert client.api_call("chat.postMessage", json={"channel": incidents, "text": "j"})["ok"]


def test_the_encoding_of_each_method_is_read_from_slack_sdk() -> None:
    table = encodings.sdk_encodings()
    assert set(methods.HANDLERS) <= set(table)
    assert table["chat.postMessage"] == table["views.open"] == "json"
    assert table["conversations.invite"] == table["files.completeUploadExternal"] == "form"
    assert table["users.info"] == table["conversations.history"] == "query"
    assert table["users.setPhoto"] == "multipart"
    assert encodings.accepts_json("chat.update") and not encodings.accepts_json("pins.add")


def test_a_json_body_is_refused_where_slack_sdk_sends_form_data(
    fake: FakeSlack, client: WebClient, alice: str, incidents: str
) -> None:
    bob = fake.add_user("bob")
    with pytest.raises(SlackApiError) as info:
        client.api_call("conversations.invite", json={"channel": incidents, "users": bob})
    assert info.value.response["error"] == "invalid_arguments"
    messages = info.value.response["response_metadata"]["messages"]
    assert "[ERROR] missing required field: channel" in messages
    assert bob not in fake.channels[incidents].members
    assert client.conversations_invite(channel=incidents, users=[bob])["ok"]
    invites = fake.calls_to("conversations.invite")
    assert [(c.encoding, c.error) for c in invites] == [
        ("json", "invalid_arguments"),
        ("form", None),
    ]

    # The external upload: a JSON body is refused at both steps, the named methods work.
    ticket_args = {"filename": "draft.md", "length": 5}
    assert api_error(client.api_call, "files.getUploadURLExternal", json=ticket_args) == (
        "invalid_arguments"
    )
    assert fake.files == {}
    ticket = client.files_getUploadURLExternal(**ticket_args)
    upload = urllib.request.Request(ticket["upload_url"], data=b"draft", method="POST")
    with urllib.request.urlopen(upload) as response:
        assert response.status == 200
    complete = {"files": [{"id": ticket["file_id"], "title": "Draft"}], "channel_id": incidents}
    assert api_error(client.api_call, "files.completeUploadExternal", json=complete) == (
        "invalid_arguments"
    )
    assert not fake.files[ticket["file_id"]].completed
    assert client.files_completeUploadExternal(**complete)["ok"]
    assert fake.messages(incidents)[-1].files == [ticket["file_id"]]

    # Methods without required arguments are refused too: Slack would drop the arguments.
    assert api_error(client.api_call, "conversations.list", json={"types": "im"}) == (
        "invalid_arguments"
    )
    # JSON where the SDK sends JSON; an empty JSON request carries nothing to lose.
    assert client.api_call("chat.postMessage", json={"channel": incidents, "text": "j"})["ok"]
    assert client.api_call("auth.test", json={})["ok"]
    assert fake.calls[-1].encoding == "json"

    # WebClient posts its reads as form data; a GET carries them in the query string.
    assert client.users_info(user=alice)["ok"]
    assert fake.calls[-1].encoding == "form"
    query = urllib.parse.urlencode({"user": alice})
    get = urllib.request.Request(
        f"{fake.api_url}users.info?{query}", headers={"Authorization": f"Bearer {BOT_TOKEN}"}
    )
    with urllib.request.urlopen(get) as response:
        assert json.loads(response.read())["ok"]
    assert fake.calls[-1].encoding == "query"
    assert client.api_call("users.info", data={"user": alice}, files={"note": b"x"})["ok"]
    assert fake.calls[-1].encoding == "multipart"


# --- Web API: conversations and messages -------------------------------------------------


def test_messages_threads_metadata_and_history(
    fake: FakeSlack, client: WebClient, alice: str, incidents: str
) -> None:
    metadata = {"event_type": "incident_declared", "event_payload": {"id": "INC-1"}}
    parent = client.chat_postMessage(
        channel=incidents, text="Incident declared", metadata=metadata, unfurl_links=False
    )
    assert parent["message"]["metadata"] == metadata
    reply = client.chat_postMessage(channel=incidents, text="update 1", thread_ts=parent["ts"])
    nested = client.chat_postMessage(channel=incidents, text="update 2", thread_ts=reply["ts"])
    client.chat_postMessage(
        channel=incidents, text="shout", thread_ts=parent["ts"], reply_broadcast=True
    )
    assert nested["message"]["thread_ts"] == parent["ts"]
    stamps = [m.ts for m in fake.messages(incidents)]
    assert stamps == sorted(stamps, key=lambda ts: tuple(map(int, ts.split(".")))), stamps
    assert len(set(stamps)) == 4

    history = client.conversations_history(channel=incidents)
    texts = [m["text"] for m in history["messages"]]
    assert texts == ["shout", "Incident declared"]
    assert all("metadata" not in m for m in history["messages"])
    top = history["messages"][1]
    assert top["reply_count"] == 3 and top["thread_ts"] == parent["ts"]
    with_meta = client.conversations_history(channel=incidents, include_all_metadata=True)
    assert with_meta["messages"][1]["metadata"] == metadata

    first = client.conversations_history(channel=incidents, limit=1)
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(channel=incidents, limit=1, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["Incident declared"]
    bounded = client.conversations_history(
        channel=incidents, oldest=parent["ts"], inclusive=True, latest=parent["ts"]
    )
    assert [m["ts"] for m in bounded["messages"]] == [parent["ts"]]

    replies = client.conversations_replies(channel=incidents, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == [
        "Incident declared",
        "update 1",
        "update 2",
        "shout",
    ]
    assert api_error(client.conversations_replies, channel=incidents, ts="1.000001") == (
        "thread_not_found"
    )

    dm = client.chat_postMessage(channel=alice, text="you are on call")
    assert dm["channel"] == fake.dm_channel(alice) and dm["channel"].startswith("D")
    gone = fake.add_user("gone", deleted=True)
    assert api_error(client.conversations_open, users=gone) == "user_disabled"
    assert api_error(client.conversations_open, users="U404") == "user_not_found"
    by_name = client.chat_postMessage(channel="#incidents", text="by name")
    assert by_name["channel"] == incidents

    assert api_error(
        client.chat_postMessage, channel=incidents, text="x", metadata={"event_type": "x"}
    ) == ("invalid_metadata_format")
    long = client.chat_postMessage(channel=incidents, text="x" * 40_001)
    assert len(long["message"]["text"]) == 40_000
    assert fake.internal_errors == []


def test_channel_rules(fake: FakeSlack, client: WebClient, alice: str, incidents: str) -> None:
    def create(name: str, **kwargs: Any) -> str:
        return api_error(client.conversations_create, name=name, **kwargs)

    assert create("Inc-UPPER") == "invalid_name_specials"
    assert create("inc 1") == "invalid_name_specials"
    assert create("x" * 81) == "invalid_name_maxlength"
    assert create("--__") == "invalid_name_punctuation"
    assert create("incidents") == "name_taken"
    fake.add_channel("inc-old", is_archived=True)
    assert create("inc-old") == "name_taken"

    made = client.conversations_create(name="inc-42-db", is_private=True)["channel"]
    assert made["is_private"] is True and made["is_member"] is True
    assert made["id"].startswith("C") and made["creator"] == fake.bot_user_id
    channel = fake.channel_by_name("inc-42-db")
    assert channel is not None and channel.members == {fake.bot_user_id}

    invited = client.conversations_invite(channel=made["id"], users=[alice])
    assert invited["ok"] and alice in fake.channels[made["id"]].members
    assert api_error(client.conversations_invite, channel=made["id"], users=alice) == (
        "already_in_channel"
    )
    assert api_error(client.conversations_invite, channel=made["id"], users="UBOT") == (
        "cant_invite_self"
    )
    assert api_error(client.conversations_invite, channel=made["id"], users="U404") == (
        "user_not_found"
    )
    joins = [m for m in fake.messages(made["id"]) if m.subtype == "channel_join"]
    assert [m.user for m in joins] == [fake.bot_user_id, alice]
    assert fake.messages(made["id"], system=False) == []

    client.conversations_setTopic(channel=made["id"], topic="SEV1: DB down")
    assert fake.channels[made["id"]].topic == "SEV1: DB down"
    assert api_error(client.conversations_setTopic, channel=made["id"], topic="x" * 251) == (
        "too_long"
    )
    client.conversations_setPurpose(channel=made["id"], purpose="Coordinating INC-42")
    info = client.conversations_info(channel=made["id"], include_num_members=True)["channel"]
    assert info["topic"]["value"] == "SEV1: DB down" and info["num_members"] == 2

    outside = fake.add_channel("random", members=[alice], bot_member=False)
    secret = fake.add_channel("secret", is_private=True, members=[alice], bot_member=False)
    assert api_error(client.chat_postMessage, channel=outside, text="hi") == "not_in_channel"
    assert api_error(client.conversations_history, channel=outside) == "not_in_channel"
    assert api_error(client.conversations_info, channel=secret) == "channel_not_found"
    assert api_error(client.conversations_join, channel=secret) == (
        "method_not_supported_for_channel_type"
    )
    assert api_error(client.chat_postMessage, channel="C404", text="hi") == "channel_not_found"
    assert client.conversations_join(channel=outside)["ok"]
    assert client.conversations_join(channel=outside)["warning"] == "already_in_channel"
    assert client.chat_postMessage(channel=outside, text="hi")["ok"]

    names = [c["name"] for c in client.conversations_list()["channels"]]
    assert names == ["incidents", "inc-old", "random"]
    both = client.conversations_list(types="public_channel,private_channel", exclude_archived=True)
    assert [c["name"] for c in both["channels"]] == ["incidents", "inc-42-db", "random"]
    pages = [page["channels"][0]["name"] for page in client.conversations_list(limit=1)]
    assert pages == ["incidents", "inc-old", "random"]
    assert api_error(client.conversations_list, types="public,private") == "invalid_types"
    assert client.conversations_members(channel=made["id"])["members"] == sorted(
        [alice, fake.bot_user_id]
    )
    client.conversations_archive(channel=made["id"])
    assert api_error(client.chat_postMessage, channel=made["id"], text="x") == "is_archived"


def test_pins_updates_deletes_and_permalinks(
    fake: FakeSlack, client: WebClient, alice: str, incidents: str
) -> None:
    posted = client.chat_postMessage(
        channel=incidents,
        text="status",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*Status*"}}],
    )
    ts = posted["ts"]
    assert posted["message"]["blocks"][0]["block_id"]
    client.pins_add(channel=incidents, timestamp=ts)
    assert fake.channels[incidents].pins == {ts}
    assert api_error(client.pins_add, channel=incidents, timestamp=ts) == "already_pinned"
    assert api_error(client.pins_add, channel=incidents, timestamp="1.000002") == (
        "message_not_found"
    )
    assert [i["message"]["ts"] for i in client.pins_list(channel=incidents)["items"]] == [ts]

    user_post = fake.post_user_message(alice, incidents, "not yours", deliver=False)
    assert api_error(client.chat_update, channel=incidents, ts=user_post.ts, text="x") == (
        "cant_update_message"
    )
    assert api_error(client.chat_update, channel=incidents, ts="1.000003", text="x") == (
        "message_not_found"
    )
    assert api_error(client.chat_update, channel=incidents, ts=ts, text="x" * 40_001) == (
        "msg_too_long"
    )
    # chat.update's reference: "The `text` field cannot exceed 4,000 characters."
    assert api_error(client.chat_update, channel=incidents, ts=ts, text="x" * 4_001) == (
        "msg_too_long"
    )
    assert client.chat_update(channel=incidents, ts=ts, text="x" * 4_000)["ok"]
    updated = client.chat_update(channel=incidents, ts=ts, text="resolved")
    assert updated["message"]["edited"]["user"] == fake.bot_user_id
    message = fake.channels[incidents].message(ts)
    assert message is not None and message.edited and message.blocks is None

    link = client.chat_getPermalink(channel=incidents, message_ts=ts)["permalink"]
    assert link.endswith(f"/archives/{incidents}/p{ts.replace('.', '')}")
    client.pins_remove(channel=incidents, timestamp=ts)
    assert api_error(client.pins_remove, channel=incidents, timestamp=ts) == "not_pinned"
    assert api_error(client.chat_delete, channel=incidents, ts=user_post.ts) == (
        "cant_delete_message"
    )
    client.chat_delete(channel=incidents, ts=ts)
    assert fake.channels[incidents].message(ts) is None

    ephemeral = client.chat_postEphemeral(channel=incidents, user=alice, text="only you")
    assert ephemeral["message_ts"]
    assert fake.ephemerals == [(incidents, alice, "only you", None)]
    bob = fake.add_user("bob")
    assert api_error(client.chat_postEphemeral, channel=incidents, user=bob, text="x") == (
        "user_not_in_channel"
    )
    users = client.users_list(limit=1)
    assert users["response_metadata"]["next_cursor"]
    info = client.users_info(user=alice)["user"]
    assert info["real_name"] == "Alice A" and info["tz"] == "Europe/London"


# --- Block Kit ---------------------------------------------------------------------------


def test_block_kit_is_validated_like_slack(client: WebClient, incidents: str) -> None:
    def post_error(blocks: Any) -> tuple[str, list[str]]:
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel=incidents, text="x", blocks=blocks)
        messages = info.value.response.get("response_metadata", {}).get("messages", [])
        return info.value.response["error"], messages

    divider = {"type": "divider"}
    error, messages = post_error([divider] * 51)
    assert error == "invalid_blocks"
    assert messages == ["[ERROR] must be less than 51 items [json-pointer:/blocks]"]
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "Incident"}}
    assert "must be plain_text" in post_error([header])[1][0]
    assert "either text or fields" in post_error([{"type": "section"}])[1][0]
    assert "unsupported" in post_error([{"type": "sectoin", "text": "x"}])[1][0]
    dup = {"type": "divider", "block_id": "a"}
    assert "duplicate block_id" in post_error([dup, dup])[1][0]
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert "less than 3001 characters" in post_error([long_section])[1][0]
    options = [option(f"o{i}", str(i)) for i in range(101)]
    select = {
        "type": "actions",
        "elements": [{"type": "static_select", "action_id": "s", "options": options}],
    }
    assert "less than 101 items" in post_error([select])[1][0]
    typo = {"type": "section", "text": {"type": "plain_text", "text": "x"}, "lable": "y"}
    assert "invalid additional property: lable" in post_error([typo])[1][0]
    assert post_error("not json")[0] == "invalid_blocks_format"
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    assert "less than 11 items" in post_error([fields])[1][0]
    # A context element is a text object: 1 to 3,000 characters.
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3001}]}
    error, messages = post_error([context])
    assert error == "invalid_blocks"
    assert messages == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/elements/0/text]"
    ]
    empty = {"type": "context", "elements": [{"type": "plain_text", "text": ""}]}
    assert "must be more than 0 characters" in post_error([empty])[1][0]
    fits = {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3000}]}
    assert client.chat_postMessage(channel=incidents, text="x", blocks=[fits])["ok"]

    built = [
        sdk_blocks.HeaderBlock(text="SEV1: Database down"),
        sdk_blocks.SectionBlock(
            text=sdk_blocks.MarkdownTextObject(text="*Commander:* <@U1>"),
            accessory=sdk_blocks.ButtonElement(text="Ack", action_id="ack", value="1"),
        ),
        sdk_blocks.ContextBlock(elements=[sdk_blocks.MarkdownTextObject(text="ctx")]),
        sdk_blocks.ActionsBlock(
            elements=[
                sdk_blocks.StaticSelectElement(
                    action_id="sev",
                    placeholder="Severity",
                    options=[sdk_blocks.Option(value="sev1", text="SEV1")],
                ),
                sdk_blocks.ButtonElement(text="Resolve", action_id="resolve", style="primary"),
            ]
        ),
        sdk_blocks.DividerBlock(),
    ]
    assert client.chat_postMessage(channel=incidents, text="built", blocks=built)["ok"]


def test_option_values_must_be_unique_within_an_element(client: WebClient, incidents: str) -> None:
    def post_error(element: dict[str, Any]) -> list[str]:
        actions = {"type": "actions", "elements": [{"action_id": "a", **element}]}
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel=incidents, text="x", blocks=[actions])
        assert info.value.response["error"] == "invalid_blocks"
        messages: list[str] = info.value.response["response_metadata"]["messages"]
        return messages

    twice = [option("Software", "software"), option("Software again", "software")]
    assert post_error({"type": "static_select", "options": twice}) == [
        "[ERROR] invalid duplicate option value: software "
        "[json-pointer:/blocks/0/elements/0/options/1/value]"
    ]
    for kind in ("multi_static_select", "checkboxes", "radio_buttons", "overflow"):
        assert "invalid duplicate option value" in post_error({"type": kind, "options": twice})[0]
    groups = [
        {"label": {"type": "plain_text", "text": "A"}, "options": [option("One", "1")]},
        {"label": {"type": "plain_text", "text": "B"}, "options": [option("Uno", "1")]},
    ]
    grouped = post_error({"type": "static_select", "option_groups": groups})
    assert grouped == [
        "[ERROR] invalid duplicate option value: 1 "
        "[json-pointer:/blocks/0/elements/0/option_groups/1/options/0/value]"
    ]
    # The same value in two different elements is fine, as is the same label twice.
    same_label = [option("Same", "one"), option("Same", "two")]
    blocks = [
        {
            "type": "actions",
            "elements": [
                {"type": "static_select", "action_id": "a", "options": same_label},
                {"type": "static_select", "action_id": "b", "options": same_label},
            ],
        }
    ]
    assert client.chat_postMessage(channel=incidents, text="x", blocks=blocks)["ok"]


def test_the_text_of_all_blocks_is_limited_together(
    fake: FakeSlack,
    client: WebClient,
    alice: str,
    incidents: str,
    bolt_http: list[dict[str, Any]],
) -> None:
    def section(size: int) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": "s" * size}}

    # Four sections, each within its own 3,000 limit, 11,000 characters in all: accepted.
    at_limit = [section(2750) for _ in range(4)]
    assert blockkit.blocks_text_length(at_limit) == blockkit.MAX_BLOCKS_TEXT == 11_000
    ts = client.chat_postMessage(channel=incidents, text="report", blocks=at_limit)["ts"]
    # Every text counts, wherever it is: here one button label tips it over.
    button = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "b",
                "text": {"type": "plain_text", "text": "Go"},
            }
        ],
    }
    over = [*at_limit, button]
    assert blockkit.blocks_text_length(over) == 11_002
    assert api_error(client.chat_postMessage, channel=incidents, text="r", blocks=over) == (
        "msg_blocks_too_long"
    )
    assert api_error(client.chat_update, channel=incidents, ts=ts, text="r", blocks=over) == (
        "msg_blocks_too_long"
    )
    assert api_error(
        client.chat_postEphemeral, channel=incidents, user=alice, text="r", blocks=over
    ) == ("msg_blocks_too_long")
    message = fake.channels[incidents].message(ts)
    assert message is not None and not message.edited
    # A response_url message is held to the same limit.
    fake.send_command(alice, incidents, text="report")
    url = bolt_http[-1]["response_url"]
    refused = WebhookClient(url).send(text="r", blocks=over)
    assert (refused.status_code, json.loads(refused.body)) == (
        400,
        {"ok": False, "error": "msg_blocks_too_long"},
    )
    assert WebhookClient(url).send(text="r", blocks=at_limit).status_code == 200


def test_known_block_properties_cover_slack_sdk_models() -> None:
    for cls in vars(sdk_blocks).values():
        kind = getattr(cls, "type", None)
        if not inspect.isclass(cls) or not isinstance(kind, str):
            continue
        # The model classes compute `attributes` from class-level data only.
        attributes: set[str] = set(getattr(cls.__new__(cls), "attributes", set()))
        if issubclass(cls, sdk_blocks.Block) and kind in blockkit.BLOCK_KEYS:
            assert set(attributes) <= blockkit.BLOCK_KEYS[kind], kind
        elif issubclass(cls, sdk_blocks.BlockElement) and kind in blockkit.ELEMENT_KEYS:
            # slack_sdk's base classes add these to elements whose Slack docs lack them.
            inherited = (
                {"alt_text", "placeholder"}
                if kind in ("checkboxes", "radio_buttons")
                else {"alt_text"}
            )
            extra = set(attributes) - blockkit.ELEMENT_KEYS[kind] - inherited
            assert not extra, (kind, extra)


def test_modal_rules_and_triggers(fake: FakeSlack, client: WebClient, alice: str) -> None:
    now = [1000.0]
    fake.clock = lambda: now[0]

    def open_error(view: dict[str, Any], trigger: str | None = None) -> tuple[str, list[str]]:
        with pytest.raises(SlackApiError) as info:
            client.views_open(trigger_id=trigger or fake.trigger_id(alice), view=view)
        meta = info.value.response.get("response_metadata", {})
        return info.value.response["error"], meta.get("messages", [])

    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    error, messages = open_error(long_title)
    assert error == "invalid_arguments"
    assert messages == ["[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"]
    no_submit = {key: value for key, value in MODAL.items() if key != "submit"}
    assert "submit is required" in open_error(no_submit)[1][0]
    bad_label = json.loads(json.dumps(MODAL))
    bad_label["blocks"][0]["label"]["type"] = "mrkdwn"
    assert "/view/blocks/0/label/type" in open_error(bad_label)[1][0]
    no_element = json.loads(json.dumps(MODAL))
    del no_element["blocks"][0]["element"]
    assert "missing required field: element" in open_error(no_element)[1][0]
    too_long_input = json.loads(json.dumps(MODAL))
    too_long_input["blocks"][0]["element"]["max_length"] = 3001
    assert open_error(too_long_input)[0] == "invalid_arguments"
    assert open_error({**MODAL, "blocks": [{"type": "divider"}] * 101})[0] == "invalid_arguments"

    expired = fake.trigger_id(alice)
    now[0] += 3.5
    assert open_error(MODAL, expired)[0] == "expired_trigger_id"
    assert open_error(MODAL, "123.456.abcdef")[0] == "invalid_trigger_id"
    trigger = fake.trigger_id(alice)
    view = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert open_error(MODAL, trigger)[0] == "exchanged_trigger_id"
    assert view["id"].startswith("V") and view["callback_id"] == "declare"
    assert fake.views[view["id"]]["user"] == alice
    assert [v["id"] for v in fake.opened_views(alice)] == [view["id"]]

    assert api_error(client.views_update, view_id=view["id"], hash="stale", view=MODAL) == (
        "hash_conflict"
    )
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)["view"]
    assert updated["hash"] != view["hash"]
    assert api_error(client.views_update, view_id="V404", view=MODAL) == "not_found"
    for _ in range(2):
        client.views_push(trigger_id=fake.trigger_id(alice), view=MODAL)
    assert api_error(client.views_push, trigger_id=fake.trigger_id(alice), view=MODAL) == (
        "push_limit_reached"
    )
    assert len(fake.view_stack(alice)) == 3


# --- fault injection and rate limits -----------------------------------------------------


def test_fault_injection(fake: FakeSlack, client: WebClient, incidents: str) -> None:
    fake.fail("chat.postMessage", error="fatal_error")
    assert api_error(client.chat_postMessage, channel=incidents, text="x") == "fatal_error"
    assert client.chat_postMessage(channel=incidents, text="x")["ok"]

    retrying = WebClient(
        token=BOT_TOKEN,
        base_url=fake.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.rate_limit("conversations.info", retry_after=1)
    started = time.monotonic()
    assert retrying.conversations_info(channel=incidents)["ok"]
    assert time.monotonic() - started >= 1.0
    first, second = fake.calls_to("conversations.info")
    assert (first.status, first.error, second.status) == (429, "ratelimited", 200)
    fake.rate_limit("conversations.info", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        client.conversations_info(channel=incidents)
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"

    fake.server_error("pins.list", status=503)
    with pytest.raises(SlackApiError) as info:
        client.pins_list(channel=incidents)
    assert info.value.response.status_code == 503
    server_retrying = WebClient(
        token=BOT_TOKEN,
        base_url=fake.api_url,
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)],
    )
    fake.server_error("pins.list", status=500)
    assert server_retrying.pins_list(channel=incidents)["ok"]

    fake.server_error("chat.postMessage", then_apply=True)
    assert api_error(client.chat_postMessage, channel=incidents, text="landed") == (
        "internal_error"
    )
    assert fake.messages(incidents)[-1].text == "landed"

    impatient = WebClient(token=BOT_TOKEN, base_url=fake.api_url, timeout=1)
    fake.delay("chat.postMessage", 1.3)
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel=incidents, text="late")
    fake.wait_for_call("chat.postMessage", where=lambda c: c.args.get("text") == "late")
    assert fake.messages(incidents)[-1].text == "late"


def test_rate_tiers(fake: FakeSlack, client: WebClient, incidents: str) -> None:
    now = [0.0]
    fake.clock = lambda: now[0]
    fake.enforce_rate_tiers(True)
    for index in range(20):
        client.conversations_create(name=f"inc-{index}")
    with pytest.raises(SlackApiError) as info:
        client.conversations_create(name="inc-20")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "60"
    now[0] += 30
    assert api_error(client.conversations_create, name="inc-20") == "ratelimited"
    now[0] += 30.5
    assert client.conversations_create(name="inc-20")["ok"]

    for _ in range(4):
        client.chat_postMessage(channel=incidents, text="burst")
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=incidents, text="too fast")
    assert info.value.response.headers["Retry-After"] == "1"
    other = fake.add_channel("other")
    assert client.chat_postMessage(channel=other, text="other channel")["ok"]
    now[0] += 1
    assert client.chat_postMessage(channel=incidents, text="later")["ok"]
    assert client.auth_test()["ok"]


def test_file_upload_v2(fake: FakeSlack, client: WebClient, incidents: str) -> None:
    upload = client.files_upload_v2(
        channel=incidents,
        content="timeline\n10:00 alert",
        filename="timeline.txt",
        title="Timeline",
        initial_comment="Postmortem timeline",
    )
    file_id = upload["file"]["id"]
    assert upload["file"]["title"] == "Timeline"
    assert fake.files[file_id].data == b"timeline\n10:00 alert"
    message = fake.messages(incidents)[-1]
    assert (message.text, message.files) == ("Postmortem timeline", [file_id])
    info = client.files_info(file=file_id)["file"]
    assert info["channels"] == [incidents] and info["size"] == len(b"timeline\n10:00 alert")
    assert api_error(client.files_info, file="F404") == "file_not_found"
    methods_called = [c.method for c in fake.calls]
    assert methods_called == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "files.info",
        "files.info",
    ]


# --- delivery to a Bolt app --------------------------------------------------------------


def make_app(fake: FakeSlack, seen: list[dict[str, Any]]) -> App:
    """A Bolt app recording what it receives; it opens MODAL on /incident."""
    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=fake.api_url),
        signing_secret=SECRET,
    )

    @app.command("/incident")
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        seen.append(body)
        ack(text=f"Declaring: {body['text']}")
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.view("declare")
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        seen.append(body)
        title = view["state"]["values"]["title"]["value"]["value"]
        if title == "bad":
            ack(response_action="errors", errors={"title": "Give a real title"})
        else:
            ack()

    @app.action("ack")
    def on_ack(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        seen.append(body)
        ack()
        respond(replace_original=True, text="Acknowledged")

    @app.action("sev")
    def on_severity(ack: Ack, body: dict[str, Any]) -> None:
        seen.append(body)
        ack()

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], context: BoltContext, say: Any) -> None:
        seen.append(event)
        say(text=f"hello <@{event['user']}>", thread_ts=event["ts"])

    @app.event("message")
    def on_message(event: dict[str, Any]) -> None:
        seen.append(event)

    @app.event("reaction_added")
    def on_reaction(event: dict[str, Any], request: BoltRequest) -> None:
        retry = request.headers.get("x-slack-retry-num", [None])[0]
        seen.append({"event": event, "retry_num": retry})

    return app


@pytest.fixture
def bolt_http(fake: FakeSlack) -> Iterator[list[dict[str, Any]]]:
    """A Bolt app served over HTTP as fake.app_url; yields what it received."""
    seen: list[dict[str, Any]] = []
    with BoltAppServer(make_app(fake, seen)) as server:
        fake.app_url = server.url
        yield seen


def test_http_delivery_is_signed_and_verified(
    fake: FakeSlack, alice: str, incidents: str, bolt_http: list[dict[str, Any]]
) -> None:
    result = fake.send_command(alice, incidents, text="db down")
    assert result.status == 200 and result.body == "Declaring: db down"
    command = bolt_http[0]
    assert (command["command"], command["user_id"], command["channel_name"]) == (
        "/incident",
        alice,
        "incidents",
    )
    assert command["response_url"].startswith(fake.base_url)
    assert fake.ephemerals[-1] == (incidents, alice, "Declaring: db down", None)
    opened = fake.wait_for_call("views.open")
    assert opened.ok and fake.view_stack(alice)[0]["id"] == opened.response["view"]["id"]

    body = b'{"type": "event_callback"}'
    signed = fake.send_raw(body, {"Content-Type": "application/json", **fake.sign(body)})
    assert signed.status == 404  # verified, but no listener matches
    tampered = fake.send_raw(body + b" ", {"Content-Type": "application/json", **fake.sign(body)})
    assert tampered.status == 401
    stale = fake.send_raw(body, {"Content-Type": "application/json", **fake.sign(body, 1)})
    assert stale.status == 401
    fake.signing_secret = "another-secret"
    assert fake.send_command(alice, incidents, text="x").status == 401
    fake.signing_secret = SECRET

    retried = fake.send_event(
        {"type": "reaction_added", "user": alice, "reaction": "eyes"},
        retry_num=1,
        event_id="Ev0RETRY",
    )
    assert retried.status == 200
    assert wait_until(lambda: bolt_http[-1].get("retry_num")) == "1"

    with pytest.raises(AssertionError, match="not a member"):
        fake.send_command(fake.add_user("carol"), incidents)


def test_view_submission_state_is_built_from_the_stored_view(
    fake: FakeSlack, alice: str, incidents: str, bolt_http: list[dict[str, Any]]
) -> None:
    fake.send_command(alice, incidents, text="x")
    view_id = fake.wait_for_call("views.open").response["view"]["id"]
    bob = fake.add_user("bob")

    for values, problem in [
        ({"nope": "x"}, "no block with block_id 'nope'"),
        ({"title": "x", "severity": "sev9"}, "'sev9' is not one of the options"),
        ({}, "the input is required"),
        ({"title": "x", "commander": "U404"}, "not a user"),
        ({"title": "x" * 81}, "0..80 characters"),
        ({"title": "x", "customers": "1.5"}, "decimals are not allowed"),
    ]:
        with pytest.raises(AssertionError, match=problem):
            fake.send_view_submission(alice, view_id, values)

    result = fake.send_view_submission(
        alice,
        view_id,
        {
            "title": "Checkout errors",
            "impact": ["customers"],
            "commander": bob,
            "responders": [alice, bob],
            "channel": incidents,
            "started": dt.date(2024, 5, 1),
            "at": dt.time(13, 5),
            "customers": 1200,
            "kind": "outage",
            "teams": ["web", "db"],
        },
    )
    assert result.status == 200
    submitted = bolt_http[-1]
    assert submitted["view"]["private_metadata"] == "origin=C1"
    values = submitted["view"]["state"]["values"]
    assert values["title"]["value"] == {"type": "plain_text_input", "value": "Checkout errors"}
    assert values["severity"]["value"] == {
        "type": "static_select",
        "selected_option": option("SEV2", "sev2"),
    }
    assert values["impact"]["value"] == {
        "type": "checkboxes",
        "selected_options": [option("*Customers*", "customers", "mrkdwn")],
    }
    assert values["commander"]["value"] == {"type": "users_select", "selected_user": bob}
    assert values["responders"]["value"]["selected_users"] == [alice, bob]
    assert values["channel"]["value"]["selected_conversation"] == incidents
    assert values["started"]["value"] == {"type": "datepicker", "selected_date": "2024-05-01"}
    assert values["at"]["value"] == {"type": "timepicker", "selected_time": "13:05"}
    assert values["customers"]["value"] == {"type": "number_input", "value": "1200"}
    assert values["kind"]["value"]["selected_option"]["value"] == "outage"
    assert [o["value"] for o in values["teams"]["value"]["selected_options"]] == ["web", "db"]
    assert fake.view_stack(alice) == []

    fake.send_command(alice, incidents, text="again")
    second = fake.wait_for_call("views.open", count=2).response["view"]["id"]
    rejected = fake.send_view_submission(alice, second, {"title": "bad"})
    assert rejected.json == {"response_action": "errors", "errors": {"title": "Give a real title"}}
    assert [v["id"] for v in fake.view_stack(alice)] == [second]
    minimal = fake.views[second]["state"]["values"]
    assert minimal["impact"]["value"] == {"type": "checkboxes", "selected_options": []}
    assert minimal["commander"]["value"] == {"type": "users_select", "selected_user": None}


def test_block_actions_and_response_url(
    fake: FakeSlack,
    client: WebClient,
    alice: str,
    incidents: str,
    bolt_http: list[dict[str, Any]],
) -> None:
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "block_id": "status",
            "text": {"type": "mrkdwn", "text": "SEV1 declared"},
            "accessory": {
                "type": "button",
                "action_id": "ack",
                "text": {"type": "plain_text", "text": "Ack"},
                "value": "INC-1",
            },
        },
        {
            "type": "actions",
            "block_id": "controls",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": "sev",
                    "options": [option("SEV1", "sev1"), option("SEV2", "sev2")],
                }
            ],
        },
    ]
    ts = client.chat_postMessage(channel=incidents, text="SEV1 declared", blocks=blocks)["ts"]

    with pytest.raises(AssertionError, match="no element with action_id"):
        fake.send_block_action(alice, "missing", channel_id=incidents, message_ts=ts)
    with pytest.raises(AssertionError, match="not one of the options"):
        fake.send_block_action(alice, "sev", "sev3", channel_id=incidents, message_ts=ts)
    assert fake.send_block_action(alice, "sev", "sev2", channel_id=incidents, message_ts=ts).ok
    chosen = bolt_http[-1]["actions"][0]
    assert chosen["selected_option"]["value"] == "sev2" and chosen["block_id"] == "controls"

    result = fake.send_block_action(alice, "ack", channel_id=incidents, message_ts=ts)
    assert result.status == 200
    payload = bolt_http[-1]
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": incidents,
        "is_ephemeral": False,
    }
    assert payload["actions"][0]["value"] == "INC-1"
    assert payload["message"]["ts"] == ts
    assert wait_until(lambda: fake.responses)
    assert fake.responses[-1].body["replace_original"] is True
    message = fake.channels[incidents].message(ts)
    assert message is not None and message.text == "Acknowledged" and message.edited


def test_user_messages_deliver_message_and_mention_events(
    fake: FakeSlack, alice: str, incidents: str, bolt_http: list[dict[str, Any]]
) -> None:
    post = fake.post_user_message(alice, incidents, f"<@{fake.bot_user_id}> status?")
    assert [d.status for d in post.deliveries] == [200, 200]
    assert wait_until(lambda: len(bolt_http) == 2)
    assert sorted(event["type"] for event in bolt_http) == ["app_mention", "message"]
    mention = next(e for e in bolt_http if e["type"] == "app_mention")
    assert mention["ts"] == post.ts and mention["channel"] == incidents
    reply = fake.wait_for_call("chat.postMessage")
    assert reply.args["thread_ts"] == post.ts
    assert fake.thread(incidents, post.ts)[0].text == f"hello <@{alice}>"

    quiet = fake.add_channel("quiet", members=[alice], bot_member=False)
    assert fake.post_user_message(alice, quiet, "nobody listens").deliveries == []


# --- people's actions as Events API events -----------------------------------------------

MESSAGE_SUBTYPES = (
    "message_changed",
    "message_deleted",
    "file_share",
    "channel_join",
    "channel_leave",
    "bot_message",
    "thread_broadcast",
    "me_message",
    "pinned_item",
)
OTHER_EVENTS = (
    "app_mention",
    "reaction_added",
    "reaction_removed",
    "pin_added",
    "pin_removed",
    "member_joined_channel",
    "member_left_channel",
)


class Received:
    """The event_callback bodies a Bolt app's listeners got, by the listener that took them."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def listener(self, name: str) -> Callable[[dict[str, Any]], None]:
        def record(body: dict[str, Any]) -> None:
            with self._lock:
                self.bodies.append((name, body))

        return record

    def events(self, name: str, count: int = 1) -> list[dict[str, Any]]:
        """The events listener `name` received, once it received `count` of them."""

        def found() -> list[dict[str, Any]]:
            with self._lock:
                return [body["event"] for taken, body in self.bodies if taken == name]

        events = wait_until(lambda: len(found()) >= count and found())
        assert events, f"listener {name!r} received nothing; got {[n for n, _ in self.bodies]}"
        return events

    def event(self, name: str) -> dict[str, Any]:
        """The one event listener `name` received."""
        return self.events(name)[-1]


@pytest.fixture
def received(fake: FakeSlack) -> Iterator[Received]:
    """A Bolt app with one listener per event type and message subtype, over HTTP."""
    got = Received()
    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=fake.api_url),
        signing_secret=SECRET,
        ignoring_self_events_enabled=False,
    )
    for subtype in MESSAGE_SUBTYPES:
        app.event({"type": "message", "subtype": subtype})(got.listener(subtype))
    app.event({"type": "message", "subtype": None})(got.listener("message"))
    for kind in OTHER_EVENTS:
        app.event(kind)(got.listener(kind))
    with BoltAppServer(app) as server:
        fake.app_url = server.url
        yield got


def test_edits_and_deletes_arrive_as_message_changed_and_deleted(
    fake: FakeSlack, client: WebClient, alice: str, incidents: str, received: Received
) -> None:
    post = fake.post_user_message(alice, incidents, "db is down", deliver=False)
    assert post.deliveries == [] and post.events[0]["text"] == "db is down"
    edit = fake.edit_user_message(alice, incidents, post.ts, "db primary is down")
    assert [d.status for d in edit.deliveries] == [200]
    changed = received.event("message_changed")
    edited_ts = changed["ts"]
    assert changed["hidden"] is True and edited_ts != post.ts
    assert (changed["channel"], changed["channel_type"], changed["event_ts"]) == (
        incidents,
        "channel",
        edited_ts,
    )
    assert changed["message"]["ts"] == post.ts
    assert changed["message"]["text"] == "db primary is down"
    assert changed["message"]["edited"] == {"user": alice, "ts": edited_ts}
    assert changed["previous_message"]["text"] == "db is down"
    assert "edited" not in changed["previous_message"]
    assert [r.text for r in post.message.revisions] == ["db is down"]
    bob = fake.add_user("bob")
    fake.join_channel(bob, incidents, deliver=False)
    with pytest.raises(AssertionError, match="only its author"):
        fake.edit_user_message(bob, incidents, post.ts, "x")

    client.pins_add(channel=incidents, timestamp=post.ts)
    deleted = fake.delete_user_message(alice, incidents, post.ts)
    assert [d.status for d in deleted.deliveries] == [200]
    gone = received.event("message_deleted")
    assert gone["hidden"] is True and gone["deleted_ts"] == post.ts and gone["ts"] != post.ts
    assert gone["previous_message"]["text"] == "db primary is down"
    assert fake.channels[incidents].message(post.ts) is None
    assert fake.channels[incidents].pins == set()

    parent = fake.post_user_message(alice, incidents, "thread", deliver=False)
    fake.post_user_message(alice, incidents, "reply", thread_ts=parent.ts, deliver=False)
    fake.delete_user_message(alice, incidents, parent.ts)
    tombstone = received.events("message_changed", 2)[-1]["message"]
    assert (tombstone["subtype"], tombstone["ts"]) == ("tombstone", parent.ts)
    bodies = [body for _, body in received.bodies]
    assert len({b["event_id"] for b in bodies}) == len(bodies) == 3
    assert all(isinstance(b["event_time"], int) for b in bodies)


def test_reactions_and_pins_arrive_in_slacks_shapes(
    fake: FakeSlack, client: WebClient, alice: str, incidents: str, received: Received
) -> None:
    bob = fake.add_user("bob")
    fake.join_channel(bob, incidents, deliver=False)
    ts = fake.post_user_message(alice, incidents, "rollback done", deliver=False).ts

    fake.add_reaction(bob, incidents, ts, ":white_check_mark:")
    added = received.event("reaction_added")
    assert added == {
        "type": "reaction_added",
        "user": bob,
        "reaction": "white_check_mark",
        "item": {"type": "message", "channel": incidents, "ts": ts},
        "item_user": alice,
        "event_ts": added["event_ts"],
    }
    history = client.conversations_history(channel=incidents)["messages"]
    assert history[0]["reactions"] == [{"name": "white_check_mark", "users": [bob], "count": 1}]
    with pytest.raises(AssertionError, match="already reacted"):
        fake.add_reaction(bob, incidents, ts, "white_check_mark")
    fake.remove_reaction(bob, incidents, ts, "white_check_mark")
    assert received.event("reaction_removed")["item"]["ts"] == ts
    assert "reactions" not in client.conversations_history(channel=incidents)["messages"][0]

    pinned = fake.pin_message(bob, incidents, ts)
    assert [e["type"] for e in pinned.events] == ["pin_added", "message"]
    pin = received.event("pin_added")
    assert (pin["user"], pin["channel_id"], pin["item_user"]) == (bob, incidents, alice)
    item = pin["item"]
    assert (item["type"], item["channel"], item["created_by"]) == ("message", incidents, bob)
    assert isinstance(item["created"], int) and pin["event_ts"]
    assert item["message"]["ts"] == ts and item["message"]["text"] == "rollback done"
    assert item["message"]["permalink"].endswith(f"/p{ts.replace('.', '')}")
    notice = received.event("pinned_item")
    assert (notice["user"], notice["item"]["ts"]) == (bob, ts)
    assert notice["text"] == f"<@{bob}> pinned a message to this channel."
    listed = client.pins_list(channel=incidents)["items"]
    assert [(i["message"]["ts"], i["created_by"]) for i in listed] == [(ts, bob)]
    with pytest.raises(AssertionError, match="already pinned"):
        fake.pin_message(alice, incidents, ts)

    fake.unpin_message(alice, incidents, ts)
    unpinned = received.event("pin_removed")
    assert (unpinned["user"], unpinned["has_pins"]) == (alice, False)
    assert unpinned["item"]["created_by"] == bob
    assert fake.channels[incidents].pins == set()


def test_files_joins_threads_and_other_bots_arrive_as_message_subtypes(
    fake: FakeSlack, alice: str, incidents: str, received: Received
) -> None:
    shared = fake.share_file(
        alice, incidents, "timeline.txt", b"10:00 alert", title="Timeline", text="notes"
    )
    share = received.event("file_share")
    assert (share["user"], share["text"], share["upload"]) == (alice, "notes", True)
    (file,) = share["files"]
    assert (file["id"], file["name"], file["title"]) == (
        shared.message.files[0],
        "timeline.txt",
        "Timeline",
    )
    assert file["mimetype"] == "text/plain" and file["permalink"]
    download = urllib.request.Request(
        file["url_private"], headers={"Authorization": f"Bearer {BOT_TOKEN}"}
    )
    with urllib.request.urlopen(download, timeout=5) as response:
        assert response.read() == b"10:00 alert"

    carol = fake.add_user("carol")
    joined = fake.join_channel(carol, incidents)
    assert [e["type"] for e in joined.events] == ["member_joined_channel", "message"]
    member = received.event("member_joined_channel")
    assert (member["user"], member["channel"], member["channel_type"]) == (carol, incidents, "C")
    join = received.event("channel_join")
    assert (join["user"], join["text"]) == (carol, f"<@{carol}> has joined the channel")
    assert join["channel"] == incidents and join["channel_type"] == "channel"

    fake.subscribed_events = {"message.channels", "app_mention"}
    left = fake.leave_channel(carol, incidents)
    assert [e.get("subtype") for e in left.events] == ["channel_leave"]
    assert received.event("channel_leave")["user"] == carol
    assert carol not in fake.channels[incidents].members

    bot_post = fake.post_bot_message(
        "deploybot",
        incidents,
        "Deployed v2",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*Deployed* v2"}}],
    )
    by_bot = received.event("bot_message")
    assert "user" not in by_bot and by_bot["username"] == "deploybot"
    assert by_bot["bot_id"] == bot_post.message.bot_id != fake.bot_id
    assert by_bot["blocks"][0]["text"]["text"] == "*Deployed* v2"

    parent = fake.post_user_message(alice, incidents, "status?", deliver=False)
    fake.post_user_message(alice, incidents, "all clear", parent.ts, reply_broadcast=True)
    broadcast = received.event("thread_broadcast")
    assert broadcast["thread_ts"] == parent.ts
    assert (broadcast["root"]["ts"], broadcast["root"]["reply_count"]) == (parent.ts, 1)
    fake.post_user_message(alice, incidents, "is investigating", subtype="me_message")
    assert received.event("me_message")["text"] == "is investigating"

    fake.subscribed_events = {"app_mention"}
    mention = fake.post_user_message(alice, incidents, f"<@{fake.bot_user_id}> hi")
    assert [e["type"] for e in mention.events] == ["app_mention"]
    assert received.event("app_mention")["ts"] == mention.ts


def test_nothing_is_delivered_from_conversations_the_bot_is_not_in(
    fake: FakeSlack, alice: str, received: Received
) -> None:
    bob = fake.add_user("bob")
    quiet = fake.add_channel("quiet", members=[alice, bob], bot_member=False)
    secret = fake.add_channel("secret", is_private=True, members=[alice, bob], bot_member=False)
    for channel in (quiet, secret):
        ts = fake.post_user_message(alice, channel, "hello").ts
        results = [
            fake.post_user_message(alice, channel, "shout", ts, reply_broadcast=True),
            fake.edit_user_message(alice, channel, ts, "hello again"),
            fake.add_reaction(bob, channel, ts, "eyes"),
            fake.remove_reaction(bob, channel, ts, "eyes"),
            fake.pin_message(bob, channel, ts),
            fake.unpin_message(bob, channel, ts),
            fake.share_file(alice, channel, "a.txt", "a"),
            fake.post_bot_message("deploybot", channel, "deployed"),
            fake.leave_channel(bob, channel),
            fake.join_channel(bob, channel, inviter=alice),
            fake.delete_user_message(alice, channel, ts),
        ]
        assert [(r.events, r.deliveries) for r in results] == [([], [])] * len(results)
    assert received.bodies == []
    with pytest.raises(AssertionError, match="not a member"):
        fake.pin_message(fake.add_user("carol"), quiet, fake.messages(quiet)[0].ts)


def test_the_bots_own_acts_are_echoed_only_when_asked(
    fake: FakeSlack, client: WebClient, incidents: str, received: Received
) -> None:
    client.chat_postMessage(channel=incidents, text="not echoed")
    assert fake.wait_for_echoes() == []

    fake.echo_bot_messages = True
    ts = client.chat_postMessage(channel=incidents, text="Incident declared")["ts"]
    client.chat_update(channel=incidents, ts=ts, text="Incident resolved")
    client.chat_delete(channel=incidents, ts=ts)
    assert [d.status for d in fake.wait_for_echoes()] == [200, 200, 200]
    own = received.event("message")
    assert (own["user"], own["bot_id"], own["ts"], own["text"]) == (
        fake.bot_user_id,
        fake.bot_id,
        ts,
        "Incident declared",
    )
    assert own["bot_profile"]["app_id"] == fake.app_id and "subtype" not in own
    changed = received.event("message_changed")
    assert changed["message"]["edited"]["user"] == fake.bot_user_id
    assert changed["previous_message"]["text"] == "Incident declared"
    assert received.event("message_deleted")["deleted_ts"] == ts

    bob = fake.add_user("bob")
    client.conversations_invite(channel=incidents, users=bob)
    assert [d.status for d in fake.wait_for_echoes()] == [200] * 5
    assert received.event("member_joined_channel")["inviter"] == fake.bot_user_id
    assert received.event("channel_join")["user"] == bob


def test_users_conversations_members_and_users_info(
    fake: FakeSlack, client: WebClient, alice: str, incidents: str
) -> None:
    visible = [incidents]
    visible += [fake.add_channel(f"ops-{n}", members=[alice]) for n in range(3)]
    visible.append(fake.add_channel("no-bot", members=[alice], bot_member=False))
    visible.append(fake.add_channel("private", is_private=True, members=[alice]))
    fake.add_channel("hidden", is_private=True, members=[alice], bot_member=False)
    archived = fake.add_channel("old", members=[alice], is_archived=True)
    fake.add_channel("elsewhere")

    def pages(call: Callable[..., Any], key: str, **args: Any) -> list[Any]:
        """Every item under `key`, following the cursor two at a time."""
        items: list[Any] = []
        cursor = ""
        while True:
            page = call(limit=2, cursor=cursor, **args)
            assert len(page[key]) <= 2
            items += page[key]
            cursor = page["response_metadata"]["next_cursor"]
            if not cursor:
                return items

    def all_pages(**args: Any) -> list[str]:
        return [c["id"] for c in pages(client.users_conversations, "channels", **args)]

    both = "public_channel,private_channel"
    assert all_pages(user=alice, types=both, exclude_archived=True) == visible
    assert archived in all_pages(user=alice, types=both)
    assert fake.channel_by_name("elsewhere") is not None
    assert len(all_pages()) == 6  # the bot's own public channels
    dm = fake.dm_channel(alice)
    assert all_pages(user=alice, types="im") == [dm]
    assert api_error(client.users_conversations, types="rooms") == "invalid_types"
    assert api_error(client.users_conversations, user="U404") == "invalid_arguments"

    for name in ("bob", "carol", "dave"):
        fake.join_channel(fake.add_user(name), incidents, deliver=False)
    members = pages(client.conversations_members, "members", channel=incidents)
    assert sorted(members) == sorted(fake.channels[incidents].members) and len(members) == 5

    info = client.users_info(user=alice)["user"]
    assert (info["tz"], info["is_bot"], info["deleted"]) == ("Europe/London", False, False)
    assert isinstance(info["tz_offset"], int)
    assert (info["profile"]["real_name"], info["profile"]["display_name"]) == ("Alice A", "alice")
    gone = fake.add_user("gone", deleted=True, display_name="Gone G")
    assert client.users_info(user=gone)["user"]["deleted"] is True
    assert client.users_info(user=gone)["user"]["profile"]["display_name"] == "Gone G"
    other = client.users_info(user=fake.add_user("pagerbot", is_bot=True))["user"]
    assert other["is_bot"] is True and other["profile"]["bot_id"].startswith("B")
    assert other["profile"]["api_app_id"] != fake.app_id


def test_usergroups_list_their_members(fake: FakeSlack, client: WebClient, alice: str) -> None:
    bob = fake.add_user("bob")
    oncall = fake.add_usergroup("oncall", members=[alice, bob, alice], name="On-call")
    assert fake.usergroups[oncall].users == [alice, bob]
    assert client.usergroups_users_list(usergroup=oncall)["users"] == [alice, bob]
    assert fake.calls[-1].encoding == "form"
    assert client.usergroups_users_list(usergroup=oncall, include_disabled=True)["ok"]
    assert api_error(client.usergroups_users_list, usergroup="S0NOSUCH") == "no_such_subteam"
    assert api_error(client.api_call, "usergroups.users.list", params={}) == "invalid_arguments"
    with pytest.raises(ValueError, match="already exists"):
        fake.add_usergroup("oncall")
    with pytest.raises(ValueError, match="unknown user"):
        fake.add_usergroup("sre", members=["U0NOBODY"])


# --- Socket Mode -------------------------------------------------------------------------


def test_socket_mode_round_trip_with_bolt(fake: FakeSlack, alice: str, incidents: str) -> None:
    seen: list[dict[str, Any]] = []
    app = make_app(fake, seen)
    handler = SocketModeHandler(
        app, APP_TOKEN, web_client=WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    )
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        assert fake.socket_connected.wait(5)
        opened = fake.calls_to("apps.connections.open")[0]
        assert opened.token == APP_TOKEN
        assert urllib.parse.urlsplit(opened.response["url"]).scheme == "ws"

        result = fake.send_command(alice, incidents, text="api slow", via="socket")
        assert (result.status, result.via, result.json) == (
            200,
            "socket",
            {"text": "Declaring: api slow"},
        )
        assert seen[0]["text"] == "api slow"
        view_id = fake.wait_for_call("views.open").response["view"]["id"]
        submitted = fake.send_view_submission(alice, view_id, {"title": "API slow"}, via="socket")
        assert submitted.status == 200 and fake.view_stack(alice) == []

        post = fake.post_user_message(alice, incidents, f"<@{fake.bot_user_id}> hi", via="socket")
        assert all(d.ok for d in post.deliveries)
        fake.wait_for_call("chat.postMessage")
        reacted = fake.add_reaction(alice, incidents, post.ts, "eyes", via="socket")
        assert [(d.via, d.ok) for d in reacted.deliveries] == [("socket", True)]
        assert wait_until(lambda: seen[-1].get("event", {}).get("reaction")) == "eyes"
        retried = fake.send_event(
            {"type": "reaction_added", "user": alice}, via="socket", retry_num=2
        )
        assert retried.ok
        assert wait_until(lambda: seen[-1].get("retry_num")) == "2"
        envelope_types = {m.get("type") for m in fake.socket_messages}
        assert envelope_types == {None}
    finally:
        handler.close()  # type: ignore[no-untyped-call]
    assert api_error(
        WebClient(token=BOT_TOKEN, base_url=fake.api_url).apps_connections_open,
        app_token="xapp-wrong",
    ) == ("invalid_auth")


def test_socket_mode_ack_timeout(fake: FakeSlack, alice: str, incidents: str) -> None:
    fake.socket_ack_timeout = 0.3
    with pytest.raises(RuntimeError, match="no Socket Mode client"):
        fake.send_command(alice, incidents, via="socket")
    from websockets.sync.client import connect

    url = WebClient(token=APP_TOKEN, base_url=fake.api_url).apps_connections_open(
        app_token=APP_TOKEN
    )["url"]
    with connect(url) as socket:
        hello = json.loads(socket.recv(timeout=2))
        assert hello["type"] == "hello" and hello["connection_info"]["app_id"] == fake.app_id
        done = threading.Event()

        def answer_late() -> None:
            envelope = json.loads(socket.recv(timeout=2))
            assert envelope["type"] == "slash_commands"
            assert envelope["accepts_response_payload"] is True
            done.set()

        worker = threading.Thread(target=answer_late)
        worker.start()
        result = fake.send_command(alice, incidents, via="socket")
        worker.join()
        assert done.is_set() and result.timed_out and result.json is None
    with pytest.raises(Exception, match="401"):
        connect(url, open_timeout=2).close()
