"""`<path>.json`: the status page in the shape of Atlassian Statuspage's public
`api/v2/summary.json`, so existing status aggregators and widgets can read it.

Groups are components with `group: true` and the IDs of their members; IDs are derived
from names, so they are the same on every replica and after a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.services import status_page_data
from bot.services.status_page_data import ComponentStatus, PublicIncident, Snapshot


def iso(moment: datetime | None) -> str | None:
    """Statuspage's timestamp form: UTC with milliseconds and `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def summary(snap: Snapshot, links: dict[str, str]) -> dict[str, Any]:
    """The page as Statuspage's public `api/v2/summary.json` has it."""
    page_id = status_page_data.stable_id("page", snap.page.path)
    updated = iso(snap.updated_at or snap.now)
    start = snap.first_day.isoformat()
    created = iso(datetime.combine(snap.first_day, datetime.min.time(), UTC))
    by_name = {c.name: c for c in snap.components}

    def component(c: ComponentStatus) -> dict[str, Any]:
        return {
            "id": c.id,
            "name": c.name,
            "status": c.state,
            "created_at": created,
            "updated_at": iso(c.updated_at) or created,
            "position": c.position,
            "description": c.description,
            "showcase": True,
            "start_date": start,
            "group_id": c.group_id,
            "page_id": page_id,
            "group": False,
            "only_show_if_degraded": False,
        }

    components: list[dict[str, Any]] = []
    for entry in snap.groups:
        if entry.name is not None:
            components.append(
                {
                    "id": entry.id,
                    "name": entry.name,
                    "status": entry.state,
                    "created_at": created,
                    "updated_at": max(
                        (x for x in (iso(c.updated_at) for c in entry.components) if x),
                        default=created,
                    ),
                    "position": len(components) + 1,
                    "description": None,
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": page_id,
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": [c.id for c in entry.components],
                }
            )
        for c in entry.components:
            components.append({**component(c), "position": len(components) + 1})

    def shortlink(kind: str, public_id: str) -> str:
        return f"{links['html']}#{kind}-{public_id}"

    def incident(i: PublicIncident) -> dict[str, Any]:
        return {
            "id": i.id,
            "name": i.title,
            "status": i.status,
            "created_at": iso(i.started_at),
            "updated_at": iso(i.updated_at),
            "monitoring_at": iso(i.monitoring_at),
            "resolved_at": iso(i.resolved_at),
            "impact": i.impact,
            "shortlink": shortlink("incident", i.id),
            "started_at": iso(i.started_at),
            "page_id": page_id,
            "incident_updates": [
                {
                    "id": u.id,
                    "status": u.status,
                    "body": u.body,
                    "incident_id": i.id,
                    "created_at": iso(u.published_at),
                    "updated_at": iso(u.published_at),
                    "display_at": iso(u.published_at),
                    "affected_components": [
                        {
                            "code": by_name[name].id,
                            "name": name,
                            "old_status": u.previous.get(name, "operational"),
                            "new_status": state,
                        }
                        for name, state in u.components.items()
                        if name in by_name
                    ],
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
                for u in i.updates
            ],
            "components": [component(by_name[n]) for n in i.component_names if n in by_name],
        }

    maintenances = [
        {
            "id": m.id,
            "name": m.title,
            "status": "in_progress" if m.in_progress else "scheduled",
            "created_at": iso(m.published_at),
            "updated_at": iso(m.published_at),
            "monitoring_at": None,
            "resolved_at": None,
            "impact": "maintenance",
            "shortlink": shortlink("maintenance", m.id),
            "started_at": iso(m.starts_at),
            "page_id": page_id,
            "scheduled_for": iso(m.starts_at),
            "scheduled_until": iso(m.ends_at),
            "incident_updates": [
                {
                    "id": status_page_data.stable_id("maintenance", m.id),
                    "status": "scheduled",
                    "body": m.body or m.title,
                    "incident_id": m.id,
                    "created_at": iso(m.published_at),
                    "updated_at": iso(m.published_at),
                    "display_at": iso(m.published_at),
                    "affected_components": [
                        {
                            "code": by_name[n].id,
                            "name": n,
                            "old_status": "operational",
                            "new_status": "under_maintenance",
                        }
                        for n in m.components
                    ],
                }
            ],
            "components": [component(by_name[n]) for n in m.components],
        }
        for m in snap.maintenances
    ]
    return {
        "page": {
            "id": page_id,
            "name": snap.page.title,
            "url": links["html"],
            "time_zone": "Etc/UTC",
            "updated_at": updated,
        },
        "components": components,
        "incidents": [incident(i) for i in snap.incidents],
        "scheduled_maintenances": maintenances,
        "status": {"indicator": snap.indicator, "description": snap.description},
    }
