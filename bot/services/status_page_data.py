"""What the public status page shows, read from published data only.

Everything here comes from the policy's `status_page:` block and the `status_*` tables
(what was published for everyone): never from incident rows, so no internal field can
reach the page, its JSON or its feed. One query per table, whatever the number of
components or past incidents.

Each component's 90-day history and uptime come from `status_history` (Statuspage's way:
a major outage counts fully, a partial outage at 30 %); `status_page_changes` tells the
page when something was published.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, or_, select

from bot.comms_policy import STATE_LABELS, StatusPage
from bot.models import (
    StatusComponentImpact,
    StatusIncident,
    StatusIncidentUpdate,
    StatusMaintenance,
)
from bot.render import clip
from bot.services import status_history
from bot.services.status_history import LEVELS, RANK, Day, highest, worst

PAST_DAYS = 7  # resolved incidents shown under "Past incidents"
FEED_ENTRIES = 50
# Statuspage's overall indicator (the highest level of a component or an open incident).
INDICATOR_TEXT = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}

# --- the read model ---------------------------------------------------------------------------


def stable_id(*parts: str) -> str:
    """A short ID derived from names: the same on every replica and every render."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def update_id(incident_public_id: str, published_at: datetime) -> str:
    """A published update's public ID: from its incident's random ID and its time, never
    its row ID (hashes of 1…N would tell how many updates were ever published)."""
    return stable_id("update", incident_public_id, published_at.isoformat())


@dataclass(frozen=True)
class ComponentStatus:
    """A component, its current state and its history."""

    id: str
    name: str
    description: str | None
    group: str | None
    group_id: str | None
    position: int
    state: str
    updated_at: datetime | None
    days: list[Day]
    uptime: float  # percent over the history
    outage_days: int  # days with a partial or major outage

    @property
    def state_label(self) -> str:
        """The state in words."""
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class Group:
    """A top-level entry of the page: a named group of components, or one component alone
    (`name` None)."""

    id: str | None
    name: str | None
    position: int
    components: list[ComponentStatus]

    @property
    def state(self) -> str:
        """The worst state of its components."""
        return worst([c.state for c in self.components])


@dataclass(frozen=True)
class Update:
    """A published update of a public incident."""

    id: str
    status: str
    body: str
    components: dict[str, str]
    previous: dict[str, str]  # the components' states before this update
    published_at: datetime


@dataclass(frozen=True)
class PublicIncident:
    """A public incident with its updates, newest first."""

    id: str
    title: str
    status: str
    impact: str
    started_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    updates: list[Update]

    @property
    def monitoring_at(self) -> datetime | None:
        """When it first went to monitoring."""
        times = [u.published_at for u in self.updates if u.status == "monitoring"]
        return min(times) if times else None

    @property
    def component_names(self) -> list[str]:
        """The components any of its updates named, in first-named order."""
        names: dict[str, None] = {}
        for update in reversed(self.updates):
            names.update(dict.fromkeys(update.components))
        return list(names)


@dataclass(frozen=True)
class Maintenance:
    """Scheduled maintenance still to come or in progress."""

    id: str
    title: str
    body: str
    components: list[str]
    starts_at: datetime
    ends_at: datetime
    published_at: datetime
    in_progress: bool


@dataclass(frozen=True)
class Snapshot:
    """Everything the page, its JSON and its feed show, at one moment."""

    page: StatusPage
    now: datetime
    first_day: date
    groups: list[Group]
    incidents: list[PublicIncident]  # open, newest first
    past: list[PublicIncident]  # resolved in the last PAST_DAYS days, newest first
    maintenances: list[Maintenance]
    indicator: str
    updated_at: datetime | None
    components: list[ComponentStatus] = field(default_factory=list)

    @property
    def description(self) -> str:
        """The overall status in words."""
        return INDICATOR_TEXT[self.indicator]


def _cut_title(page: StatusPage, text: str) -> str:
    return clip(text.strip(), page.max_title)


def _cut_message(page: StatusPage, text: str) -> str:
    return clip(text.strip(), page.max_message)


