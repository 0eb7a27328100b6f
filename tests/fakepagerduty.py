"""A local PagerDuty Events API v2 endpoint (`POST /v2/enqueue`) as strict as the real one
about what it accepts, recording the events it took and able to answer 429 or 5xx."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")


def problems(event: Any) -> list[str]:
    """What is wrong with an event, in PagerDuty's words (empty: valid)."""
    if not isinstance(event, dict):
        return ["Event object is invalid"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("'routing_key' must be a 32 character string")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is missing or invalid")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not dedup or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for acknowledge and resolve events")
    payload = event.get("payload")
    if action == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or invalid")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary or len(summary) > 1024:
                errors.append("'payload.summary' is missing or longer than 1024 characters")
            if not isinstance(payload.get("source"), str) or not payload["source"]:
                errors.append("'payload.source' is missing")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' must be critical, error, warning or info")
    if payload is not None and isinstance(payload, dict):
        details = payload.get("custom_details")
        if details is not None and not isinstance(details, dict | str):
            errors.append("'payload.custom_details' must be an object")
    links = event.get("links")
    if links is not None and (
        not isinstance(links, list)
        or any(not isinstance(link, dict) or "href" not in link for link in links)
    ):
        errors.append("'links' must be a list of objects with an href")
    unknown = set(event) - {
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "links",
        "images",
        "client",
        "client_url",
    }
    if unknown:
        errors.append(f"unknown fields: {sorted(unknown)}")
    return errors


class FakePagerDuty:
    """The endpoint: `url` to POST to, `events` it accepted, `fail(status, times)`."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.rejected: list[tuple[Any, list[str]]] = []
        self.requests = 0
        self._failures: list[int] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The Events API v2 URL (`paging.events_url`)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v2/enqueue"

    def start(self) -> FakePagerDuty:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with `status` (429 or a 5xx)."""
        with self._lock:
            self._failures.extend([status] * times)

    def actions(self) -> list[tuple[str, str]]:
        """(event_action, dedup_key) of every accepted event, in order."""
        with self._lock:
            return [(e["event_action"], e["dedup_key"]) for e in self.events]

    def _answer(self, handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        with self._lock:
            self.requests += 1
            failure = self._failures.pop(0) if self._failures else None
        if handler.path != "/v2/enqueue":
            self._answer(handler, 404, {"status": "Not found"})
            return
        if failure == 429:
            self._answer(handler, 429, {"status": "throttle event", "message": "Rate limited"})
            return
        if failure is not None:
            self._answer(handler, failure, {"status": "error", "message": "Internal error"})
            return
        if handler.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            errors = ["Content-Type must be application/json"]
            self._answer(handler, 400, self._invalid(None, errors))
            return
        try:
            event = json.loads(raw)
        except ValueError:
            self._answer(handler, 400, self._invalid(raw, ["Malformed JSON"]))
            return
        errors = problems(event)
        if errors:
            self._answer(handler, 400, self._invalid(event, errors))
            return
        dedup = event.get("dedup_key") or f"generated-{len(self.events)}"
        with self._lock:
            self.events.append({**event, "dedup_key": dedup})
        self._answer(
            handler,
            202,
            {"status": "success", "message": "Event processed", "dedup_key": dedup},
        )

    def _invalid(self, event: Any, errors: list[str]) -> dict[str, Any]:
        with self._lock:
            self.rejected.append((event, errors))
        return {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
