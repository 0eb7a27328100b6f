"""The fake's HTTP server: a threading server that hands each request to a router."""

from __future__ import annotations

import json
import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self

log = logging.getLogger(__name__)


@dataclass
class HttpRequest:
    """One request as the router sees it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header value, looked up case-insensitively."""
        return self.headers.get(name.lower())


@dataclass
class HttpReply:
    """One response the router wants sent."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> HttpReply:
        """A JSON response."""
        return cls(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    @classmethod
    def text(cls, status: int, text: str) -> HttpReply:
        """A plain text response."""
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


class Router(Protocol):
    """Turns a request into a reply."""

    def route(self, request: HttpRequest) -> HttpReply:
        """Answer `request`."""
        ...


class Service(ABC):
    """Something that serves between `start()` and `stop()`, also as a `with` block."""

    @abstractmethod
    def start(self) -> Service:
        """Start serving; return self."""

    @abstractmethod
    def stop(self) -> None:
        """Stop serving (idempotent)."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = HttpRequest(
            method=self.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.router.route(request)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client went away before the answer to %s %s", self.command, path)

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Route access logs to the logging module instead of stderr."""
        log.debug(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    router: Router

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("error while serving %s", client_address, exc_info=True)


class HttpServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a random port, served from a daemon thread."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("the fake's HTTP server is not running")
        return self._server.server_address[1]

    def start(self) -> None:
        """Start serving."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.router = self._router
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = "fakeslack-http"
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
