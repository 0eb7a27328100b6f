"""The public status page over real HTTP: headers, caching, bad requests, the JSON and Atom
representations, what never reaches it (private incidents, unapproved drafts), hostile
text, the 90-day history, and maintenance announced with `--public`."""

from __future__ import annotations

import gzip
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from bot.db import Database
from bot.errors import UserError
from bot.models import (
    Incident,
    MaintenanceWindow,
    PublicUpdate,
    StatusIncident,
    StatusIncidentUpdate,
    StatusMaintenance,
    StatusPageVersion,
)
from bot.services import status_page_changes, status_page_data
from bot.web.status_page import CSP, StatusPageSite
from tests.conftest import Harness, make_policy, start_bot, wait_for
from tests.status_page_support import (
    add_incident,
    draft,
    get,
    publish,
    status_policy_block,
)
from tests.support import reply_to

ATOM = "{http://www.w3.org/2005/Atom}"


def _start(fake: Any, database_url: str, clock: ManualClock, **page: Any) -> Harness:
    policy = make_policy(
        announcement_channel=fake.incidents, status_page=status_policy_block(**page)
    )
    return start_bot(fake, database_url, clock=clock, policy=policy)


@pytest.fixture
def sp(fake_slack: Any, database_url: str, clock: ManualClock) -> Iterator[Harness]:
    """The bot in HTTP mode with a status page of five components in two groups."""
    harness = _start(fake_slack, database_url, clock)
    try:
        yield harness
    finally:
        harness.runtime.stop()


def _site(bot: Harness) -> StatusPageSite:
    site = bot.runtime.status_page
    assert site is not None
    return site


def _json(bot: Harness) -> dict[str, Any]:
    answer = get(bot.runtime.port, "/status.json")
    assert answer.status == 200
    return json.loads(answer.body)  # type: ignore[no-any-return]


