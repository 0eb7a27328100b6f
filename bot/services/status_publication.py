"""Publishing to the status page: an approved public update becomes published data, and
a maintenance window announced with `--public` a scheduled maintenance.

The status page reads only the `status_*` tables written here. Components listed in an
update are the whole set affected at that moment: one left out is operational again.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from bot.comms_policy import StatusPage
from bot.errors import UserError
from bot.models import (
    EVERY_SERVICE,
    AuditEntry,
    Incident,
    MaintenanceWindow,
    PublicUpdate,
    PublicUpdateState,
    StatusComponentImpact,
    StatusIncident,
    StatusIncidentUpdate,
    StatusMaintenance,
    TimelineKind,
)
from bot.render import clip
from bot.services import disclosure, status_history, timeline_entries

PAGE_OFF = "The status page is turned off (`status_page.enabled` in the policy)."
PRIVATE = "This incident is private: nothing of it goes on the status page."


def new_public_id() -> str:
    """A random public ID: it says nothing of how many incidents there were."""
    return secrets.token_hex(6)


def check_enabled(page: StatusPage) -> None:
    """Refuse anything for the status page while the policy turns it off."""
    if not page.enabled:
        raise UserError(PAGE_OFF)


def check_publishable(incident: Incident, page: StatusPage | None = None) -> None:
    """Refuse what may not go on the status page: nothing of a private incident ever does,
    and nothing at all while the page is turned off (when the caller passes the `page`)."""
    if page is not None:
        check_enabled(page)
    if not disclosure.may_publish(incident):
        raise UserError(PRIVATE)


def status_incident_of(session: Session, incident_id: int) -> StatusIncident | None:
    """The public incident an incident was published as, if it was."""
    linked = session.exec(
        select(PublicUpdate.status_incident_id)
        .where(
            PublicUpdate.incident_id == incident_id,
            col(PublicUpdate.status_incident_id).is_not(None),
        )
        .limit(1)
    ).first()
    return session.get(StatusIncident, linked) if linked is not None else None


def last_published(session: Session, incident_id: int) -> PublicUpdate | None:
    """The incident's latest published public update."""
    return session.exec(
        select(PublicUpdate)
        .where(
            PublicUpdate.incident_id == incident_id,
            PublicUpdate.state == PublicUpdateState.PUBLISHED,
        )
        .order_by(col(PublicUpdate.published_at).desc(), col(PublicUpdate.id).desc())
        .limit(1)
    ).first()


def _move_components(
    session: Session, public: StatusIncident, components: dict[str, str], now: datetime
) -> None:
    """Open, change or close the incident's component impacts to match the update."""
    assert public.id is not None
    open_rows = session.exec(
        select(StatusComponentImpact).where(
            StatusComponentImpact.status_incident_id == public.id,
            col(StatusComponentImpact.ended_at).is_(None),
        )
    ).all()
    current = {row.component: row for row in open_rows}
    for name, row in current.items():
        if components.get(name) != row.state:
            row.ended_at = now
            session.add(row)
    for name, state in components.items():
        held = current.get(name)
        if state == "operational" or (held is not None and held.state == state):
            continue
        session.add(
            StatusComponentImpact(
                component=name, state=state, status_incident_id=public.id, started_at=now
            )
        )


def publish(
    session: Session,
    *,
    incident: Incident,
    draft: PublicUpdate,
    actor: str,
    now: datetime,
    page: StatusPage | None = None,
) -> StatusIncident:
    """Publish a public update: the status page shows it from now on (refused for a
    private incident, and while the `page` is turned off).

    The caller holds the update's row (a second approval of the same update finds it
    published already and publishes nothing).
    """
    check_publishable(incident, page)
    assert incident.id is not None
    components = {str(k): str(v) for k, v in draft.components.items()}
    if draft.status == "resolved":
        components = {}
    public = status_incident_of(session, incident.id)
    impact = status_history.impact(list(components.values()))
    if public is None:
        public = StatusIncident(
            public_id=new_public_id(),
            title=draft.title,
            status=draft.status,
            impact=impact,
            started_at=now,
            updated_at=now,
        )
    else:
        public.title = draft.title
        public.status = draft.status
        public.updated_at = now
        # The worst impact it had, as Statuspage keeps it (its indicator says so until
        # it is resolved).
        public.impact = status_history.highest([public.impact, impact])
    public.resolved_at = now if draft.status == "resolved" else None
    session.add(public)
    session.flush()
    assert public.id is not None
    session.add(
        StatusIncidentUpdate(
            status_incident_id=public.id,
            status=draft.status,
            body=draft.message,
            components=dict(draft.components) if draft.status != "resolved" else {},
            published_at=now,
        )
    )
    _move_components(session, public, components, now)
    draft.state = PublicUpdateState.PUBLISHED
    draft.status_incident_id = public.id
    draft.published_at = now
    draft.updated_at = now
    session.add(draft)
    session.add(
        AuditEntry(
            incident_id=incident.id,
            at=now,
            actor_id=actor,
            field="public_update",
            old_value=None,
            new_value=f"{draft.status}: {draft.title}",
        )
    )
    timeline_entries.record(
        session,
        incident.id,
        TimelineKind.PUBLIC_UPDATE,
        now=now,
        actor=actor,
        text=f"Status page updated ({draft.status}): {draft.title}",
        data={"update_id": draft.id, "outcome": "published", "status": draft.status},
        dedupe_key=f"public-update:{draft.id}:published",
    )
    return public


def announce_maintenance(
    session: Session, window: MaintenanceWindow, page: StatusPage, *, now: datetime
) -> StatusMaintenance:
    """Announce a maintenance window on the status page: its components are those its
    services name (`StatusPage.components_for`); its reason is the public title."""
    check_enabled(page)
    services = [str(s) for s in window.services.get("services") or ()]
    chosen = page.components if EVERY_SERVICE in services else page.components_for(services)
    if not chosen:
        raise UserError(
            "None of these services is a component of the status page (see `status_page."
            "components` in the policy): the window was not scheduled."
        )
    row = StatusMaintenance(
        public_id=new_public_id(),
        title=clip(window.reason or "Scheduled maintenance", page.max_title),
        body="",
        components={"components": [c.name for c in chosen]},
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        published_at=now,
        window_id=window.id,
    )
    session.add(row)
    session.flush()
    return row


def end_maintenance(session: Session, window_id: int, now: datetime) -> None:
    """End a window's maintenance on the status page now (cancel it if still to come)."""
    rows = session.exec(
        select(StatusMaintenance).where(
            StatusMaintenance.window_id == window_id,
            col(StatusMaintenance.cancelled_at).is_(None),
            col(StatusMaintenance.ends_at) > now,
        )
    ).all()
    for row in rows:
        if row.starts_at > now:
            row.cancelled_at = now
        else:
            row.ends_at = now
        session.add(row)
