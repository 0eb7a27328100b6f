"""Email over SMTP: the server from `SMTP_URL`, one message with plain-text and HTML parts,
and what went wrong told apart (the login refused, the server away, recipients refused)."""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

# Short: a mail server that does not answer costs an outbound worker this long, not Slack.
TIMEOUT = 10.0
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
Security = Literal["starttls", "tls"]


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes and as whom: `smtp://` upgrades with STARTTLS when the server offers
    it, `smtps://` speaks TLS from the start. A password goes only over TLS, or to a server
    on this host (loopback), unless `plain_login` (`?starttls=optional`) allows it."""

    host: str
    port: int
    security: Security
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    plain_login: bool = False

    def describe(self) -> str:
        """The server in one line, without the password."""
        if self.security == "tls":
            how = "TLS"
        elif self.user and not self.plain_login:
            how = "STARTTLS required to log in"
        else:
            how = "STARTTLS when offered"
        who = f" as {self.user}" if self.user else " without login"
        return f"{self.host}:{self.port} ({how}){who}, from {self.sender}"


def parse_url(url: str, sender: str) -> SmtpServer:
    """The server an `SMTP_URL` names; ValueError saying what is wrong with it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(
            "must be smtp://[user:password@]host[:port] (STARTTLS when offered) or "
            "smtps://[user:password@]host[:port] (TLS)"
        )
    if not parts.hostname:
        raise ValueError("names no host (smtp://user:password@mail.example.com:587)")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("must have no path after host:port")
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.query and query != {"starttls": ["optional"]}:
        raise ValueError(
            "takes one option, ?starttls=optional (log in without encryption when the "
            "server offers no STARTTLS: only for a relay on a trusted network)"
        )
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not user:
        raise ValueError("has a password but no user")
    if query and parts.scheme == "smtps":
        raise ValueError("?starttls=optional is for smtp://; smtps:// is always encrypted")
    return SmtpServer(
        host=parts.hostname,
        port=port,
        security="tls" if parts.scheme == "smtps" else "starttls",
        sender=sender,
        user=user,
        password=password,
        plain_login=bool(query),
    )


def check_sender(value: str) -> str:
    """A valid `SMTP_FROM` (`bot@example.com` or `Incident bot <bot@example.com>`)."""
    _, address = parseaddr(value)
    if "@" not in address or any(c in value for c in "\r\n"):
        raise ValueError("must be an email address such as incidents@example.com")
    return value.strip()


def message_id(key: str, sender: str) -> str:
    """A Message-ID that is the same every time one email is sent (a resend after a crash
    is the same message to a receiver that deduplicates)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "incident-bot.invalid"
    safe = "".join(c if c.isalnum() or c in ".-_" else "-" for c in key)
    return f"<{safe}@{domain}>"


def build(
    *, sender: str, to: list[str], subject: str, text: str, html: str, msg_id: str
) -> EmailMessage:
    """One email with a plain-text part and an HTML alternative."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = " ".join(subject.split())[:250]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = msg_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class MailError(Exception):
    """Sending failed; `reason` is fit for a log line and `last_error` (no password)."""

    def __init__(self, reason: str, *, transient: bool, login: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.login = login  # the server refused the credentials: SMTP_URL needs fixing


@dataclass
class Sent:
    """What the server did with each recipient of one message."""

    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # 5xx: never going to take them
    deferred: dict[str, str] = field(default_factory=dict)  # 4xx: try them again later


def _answer(code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(said.split())}"[:300]


def _connect(server: SmtpServer) -> smtplib.SMTP:
    if server.security == "tls":
        return smtplib.SMTP_SSL(
            server.host, server.port, timeout=TIMEOUT, context=ssl.create_default_context()
        )
    return smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)


def _session(server: SmtpServer, client: smtplib.SMTP) -> None:
    client.ehlo()
    if server.security == "starttls" and client.has_extn("starttls"):
        client.starttls(context=ssl.create_default_context())
        client.ehlo()
    elif (
        server.security == "starttls"
        and server.user
        and not server.plain_login
        and not _on_this_host(client)
    ):
        raise MailError(
            f"{server.host}:{server.port} offers no STARTTLS, so the password was not "
            "sent in clear: turn STARTTLS on there, use smtps://, or add "
            "?starttls=optional to SMTP_URL for a relay on a trusted network",
            transient=True,  # kept until SMTP_URL or the server is fixed
            login=True,
        )
    if server.user:
        client.login(server.user, server.password or "")


def _on_this_host(client: smtplib.SMTP) -> bool:
    """Whether the connection is to a loopback address (nothing leaves the machine)."""
    try:
        peer = client.sock.getpeername()[0] if client.sock is not None else ""
        return ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except (OSError, ValueError):
        return False


def send(server: SmtpServer, message: EmailMessage, recipients: list[str]) -> Sent:
    """Send `message` to `recipients` (the envelope; its To header may name more).

    Raises MailError when nothing was sent: the login refused (`login`), the server away
    or busy (`transient`), or the message itself refused for good.
    """
    where = f"{server.host}:{server.port}"
    sent = Sent()
    try:
        with _connect(server) as client:
            _session(server, client)
            envelope_from = parseaddr(server.sender)[1]
            failed = client.send_message(message, from_addr=envelope_from, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"SMTP login refused by {where} for user {server.user!r} "
            f"({_answer(exc.smtp_code, exc.smtp_error)}): check SMTP_URL",
            transient=True,  # kept until the credentials are fixed: nothing is lost
            login=True,
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(
            f"{where} does not offer what SMTP_URL asks for ({exc}): check SMTP_URL",
            transient=True,
            login=True,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        for address, (code, text) in exc.recipients.items():
            target = sent.deferred if 400 <= code < 500 else sent.refused
            target[address] = _answer(code, text)
        return sent
    except smtplib.SMTPSenderRefused as exc:
        raise MailError(
            f"{where} refused the sender {exc.sender!r} ({_answer(exc.smtp_code, exc.smtp_error)})"
            ": check SMTP_FROM",
            transient=True,
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise MailError(
            f"{where} answered {_answer(exc.smtp_code, exc.smtp_error)}",
            transient=not 500 <= exc.smtp_code < 600,
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        # Connection refused, a timeout, a name that does not resolve, a TLS failure.
        raise MailError(
            f"cannot send through {where}: {exc or type(exc).__name__}", transient=True
        ) from None
    for address, (code, text) in failed.items():
        target = sent.deferred if 400 <= code < 500 else sent.refused
        target[address] = _answer(code, text)
    sent.accepted = [a for a in recipients if a not in sent.refused and a not in sent.deferred]
    return sent
