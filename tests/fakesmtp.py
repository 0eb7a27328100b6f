"""A real SMTP server for the tests (aiosmtpd) that keeps what it receives, optionally
asking for a login."""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    """A TCP port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def outward_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one: where a server
    is reached as if from another host. No packet is sent to find it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only the route is looked up
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback else address


@dataclass
class Received:
    """One message as the server took it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The text/<subtype> part's decoded content."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype, subtype
        return str(body.get_content())  # type: ignore[attr-defined]


class MailServer:
    """aiosmtpd on `host`:`port` (127.0.0.1 unless told); with `login`, AUTH takes only
    (user, password), offered without STARTTLS."""

    def __init__(
        self,
        port: int | None = None,
        *,
        login: tuple[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.received: list[Received] = []
        self.logins: list[tuple[str, bool]] = []
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {}
        if login is not None:
            # AUTH offered without TLS (a test server on 127.0.0.1), so a client with
            # credentials logs in; not "required", which aiosmtpd warns about without TLS.
            kwargs.update(
                auth_require_tls=False,
                authenticator=self._authenticator(login),
            )
        self._controller = Controller(self, hostname=host, port=self.port, **kwargs)

    def _authenticator(self, login: tuple[str, str]) -> Any:
        def check(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == login[0]
                and data.password.decode() == login[1]
            )
            with self._lock:
                user = data.login.decode() if isinstance(data, LoginPassword) else "?"
                self.logins.append((user, ok))
            return AuthResult(success=ok, handled=False)

        return check

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = message_from_bytes(raw, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(
                Received(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], message)
            )
        return "250 OK"

    def url(self, user: str | None = None, password: str | None = None, query: str = "") -> str:
        """The SMTP_URL of this server (with these credentials and `?query`)."""
        login = f"{user}:{password}@" if user is not None else ""
        return f"smtp://{login}{self.host}:{self.port}" + (f"?{query}" if query else "")

    def start(self) -> MailServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
