"""A Socket Mode endpoint: hands out ws:// URLs, says hello, sends envelopes, awaits acks."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from .delivery import TIMEOUT_STATUS, Delivery

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]

PING_INTERVAL_SECONDS = 0.2


@dataclass
class _Pending:
    """An envelope waiting for its ack."""

    done: threading.Event = field(default_factory=threading.Event)
    ack: JSONDict | None = None
    raw: str = ""


class SocketModeServer:
    """Websocket server speaking Slack's Socket Mode protocol on 127.0.0.1."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.connected = threading.Event()
        self.connection_count = 0
        self.received: list[JSONDict] = []
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._pending: dict[str, _Pending] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("socket mode server is not running")
        port: int = self._server.socket.getsockname()[1]
        return port

    def start(self) -> None:
        """Listen on a random local port in a daemon thread."""
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            compression=None,
            # Frequent pings (as Slack sends) also wake slack_sdk's builtin client, whose
            # close() otherwise waits for its blocking 3-second socket read to time out.
            ping_interval=PING_INTERVAL_SECONDS,
            ping_timeout=30,
            logger=log,
        )
        # Connection handler threads inherit this thread's daemon flag.
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fakeslack-socket-mode", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close every connection and stop listening."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            for pending in self._pending.values():
                pending.done.set()
            self._connections.clear()
        self.connected.clear()

    def issue_url(self) -> str:
        """A single-use ws:// URL for apps.connections.open."""
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._tickets.add(ticket)
        query = urllib.parse.urlencode({"ticket": ticket, "app_id": self.app_id})
        return f"ws://127.0.0.1:{self.port}/link/?{query}"

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urllib.parse.urlsplit(request.path)
        ticket = urllib.parse.parse_qs(parts.query).get("ticket", [""])[0]
        with self._lock:
            valid = parts.path == "/link/" and ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            return connection.respond(401, "invalid or already used ticket\n")
        return None

    def _handle(self, connection: ServerConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            self.connection_count += 1
            count = len(self._connections)
        try:
            hello = {
                "type": "hello",
                "num_connections": count,
                "debug_info": {
                    "host": "applink-fakeslack",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
            connection.send(json.dumps(hello))
            self.connected.set()
            for raw in connection:
                self._on_message(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"))
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)
                if not self._connections:
                    self.connected.clear()

    def _on_message(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("socket mode client sent non-JSON: %r", raw[:200])
            return
        if not isinstance(message, dict):
            return
        with self._lock:
            self.received.append(message)
            pending = self._pending.get(str(message.get("envelope_id")))
        if pending is not None:
            pending.ack, pending.raw = message, raw
            pending.done.set()

    def send(self, envelope: JSONDict, timeout: float) -> Delivery:
        """Send `envelope` to the newest connection and wait up to `timeout` for its ack."""
        envelope_id = str(envelope["envelope_id"])
        pending = _Pending()
        with self._lock:
            if not self._connections:
                raise RuntimeError("no Socket Mode client is connected to the fake")
            connection = self._connections[-1]
            self._pending[envelope_id] = pending
        try:
            try:
                connection.send(json.dumps(envelope))
            except ConnectionClosed as exc:
                raise RuntimeError("the Socket Mode connection closed during delivery") from exc
            if not pending.done.wait(timeout) or pending.ack is None:
                return Delivery(
                    status=TIMEOUT_STATUS,
                    body="",
                    json=None,
                    via="socket",
                    envelope_id=envelope_id,
                    timed_out=True,
                )
            payload = pending.ack.get("payload")
            return Delivery(
                status=200,
                body=pending.raw,
                json=payload if isinstance(payload, dict) else None,
                via="socket",
                envelope_id=envelope_id,
            )
        finally:
            with self._lock:
                self._pending.pop(envelope_id, None)

    def request_reconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's `disconnect` message, asking clients to reconnect elsewhere."""
        message = json.dumps(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fakeslack"}}
        )
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.send(message)
            except ConnectionClosed:
                continue
