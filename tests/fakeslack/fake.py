"""FakeSlack: a local, stateful, strict Slack workspace for end-to-end tests."""

from __future__ import annotations

import copy
import email.parser
import email.policy
import json
import queue
import random
import re
import secrets
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

from . import actions, blockkit, delivery, encodings, events, methods
from .delivery import ActionResult, Delivery, Via
from .events import Pending
from .faults import CHAOS_KINDS, Chaos, ChaosKind, Fault, FaultPlan, RateBudgets
from .serialize import message_dict, view_dict
from .server import HttpReply, HttpRequest, HttpServer, Service
from .socket_mode import SocketModeServer
from .spec import method_spec
from .state import (
    Call,
    Channel,
    Ephemeral,
    FileRecord,
    Message,
    ResponseUrlPost,
    Revision,
    Trigger,
    User,
    UserGroup,
    Workspace,
)

JSONDict = dict[str, Any]
P = ParamSpec("P")

RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
_CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_-]{1,80}$")


@dataclass
class _ResponseTarget:
    """Where a response_url's messages go."""

    kind: str
    channel: str | None
    user: str
    created_at: float
    message_ts: str | None = None
    is_ephemeral: bool = False
    uses: int = 0


def _parse_multipart(content_type: str, body: bytes) -> JSONDict:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    args: JSONDict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        args[name] = data if part.get_filename() else data.decode("utf-8", "replace")
    return args


def parse_args(request: HttpRequest) -> tuple[JSONDict, str | None]:
    """A Web API call's arguments (query and body), or the error Slack gives for the body."""
    args: JSONDict = dict(urllib.parse.parse_qsl(request.query, keep_blank_values=True))
    body = request.body
    if request.method == "POST" and body:
        content_type = request.header("content-type")
        if not content_type:
            return args, "missing_post_type"
        media_type = content_type.split(";")[0].strip().lower()
        if media_type in ("application/x-www-form-urlencoded", "text/plain"):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                return args, "invalid_form_data"
            args.update(urllib.parse.parse_qsl(text, keep_blank_values=True))
        elif media_type == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                return args, "invalid_form_data"
            if not isinstance(data, dict):
                return args, "invalid_form_data"
            args.update(data)
        elif media_type == "multipart/form-data":
            args.update(_parse_multipart(content_type, body))
        else:
            return args, "invalid_post_type"
    for key in methods.JSON_ARGS:
        value = args.get(key)
        if isinstance(value, str) and value:
            try:
                args[key] = json.loads(value)
            except ValueError:
                continue
    return args, None


