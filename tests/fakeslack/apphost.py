"""Serve a slack_bolt App over HTTP on 127.0.0.1, as a target for the fake's deliveries."""

from __future__ import annotations

from slack_bolt import App, BoltRequest, BoltResponse

from .server import HttpReply, HttpRequest, HttpServer, Service


class BoltAppServer(Service):
    """A local HTTP endpoint (default path /slack/events) that dispatches to a Bolt App."""

    def __init__(self, app: App, path: str = "/slack/events") -> None:
        self.app = app
        self.path = path
        self._server = HttpServer(self)

    @property
    def url(self) -> str:
        """The endpoint URL to assign to FakeSlack.app_url."""
        return f"http://127.0.0.1:{self._server.port}{self.path}"

    def start(self) -> BoltAppServer:
        """Start serving."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def route(self, request: HttpRequest) -> HttpReply:
        """Hand one request to the Bolt App."""
        if request.method != "POST" or request.path != self.path:
            return HttpReply.text(404, "not found")
        bolt_request = BoltRequest(
            body=request.body.decode("utf-8"),
            query=request.query,
            headers={name: [value] for name, value in request.headers.items()},
        )
        response: BoltResponse = self.app.dispatch(bolt_request)
        headers = dict(response.first_headers_without_set_cookie())
        body = response.body.encode("utf-8") if isinstance(response.body, str) else response.body
        return HttpReply(response.status, body or b"", headers)
