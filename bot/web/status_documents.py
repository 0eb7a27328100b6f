"""The status page's documents, from a snapshot of published data: the HTML page, the
Statuspage-shaped JSON and the Atom feed (each as bytes, ready to cache and send)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from datetime import UTC, datetime

from markupsafe import Markup, escape

from bot.comms_policy import COMPONENT_STATES, STATE_LABELS, StatusPage
from bot.render import render_document
from bot.services import status_page_data
from bot.services.status_page_data import ComponentStatus, FeedEntry, Snapshot
from bot.web import status_summary
from bot.web.status_summary import iso

# Characters XML 1.0 does not allow (the feed would not parse).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# One bar's classes per state: an operational day is the bars' default colour.
_BAR_CLASS: dict[str, str] = {
    state: "d" if state == "operational" else f"d s-{state}" for state in COMPONENT_STATES
}


def when(moment: datetime) -> str:
    """A date and time people read."""
    return moment.astimezone(UTC).strftime("%b %d, %Y %H:%M UTC").replace(" 0", " ")


def percent(value: float) -> str:
    """An uptime figure as Statuspage prints it (never rounded up to 100 %)."""
    cut = math.floor(value * 100) / 100
    return "100 %" if cut >= 100 else f"{cut:.2f} %"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _bars(component: ComponentStatus) -> Markup:
    """A component's day bars, each with its tooltip (escaped).

    Built here rather than in the template: 50 components make 4,500 of them, and a Jinja
    loop over them was most of the page's rendering time.
    """
    # The class comes from a fixed table and the tooltip is escaped.
    return Markup(  # noqa: S704
        "".join(
            f'<span class="{_BAR_CLASS[d.state]}" title="{escape(d.label)}"></span>'
            for d in component.days
        )
    )


def html(snap: Snapshot, links: dict[str, str]) -> bytes:
    """The page."""
    return render_document(
        "status_page.html.j2",
        snap=snap,
        bars={c.id: _bars(c) for c in snap.components},
        links=links,
        labels=STATE_LABELS,
        legend=COMPONENT_STATES,
        past_days=status_page_data.PAST_DAYS,
        iso=iso,
        when=when,
        percent=percent,
    ).encode()


def summary_json(snap: Snapshot, links: dict[str, str]) -> bytes:
    """`summary.json`, as Statuspage's public API shapes it."""
    summary = status_summary.summary(snap, links)
    return json.dumps(summary, ensure_ascii=False, separators=(",", ":")).encode()


def atom(page: StatusPage, entries: list[FeedEntry], links: dict[str, str], now: datetime) -> bytes:
    """The Atom feed of published updates, newest first."""
    return render_document(
        "status_page.xml.j2",
        page=page,
        entries=[
            replace(e, incident_title=_xml_text(e.incident_title), body=_xml_text(e.body))
            for e in entries
        ],
        updated=max((e.published_at for e in entries), default=now),
        feed_id=f"urn:incident-bot:status-page:{status_page_data.stable_id(page.path)}",
        links=links,
        iso=iso,
    ).encode()