class FakeSlack(Service):
    """A local Slack workspace: Web API for the real WebClient, deliveries to the app."""

    def __init__(
        self,
        signing_secret: str = "s3cr3t",
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        *,
        team_id: str = "T0FAKE",
        team_domain: str = "fakeslack",
        team_name: str = "Fake Slack",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0FAKEAPP",
        bot_name: str = "incident-bot",
        system_messages: bool = True,
        http_timeout: float = 3.0,
        socket_ack_timeout: float = 5.0,
        verification_token: str = "fake-verification-token",
    ) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.verification_token = verification_token
        self.system_messages = system_messages
        self.http_timeout = http_timeout
        self.socket_ack_timeout = socket_ack_timeout
        self.app_url: str | None = None
        self.default_via: Via = "http"
        self.clock: Callable[[], float] = time.monotonic
        self.ws = Workspace(
            team_id=team_id,
            team_domain=team_domain,
            team_name=team_name,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            bot_name=bot_name,
        )
        # The app's event subscriptions (a manifest's `bot_events`, e.g. "message.channels",
        # "reaction_added"); None means every event.
        self.subscribed_events: set[str] | None = None
        # Whether the bot's own acts through the Web API (posts, edits, deletes, pins, joins)
        # come back to it as events, as Slack sends them; they are delivered in the background.
        self.echo_bot_messages = False
        self.calls: list[Call] = []
        self.responses: list[ResponseUrlPost] = []
        self.internal_errors: list[str] = []
        self._calls_changed = threading.Condition()
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()
        self._faults = FaultPlan()
        self._budgets = RateBudgets(self._now)
        self._enforce_tiers = False
        self._response_targets: dict[str, _ResponseTarget] = {}
        self._http = HttpServer(self)
        self._socket = SocketModeServer(app_id)
        self._running = False
        self._echo_queue: queue.Queue[JSONDict | None] = queue.Queue()
        self._echo_changed = threading.Condition()
        self._echo_unfinished = 0
        self._echo_deliveries: list[Delivery] = []
        self._echo_thread: threading.Thread | None = None

    def _now(self) -> float:
        """The current reading of the (replaceable) clock."""
        return self.clock()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Start the HTTP and Socket Mode servers on random local ports."""
        if not self._running:
            self._http.start()
            self._socket.start()
            self._echo_thread = threading.Thread(
                target=self._echo_worker, name="fakeslack-echo", daemon=True
            )
            self._echo_thread.start()
            self._running = True
        return self

    def stop(self) -> None:
        """Stop both servers (idempotent)."""
        if self._running:
            self._running = False
            self._echo_queue.put(None)
            if self._echo_thread is not None:
                self._echo_thread.join(timeout=self.http_timeout + 1)
            self._socket.stop()
            self._http.stop()

    @property
    def base_url(self) -> str:
        """The fake's root URL, e.g. "http://127.0.0.1:PORT"."""
        return f"http://127.0.0.1:{self._http.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL to pass as WebClient(base_url=...)."""
        return f"{self.base_url}/api/"

    @property
    def socket_connected(self) -> threading.Event:
        """Set while at least one Socket Mode client is connected."""
        return self._socket.connected

    @property
    def socket_messages(self) -> list[JSONDict]:
        """Every message Socket Mode clients sent (acks included), in order."""
        return list(self._socket.received)

    # --- identities and workspace state --------------------------------------------------

    @property
    def team_id(self) -> str:
        """The workspace ID."""
        return self.ws.team_id

    @property
    def bot_user_id(self) -> str:
        """The bot user's ID."""
        return self.ws.bot_user_id

    @property
    def bot_id(self) -> str:
        """The bot's B... ID."""
        return self.ws.bot_id

    @property
    def app_id(self) -> str:
        """The app's A... ID."""
        return self.ws.app_id

    @property
    def users(self) -> dict[str, User]:
        """Every user, bot included, by ID."""
        return self.ws.users

    @property
    def usergroups(self) -> dict[str, UserGroup]:
        """Every user group by ID."""
        return self.ws.usergroups

    @property
    def channels(self) -> dict[str, Channel]:
        """Every conversation by ID (DMs included)."""
        return self.ws.channels

    @property
    def views(self) -> dict[str, JSONDict]:
        """Every view the app opened, pushed or published, by view ID."""
        return self.ws.views

    @property
    def files(self) -> dict[str, FileRecord]:
        """Every file upload by file ID."""
        return self.ws.files

    @property
    def ephemerals(self) -> list[Ephemeral]:
        """Ephemeral messages shown to users, in order."""
        with self.ws.lock:
            return list(self.ws.ephemerals)

    @property
    def warnings(self) -> list[str]:
        """Requests Slack accepts but that are probably mistakes (e.g. a dangling thread_ts)."""
        with self.ws.lock:
            return list(self.ws.warnings)

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        is_bot: bool = False,
        tz: str = "UTC",
        email: str | None = None,
        is_admin: bool = False,
        deleted: bool = False,
        display_name: str | None = None,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        team_id: str | None = None,
    ) -> str:
        """Add a workspace member (a deactivated one, or another app's bot user) and return
        their U... ID. `display_name` defaults to `name`. A guest is `is_restricted`
        (multi-channel) or `is_ultra_restricted` (single-channel); a `team_id` other than
        the workspace's makes an external (Slack Connect) person."""
        with self.ws.lock:
            user_id = self.ws.new_id("U")
            self.ws.users[user_id] = User(
                id=user_id,
                name=name,
                real_name=real_name if real_name is not None else name,
                is_bot=is_bot,
                tz=tz,
                email=email,
                is_admin=is_admin,
                deleted=deleted,
                bot_id=self.ws.new_id("B") if is_bot else None,
                display_name=display_name,
                app_id=self.ws.new_id("A") if is_bot else None,
                is_restricted=is_restricted or is_ultra_restricted,
                is_ultra_restricted=is_ultra_restricted,
                team_id=team_id,
            )
            return user_id

    def add_usergroup(
        self, handle: str, *, members: list[str] | None = None, name: str | None = None
    ) -> str:
        """Add a user group (@`handle`, called `name`, default the handle) and return its
        S... ID."""
        with self.ws.lock:
            for member in members or []:
                if member not in self.ws.users:
                    raise ValueError(f"unknown user {member!r}")
            if any(g.handle == handle for g in self.ws.usergroups.values()):
                raise ValueError(f"a user group @{handle} already exists")
            group = UserGroup(
                id=self.ws.new_id("S"),
                handle=handle,
                name=name if name is not None else handle,
                users=list(dict.fromkeys(members or [])),
            )
            self.ws.usergroups[group.id] = group
            return group.id

    def add_channel(
        self,
        name: str,
        *,
        is_private: bool = False,
        members: list[str] | None = None,
        bot_member: bool = True,
        is_archived: bool = False,
        topic: str = "",
        purpose: str = "",
        creator: str | None = None,
    ) -> str:
        """Add a channel as it exists before the test (no join messages) and return its ID."""
        if not _CHANNEL_NAME_RE.match(name):
            raise ValueError(f"{name!r} is not a valid Slack channel name")
        with self.ws.lock:
            if self.ws.channel_by_name(name) is not None:
                raise ValueError(f"a channel named {name!r} already exists")
            for member in members or []:
                if member not in self.ws.users:
                    raise ValueError(f"unknown user {member!r}")
            channel = Channel(
                id=self.ws.new_id("C"),
                name=name,
                is_private=is_private,
                is_archived=is_archived,
                creator=creator or (members[0] if members else self.bot_user_id),
                created=int(time.time()) - 86_400,
                members=set(members or []) | ({self.bot_user_id} if bot_member else set()),
                topic=topic,
                purpose=purpose,
            )
            self.ws.channels[channel.id] = channel
            return channel.id

    def dm_channel(self, user_id: str) -> str:
        """The ID of the bot's DM with `user_id` (created on demand)."""
        with self.ws.lock:
            if user_id not in self.ws.users or user_id == self.bot_user_id:
                raise ValueError(f"unknown user {user_id!r}")
            return self.ws.dm_with(user_id).id

    def channel_by_name(self, name: str) -> Channel | None:
        """The channel called `name` (archived ones included)."""
        return self.ws.channel_by_name(name)

    def messages(self, channel_id: str, *, system: bool = True) -> list[Message]:
        """Messages of a conversation in ts order, thread replies included."""
        with self.ws.lock:
            stored = list(self.ws.channels[channel_id].messages)
        if system:
            return stored
        return [m for m in stored if m.subtype not in events.SYSTEM_SUBTYPES]

    def thread(self, channel_id: str, thread_ts: str) -> list[Message]:
        """The replies in one thread, oldest first."""
        with self.ws.lock:
            return self.ws.channels[channel_id].replies(thread_ts)

    def opened_views(self, user_id: str) -> list[JSONDict]:
        """Every modal opened or pushed for `user_id`, in order."""
        with self.ws.lock:
            return [
                v
                for v in self.ws.views.values()
                if v.get("user") == user_id and v["type"] == "modal"
            ]

    def view_stack(self, user_id: str) -> list[JSONDict]:
        """The modals currently open for `user_id`, bottom first."""
        return self.ws.open_views(user_id)

    def trigger_id(self, user_id: str | None = None) -> str:
        """Mint a trigger_id: one use, valid for three seconds of `clock`."""
        trigger = Trigger(id=delivery.new_trigger_id(), user=user_id, minted_at=self.clock())
        with self.ws.lock:
            self.ws.triggers[trigger.id] = trigger
        return trigger.id

    # --- recorded calls ------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one Web API method."""
        with self._calls_changed:
            return [c for c in self.calls if c.method == method]

    def reset_calls(self) -> None:
        """Forget the recorded Web API calls."""
        with self._calls_changed:
            self.calls.clear()

    def wait_for_call(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> Call:
        """Block until `count` calls of `method` (matching `where`) arrived; return the last."""
        deadline = time.monotonic() + timeout
        with self._calls_changed:
            while True:
                found = [
                    c for c in self.calls if c.method == method and (where is None or where(c))
                ]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(f"no {count}x {method} within {timeout}s; calls: {seen}")
                self._calls_changed.wait(remaining)

    # --- fault injection -----------------------------------------------------------------

    def fail(self, method: str, error: str = "internal_error", times: int = 1) -> None:
        """Answer the next `times` calls with 200 {"ok": false, "error": error}."""
        self._faults.add(method, Fault("fail", times, error=error))

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls with HTTP 429 and Retry-After."""
        self._faults.add(method, Fault("rate_limit", times, retry_after=retry_after))

    def server_error(
        self, method: str, status: int = 500, times: int = 1, *, then_apply: bool = False
    ) -> None:
        """Answer the next `times` calls with HTTP `status` (optionally after acting)."""
        if not 500 <= status <= 599:
            raise ValueError("status must be a 5xx code")
        self._faults.add(method, Fault("server_error", times, status=status, then_apply=then_apply))

    def delay(
        self, method: str, seconds: float, times: int = 1, *, then_apply: bool = True
    ) -> None:
        """Sleep before answering; with then_apply the call still takes effect."""
        self._faults.add(method, Fault("delay", times, seconds=seconds, then_apply=then_apply))

    def chaos(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: tuple[ChaosKind, ...] = CHAOS_KINDS,
        timeout_seconds: float = 1.5,
        methods: set[str] | None = None,
        spared: set[str] | None = None,
    ) -> None:
        """Fail each Web API call with probability `rate` (seeded, so a run can be repeated):
        a 429 with Retry-After 1 or 2 s, a 500 before or after acting, or an answer slower than
        `timeout_seconds` after acting (set the client's timeout below it). `methods` limits
        it to those methods; `spared` are never hit. `clear_faults()` stops it."""
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        self._faults.chaos(
            Chaos(
                rate=rate,
                kinds=kinds,
                rng=random.Random(seed),
                timeout_seconds=timeout_seconds,
                methods=frozenset(methods) if methods is not None else None,
                spared=frozenset(spared or ()),
            )
        )

    @property
    def chaos_log(self) -> list[tuple[str, str]]:
        """Every random fault drawn so far: (method, kind)."""
        return list(self._faults.chaos_log)

    def clear_faults(self) -> None:
        """Drop every queued fault and stop the chaos."""
        self._faults.clear()

    def enforce_rate_tiers(self, enabled: bool = True) -> None:
        """Apply Slack's per-method rate budgets (429 + Retry-After when exceeded)."""
        self._enforce_tiers = enabled
        self._budgets.reset()

    # --- HTTP routing --------------------------------------------------------------------

    def route(self, request: HttpRequest) -> HttpReply:
        """Answer one HTTP request to the fake."""
        path = request.path
        if path.startswith("/api/"):
            return self._api(request, path[len("/api/") :])
        if path.startswith("/upload/v1/") and request.method == "POST":
            return self._upload(path[len("/upload/v1/") :], request.body)
        if path.startswith("/response/") and request.method == "POST":
            return self._response_url(path[len("/response/") :], request)
        if path.startswith("/files-pri/") and request.method == "GET":
            return self._download(path, request)
        return HttpReply.text(404, "not_found")

    def _api(self, request: HttpRequest, method: str) -> HttpReply:
        with self._in_flight_changed:
            self._in_flight += 1
        try:
            return self._api_call(request, method)
        finally:
            with self._in_flight_changed:
                self._in_flight -= 1
                self._in_flight_changed.notify_all()

    def wait_quiet(self, timeout: float = 10.0) -> None:
        """Wait until no Web API call is being answered (a slow or late one has landed)."""
        deadline = time.monotonic() + timeout
        with self._in_flight_changed:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self._in_flight} Web API call(s) still running")
                self._in_flight_changed.wait(remaining)

    def _api_call(self, request: HttpRequest, method: str) -> HttpReply:
        args, parse_error = parse_args(request)
        token: str | None = None
        authorization = request.header("authorization") or ""
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        # Slack reads a token from the query or a form body, never from a JSON body.
        body_token = args.pop("token", None)
        encoding = encodings.request_encoding(request)
        if token is None and isinstance(body_token, str) and encoding != "json":
            token = body_token
        # Slack reads no JSON body for the methods slack_sdk sends as form data.
        json_refused = (
            encoding == "json" and bool(request.body.strip()) and not encodings.accepts_json(method)
        )
        reply, response = self._api_reply(method, args, token, parse_error, json_refused)
        call = Call(
            method=method,
            args=args,
            response=response,
            status=reply.status,
            at=time.monotonic(),
            http_method=request.method,
            token=token,
            encoding=encoding,
        )
        with self._calls_changed:
            self.calls.append(call)
            self._calls_changed.notify_all()
        return reply

    def _api_reply(
        self,
        method: str,
        args: JSONDict,
        token: str | None,
        parse_error: str | None,
        json_refused: bool,
    ) -> tuple[HttpReply, JSONDict]:
        fault = self._faults.take(method)
        if fault is not None:
            if fault.kind == "fail":
                body = {"ok": False, "error": fault.error}
                return HttpReply.json(200, body), body
            if fault.kind == "rate_limit":
                body = {"ok": False, "error": "ratelimited"}
                headers = {"Retry-After": str(fault.retry_after)}
                return HttpReply.json(429, body, headers), body
            if fault.kind == "delay":
                time.sleep(fault.seconds)
                if not fault.then_apply:
                    body = {"ok": False, "error": "request_timeout"}
                    return HttpReply.json(504, body), body
            if fault.kind == "server_error":
                if fault.then_apply:
                    self._execute(method, dict(args), token, parse_error, json_refused)
                error = "service_unavailable" if fault.status == 503 else "internal_error"
                body = {"ok": False, "error": error}
                return HttpReply.json(fault.status, body), body
        status, body, headers = self._execute(method, args, token, parse_error, json_refused)
        return HttpReply.json(status, body, headers), body

    def _execute(
        self,
        method: str,
        args: JSONDict,
        token: str | None,
        parse_error: str | None,
        json_refused: bool,
    ) -> tuple[int, JSONDict, dict[str, str]]:
        spec = method_spec(method)
        if spec is None or method not in methods.HANDLERS:
            with self.ws.lock:
                self.ws.warnings.append(f"call to unknown or unsimulated method {method}")
            return 404, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if parse_error is not None:
            return 200, {"ok": False, "error": parse_error}, {}
        auth_error = self._auth_error(method, token)
        if auth_error is not None:
            return 200, {"ok": False, "error": auth_error}, {}
        if self._enforce_tiers:
            channel = args.get("channel")
            retry_after = self._budgets.charge(spec, channel if isinstance(channel, str) else None)
            if retry_after is not None:
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(retry_after)},
                )
        ctx = self._context(method, args)
        with self.ws.lock:
            try:
                if json_refused:
                    raise encodings.json_body_refused(spec)
                result = methods.dispatch(ctx)
            except methods.SlackError as exc:
                if not spec.allows(exc.error):
                    self.internal_errors.append(
                        f"{method} returned {exc.error!r}, which Slack does not document for it"
                    )
                return 200, {"ok": False, "error": exc.error, **exc.extra}, {}
            except methods.Unsupported as exc:
                self.internal_errors.append(f"unsupported: {exc}")
                return 501, {"ok": False, "error": "fake_unsupported", "detail": str(exc)}, {}
            except Exception:
                self.internal_errors.append(f"{method} crashed:\n{traceback.format_exc()}")
                return 500, {"ok": False, "error": "internal_error"}, {}
            finally:
                self.ws.warnings.extend(ctx.notes)
            self._echo(ctx.events)
        return 200, {"ok": True, **result}, {}

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if method == "apps.connections.open":
            if token == self.app_token:
                return None
            return "not_allowed_token_type" if token == self.bot_token else "invalid_auth"
        if token == self.bot_token:
            return None
        return "not_allowed_token_type" if token == self.app_token else "invalid_auth"

    def _upload(self, upload_token: str, body: bytes) -> HttpReply:
        with self.ws.lock:
            record = next(
                (f for f in self.ws.files.values() if f.upload_token == upload_token), None
            )
            if record is None or record.completed:
                return HttpReply.text(404, "not_found")
            record.data = body
            if len(body) != record.length:
                self.ws.warnings.append(
                    f"upload for {record.id} sent {len(body)} bytes, announced {record.length}"
                )
        return HttpReply.text(200, f"OK - {len(body)}")

    def _download(self, path: str, request: HttpRequest) -> HttpReply:
        if request.header("authorization") != f"Bearer {self.bot_token}":
            return HttpReply.text(403, "forbidden")
        match = re.match(r"^/files-pri/[A-Z0-9]+-([A-Z0-9]+)/", path)
        with self.ws.lock:
            record = self.ws.files.get(match.group(1)) if match else None
            if record is None or record.data is None:
                return HttpReply.text(404, "not_found")
            return HttpReply(200, record.data, {"Content-Type": "application/octet-stream"})

    # --- response_url --------------------------------------------------------------------

    def _new_response_url(
        self,
        kind: str,
        channel: str | None,
        user: str,
        message_ts: str | None = None,
        *,
        is_ephemeral: bool = False,
    ) -> str:
        token = f"{self.team_id}/{secrets.token_urlsafe(18)}"
        target = _ResponseTarget(
            kind, channel, user, self.clock(), message_ts, is_ephemeral=is_ephemeral
        )
        with self.ws.lock:
            self._response_targets[token] = target
        return f"{self.base_url}/response/{token}"

    def _response_url(self, token: str, request: HttpRequest) -> HttpReply:
        url = f"{self.base_url}/response/{token}"
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            form = dict(urllib.parse.parse_qsl(request.body.decode("utf-8", "replace")))
            try:
                body = json.loads(form.get("payload", ""))
            except ValueError:
                return HttpReply.text(400, "invalid_payload")
        if not isinstance(body, dict):
            return HttpReply.text(400, "invalid_payload")
        with self.ws.lock:
            target = self._response_targets.get(token)
            if target is None:
                return HttpReply.json(404, {"ok": False, "error": "invalid_url"})
            status, error = 200, None
            if self.clock() - target.created_at > RESPONSE_URL_TTL_SECONDS:
                status, error = 404, "expired_url"
            elif target.uses >= RESPONSE_URL_MAX_USES:
                status, error = 404, "used_url"
            else:
                error = self._apply_response(target, body)
                status = 400 if error else 200
                target.uses += 1 if not error else 0
            self.responses.append(
                ResponseUrlPost(
                    url=url,
                    body=body,
                    status=status,
                    kind=target.kind,
                    channel=target.channel,
                    user=target.user,
                    at=time.monotonic(),
                )
            )
        if error:
            return HttpReply.json(status, {"ok": False, "error": error})
        return HttpReply.json(200, {"ok": True})

    def _apply_response(self, target: _ResponseTarget, body: JSONDict) -> str | None:
        """Carry out a response_url message; the error Slack would give, if any."""
        blocks = body.get("blocks")
        if blocks is not None:
            if blockkit.validate_blocks(blocks, "message"):
                return "invalid_blocks"
            if blockkit.blocks_text_length(blocks) > blockkit.MAX_BLOCKS_TEXT:
                return "msg_blocks_too_long"
            blocks = blockkit.assign_ids(blocks)
        text = body.get("text", "")
        if not isinstance(text, str):
            return "invalid_payload"
        if len(text) > blockkit.MAX_MESSAGE_TEXT:
            return "msg_too_long"
        channel = self.ws.channels.get(target.channel or "")
        if channel is None:
            return "channel_not_found"
        original = channel.message(target.message_ts) if target.message_ts else None
        if body.get("delete_original"):
            if original is not None and not target.is_ephemeral:
                self._echo([actions.remove(self.ws, channel, original, base_url=self.base_url)])
            return None
        if not text and blocks is None and not body.get("attachments"):
            return "no_text"
        if body.get("replace_original") and target.message_ts is not None:
            if target.is_ephemeral:
                self._replace_ephemeral(target, text, blocks)
            elif original is not None:
                previous = message_dict(
                    self.ws, channel, original, metadata=False, base_url=self.base_url
                )
                edit_ts = self.ws.next_ts()
                original.revisions.append(Revision(original.text, original.blocks, edit_ts))
                original.text, original.blocks = text, blocks
                original.edited = True
                original.edited_ts = edit_ts
                new = message_dict(
                    self.ws, channel, original, metadata=False, base_url=self.base_url
                )
                self._echo([events.changed_event(channel, new, previous, edit_ts)])
            return None
        if body.get("response_type") == "in_channel":
            thread_ts = body.get("thread_ts")
            message = Message(
                ts=self.ws.next_ts(),
                user=self.bot_user_id,
                text=text,
                blocks=blocks,
                bot_id=self.bot_id,
                app_id=self.app_id,
                thread_ts=thread_ts if isinstance(thread_ts, str) else None,
            )
            channel.insert(message)
            self._echo(events.posted_events(self.ws, channel, message, base_url=self.base_url))
        else:
            self._add_ephemeral(channel.id, target.user, text, blocks)
        return None

    def _add_ephemeral(
        self, channel: str, user: str, text: str, blocks: list[JSONDict] | None
    ) -> str:
        ts = self.ws.next_ts()
        self.ws.ephemerals.append(Ephemeral(channel, user, text, blocks))
        self.ws.ephemeral_ts.append(ts)
        return ts

    def _replace_ephemeral(
        self, target: _ResponseTarget, text: str, blocks: list[JSONDict] | None
    ) -> None:
        for index, ts in enumerate(self.ws.ephemeral_ts):
            if ts == target.message_ts:
                old = self.ws.ephemerals[index]
                self.ws.ephemerals[index] = Ephemeral(old.channel, old.user, text, blocks)

    # --- delivery to the app -------------------------------------------------------------

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """X-Slack-Signature and X-Slack-Request-Timestamp headers for `body`."""
        return delivery.sign(self.signing_secret, body, timestamp)

    def send_raw(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        """POST exactly `body` with `headers` to app_url (no signing)."""
        return delivery.post_http(self._app_url(), body, dict(headers), self.http_timeout)

    def _app_url(self) -> str:
        if not self.app_url:
            raise RuntimeError("set fake.app_url to the app's HTTP endpoint first")
        return self.app_url

    def _deliver(
        self,
        kind: delivery.EnvelopeType,
        payload: JSONDict,
        via: Via | None,
        *,
        accepts_response_payload: bool = False,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> Delivery:
        mode = via or self.default_via
        if mode == "socket":
            envelope = {
                "envelope_id": delivery.envelope_id(),
                "type": kind,
                "payload": payload,
                "accepts_response_payload": accepts_response_payload,
                "retry_attempt": retry_num or 0,
                "retry_reason": (retry_reason or "timeout") if retry_num else "",
            }
            return self._socket.send(envelope, self.socket_ack_timeout)
        if mode != "http":
            raise ValueError(f"via must be 'http' or 'socket', not {mode!r}")
        body, content_type = delivery.encode_http(kind, payload)
        headers = {"Content-Type": content_type, **self.sign(body)}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return delivery.post_http(self._app_url(), body, headers, self.http_timeout)

    def _user(self, user_id: str) -> User:
        user = self.ws.users.get(user_id)
        if user is None or user.deleted or user_id == self.bot_user_id:
            raise AssertionError(f"{user_id!r} is not a (human) user of the fake workspace")
        return user

    def _channel(self, channel_id: str) -> Channel:
        channel = self.ws.channels.get(channel_id)
        if channel is None:
            raise AssertionError(f"{channel_id!r} is not a conversation in the fake workspace")
        return channel

    def send_command(
        self,
        user_id: str,
        channel_id: str,
        text: str = "",
        command: str = "/incident",
        *,
        via: Via | None = None,
    ) -> Delivery:
        """Invoke a slash command as `user_id` in `channel_id` and return the app's ack."""
        with self.ws.lock:
            user = self._user(user_id)
            channel = self._channel(channel_id)
            if user_id not in channel.members:
                raise AssertionError(f"{user_id} cannot type in {channel_id}: not a member")
            if channel.is_archived:
                raise AssertionError(f"{channel_id} is archived; nobody can type in it")
            payload = delivery.command_payload(
                self.ws,
                user=user,
                channel=channel,
                command=command,
                text=text,
                response_url=self._new_response_url("command", channel_id, user_id),
                trigger_id=self.trigger_id(user_id),
                verification_token=self.verification_token,
            )
        result = self._deliver("slash_commands", payload, via, accepts_response_payload=True)
        reply = result.json
        if reply is None and isinstance(result.body, str) and result.body.strip():
            # A plain-text HTTP answer is shown to the user as an ephemeral message.
            reply = {"text": result.body} if result.via == "http" else None
        if result.ok and reply:
            with self.ws.lock:
                target = _ResponseTarget("command", channel_id, user_id, self.clock())
                error = self._apply_response(target, reply)
            if error:
                raise AssertionError(f"Slack would reject the command's ack body: {error}")
        return result

    def send_view_submission(
        self,
        user_id: str,
        view_id: str,
        values: Mapping[str, object] | None = None,
        *,
        via: Via | None = None,
    ) -> Delivery:
        """Submit the user's top-most modal with `values` ({block_id: python value})."""
        with self.ws.lock:
            user = self._user(user_id)
            view = self.ws.views.get(view_id)
            if view is None:
                raise AssertionError(f"no view {view_id!r} was opened")
            stack = self.ws.view_stacks.get(user_id, [])
            if not stack or stack[-1] != view_id:
                raise AssertionError(f"view {view_id} is not the modal on top for {user_id}")
            state_values = self._state_builder().view_state(view, values or {})
            view["state"] = {"values": state_values}
            payload = self._interaction("view_submission", user)
            payload["view"] = copy.deepcopy(view_dict(view))
            payload["response_urls"] = []
        result = self._deliver("interactive", payload, via, accepts_response_payload=True)
        if result.ok:
            with self.ws.lock:
                self._apply_view_ack(user_id, view_id, result.json or {})
        return result

    def _interaction(self, kind: str, user: User) -> JSONDict:
        """The fields every interactivity payload starts with (a fresh trigger_id included)."""
        return {
            "type": kind,
            "user": delivery.user_ref(self.ws, user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "trigger_id": self.trigger_id(user.id),
            "team": delivery.team_ref(self.ws),
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _state_builder(self) -> blockkit.StateBuilder:
        return blockkit.StateBuilder(
            user_exists=lambda u: u in self.ws.users and not self.ws.users[u].deleted,
            conversation_exists=lambda c: c in self.ws.channels,
        )

    def _apply_view_ack(self, user_id: str, view_id: str, body: JSONDict) -> None:
        """Do what Slack does with a view_submission ack (close, errors, update, push, clear)."""
        stack = self.ws.view_stacks.setdefault(user_id, [])
        action = body.get("response_action")
        view = self.ws.views[view_id]
        if action is None:
            if stack and stack[-1] == view_id:
                stack.pop()
            return
        if action == "clear":
            stack.clear()
            return
        if action == "errors":
            errors = body.get("errors")
            inputs = {b.get("block_id") for b in view["blocks"] if b.get("type") == "input"}
            if not isinstance(errors, dict) or not errors:
                raise AssertionError("response_action=errors needs a non-empty errors object")
            unknown = set(errors) - inputs
            if unknown:
                raise AssertionError(
                    f"errors name blocks that are not input blocks of the view: {sorted(unknown)}"
                )
            return
        if action not in ("update", "push"):
            raise AssertionError(f"unknown response_action {action!r}")
        new_view = body.get("view")
        problems = blockkit.validate_view(new_view)
        if not problems and isinstance(new_view, dict) and new_view.get("type") != "modal":
            problems = ["must be modal [json-pointer:/view/type]"]
        if problems:
            raise AssertionError(f"Slack would reject the response_action view: {problems}")
        assert isinstance(new_view, dict)
        ctx = self._context("views.update", {})
        if action == "update":
            methods.replace_view(ctx, view, new_view)
        else:
            if len(stack) >= methods.MAX_VIEW_STACK:
                raise AssertionError("cannot push: the modal stack already holds three views")
            methods.push_modal(ctx, new_view, user_id, view_id)

    def _context(self, method: str, args: JSONDict) -> methods.ApiContext:
        """What a handler of `method` (one the reference data describes) needs for a call."""
        spec = method_spec(method)
        assert spec is not None
        return methods.ApiContext(
            method=method,
            spec=spec,
            args=args,
            ws=self.ws,
            clock=self.clock,
            base_url=self.base_url,
            socket_url=self._socket.issue_url,
            system_messages=self.system_messages,
        )

    def send_block_action(
        self,
        user_id: str,
        action_id: str,
        value: object = None,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        via: Via | None = None,
    ) -> Delivery:
        """Use element `action_id` in a view, a message, or the newest message holding it."""
        with self.ws.lock:
            payload = self._interaction("block_actions", self._user(user_id))
            if view_id is not None:
                blocks = self._action_view(payload, user_id, view_id)
            elif channel_id is not None and message_ts is not None:
                blocks = self._action_message(payload, user_id, channel_id, message_ts)
            elif channel_id is not None:
                # The newest message holding the element, else the newest such ephemeral.
                channel = self._channel(channel_id)
                holder = next(
                    (
                        m
                        for m in reversed(channel.messages)
                        if m.blocks and blockkit.find_action(m.blocks, action_id)
                    ),
                    None,
                )
                if holder is not None:
                    blocks = self._action_message(payload, user_id, channel_id, holder.ts)
                else:
                    blocks = self._action_ephemeral(payload, user_id, channel_id, action_id)
            else:
                raise AssertionError("give view_id, channel_id + message_ts, or channel_id")
            found = blockkit.find_action(blocks, action_id)
            if found is None:
                ids = [e.get("action_id") for _, e in blockkit.iter_elements(blocks)]
                raise AssertionError(f"no element with action_id {action_id!r}; there are {ids}")
            block, element = found
            payload["actions"] = [self._action(block, element, value)]
        return self._deliver("interactive", payload, via)

    def _action_view(self, payload: JSONDict, user_id: str, view_id: str) -> list[JSONDict]:
        view = self.ws.views.get(view_id)
        if view is None:
            raise AssertionError(f"no view {view_id!r}")
        is_home = view["type"] == "home" and view.get("user") == user_id
        if not is_home and view_id not in self.ws.view_stacks.get(user_id, []):
            raise AssertionError(f"view {view_id} is not open for {user_id}")
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = copy.deepcopy(view_dict(view))
        blocks: list[JSONDict] = view["blocks"]
        return blocks

    def _action_message(
        self, payload: JSONDict, user_id: str, channel_id: str, message_ts: str
    ) -> list[JSONDict]:
        channel = self._channel(channel_id)
        if channel.is_private and user_id not in channel.members:
            raise AssertionError(f"{user_id} cannot see {channel_id}")
        message = channel.message(message_ts)
        if message is None:
            raise AssertionError(f"no message {message_ts} in {channel_id}")
        self._in_message(payload, user_id, channel, message_ts, message)
        return message.blocks or []

    def _action_ephemeral(
        self, payload: JSONDict, user_id: str, channel_id: str, action_id: str
    ) -> list[JSONDict]:
        channel = self._channel(channel_id)
        for index in range(len(self.ws.ephemerals) - 1, -1, -1):
            shown = self.ws.ephemerals[index]
            if shown.channel != channel_id or shown.user != user_id or not shown.blocks:
                continue
            if blockkit.find_action(shown.blocks, action_id) is None:
                continue
            self._in_message(payload, user_id, channel, self.ws.ephemeral_ts[index], None)
            return shown.blocks
        raise AssertionError(f"{user_id} was shown no ephemeral in {channel_id} with {action_id!r}")

    def _in_message(
        self,
        payload: JSONDict,
        user_id: str,
        channel: Channel,
        ts: str,
        message: Message | None,
    ) -> None:
        """Fill in a block action's message container (`message` None: an ephemeral one)."""
        is_ephemeral = message is None
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel.id,
            "is_ephemeral": is_ephemeral,
        }
        payload["channel"] = {"id": channel.id, "name": delivery.channel_name(channel)}
        if message is not None:
            payload["message"] = message_dict(self.ws, channel, message, metadata=True)
        payload["state"] = {"values": {}}
        payload["response_url"] = self._new_response_url(
            "block_actions", channel.id, user_id, ts, is_ephemeral=is_ephemeral
        )

    def _action(self, block: JSONDict, element: JSONDict, value: object) -> JSONDict:
        kind = element.get("type")
        where = f"action {element.get('action_id')!r}"
        action: JSONDict = {
            "type": kind,
            "action_id": element.get("action_id"),
            "block_id": block.get("block_id"),
        }
        if kind == "button":
            if value is not None and value != element.get("value"):
                raise AssertionError(
                    f"{where}: the button's value is {element.get('value')!r}, not {value!r}"
                )
            action["text"] = element.get("text")
            for key in ("value", "style", "url"):
                if key in element:
                    action[key] = element[key]
        elif kind == "workflow_button":
            raise AssertionError(f"{where}: workflow buttons start a workflow, not an action")
        else:
            if value is None:
                raise AssertionError(f"{where}: give the value the user chose for a {kind}")
            state = self._state_builder().state(element, value, where)
            action.update({k: v for k, v in state.items() if k != "type"})
            if "placeholder" in element:
                action["placeholder"] = element["placeholder"]
        action["action_ts"] = delivery.action_ts()
        return action

    def send_event(
        self,
        event: Mapping[str, Any],
        *,
        via: Via | None = None,
        retry_num: int | None = None,
        event_id: str | None = None,
        retry_reason: str | None = None,
    ) -> Delivery:
        """Deliver one Events API event wrapped in an event_callback envelope."""
        if not isinstance(event.get("type"), str):
            raise AssertionError("an event needs a type")
        body = dict(event)
        body.setdefault("event_ts", delivery.action_ts())
        envelope = delivery.event_envelope(
            self.ws,
            body,
            event_id=event_id or delivery.new_event_id(),
            verification_token=self.verification_token,
        )
        return self._deliver(
            "events_api", envelope, via, retry_num=retry_num, retry_reason=retry_reason
        )

    # --- people's actions, and the events Slack sends for them ---------------------------

    def _subscribed(self, subscription: str) -> bool:
        return self.subscribed_events is None or subscription in self.subscribed_events

    def _deliverable(self, pending: list[Pending]) -> list[JSONDict]:
        """The events the app receives: subscribed, and in conversations the bot is in."""
        chosen: list[JSONDict] = []
        with self.ws.lock:
            for item in pending:
                channel = self.ws.channels.get(item.channel)
                if channel is None or self.bot_user_id not in channel.members:
                    continue
                if self._subscribed(item.subscription):
                    chosen.append(copy.deepcopy(item.event))
        return chosen

    def _act(
        self,
        change: Callable[[], tuple[Message, list[Pending]]],
        deliver: bool,
        via: Via | None,
    ) -> ActionResult:
        """Apply `change` to the workspace, then deliver the events it causes."""
        with self.ws.lock:
            message, pending = change()
            chosen = self._deliverable(pending)
        deliveries = [self.send_event(e, via=via) for e in chosen] if deliver else []
        return ActionResult(message=message, deliveries=deliveries, events=chosen)

    def _person_act(
        self,
        deliver: bool,
        via: Via | None,
        act: Callable[Concatenate[Workspace, Channel, str, P], tuple[Message, list[Pending]]],
        user_id: str,
        channel_id: str,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> ActionResult:
        """A person's act: `act(ws, channel, user_id, *args, **kwargs)`, then its events."""

        def change() -> tuple[Message, list[Pending]]:
            self._user(user_id)
            return act(self.ws, self._channel(channel_id), user_id, *args, **kwargs)

        return self._act(change, deliver, via)

    def post_user_message(
        self,
        user_id: str,
        channel_id: str,
        text: str,
        thread_ts: str | None = None,
        *,
        reply_broadcast: bool = False,
        subtype: str | None = None,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """A person's message (`message`, plus `app_mention` when it names the bot).

        With `thread_ts` it is a reply, with `reply_broadcast=True` one also sent to the
        channel (subtype thread_broadcast); `subtype="me_message"` is a /me message.
        """
        return self._person_act(
            deliver,
            via,
            actions.post,
            user_id,
            channel_id,
            text,
            thread_ts=thread_ts,
            reply_broadcast=reply_broadcast,
            subtype=subtype,
            base_url=self.base_url,
        )

    def edit_user_message(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        new_text: str,
        *,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """The author edits a message (`message_changed`); old versions stay in `revisions`."""
        return self._person_act(
            deliver,
            via,
            actions.edit_own,
            user_id,
            channel_id,
            ts,
            new_text,
            base_url=self.base_url,
        )

    def delete_user_message(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        *,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """The author deletes a message (`message_deleted`; a thread parent with replies
        becomes a tombstone, sent as `message_changed`). It also leaves the pins."""
        return self._person_act(
            deliver, via, actions.delete_own, user_id, channel_id, ts, base_url=self.base_url
        )

    def add_reaction(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        name: str,
        *,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """A person reacts to a message with emoji `name` (`reaction_added`)."""
        return self._person_act(
            deliver, via, actions.react, user_id, channel_id, ts, name, add=True
        )

    def remove_reaction(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        name: str,
        *,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """A person takes back their reaction `name` (`reaction_removed`)."""
        return self._person_act(
            deliver, via, actions.react, user_id, channel_id, ts, name, add=False
        )

    def pin_message(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        *,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """A member pins a message: `pin_added`, and the `pinned_item` message Slack posts."""
        return self._person_act(
            deliver,
            via,
            actions.member_pin,
            user_id,
            channel_id,
            ts,
            store=self.system_messages,
            base_url=self.base_url,
        )

    def unpin_message(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        *,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """A member un-pins a message (`pin_removed`)."""
        return self._person_act(
            deliver, via, actions.member_unpin, user_id, channel_id, ts, base_url=self.base_url
        )

    def share_file(
        self,
        user_id: str,
        channel_id: str,
        name: str,
        content: bytes | str = b"",
        title: str | None = None,
        text: str = "",
        thread_ts: str | None = None,
        *,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """A person uploads a file (a `message` of subtype file_share, with `files`).

        The file's url_private serves `content` to the bot token, like Slack's.
        """
        return self._person_act(
            deliver,
            via,
            actions.share_file,
            user_id,
            channel_id,
            name,
            content.encode() if isinstance(content, str) else content,
            title=title,
            text=text,
            thread_ts=thread_ts,
            base_url=self.base_url,
        )

    def join_channel(
        self,
        user_id: str,
        channel_id: str,
        *,
        inviter: str | None = None,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """A person joins a public channel, or is added by `inviter` (needed for private
        ones): `member_joined_channel`, and the `channel_join` message."""
        return self._person_act(
            deliver,
            via,
            actions.join,
            user_id,
            channel_id,
            inviter=inviter,
            store=self.system_messages,
        )

    def leave_channel(
        self,
        user_id: str,
        channel_id: str,
        *,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """A person leaves a channel: `member_left_channel`, and the `channel_leave` message."""
        return self._person_act(
            deliver, via, actions.leave, user_id, channel_id, store=self.system_messages
        )

    def post_bot_message(
        self,
        bot_name: str,
        channel_id: str,
        text: str,
        blocks: list[JSONDict] | None = None,
        *,
        thread_ts: str | None = None,
        deliver: bool = True,
        via: Via | None = None,
    ) -> ActionResult:
        """Another app or integration posts (subtype bot_message: bot_id, username, no user)."""

        def change() -> tuple[Message, list[Pending]]:
            channel = self._channel(channel_id)
            return actions.bot_post(
                self.ws, channel, bot_name, text, copy.deepcopy(blocks), thread_ts=thread_ts
            )

        return self._act(change, deliver, via)

    # --- the bot's own acts, echoed back -------------------------------------------------

    def _echo(self, pending: list[Pending]) -> None:
        """Queue the events the bot's own API call caused, when echoing is on."""
        if not self.echo_bot_messages or not pending:
            return
        chosen = self._deliverable(pending)
        with self._echo_changed:
            self._echo_unfinished += len(chosen)
        for event in chosen:
            self._echo_queue.put(event)

    def _echo_worker(self) -> None:
        while True:
            event = self._echo_queue.get()
            if event is None:
                return
            try:
                result = self.send_event(event)
            except Exception as exc:
                with self.ws.lock:
                    self.ws.warnings.append(f"could not deliver {event.get('type')} echo: {exc}")
            else:
                with self._echo_changed:
                    self._echo_deliveries.append(result)
            finally:
                with self._echo_changed:
                    self._echo_unfinished -= 1
                    self._echo_changed.notify_all()

    @property
    def echo_deliveries(self) -> list[Delivery]:
        """The app's answers to the echoed events delivered so far, in order."""
        with self._echo_changed:
            return list(self._echo_deliveries)

    def wait_for_echoes(self, timeout: float = 5.0) -> list[Delivery]:
        """Block until every queued echo was delivered; return all echo deliveries."""
        deadline = time.monotonic() + timeout
        with self._echo_changed:
            while self._echo_unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self._echo_unfinished} echoes still undelivered")
                self._echo_changed.wait(remaining)
            return list(self._echo_deliveries)

    def request_socket_reconnect(self, reason: str = "refresh_requested") -> None:
        """Send Socket Mode clients Slack's `disconnect` message."""
        self._socket.request_reconnect(reason)