def load(session: Session, page: StatusPage, now: datetime) -> Snapshot:
    """Read the page's data as it stands at `now`."""
    first_day = now.date() - timedelta(days=page.history_days - 1)
    first = datetime.combine(first_day, time(), UTC)
    past_from = now - timedelta(days=PAST_DAYS)
    names = {c.name.casefold(): c.name for c in page.components}

    # Columns, not ORM rows: a busy history holds thousands of them.
    impacts = session.exec(
        select(
            StatusComponentImpact.component,
            StatusComponentImpact.state,
            StatusComponentImpact.started_at,
            StatusComponentImpact.ended_at,
        ).where(
            col(StatusComponentImpact.started_at) <= now,
            or_(
                col(StatusComponentImpact.ended_at).is_(None),
                col(StatusComponentImpact.ended_at) > first,
            ),
        )
    ).all()
    maintenance_rows = session.exec(
        select(StatusMaintenance).where(
            col(StatusMaintenance.cancelled_at).is_(None),
            col(StatusMaintenance.ends_at) > first,
        )
    ).all()
    incident_rows = session.exec(
        select(StatusIncident)
        .where(
            or_(
                col(StatusIncident.resolved_at).is_(None),
                col(StatusIncident.resolved_at) >= past_from,
            )
        )
        .order_by(col(StatusIncident.started_at).desc(), col(StatusIncident.id).desc())
    ).all()
    incident_ids = [row.id for row in incident_rows if row.id is not None]
    update_rows = (
        session.exec(
            select(StatusIncidentUpdate)
            .where(col(StatusIncidentUpdate.status_incident_id).in_(incident_ids))
            .order_by(col(StatusIncidentUpdate.published_at), col(StatusIncidentUpdate.id))
        ).all()
        if incident_ids
        else []
    )

    # The history: impact stretches and maintenance per component (by the policy's name).
    intervals: dict[str, list[tuple[datetime, datetime, str]]] = {n: [] for n in names.values()}
    current: dict[str, list[str]] = {n: [] for n in names.values()}
    changed: dict[str, datetime] = {}
    stamps: list[datetime] = []
    for component, state, started_at, ended_at in impacts:
        name = names.get(component.casefold())
        if name is None:
            continue
        if state in RANK:
            intervals[name].append((max(started_at, first), min(ended_at or now, now), state))
        if ended_at is None:
            current[name].append(state)
        last = ended_at or started_at
        changed[name] = max(changed.get(name, last), last)
        stamps.append(last)
    maintenances: list[Maintenance] = []
    for mrow in maintenance_rows:
        covered = [
            names[str(n).casefold()]
            for n in (mrow.components or {}).get("components") or []
            if str(n).casefold() in names
        ]
        stamps.append(mrow.published_at)
        if mrow.starts_at < now:
            for name in covered:
                intervals[name].append(
                    (max(mrow.starts_at, first), min(mrow.ends_at, now), "under_maintenance")
                )
        if mrow.starts_at <= now < mrow.ends_at:
            for name in covered:
                current[name].append("under_maintenance")
                changed[name] = max(changed.get(name, mrow.starts_at), mrow.starts_at)
        if mrow.ends_at > now:
            maintenances.append(
                Maintenance(
                    id=mrow.public_id,
                    title=_cut_title(page, mrow.title),
                    body=_cut_message(page, mrow.body),
                    components=covered,
                    starts_at=mrow.starts_at,
                    ends_at=mrow.ends_at,
                    published_at=mrow.published_at,
                    in_progress=mrow.starts_at <= now,
                )
            )
    maintenances.sort(key=lambda m: (m.starts_at, m.id))

    calendar = status_history.calendar_of(first, now, page.history_days)
    components: list[ComponentStatus] = []
    groups: dict[str | None, Group] = {}
    entries: list[Group] = []
    for position, spec in enumerate(page.components, start=1):
        days, uptime, outage_days = status_history.history(
            intervals[spec.name], first, now, calendar
        )
        group_id = stable_id("group", spec.group.casefold()) if spec.group else None
        status = ComponentStatus(
            id=stable_id("component", spec.name.casefold()),
            name=spec.name,
            description=spec.description,
            group=spec.group,
            group_id=group_id,
            position=position,
            state=worst(current[spec.name]),
            updated_at=changed.get(spec.name),
            days=days,
            uptime=uptime,
            outage_days=outage_days,
        )
        components.append(status)
        if spec.group is None:
            entries.append(Group(None, None, len(entries) + 1, [status]))
            continue
        held = groups.get(spec.group.casefold())
        if held is None:
            held = Group(group_id, spec.group, len(entries) + 1, [])
            groups[spec.group.casefold()] = held
            entries.append(held)
        held.components.append(status)

    # Updates per incident, each with the components' states before it.
    updates: dict[int, list[Update]] = {}
    public_ids = {row.id: row.public_id for row in incident_rows}
    for urow in update_rows:
        chain = updates.setdefault(urow.status_incident_id, [])
        before = chain[0].components if chain else {}
        chain.insert(
            0,
            Update(
                id=update_id(public_ids[urow.status_incident_id], urow.published_at),
                status=urow.status,
                body=_cut_message(page, urow.body),
                components={str(k): str(v) for k, v in (urow.components or {}).items()},
                previous=dict(before),
                published_at=urow.published_at,
            ),
        )
    open_incidents: list[PublicIncident] = []
    past: list[PublicIncident] = []
    for irow in incident_rows:
        stamps.append(irow.updated_at)
        public = PublicIncident(
            id=irow.public_id,
            title=_cut_title(page, irow.title),
            status=irow.status,
            impact=irow.impact,
            started_at=irow.started_at,
            updated_at=irow.updated_at,
            resolved_at=irow.resolved_at,
            updates=updates.get(irow.id or 0, []),
        )
        (open_incidents if irow.resolved_at is None else past).append(public)
    past.sort(key=lambda i: (i.resolved_at or now, i.id), reverse=True)

    indicator = highest([LEVELS[c.state] for c in components] + [i.impact for i in open_incidents])
    return Snapshot(
        page=page,
        now=now,
        first_day=first_day,
        groups=entries,
        incidents=open_incidents,
        past=past,
        maintenances=maintenances,
        indicator=indicator,
        updated_at=max(stamps) if stamps else None,
        components=components,
    )


@dataclass(frozen=True)
class FeedEntry:
    """One published update in the Atom feed."""

    id: str
    incident_id: str
    incident_title: str
    status: str
    body: str
    published_at: datetime


def feed(session: Session, page: StatusPage, limit: int = FEED_ENTRIES) -> list[FeedEntry]:
    """The latest published updates, newest first."""
    rows = session.exec(
        select(StatusIncidentUpdate, StatusIncident)
        .join(StatusIncident, col(StatusIncident.id) == StatusIncidentUpdate.status_incident_id)
        .order_by(
            col(StatusIncidentUpdate.published_at).desc(), col(StatusIncidentUpdate.id).desc()
        )
        .limit(limit)
    ).all()
    return [
        FeedEntry(
            id=update_id(incident.public_id, update.published_at),
            incident_id=incident.public_id,
            incident_title=_cut_title(page, incident.title),
            status=update.status,
            body=_cut_message(page, update.body),
            published_at=update.published_at,
        )
        for update, incident in rows
    ]
