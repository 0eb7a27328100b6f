"""Seeding the status page the way the bot does (incidents, public updates, `publish`) and
reading it over HTTP: shared by the status page's tests, its browser test, the screenshot
script and the benchmark."""

from __future__ import annotations

import http.client
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.db import Database
from bot.models import Incident, PublicUpdate, PublicUpdateState
from bot.services import status_publication

COMPONENTS: list[dict[str, Any]] = [
    {"name": "Website", "services": ["web", "frontend"]},
    {"name": "Checkout", "group": "Payments", "services": ["checkout"]},
    {"name": "Card payments", "group": "Payments", "services": ["payments", "cards"]},
    {"name": "API", "group": "Platform", "description": "The public REST API"},
    {"name": "Webhooks", "group": "Platform", "services": ["webhooks"]},
]


def status_policy_block(**overrides: Any) -> dict[str, Any]:
    """A `status_page:` block with grouped components."""
    block: dict[str, Any] = {
        "title": "Example status",
        "description": "Live status of Example's services",
        "components": COMPONENTS,
    }
    block.update(overrides)
    return block


def add_incident(
    db: Database, *, now: datetime, title: str = "Checkout is failing", private: bool = False
) -> int:
    """An incident row as declaring makes one (without Slack)."""
    with db.session() as session:
        row = Incident(
            title=title,
            severity="sev2",
            category="software",
            impact="high",
            urgency="medium",
            reference=f"INC-T-{uuid.uuid4().hex[:10]}",
            priority="P2",
            reporter_id="U0ALICE",
            declared_at=now,
            updated_at=now,
            is_private=private,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def draft(
    db: Database,
    incident_id: int,
    *,
    now: datetime,
    status: str = "investigating",
    title: str = "Checkout errors",
    message: str = "We are investigating.",
    components: dict[str, str] | None = None,
) -> int:
    """A public update waiting for approval (an unapproved draft)."""
    with db.session() as session:
        row = PublicUpdate(
            incident_id=incident_id,
            state=PublicUpdateState.PENDING,
            status=status,
            title=title,
            message=message,
            components=components if components is not None else {},
            author_id="U0ALICE",
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def publish(db: Database, incident_id: int, *, now: datetime, **fields: Any) -> str:
    """Write a public update (`draft`'s fields) and approve it; returns the public
    incident's ID."""
    update_id = draft(db, incident_id, now=now, **fields)
    with db.session() as session:
        incident = session.get(Incident, incident_id)
        row = session.get(PublicUpdate, update_id)
        assert incident is not None and row is not None
        public = status_publication.publish(
            session, incident=incident, draft=row, actor="U0BOB", now=now
        )
        return public.public_id


@dataclass
class Response:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode()


def get(
    port: int, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> Response:
    """One request to the bot's HTTP server (the path is sent as given)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            connection.putheader(key, value)
        connection.endheaders()
        answer = connection.getresponse()
        body = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, body)
    finally:
        connection.close()


@dataclass(frozen=True)
class Demo:
    """What `seed_demo` published, and what it kept off the page."""

    open_incident: str  # its public ID
    open_title: str
    approved_update: str
    draft_message: str
    private_title: str


def seed_demo(db: Database, now: datetime) -> Demo:
    """A realistic page: history over the past weeks, one resolved incident this week, one
    open incident with two updates, an unapproved draft and a private incident."""
    # History: a few incidents over the past 90 days.
    past = [
        (80, "API", "partial_outage", 95, "Elevated API error rates"),
        (61, "Checkout", "major_outage", 38, "Checkout unavailable"),
        (44, "Webhooks", "degraded_performance", 240, "Delayed webhook deliveries"),
        (23, "Card payments", "partial_outage", 70, "Some card payments declined"),
        (3, "Website", "degraded_performance", 50, "Slow page loads"),
    ]
    for days_ago, component, state, minutes, title in past:
        start = now - timedelta(days=days_ago, hours=2)
        incident = add_incident(db, now=start, title=title)
        publish(
            db,
            incident,
            now=start,
            title=title,
            message=f"We are investigating reports of problems with {component}.",
            components={component: state},
        )
        publish(
            db,
            incident,
            now=start + timedelta(minutes=minutes),
            status="resolved",
            title=title,
            message=f"This incident has been resolved: {component} is working normally again.",
        )
    open_title = "Card payments failing for some customers"
    incident = add_incident(db, now=now - timedelta(minutes=50), title=open_title)
    public_id = publish(
        db,
        incident,
        now=now - timedelta(minutes=45),
        title=open_title,
        message="We are investigating reports of failed card payments at checkout.",
        components={"Card payments": "major_outage", "Checkout": "degraded_performance"},
    )
    approved = (
        "We have identified a problem with our card network provider and are working "
        "with them on a fix. Payments by bank transfer are not affected."
    )
    publish(
        db,
        incident,
        now=now - timedelta(minutes=12),
        status="identified",
        title=open_title,
        message=approved,
        components={"Card payments": "partial_outage", "Checkout": "degraded_performance"},
    )
    draft_message = "DRAFT not approved: the fix is rolling out"
    draft(db, incident, now=now, status="monitoring", title=open_title, message=draft_message)
    private_title = "Private: suspicious logins on admin accounts"
    secret = add_incident(db, now=now - timedelta(minutes=5), title=private_title, private=True)
    draft(db, secret, now=now, title=private_title, message="internal only")
    return Demo(public_id, open_title, approved, draft_message, private_title)