def test_the_page_is_served_with_a_strict_policy_and_landmarks(sp: Harness) -> None:
    answer = get(sp.runtime.port, "/status")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "'unsafe-inline'" not in CSP
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "public, max-age=1"
    assert answer.headers["etag"].startswith('"')
    html = answer.text
    assert html.startswith("<!doctype html>")
    for landmark in ("<header", "<main", "<footer", "<h1", 'lang="en"', "<title>"):
        assert landmark in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert "All Systems Operational" in html
    for name in ("Website", "Checkout", "Card payments", "API", "Webhooks"):
        assert name in html
    assert html.count('role="img"') == 5
    assert html.count('<span class="d" title=') == 5 * 90
    assert "100 % uptime" in html
    css_link = html.split('rel="stylesheet" href="')[1].split('"')[0]
    assert css_link.startswith("/status/style.css?v=")
    css = get(sp.runtime.port, css_link)
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")
    assert "prefers-color-scheme: dark" in css.text
    assert css.headers["cache-control"] == "public, max-age=86400"
    # The trailing slash is the same page; gzip is offered.
    assert get(sp.runtime.port, "/status/").body == answer.body
    zipped = get(sp.runtime.port, "/status", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == answer.body


def test_if_none_match_gets_a_304(sp: Harness) -> None:
    for path in ("/status", "/status.json", "/status/feed.atom", "/status/style.css"):
        first = get(sp.runtime.port, path)
        etag = first.headers["etag"]
        again = get(sp.runtime.port, path, headers={"If-None-Match": f'"x", W/{etag}'})
        assert again.status == 304, path
        assert again.body == b"" and again.headers["etag"] == etag
        other = get(sp.runtime.port, path, headers={"If-None-Match": '"something-else"'})
        assert other.status == 200 and other.body == first.body


def test_odd_methods_paths_and_query_strings_get_a_4xx(sp: Harness) -> None:
    port = sp.runtime.port
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"):
        answer = get(port, "/status", method=method)
        assert answer.status == 405, method
        assert answer.headers["allow"] == "GET, HEAD"
    head = get(port, "/status", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) > 1000
    for path in ("/status/nope", "/status.xml", "/status/feed.rss", "/status/style.css/x"):
        assert get(port, path).status == 404, path
    assert get(port, "/statusx").status == 404
    plain = get(port, "/status").body
    for fine in ("?v=123", "?_=1700000000&nocache", "?q=%E2%9C%93", "?a=b+c"):
        answer = get(port, "/status" + fine)
        assert answer.status == 200 and answer.body == plain, fine
    for bad in ("?%zz", "?a=%", "?a=%ff%fe", "?" + "a" * 1100, "?x=%C3%28"):
        answer = get(port, "/status" + bad)
        assert answer.status == 400, bad
        assert "Malformed" in answer.text
    for odd in ("/status%00", "/status/%2e%2e/status", "/status/..%2f", "/status;x", "//status"):
        assert get(port, odd).status < 500, odd  # waitress reads `//status` as `/status`


def test_a_status_page_turned_off_does_not_exist(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    bot = _start(fake_slack, database_url, clock, enabled=False)
    try:
        assert bot.runtime.status_page is None
        for path in ("/status", "/status.json", "/status/feed.atom", "/status/style.css"):
            assert get(bot.runtime.port, path).status == 404
        assert get(bot.runtime.port, "/healthz").status == 200
    finally:
        bot.runtime.stop()


def test_another_path_and_title_come_from_the_policy(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    bot = _start(fake_slack, database_url, clock, path="/public/health", title="Acme status")
    try:
        assert get(bot.runtime.port, "/status").status == 404
        answer = get(bot.runtime.port, "/public/health")
        assert answer.status == 200 and '<h1 dir="auto">Acme status</h1>' in answer.text
        assert get(bot.runtime.port, "/public/health.json").status == 200
    finally:
        bot.runtime.stop()


def test_the_json_has_statuspages_summary_shape(sp: Harness, clock: ManualClock) -> None:
    now = clock.now()
    incident = add_incident(sp.db, now=now - timedelta(hours=1))
    public_id = publish(
        sp.db,
        incident,
        now=now - timedelta(minutes=40),
        components={"Checkout": "major_outage", "API": "degraded_performance"},
    )
    publish(
        sp.db,
        incident,
        now=now - timedelta(minutes=10),
        status="identified",
        message="Found the cause.",
        components={"Checkout": "partial_outage"},
    )
    data = _json(sp)
    assert set(data) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert set(data["page"]) == {"id", "name", "url", "time_zone", "updated_at"}
    assert data["page"]["name"] == "Example status" and data["page"]["url"] == "/status"
    # The incident's impact was critical (a major outage) and stays so, as on Statuspage.
    assert data["status"] == {"indicator": "critical", "description": "Major System Outage"}
    groups = [c for c in data["components"] if c["group"]]
    assert [g["name"] for g in groups] == ["Payments", "Platform"]
    by_name = {c["name"]: c for c in data["components"]}
    assert by_name["Payments"]["components"] == [
        by_name["Checkout"]["id"],
        by_name["Card payments"]["id"],
    ]
    assert by_name["Checkout"]["group_id"] == by_name["Payments"]["id"]
    assert by_name["Website"]["group_id"] is None
    assert by_name["Checkout"]["status"] == "partial_outage"
    assert by_name["API"]["status"] == "operational"  # left out of the latest update
    assert by_name["Payments"]["status"] == "partial_outage"
    keys = {
        "id", "name", "status", "created_at", "updated_at", "position", "description",
        "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded",
    }  # fmt: skip
    for component in data["components"]:
        assert keys <= set(component)
    assert [c["position"] for c in data["components"]] == list(range(1, 8))
    (shown,) = data["incidents"]
    assert shown["id"] == public_id and shown["status"] == "identified"
    assert shown["impact"] == "critical" and shown["shortlink"] == f"/status#incident-{public_id}"
    assert shown["created_at"].endswith("Z") and shown["resolved_at"] is None
    latest, first = shown["incident_updates"]
    assert latest["status"] == "identified" and latest["body"] == "Found the cause."
    assert first["status"] == "investigating"
    assert latest["affected_components"] == [
        {
            "code": by_name["Checkout"]["id"],
            "name": "Checkout",
            "old_status": "major_outage",
            "new_status": "partial_outage",
        }
    ]
    assert {c["name"] for c in shown["components"]} == {"Checkout", "API"}
    assert data["scheduled_maintenances"] == []
    # IDs are derived from names: the same after a restart or on another replica.
    assert by_name["Checkout"]["id"] == status_page_data.stable_id("component", "checkout")
    alias = get(sp.runtime.port, "/status/api/v2/summary.json")
    assert json.loads(alias.body) == data


def test_links_read_away_from_the_page_are_absolute_with_public_url(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    policy = make_policy(
        announcement_channel=fake_slack.incidents, status_page=status_policy_block()
    )
    bot = start_bot(
        fake_slack, database_url, clock=clock, policy=policy, public_url="https://st.example.com/"
    )
    try:
        incident = add_incident(bot.db, now=clock.now() - timedelta(minutes=5))
        public_id = publish(bot.db, incident, now=clock.now(), message="Looking into it.")
        forged = {"Host": "evil.example"}  # never trusted: it would poison the cache
        data = json.loads(get(bot.runtime.port, "/status.json", headers=forged).body)
        assert data["page"]["url"] == "https://st.example.com/status"
        (shown,) = data["incidents"]
        assert shown["shortlink"] == f"https://st.example.com/status#incident-{public_id}"
        feed = ET.fromstring(get(bot.runtime.port, "/status/feed.atom", headers=forged).body)
        links = [link.get("href") for link in feed.iter(f"{ATOM}link")]
        assert "https://st.example.com/status/feed.atom" in links
        assert f"https://st.example.com/status#incident-{public_id}" in links
        assert not [link for link in links if "evil" in str(link)]
        html = get(bot.runtime.port, "/status", headers=forged).text
        assert 'href="/status/feed.atom"' in html  # on the page itself, links stay relative
    finally:
        bot.runtime.stop()


def test_public_url_is_checked_with_clear_messages() -> None:
    from bot.errors import ConfigError
    from bot.settings import load_settings

    base: dict[str, Any] = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}
    cases = {
        "status.example.com": "must be an http[(]s[)] URL",
        "ftp://status.example.com": "must be an http[(]s[)] URL",
        "https://status.example.com/?x=1": "nothing after the path",
        "https://user:pw@status.example.com": "nothing after the path",
        "https://status.example.com:99999": "has a port",
    }
    for url, expected in cases.items():
        with pytest.raises(ConfigError, match=expected):
            load_settings(**base, _env_file=None, public_url=url)
    loaded = load_settings(**base, _env_file=None, public_url=" https://example.com/bot/ ")
    assert loaded.public_url == "https://example.com/bot"
    assert load_settings(**base, _env_file=None, public_url="").public_url is None


def test_the_atom_feed_is_valid_and_escaped(sp: Harness, clock: ManualClock) -> None:
    now = clock.now()
    incident = add_incident(sp.db, now=now - timedelta(hours=1))
    publish(sp.db, incident, now=now - timedelta(minutes=30), message="First <b>&amp; look")
    publish(
        sp.db, incident, now=now - timedelta(minutes=5), status="monitoring", message="Bell \x07"
    )
    answer = get(sp.runtime.port, "/status/feed.atom")
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(answer.body)
    assert root.tag == f"{ATOM}feed"
    for field in ("id", "title", "updated"):
        assert (root.findtext(f"{ATOM}{field}") or "").strip()
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Monitoring: Checkout errors",
        "Investigating: Checkout errors",
    ]
    assert entries[1].findtext(f"{ATOM}content") == "First <b>&amp; look"
    assert entries[0].findtext(f"{ATOM}content") == "Bell \ufffd"
    ids = {e.findtext(f"{ATOM}id") for e in entries}
    assert len(ids) == 2


def test_the_page_renders_at_most_once_a_second_and_a_publication_shows_at_once(
    sp: Harness, clock: ManualClock
) -> None:
    site = _site(sp)
    port = sp.runtime.port
    get(port, "/status")
    started = time.monotonic()
    before = site.renders["html"]
    for _ in range(30):
        assert get(port, "/status").status == 200
    elapsed = time.monotonic() - started
    assert site.renders["html"] - before <= 1 + int(elapsed)
    incident = add_incident(sp.db, now=clock.now())
    publish(sp.db, incident, now=clock.now(), title="Fresh news", message="Just published")
    # Published and committed: the very next request shows it (no waiting out the second).
    page = get(port, "/status").text
    assert "Fresh news" in page and "Just published" in page
    assert "Fresh news" in get(port, "/status.json").text
    assert "Fresh news" in get(port, "/status/feed.atom").text


def test_another_replicas_publication_shows_within_a_second(
    sp: Harness, clock: ManualClock
) -> None:
    port = sp.runtime.port
    site = sp.runtime.status_page
    assert isinstance(site, StatusPageSite)
    with sp.db.session() as session:
        version = status_page_changes.version(session)
    get(port, "/status")
    # Nothing changed and the minute did not move: the page is neither read nor rendered
    # again, however long it is served.
    before = site.renders["html"]
    time.sleep(1.2)
    get(port, "/status")
    assert site.renders["html"] == before
    # Another replica publishes: its process's counter is not this one's, but the version
    # row moves in the same transaction as its write (here written as it would, in SQL).
    now = clock.now()
    with sp.db.engine.begin() as connection:
        public_id = connection.execute(
            StatusIncident.__table__.insert().values(  # type: ignore[attr-defined]
                public_id="elsewhere001",
                title="News from elsewhere",
                status="investigating",
                impact="minor",
                started_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        connection.execute(
            StatusIncidentUpdate.__table__.insert().values(  # type: ignore[attr-defined]
                status_incident_id=public_id,
                status="investigating",
                body="Seen by every replica",
                components={},
                published_at=now,
            )
        )
        table = StatusPageVersion.__table__  # type: ignore[attr-defined]
        connection.execute(table.update().values(version=table.c.version + 1))
    started = time.monotonic()
    wait_for(lambda: "News from elsewhere" in get(port, "/status").text, timeout=5)
    assert time.monotonic() - started < 2.5
    # This process's own publications move the version too, once per transaction.
    incident = add_incident(sp.db, now=now)
    publish(sp.db, incident, now=now, title="Ours")
    with sp.db.session() as session:
        assert status_page_changes.version(session) == version + 2
    # Outage minutes grow with time: a new minute reads the data again.
    before = site.renders["html"]
    clock.set(now + timedelta(minutes=1))
    time.sleep(1.1)
    get(port, "/status")
    assert site.renders["html"] == before + 1


def test_a_draft_or_a_rolled_back_publication_does_not_invalidate(sp: Harness) -> None:
    generation = status_page_changes.generation()
    incident = add_incident(sp.db, now=datetime.now(UTC))
    draft(sp.db, incident, now=datetime.now(UTC))
    assert status_page_changes.generation() == generation
    with pytest.raises(RuntimeError), sp.db.session() as session:
        session.add(
            StatusMaintenance(
                public_id="rolledback01",
                title="x",
                components={"components": []},
                starts_at=datetime.now(UTC),
                ends_at=datetime.now(UTC) + timedelta(hours=1),
                published_at=datetime.now(UTC),
            )
        )
        session.flush()
        raise RuntimeError("rolled back")
    assert status_page_changes.generation() == generation
    with sp.db.session() as session:
        assert status_page_changes.version(session) == 0


def test_private_incidents_and_unapproved_drafts_never_appear(
    sp: Harness, clock: ManualClock
) -> None:
    now = clock.now()
    secret = add_incident(sp.db, now=now, title="Secret breach", private=True)
    draft(sp.db, secret, now=now, title="Secret breach public", components={"API": "major_outage"})
    with sp.db.session() as session:
        incident = session.get(Incident, secret)
        row = session.exec(select(PublicUpdate).where(PublicUpdate.incident_id == secret)).one()
        assert incident is not None
        with pytest.raises(UserError):
            publish_private(session, incident, row, now)
    shown = add_incident(sp.db, now=now, title="Checkout trouble")
    publish(sp.db, shown, now=now, title="Checkout trouble", message="approved words")
    draft(
        sp.db, shown, now=now, status="monitoring", title="Checkout trouble", message="UNAPPROVED"
    )
    for path in ("/status", "/status.json", "/status/feed.atom"):
        text = get(sp.runtime.port, path).text
        assert "Secret" not in text and "UNAPPROVED" not in text, path
        assert "approved words" in text, path
    data = _json(sp)
    assert len(data["incidents"]) == 1  # the private one is not even counted
    assert all(c["status"] == "operational" for c in data["components"])
    assert data["status"]["indicator"] == "none"


def publish_private(session: Any, incident: Incident, row: PublicUpdate, now: datetime) -> None:
    """Try to publish a private incident's update (refused)."""
    from bot.services import status_publication

    status_publication.publish(session, incident=incident, draft=row, actor="U0BOB", now=now)


def test_hostile_text_is_escaped_and_cut(sp: Harness, clock: ManualClock) -> None:
    now = clock.now()
    incident = add_incident(sp.db, now=now)
    long = "A" * 10_000
    title = "<script>alert('t')</script>" + "T" * 200
    publish(
        sp.db,
        incident,
        now=now - timedelta(minutes=3),
        title=title,
        message="<script>alert(1)</script> & <img src=x onerror=alert(2)>",
    )
    publish(
        sp.db,
        incident,
        now=now - timedelta(minutes=2),
        status="identified",
        title=title,
        message=long,
    )
    publish(
        sp.db,
        incident,
        now=now - timedelta(minutes=1),
        status="monitoring",
        title=title,
        message="تم إصلاح المشكلة 🎉👩‍👩‍👧 ok",
    )
    html = get(sp.runtime.port, "/status").text
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;" in html
    assert "A" * 10_000 not in html
    assert "A" * 1999 + "…" in html  # the policy's max_message: 2000
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" + "T" * 92 + "…" in html  # max_title
    assert '<span class="body" dir="auto">تم إصلاح المشكلة 🎉👩‍👩‍👧 ok</span>' in html
    data = _json(sp)
    bodies = [u["body"] for u in data["incidents"][0]["incident_updates"]]
    assert bodies[1] == "A" * 1999 + "…"
    assert len(data["incidents"][0]["name"]) == 120


def test_the_database_down_gets_a_503_not_a_500(tmp_path: Any) -> None:
    page = make_policy(status_page=status_policy_block()).status_page
    db = Database.from_url("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    site = StatusPageSite(page, db, ManualClock(datetime.now(UTC)))
    seen: list[str] = []
    environ = {"PATH_INFO": "/status", "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
    site(environ, lambda status, headers: seen.append(status))
    assert seen == ["503 Service Unavailable"]
    seen.clear()
    site({**environ, "PATH_INFO": "/status/style.css"}, lambda status, headers: seen.append(status))
    assert seen == ["200 OK"]  # the stylesheet needs no database
    db.dispose()


def test_with_the_database_down_the_last_rendering_is_served_without_queueing(
    db: Database,
) -> None:
    page = make_policy(status_page=status_policy_block()).status_page
    site = StatusPageSite(page, db, ManualClock(datetime.now(UTC)))
    environ = {"PATH_INFO": "/status", "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
    seen: list[str] = []
    first = b"".join(site(environ, lambda status, headers: seen.append(status)))
    down = Database.from_url("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    site.db = down
    status_page_changes.invalidate()  # a publication elsewhere in this process
    try:
        for _ in range(3):
            started = time.monotonic()
            body = b"".join(site(environ, lambda status, headers: seen.append(status)))
            assert body == first
        # Only the first request waited for the database; the others got the last page.
        assert time.monotonic() - started < 0.5
        assert seen == ["200 OK"] * 4
    finally:
        down.dispose()


# --- the history ---------------------------------------------------------------------------------


def _impact(
    db: Database, component: str, state: str, start: datetime, end: datetime | None
) -> None:
    from bot.models import StatusComponentImpact

    with db.session() as session:
        session.add(
            StatusComponentImpact(component=component, state=state, started_at=start, ended_at=end)
        )


def test_the_history_splits_impacts_across_days_and_weights_partial_outages(db: Database) -> None:
    page = make_policy(status_page=status_policy_block()).status_page
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    midnight = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    # A major outage from 23:00 to 01:00 over midnight, and a partial outage inside it.
    _impact(
        db, "Checkout", "major_outage", midnight - timedelta(hours=1), midnight + timedelta(hours=1)
    )
    _impact(
        db,
        "Checkout",
        "partial_outage",
        midnight - timedelta(minutes=30),
        midnight + timedelta(hours=2),
    )
    # Degraded performance counts for nothing; an impact before the window is cut at its start.
    _impact(db, "API", "degraded_performance", now - timedelta(days=5), now - timedelta(days=4))
    _impact(
        db,
        "Webhooks",
        "partial_outage",
        now - timedelta(days=100),
        now - timedelta(days=89),
    )
    # Still going: counts up to now.
    _impact(db, "Website", "major_outage", now - timedelta(hours=3), None)
    with db.read_session() as session:
        snap = status_page_data.load(session, page, now)
    by_name = {c.name: c for c in snap.components}
    checkout = by_name["Checkout"]
    assert len(checkout.days) == 90 and checkout.days[-1].day == now.date()
    day_before, day_of, today = checkout.days[-3], checkout.days[-2], checkout.days[-1]
    assert day_before.state == "major_outage" and day_before.minutes == {"major_outage": 60}
    assert day_of.minutes == {"major_outage": 60, "partial_outage": 60}
    assert today.state == "operational" and today.minutes == {}
    assert day_of.label == "2026-11-25: Major outage 1 h, partial outage 1 h"
    assert checkout.days[0].label.endswith(": No downtime recorded")
    total = 89 * 1440 + 12 * 60
    assert checkout.uptime == pytest.approx(100 * (1 - (120 + 0.3 * 60) / total))
    assert checkout.outage_days == 2 and checkout.state == "operational"
    api = by_name["API"]
    assert api.uptime == 100.0 and api.outage_days == 0
    assert [d.state for d in api.days[-6:-3]] == ["degraded_performance"] * 2 + ["operational"]
    webhooks = by_name["Webhooks"]
    assert webhooks.days[0].minutes == {"partial_outage": 12 * 60}
    website = by_name["Website"]
    assert website.state == "major_outage" and website.days[-1].minutes == {"major_outage": 180}
    assert website.days[-1].uptime == pytest.approx(100 * (1 - 180 / 720))
    assert snap.indicator == "critical" and snap.description == "Major System Outage"
    groups = [(g.name, [c.name for c in g.components]) for g in snap.groups]
    assert groups == [
        (None, ["Website"]),
        ("Payments", ["Checkout", "Card payments"]),
        ("Platform", ["API", "Webhooks"]),
    ]


# --- maintenance announced on the page -----------------------------------------------------------


def test_public_maintenance_shows_on_the_page_and_ends_there(sp: Harness) -> None:
    fake = sp.fake
    port = sp.runtime.port
    created = reply_to(
        sp, fake.alice, fake.incidents, "maintenance payments now 2h Card network upgrade --public"
    )
    assert "Announced on the status page for Card payments" in created
    html = get(port, "/status").text
    assert "Scheduled maintenance" in html and "Card network upgrade" in html
    data = _json(sp)
    (maintenance,) = data["scheduled_maintenances"]
    assert maintenance["status"] == "in_progress" and maintenance["name"] == "Card network upgrade"
    assert [c["name"] for c in maintenance["components"]] == ["Card payments"]
    by_name = {c["name"]: c for c in data["components"]}
    assert by_name["Card payments"]["status"] == "under_maintenance"
    assert data["status"]["indicator"] == "maintenance"
    later = reply_to(
        sp, fake.alice, fake.incidents, "maintenance * tomorrow 10:00 1h Database move --public"
    )
    assert (
        "Announced on the status page for Website, Checkout, Card payments, API, Webhooks" in later
    )
    assert len(_json(sp)["scheduled_maintenances"]) == 2
    ended = reply_to(sp, fake.alice, fake.incidents, "maintenance end 1")
    assert ended.startswith("Maintenance window #1 has ended")
    reply_to(sp, fake.alice, fake.incidents, "maintenance end 2")
    data = _json(sp)
    assert data["scheduled_maintenances"] == []
    assert all(c["status"] == "operational" for c in data["components"])
    with sp.db.session() as session:
        rows = {r.window_id: r for r in session.exec(select(StatusMaintenance)).all()}
    assert rows[1].cancelled_at is None and rows[1].ends_at <= datetime.now(UTC) + timedelta(days=1)
    assert rows[2].cancelled_at is not None  # it had not started: cancelled


def test_public_maintenance_of_no_component_is_refused(sp: Harness) -> None:
    fake = sp.fake
    refused = reply_to(sp, fake.alice, fake.incidents, "maintenance billing now 1h --public")
    assert "None of these services is a component of the status page" in refused
    with sp.db.session() as session:
        assert session.exec(select(MaintenanceWindow)).all() == []
    # Without --public the same window is fine and the page says nothing of it.
    reply_to(sp, fake.alice, fake.incidents, "maintenance billing now 1h")
    assert _json(sp)["scheduled_maintenances"] == []


def test_the_page_is_served_in_socket_mode_too(
    fake_slack: Any, database_url: str, clock: ManualClock
) -> None:
    policy = make_policy(
        announcement_channel=fake_slack.incidents, status_page=status_policy_block()
    )
    bot = start_bot(fake_slack, database_url, via="socket", clock=clock, policy=policy)
    try:
        answer = get(bot.runtime.port, "/status")
        assert answer.status == 200 and "Example status" in answer.text
    finally:
        bot.runtime.stop()
