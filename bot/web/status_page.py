"""The public status page: `GET <path>` (HTML), `<path>.json` (Atlassian Statuspage's
`api/v2/summary.json` shape, also at `<path>/api/v2/summary.json`), `<path>/feed.atom`
and `<path>/style.css`.

Each representation is rendered at most once per `RENDER_INTERVAL` and served from memory
(with a gzip copy, an ETag and `If-None-Match`); a publication in this process makes the
next request render again (`status_page_changes.invalidate`, called after every commit that
wrote published data). The page has no script and no inline style, so the
Content-Security-Policy forbids both. Bad requests get a 4xx, never a 5xx; a database that
does not answer gets a 503, or the last rendering when there is one.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.comms_policy import StatusPage
from bot.db import Database
from bot.render import TEMPLATES_DIR
from bot.services import status_page_changes, status_page_data
from bot.services.status_page_data import Snapshot
from bot.web import status_documents

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
RENDER_INTERVAL = 1.0  # seconds: each representation is rendered at most this often
MAX_QUERY = 1024
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]
PAGE_CACHE = "public, max-age=1"
STATIC_CACHE = "public, max-age=86400"
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_REASONS = {
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Rendered:
    """One representation, ready to send."""

    body: bytes
    gzipped: bytes
    content_type: str
    etag: str
    cache: str
    generation: int
    at: float  # time.monotonic() when the data it shows was read


def make_rendered(
    body: bytes, media_type: str, generation: int, at: float, *, cache: str = PAGE_CACHE
) -> Rendered:
    """A representation ready to send: gzipped once, with its ETag."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Rendered(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        content_type=f"{media_type}; charset=utf-8",
        etag=etag,
        cache=cache,
        generation=generation,
        at=at,
    )


