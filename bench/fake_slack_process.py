"""The fake Slack in a process of its own, so that benchmarks measure only the bot.

Line protocol on stdin/stdout: the first output line is JSON with the API URL, team, user
and channel; then each input line is a request and gets one JSON line back:
`trigger` (a fresh trigger_id), `triggers <n>` (n fresh ones), `settle` (wait until no Web
API call or response_url post has come for a moment), `reset` (forget recorded calls),
`declare <app_url>` (run one whole declaration through the app and return the Web API
calls it caused, once they have stopped), `channels <prefix> <n>` (add n channels named
`<prefix>-0000`… with the bot as a member and return their IDs), `reminders` (per channel,
how many messages carry the metadata event_type `incident_reminder`),
`missing <channel> <n>` (post n messages from the user into the channel without delivering
their events, as if the app had been down, and return their ts, oldest first), `calls` (the
Web API calls since the last `reset` by method, the POSTs to upload URLs as `upload POST`,
and as `history messages` how many messages the conversations.history answers held),
`opened` (each views.open call since the last `reset`: [time.monotonic() when it came, ok,
error]), `quit`.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakeslack import FakeSlack
from tests.fakeslack.server import HttpReply, HttpRequest


def _quiet(fake: FakeSlack, settle: float = 0.5, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        count = len(fake.calls) + len(fake.responses)
        if count == seen:
            return
        seen = count
        time.sleep(settle)


def _declare(fake: FakeSlack, app_url: str, user: str, channel: str) -> dict[str, int]:
    fake.app_url = app_url
    _quiet(fake)
    fake.reset_calls()
    before = len(fake.opened_views(user))
    fake.send_command(user, channel, text="declare Counted incident")
    deadline = time.monotonic() + 10
    while len(fake.opened_views(user)) <= before and time.monotonic() < deadline:
        time.sleep(0.01)
    view = fake.opened_views(user)[-1]
    fake.send_view_submission(
        user,
        view["id"],
        values={"severity": "sev2", "category": "software", "impact": "high", "urgency": "high"},
    )
    _quiet(fake)
    return dict(Counter(call.method for call in fake.calls))


def _channels(fake: FakeSlack, user: str, prefix: str, count: int) -> list[str]:
    return [
        fake.add_channel(f"{prefix}-{n:04d}", members=[user], bot_member=True) for n in range(count)
    ]


def _reminders(fake: FakeSlack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for channel in list(fake.channels):
        found = sum(
            1
            for message in fake.messages(channel, system=False)
            if (message.metadata or {}).get("event_type") == "incident_reminder"
        )
        if found:
            counts[channel] = found
    return counts


def _missing(fake: FakeSlack, user: str, channel: str, count: int) -> list[str]:
    return [
        fake.post_user_message(
            user, channel, f"said while the bot was away {n}: replica 3 lagging", deliver=False
        ).message.ts
        for n in range(count)
    ]


class _UploadCounter:
    """Counts the POSTs to upload URLs, which reach the fake outside the Web API."""

    def __init__(self, fake: FakeSlack) -> None:
        self.count = 0
        self._route = fake.route
        fake.route = self.route  # type: ignore[method-assign]

    def route(self, request: HttpRequest) -> HttpReply:
        if request.method == "POST" and request.path.startswith("/upload/"):
            self.count += 1
        return self._route(request)


def _calls(fake: FakeSlack, uploads: _UploadCounter) -> dict[str, Any]:
    calls = list(fake.calls)
    counts: dict[str, Any] = dict(Counter(call.method for call in calls))
    if uploads.count:
        counts["upload POST"] = uploads.count
    counts["history messages"] = sum(
        len(call.response.get("messages") or [])
        for call in calls
        if call.method == "conversations.history"
    )
    return counts


def main() -> None:
    secret, token = sys.argv[1], sys.argv[2]
    with FakeSlack(signing_secret=secret, bot_token=token) as fake:
        user = fake.add_user("bench")
        channel = fake.add_channel("incidents", members=[user], bot_member=True)
        info = {"api_url": fake.api_url, "team": fake.team_id, "user": user, "channel": channel}
        uploads = _UploadCounter(fake)
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            word, _, rest = line.strip().partition(" ")
            if word == "trigger":
                print(json.dumps(fake.trigger_id(user)), flush=True)
            elif word == "triggers":
                print(json.dumps([fake.trigger_id(user) for _ in range(int(rest))]), flush=True)
            elif word == "settle":
                _quiet(fake, settle=0.2)
                print("null", flush=True)
            elif word == "reset":
                fake.reset_calls()
                uploads.count = 0
                print("null", flush=True)
            elif word == "declare":
                print(json.dumps(_declare(fake, rest, user, channel)), flush=True)
            elif word == "channels":
                prefix, _, count = rest.partition(" ")
                print(json.dumps(_channels(fake, user, prefix, int(count))), flush=True)
            elif word == "reminders":
                print(json.dumps(_reminders(fake)), flush=True)
            elif word == "missing":
                target, _, count = rest.partition(" ")
                print(json.dumps(_missing(fake, user, target, int(count))), flush=True)
            elif word == "calls":
                print(json.dumps(_calls(fake, uploads)), flush=True)
            elif word == "opened":
                opened = [
                    [call.at, bool(call.response.get("ok")), call.response.get("error")]
                    for call in list(fake.calls)
                    if call.method == "views.open"
                ]
                print(json.dumps(opened), flush=True)
            else:
                print("null", flush=True)
                return


if __name__ == "__main__":
    main()
