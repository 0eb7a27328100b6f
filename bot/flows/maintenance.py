"""`/incident maintenance`: schedule a window, list the windows, end one early.

Each window keeps who scheduled it and who ended it (its own audit trail). With
`--public` the window is also announced on the status page; ending it ends it there too."""

from __future__ import annotations

import logging

from bot.context import Context
from bot.errors import UserError
from bot.render import render
from bot.services import maintenance_windows, status_publication

log = logging.getLogger(__name__)


def command(ctx: Context, user: str, args: str) -> str:
    """Run the subcommand; returns what to tell the person."""
    words = args.split()
    now = ctx.clock.now()
    if not words or words[0].lower() == "list":
        with ctx.db.session() as session:
            found = maintenance_windows.windows(session, ctx.policy, now)
        return render("maintenance_list.j2", windows=found, now=now)
    if words[0].lower() == "end":
        if len(words) != 2 or not words[1].lstrip("#").isdigit():
            raise UserError("Write `/incident maintenance end <number>` (see `maintenance list`).")
        with ctx.db.session() as session:
            row = maintenance_windows.end(session, int(words[1].lstrip("#")), actor=user, now=now)
        log.info("maintenance window #%s ended early by %s", row.id, user)
        return f"Maintenance window #{row.id} has ended: alerts of its services declare again."
    args, public = maintenance_windows.split_public(args)
    person = ctx.slack.user(user)
    data = maintenance_windows.parse(args, now=now, tz=person.tz if person else None)
    components: list[str] = []
    with ctx.db.session() as session:
        row = maintenance_windows.create(session, data, actor=user, now=now)
        if public:
            announced = status_publication.announce_maintenance(
                session, row, ctx.policy.status_page, now=now
            )
            components = list(announced.components["components"])
        session.expunge(row)
    log.info("maintenance window #%s scheduled by %s (public: %s)", row.id, user, public)
    return render(
        "maintenance_created.j2",
        window=row,
        services=list(data.services),
        components=components,
    )