class StatusPageSite:
    """The status page's routes under the policy's path, with their in-memory cache."""

    def __init__(
        self, page: StatusPage, db: Database, clock: Clock, public_url: str | None = None
    ) -> None:
        self.page = page
        self.db = db
        self.clock = clock
        self.base = page.path
        # Links in the JSON and the feed, which are read away from the page: absolute when
        # PUBLIC_URL is set (the Host header is never trusted: it would poison the cache).
        self.absolute = (public_url or "") + page.path
        self.renders: Counter[str] = Counter()  # how often each representation was rendered
        self._cache: dict[str, Rendered] = {}
        self._locks = {kind: threading.Lock() for kind in ("html", "json", "atom")}
        self._snapshot_lock = threading.Lock()
        # (generation, snapshot, when read, the published data's version)
        self._held: tuple[int, Snapshot, float, int] | None = None
        # What the HTML and the JSON were last rendered from: the same data again (the
        # usual case, every second) keeps the rendering instead of building it anew.
        self._rendered_from: dict[str, tuple[Snapshot, Rendered]] = {}
        css = stylesheet_path().read_bytes()
        self._css = make_rendered(css, "text/css", 0, 0.0, cache=STATIC_CACHE)
        self._css_version = hashlib.sha256(css).hexdigest()[:8]
        self._routes = {
            self.base: "html",
            self.base + "/": "html",
            self.base + ".json": "json",
            self.base + "/api/v2/summary.json": "json",
            self.base + "/feed.atom": "atom",
            self.base + "/style.css": "css",
        }
        status_page_changes.watch_publications()

    def handles(self, path: str) -> bool:
        """Whether `path` is under the status page (unknown ones get its 404)."""
        return path == self.base or path.startswith((self.base + "/", self.base + "."))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request."""
        kind = self._routes.get(environ.get("PATH_INFO", ""))
        if kind is None:
            return _plain(start_response, 404, "Not found.")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _plain(start_response, 405, "Use GET.", [("Allow", "GET, HEAD")])
        if not _query_ok(str(environ.get("QUERY_STRING", ""))):
            return _plain(start_response, 400, "Malformed query string.")
        if kind == "css":
            entry: Rendered | None = self._css
        else:
            entry = self.get(kind)
        if entry is None:
            return _plain(start_response, 503, "The status page is unavailable: try again soon.")
        headers = [
            ("ETag", entry.etag),
            ("Cache-Control", entry.cache),
            ("Vary", "Accept-Encoding"),
            *SECURITY_HEADERS,
        ]
        if _matches(str(environ.get("HTTP_IF_NONE_MATCH", "")), entry.etag):
            start_response("304 Not Modified", headers)
            return []
        body = entry.body
        if "gzip" in str(environ.get("HTTP_ACCEPT_ENCODING", "")).lower():
            body = entry.gzipped
            headers.append(("Content-Encoding", "gzip"))
        headers += [("Content-Type", entry.content_type), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [] if method == "HEAD" else [body]

    def get(self, kind: str) -> Rendered | None:
        """The representation `kind` from memory, rendered again when over a second old or
        after a publication; None when it cannot be rendered and none was before.

        When it is only old (nothing was published since), one request renders it again
        while the others keep getting the last rendering; after a publication every
        request waits for the new one.
        """
        wanted = status_page_changes.generation()
        entry = self._cache.get(kind)
        if entry is not None and _fresh(entry, wanted):
            return entry
        lock = self._locks[kind]
        if entry is not None and entry.generation == wanted:
            if not lock.acquire(blocking=False):
                return entry
        else:
            lock.acquire()
        try:
            entry = self._cache.get(kind)
            wanted = status_page_changes.generation()
            if entry is not None and _fresh(entry, wanted):
                return entry
            try:
                rendered = self._render(kind, wanted)
            except SQLAlchemyError:
                # The database is down or busy: the last rendering is better than nothing,
                # and is kept for a second, so requests do not queue up behind the database.
                log.warning("status page: could not read the published data", exc_info=True)
                if entry is not None:
                    self._cache[kind] = replace(entry, generation=wanted, at=time.monotonic())
                return entry
            self._cache[kind] = rendered
            return rendered
        finally:
            lock.release()

    def _snapshot(self, generation: int) -> tuple[Snapshot, float]:
        """The page's data and when it was looked at: shared by the HTML and the JSON for
        up to a second. Each second costs one small query (the published data's version,
        moved by any replica's publication); the data itself is read again only when the
        version moved, or the minute did (outage minutes and uptime grow while an impact
        lasts, and maintenance starts and ends)."""
        with self._snapshot_lock:
            held = self._held
            if held is not None and held[0] == generation and _young(held[2]):
                return held[1], held[2]
            at = time.monotonic()
            now = self.clock.now()
            with self.db.read_session() as session:
                version = status_page_changes.version(session)
                if (
                    held is not None
                    and held[0] == generation
                    and held[3] == version
                    and _same_minute(held[1].now, now)
                ):
                    snap = held[1]
                else:
                    snap = status_page_data.load(session, self.page, now)
            self._held = (generation, snap, at, version)
            return snap, at

    def _render(self, kind: str, generation: int) -> Rendered:
        now = self.clock.now()
        base = self.base if kind == "html" else self.absolute
        links = {
            "html": base,
            "json": base + ".json",
            "feed": base + "/feed.atom",
            "css": f"{self.base}/style.css?v={self._css_version}",
        }
        at = time.monotonic()
        if kind == "atom":
            with self.db.read_session() as session:
                entries = status_page_data.feed(session, self.page)
        else:
            snap, at = self._snapshot(generation)
            same = self._unchanged(kind, snap)
            if same is not None:
                return replace(same, generation=generation, at=at)
        self.renders[kind] += 1
        if kind == "html":
            html = status_documents.html(snap, links)
            return self._keep(kind, snap, make_rendered(html, "text/html", generation, at))
        if kind == "json":
            body = status_documents.summary_json(snap, links)
            return self._keep(kind, snap, make_rendered(body, "application/json", generation, at))
        feed = status_documents.atom(self.page, entries, links, now)
        return make_rendered(feed, "application/atom+xml", generation, at)

    def _unchanged(self, kind: str, snap: Snapshot) -> Rendered | None:
        """The last rendering of `kind`, if it was made from the same data (the moment it
        was read aside: the page shows days, not seconds). A page that never had anything
        published shows the time it was read as its update time, so it is rendered anew."""
        held = self._rendered_from.get(kind)
        if held is None:
            return None
        before, rendered = held
        if snap is before:  # not read again: nothing moved
            return rendered
        if snap.updated_at is None:
            return None
        return rendered if replace(snap, now=before.now) == before else None

    def _keep(self, kind: str, snap: Snapshot, rendered: Rendered) -> Rendered:
        self._rendered_from[kind] = (snap, rendered)
        return rendered


def _same_minute(before: datetime, now: datetime) -> bool:
    return before.replace(second=0, microsecond=0) == now.replace(second=0, microsecond=0)


def _young(at: float) -> bool:
    return time.monotonic() - at < RENDER_INTERVAL


def _fresh(entry: Rendered, generation: int) -> bool:
    return entry.generation == generation and _young(entry.at)


def _query_ok(query: str) -> bool:
    """Ordinary query strings (cache busters) are ignored; huge or malformed ones refused."""
    if not query:
        return True
    if len(query) > MAX_QUERY or _BAD_PERCENT.search(query):
        return False
    try:
        unquote_to_bytes(query.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 or ord(c) == 127 for c in query)


def _matches(header: str, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _plain(
    start_response: StartResponse,
    status: int,
    text: str,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        f"{status} {_REASONS[status]}",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *SECURITY_HEADERS,
            *(extra or []),
        ],
    )
    return [body]


def stylesheet_path() -> Path:
    """Where the page's stylesheet lives (for the benchmark's static baseline)."""
    return TEMPLATES_DIR / "status_page.css"
