"""manifest.yml matches what the code registers and calls: commands, events, scopes."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import yaml

from bot.handlers import channel_events
from bot.ids import COMMAND
from bot.slack.catalog import METHODS

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = Path(__file__).resolve().parent / "fakeslack" / "data" / "methods"
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "pin_added": "pins:read",
    "pin_removed": "pins:read",
    "member_joined_channel": "channels:read",
    "member_left_channel": "channels:read",
}


def _manifest() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(data, dict)
    return data


def _code_registrations(kind: str) -> set[str]:
    """String arguments of `app.<kind>(...)` calls under bot/handlers (and COMMAND)."""
    found: set[str] = set()
    for path in (ROOT / "bot" / "handlers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == kind
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "app"
                and node.args
            ):
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
                elif isinstance(arg, ast.Name) and arg.id == "COMMAND":
                    found.add(COMMAND)
    return found


def _called_methods() -> set[str]:
    # The gateway and its parts (bot/slack/uploads.py) are the only callers of the Web API.
    source = "\n".join(path.read_text() for path in (ROOT / "bot" / "slack").glob("*.py"))
    return set(re.findall(r'self\._(?:call|pages)\(\s*"([a-zA-Z.]+)"', source))


def test_commands_match() -> None:
    features = _manifest()["features"]
    assert isinstance(features, dict)
    commands = {entry["command"] for entry in features["slash_commands"]}
    assert commands == _code_registrations("command") == {COMMAND}


def test_events_match() -> None:
    settings = _manifest()["settings"]
    assert isinstance(settings, dict)
    manifest_events = set(settings["event_subscriptions"]["bot_events"])
    code_events = _code_registrations("event") | set(channel_events.RECORDED_EVENTS)
    # A `message` listener needs the message.* subscriptions for the channel types it reads.
    if "message" in code_events:
        code_events = (code_events - {"message"}) | {"message.channels", "message.groups"}
    assert manifest_events == code_events
    assert settings["interactivity"]["is_enabled"] is True


def test_the_recorded_events_listener_matches_exactly_those_events() -> None:
    pattern = channel_events.RECORDED_EVENT_TYPES
    for event in channel_events.RECORDED_EVENTS:
        assert pattern.search(event)
    for other in ("app_mention", "messages", "xmessage", "pin_added\n", "member_joined_channel"):
        assert not pattern.search(other), other


def test_every_called_method_is_declared() -> None:
    assert _called_methods() == set(METHODS)


def test_declared_scopes_are_real_scopes_of_the_method() -> None:
    for method, spec in METHODS.items():
        reference = json.loads((REFERENCE / f"{method}.json").read_text())
        allowed = {scope["name"] for scope in reference.get("scopes", {}).get("bot", [])}
        assert set(spec.scopes) <= allowed, method
        if allowed:
            assert spec.scopes, f"{method} needs one of {sorted(allowed)}"


def test_scopes_are_exactly_what_the_code_needs() -> None:
    oauth = _manifest()["oauth_config"]
    assert isinstance(oauth, dict)
    granted = set(oauth["scopes"]["bot"])
    needed = {scope for spec in METHODS.values() for scope in (*spec.scopes, *spec.adds)}
    needed.add("commands")
    settings = _manifest()["settings"]
    assert isinstance(settings, dict)
    needed |= {EVENT_SCOPES[event] for event in settings["event_subscriptions"]["bot_events"]}
    assert granted == needed
