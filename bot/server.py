"""The HTTP server: Bolt (in HTTP mode), the alert endpoints, `/healthz` and `/metrics`,
behind one WSGI app served by waitress (several worker threads)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text
from waitress.server import create_server

from bot.db import Database
from bot.web import alert_intake
from bot.web.status_page import StatusPageSite

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
MAX_BODY = 1024 * 1024


class BotWSGI:
    """Routes `POST /slack/events` to Bolt (when this process serves Slack over HTTP),
    `POST /alerts/<source>` to the alert intake, the status page's paths to it (when the
    policy has it on), and `GET /healthz` to a database check."""

    def __init__(
        self,
        app: App | None,
        db: Database,
        alerts: alert_intake.Intake | None = None,
        metrics: Callable[[], bytes] | None = None,
        status: StatusPageSite | None = None,
    ) -> None:
        self.slack = SlackRequestHandler(app) if app is not None else None
        self.db = db
        self.alerts = alerts
        self.metrics = metrics
        self.status = status

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request."""
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(alert_intake.PREFIX) and self.alerts is not None:
            return self._alerts(environ, start_response, path.removeprefix(alert_intake.PREFIX))
        if self.status is not None and self.status.handles(path):
            return self.status(environ, start_response)
        if path == EVENTS_PATH and self.slack is not None:
            if method != "POST":
                return _reply(start_response, 405, {"ok": False, "error": "use POST"})
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                return _reply(start_response, 413, {"ok": False, "error": "body too large"})
            return self._bolt(environ, start_response)
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return self._health(start_response)
        if path == METRICS_PATH and method == "GET" and self.metrics is not None:
            return self._metrics(start_response)
        return _reply(start_response, 404, {"ok": False, "error": "not found"})

    def _alerts(
        self, environ: dict[str, Any], start_response: StartResponse, name: str
    ) -> Iterable[bytes]:
        assert self.alerts is not None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = alert_intake.MAX_BODY + 1
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        stream = environ["wsgi.input"]
        try:
            reply = alert_intake.handle(
                self.alerts,
                name=name,
                method=environ.get("REQUEST_METHOD", "GET"),
                headers=headers,
                length=length,
                read=stream.read,
            )
        except Exception:
            # The database is down or busy: the sender keeps the alerts and retries.
            log.exception("alerts for %s could not be stored", name[:40])
            return _reply(start_response, 503, {"ok": False, "error": "could not store: retry"})
        return _reply(start_response, reply.status, reply.body)

    def _bolt(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert self.slack is not None
        try:
            return self.slack(environ, start_response)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            # Bolt refuses forged signatures itself; a body it cannot even parse ends here.
            log.warning("malformed request to %s", EVENTS_PATH, exc_info=True)
            return _reply(start_response, 400, {"ok": False, "error": "malformed request"})

    def _metrics(self, start_response: StartResponse) -> Iterable[bytes]:
        assert self.metrics is not None
        try:
            body = self.metrics()
        except Exception as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            return _reply(start_response, 503, {"ok": False, "database": "unreachable"})
        start_response(
            "200 OK",
            [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            with self.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check: database unreachable: %s", exc)
            return _reply(start_response, 503, {"ok": False, "database": "unreachable"})
        return _reply(start_response, 200, {"ok": True, "database": "ok"})


def _reply(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    reason = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        405: "Method Not Allowed",
        413: "Payload Too Large",
        503: "Service Unavailable",
    }[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


def make_server(
    app: App | None,
    db: Database,
    *,
    host: str,
    port: int,
    threads: int,
    alerts: alert_intake.Intake | None = None,
    metrics: Callable[[], bytes] | None = None,
    status: StatusPageSite | None = None,
) -> Any:
    """A waitress server for the bot (port 0 picks a free port: see `.effective_port`);
    without a Bolt app (Socket Mode) it serves the alert endpoints and the health check."""
    return create_server(
        BotWSGI(app, db, alerts, metrics, status),
        host=host,
        port=port,
        threads=threads,
        ident="incident-bot",
        clear_untrusted_proxy_headers=True,
        channel_timeout=30,
    )
