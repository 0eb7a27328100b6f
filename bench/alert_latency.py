"""Alert latency: a real Alertmanager's webhook in, the incident's channel out.

The bot runs in this process under its real waitress server with its sweeper, on SQLite
and on PostgreSQL (a fresh schema, dropped at the end), and routes `severity=critical`
alerts to a declaration grouped by `service`. A real `prometheus-alertmanager` (group_by
service; alerts pushed with a start a minute back, so each new group is sent at once)
notifies it through a recording proxy. The proxy and the fake Slack are this script again,
each in a process of its own, and both stamp with `time.monotonic()` (CLOCK_MONOTONIC, one
clock for the whole machine), so that per group:

- the webhook's acknowledgement is the time from the proxy receiving Alertmanager's request
  to the bot's answer, beside the same webhooks replayed by the proxy at the same offsets
  to a bare endpoint that only stores the body (one INSERT) under the same waitress set-up;
- channel creation is the time from the proxy receiving the group's first webhook to the
  fake Slack answering `conversations.create`, and the first message the time to its first
  `chat.postMessage` into that channel.

Then the ingest rate: a burst of 1,000 alerts (100 webhooks of 10 alerts, as Alertmanager
batches a group; `severity=info`, which a rule drops) posted by the proxy process with 8
keep-alive clients straight to the bot, beside the bare endpoint; the same burst again must
store nothing (1,000 rows, not 2,000), and the time until every alert is routed is shown.

Every group must have made exactly one incident with a channel, or the script fails.
Each comparison runs `--rounds` times (3); each figure is printed as the median of the
rounds with min-max, each ratio as the median of the per-round ratios with min-max.

Run: `python bench/alert_latency.py [--groups 100] [--interval 0.1] [--rounds 3]
[--engines sqlite,postgresql]`. Needs `prometheus-alertmanager` (or `alertmanager`) on PATH.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import logging
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import (
    ROUNDS,
    SECRET,
    TOKEN,
    add_engine_arguments,
    chosen_engines,
    cores,
    engine_versions,
    fresh_database,
    percentile,
    spread,
)
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, func, insert
from sqlmodel import col, select
from waitress.server import create_server

from bot.db import Database
from bot.models import AlertRecord, AlertState, Incident, IncidentAlert
from bot.policy import Policy
from bot.policy_defaults import default_policy_data
from bot.runtime import Runtime
from bot.settings import Settings

AM_SECRET = "bench-alertmanager-secret-0123456789"
BURST = 1000
BATCH = 10  # alerts per webhook in the burst
CLIENTS = 8
IDLE = 10.0  # seconds a keep-alive connection to the bot may sit unused before it is replaced
TARGET_ACK_P99_MS = 50.0
TARGET_CHANNEL_P99_S = 1.0
AM_CONFIG = """\
route:
  receiver: bot
  group_by: ['service']
  group_wait: 1s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: bot
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {secret}
"""


# --- the helper processes: the fake Slack, and the recording proxy -----------------------------


class Helper:
    """This script in a process of its own (`--fake` or `--proxy`), one JSON line per request."""

    def __init__(self, mode: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info: dict[str, str] = self._read()

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a helper process ended unexpectedly")
        return json.loads(line)

    def ask(self, op: str, **args: Any) -> Any:
        """Send one request and return its answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        """End the process."""
        try:
            self.ask("quit")
        finally:
            self.proc.wait(timeout=10)


def _serve_lines(info: dict[str, Any], answer: Callable[[dict[str, Any]], Any]) -> None:
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            print("null", flush=True)
            return
        print(json.dumps(answer(request)), flush=True)


def _fake_main() -> None:
    """The fake Slack; `times` answers, per channel created, when `conversations.create` and
    the first `chat.postMessage` into it were answered."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.fakeslack import FakeSlack

    with FakeSlack(signing_secret=SECRET, bot_token=TOKEN) as fake:
        user = fake.add_user("bench")
        channel = fake.add_channel("incidents", members=[user], bot_member=True)

        def answer(request: dict[str, Any]) -> Any:
            if request["op"] == "reset":
                fake.reset_calls()
                return None
            created = {
                c.response["channel"]["id"]: c.at
                for c in fake.calls_to("conversations.create")
                if c.ok
            }
            first: dict[str, float] = {}
            for call in fake.calls_to("chat.postMessage"):
                where = str(call.response.get("channel"))
                if call.ok and where in created and where not in first:
                    first[where] = call.at
            return {"created": created, "first_post": first}

        _serve_lines({"api_url": fake.api_url, "channel": channel}, answer)


class _Proxy:
    """Forwards `POST /alerts/…` to the upstream, recording when each arrived and was answered."""

    def __init__(self) -> None:
        self.upstream = ("127.0.0.1", 1)
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.local = threading.local()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST on this thread's keep-alive connection to the upstream; a connection the
        server may have closed as idle (waitress: 30 s) is replaced, and one that fails
        before any answer is retried once on a new one, as Alertmanager's Go client does."""
        local = self.local
        fresh = (
            getattr(local, "connection", None) is None
            or local.to != self.upstream
            or time.monotonic() - local.used > IDLE
        )
        if fresh:
            local.connection = http.client.HTTPConnection(*self.upstream, timeout=30)
            local.to = self.upstream
        try:
            local.connection.request("POST", path, body=body, headers=headers)
            response = local.connection.getresponse()
            answer = (response.status, response.read())
        except (ConnectionError, http.client.RemoteDisconnected):
            local.connection = None
            if fresh:
                raise
            return self.forward(path, body, headers)
        except (OSError, http.client.HTTPException):
            local.connection = None
            raise
        local.used = time.monotonic()
        return answer

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                received = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    "Content-Type": "application/json",
                    "Authorization": self.headers.get("Authorization", ""),
                }
                try:
                    status, answer = proxy.forward(self.path, body, headers)
                except (OSError, http.client.HTTPException) as exc:
                    status, answer = 502, json.dumps({"ok": False, "error": repr(exc)}).encode()
                answered = time.monotonic()
                data = json.loads(body)
                with proxy.lock:
                    proxy.records.append(
                        {
                            "received": received,
                            "answered": answered,
                            "status": status,
                            "path": self.path,
                            "service": data["groupLabels"].get("service", ""),
                            "body": body.decode(),
                            "headers": headers,
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _post_all(
    proxy: _Proxy, base: str, jobs: list[tuple[float, str, str, dict[str, str]]], clients: int
) -> list[dict[str, Any]]:
    """POST each (offset seconds, path, body, headers) at its offset, `clients` at a time."""
    split = urlsplit(base)
    proxy.upstream = (split.hostname or "127.0.0.1", split.port or 80)
    start = time.monotonic()

    def one(job: tuple[float, str, str, dict[str, str]]) -> dict[str, Any]:
        offset, path, body, headers = job
        time.sleep(max(0.0, start + offset - time.monotonic()))
        sent = time.monotonic()
        status, answer = proxy.forward(path, body.encode(), headers)
        return {"ms": 1000 * (time.monotonic() - sent), "status": status, "answer": answer.decode()}

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, jobs))


def _proxy_main() -> None:
    """The recording proxy between Alertmanager and the bot; it also replays the webhooks it
    recorded to another endpoint, and sends bursts."""
    proxy = _Proxy()
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy.handler())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def answer(request: dict[str, Any]) -> Any:
        op = request["op"]
        if op == "upstream":
            split = urlsplit(request["url"])
            proxy.upstream = (split.hostname or "127.0.0.1", split.port or 80)
            with proxy.lock:
                proxy.records.clear()
            return None
        if op == "records":
            with proxy.lock:
                return [{k: v for k, v in r.items() if k != "body"} for r in proxy.records]
        if op == "replay":  # the recorded webhooks, at the offsets they came at
            with proxy.lock:
                recorded = list(proxy.records)
            first = min((r["received"] for r in recorded), default=0.0)
            jobs = [(r["received"] - first, r["path"], r["body"], r["headers"]) for r in recorded]
            return _post_all(_Proxy(), request["url"], jobs, CLIENTS)
        if op == "burst":  # every body at once, from `clients` keep-alive connections
            jobs = [(0.0, request["path"], body, request["headers"]) for body in request["bodies"]]
            started = time.monotonic()
            results = _post_all(_Proxy(), request["url"], jobs, request["clients"])
            return {"elapsed": time.monotonic() - started, "results": results}
        raise ValueError(op)

    _serve_lines({"url": f"http://127.0.0.1:{server.server_address[1]}"}, answer)


# --- Alertmanager ------------------------------------------------------------------------------


class Alertmanager:
    """A real `prometheus-alertmanager` notifying `webhook`, with its data in `folder`."""

    def __init__(self, folder: Path, webhook: str) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise SystemExit("prometheus-alertmanager is not installed (apt-get install it)")
        config = folder / "alertmanager.yml"
        config.write_text(AM_CONFIG.format(url=webhook, secret=AM_SECRET))
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = folder / "alertmanager.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.path={folder / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise SystemExit(f"Alertmanager did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.version = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, check=False
        ).stdout.split("\n")[0]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def push(self, alerts: list[dict[str, Any]]) -> None:
        """`POST /api/v2/alerts`."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def close(self) -> None:
        """Stop it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the bot and the bare endpoint ---------------------------------------------------------------


def _start_bot(api_url: str, channel: str, database_url: str) -> Runtime:
    """The bot with an `am` source: critical alerts declare (grouped by service), info drops."""
    data = default_policy_data()
    data["announcement_channel"] = channel
    data["alerts"] = {
        "sources": {"am": {"format": "alertmanager", "secret": AM_SECRET}},
        "rules": [
            {
                "name": "critical",
                "match": {"severity": "critical"},
                "action": "declare",
                "severity": "sev1",
                "title": "{{ labels.alertname }} on {{ labels.service }}",
                "group_by": ["service"],
            },
            {"name": "noise", "match": {"severity": "info"}, "action": "drop"},
        ],
    }
    settings = Settings(
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        database_url=database_url,
        port=0,
        host="127.0.0.1",
        _env_file=None,
    )
    runtime = Runtime(settings, policy=Policy.model_validate(data), sweep=True)
    runtime.start()
    return runtime


class StoreOnly:
    """The baseline: a WSGI app that stores each request body (one INSERT) and answers 200,
    under the bot's waitress set-up."""

    def __init__(self, db: Database, threads: int) -> None:
        self.db = db
        self.table = Table(
            "bench_bare_webhook",
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("received_at", DateTime(timezone=True), nullable=False),
            Column("body", Text, nullable=False),
        )
        self.table.create(db.engine, checkfirst=True)
        server: Any = create_server(
            self, host="127.0.0.1", port=0, threads=threads, channel_timeout=30
        )
        self.server = server
        threading.Thread(target=server.run, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.effective_port}"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        with self.db.engine.begin() as connection:
            connection.execute(
                insert(self.table).values(received_at=datetime.now(UTC), body=body.decode())
            )
        answer = b'{"ok": true}'
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))]
        )
        return [answer]

    def close(self) -> None:
        """Stop serving."""
        self.server.task_dispatcher.shutdown(timeout=5)
        self.server.close()
        for channel in list(self.server._map.values()):
            channel.close()


# --- one engine ----------------------------------------------------------------------------------


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise SystemExit(f"VERIFICATION FAILED: timed out waiting for {what}")
        time.sleep(0.05)
    return value


def _channels_by_service(db: Database, prefix: str) -> dict[str, str | None]:
    """Each service's incident channel (or None), for the groups named `prefix…`; fails when
    a group made more than one incident."""
    with db.session() as session:
        rows = session.exec(
            select(IncidentAlert.labels, Incident.id, Incident.channel_id).join(
                Incident, col(Incident.id) == col(IncidentAlert.incident_id)
            )
        ).all()
    found: dict[str, set[tuple[int | None, str | None]]] = {}
    for labels, incident_id, channel in rows:
        service = str(labels.get("service", ""))
        if service.startswith(prefix):
            found.setdefault(service, set()).add((incident_id, channel))
    doubled = [s for s, incidents in found.items() if len(incidents) > 1]
    if doubled:
        raise SystemExit(f"VERIFICATION FAILED: {len(doubled)} groups made several incidents")
    return {service: next(iter(incidents))[1] for service, incidents in found.items()}


def _latency_round(
    runtime: Runtime,
    bare: StoreOnly,
    am: Alertmanager,
    fake: Helper,
    proxy: Helper,
    args: argparse.Namespace,
    prefix: str,
) -> dict[str, list[float]]:
    """One round: `args.groups` new groups through Alertmanager to the bot, then the same
    webhooks replayed to the bare endpoint."""
    fake.ask("reset")
    proxy.ask("upstream", url=f"http://127.0.0.1:{runtime.port}")
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    began = time.monotonic()
    for number in range(args.groups):
        time.sleep(max(0.0, began + number * args.interval - time.monotonic()))
        service = f"{prefix}{number:03d}"
        am.push(
            [
                {
                    "labels": {
                        "alertname": "BenchDown",
                        "severity": "critical",
                        "service": service,
                    },
                    "annotations": {"summary": f"{service} is down"},
                    "startsAt": _stamp(starts),
                    "generatorURL": "http://prometheus.example/graph",
                }
            ]
        )
    channels = _wait(
        lambda: (
            found
            if len(found := _channels_by_service(runtime.ctx.db, prefix)) == args.groups
            and all(found.values())
            else None
        ),
        120,
        f"{args.groups} incident channels",
    )
    times = _wait(
        lambda: seen if len((seen := fake.ask("times"))["first_post"]) >= args.groups else None,
        60,
        "a first message in every channel",
    )
    records = proxy.ask("records")
    if any(r["status"] != 200 for r in records):
        raise SystemExit(f"VERIFICATION FAILED: webhook answers {[r['status'] for r in records]}")
    first: dict[str, float] = {}
    for record in sorted(records, key=lambda r: r["received"]):
        first.setdefault(record["service"], record["received"])
    created = [times["created"][channels[s]] - first[s] for s in channels]
    posted = [times["first_post"][channels[s]] - first[s] for s in channels]
    bare_ms = [r["ms"] for r in proxy.ask("replay", url=bare.url)]
    return {
        "ack_ms": [1000 * (r["answered"] - r["received"]) for r in records],
        "bare_ms": bare_ms,
        "created_s": created,
        "posted_s": posted,
    }


def _burst_bodies(prefix: str) -> list[str]:
    """`BURST` alerts in webhooks of `BATCH`, one group (service) per webhook."""
    starts = _stamp(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    bodies = []
    for group in range(BURST // BATCH):
        service = f"{prefix}{group:03d}"
        alerts = []
        for number in range(BATCH):
            labels = {
                "alertname": "BenchNoise",
                "severity": "info",
                "service": service,
                "instance": f"host-{number}",
            }
            alerts.append(
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": "noise"},
                    "startsAt": starts,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example/graph",
                    "fingerprint": hashlib.sha256(json.dumps(labels).encode()).hexdigest()[:16],
                }
            )
        bodies.append(
            json.dumps(
                {
                    "version": "4",
                    "groupKey": f'{{}}:{{service="{service}"}}',
                    "truncatedAlerts": 0,
                    "status": "firing",
                    "receiver": "bot",
                    "groupLabels": {"service": service},
                    "commonLabels": {},
                    "commonAnnotations": {},
                    "externalURL": "http://alertmanager.example",
                    "alerts": alerts,
                }
            )
        )
    return bodies


def _burst(proxy: Helper, url: str, bodies: list[str]) -> tuple[float, int, int]:
    """Send the burst; its elapsed seconds, and the alerts stored and seen before."""
    answer = proxy.ask(
        "burst",
        url=url,
        path="/alerts/am",
        bodies=bodies,
        clients=CLIENTS,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {AM_SECRET}"},
    )
    results = answer["results"]
    if any(r["status"] != 200 for r in results):
        raise SystemExit(f"VERIFICATION FAILED: burst answers {[r['status'] for r in results]}")
    replies = [json.loads(r["answer"]) for r in results]
    stored = sum(int(r.get("stored", 0)) for r in replies)
    seen = sum(int(r.get("duplicates", 0)) for r in replies)
    return answer["elapsed"], stored, seen


def _stored_rows(db: Database, prefix: str, *, pending: bool = False) -> int:
    with db.session() as session:
        query = select(func.count()).where(col(AlertRecord.service).startswith(prefix))
        if pending:
            query = query.where(col(AlertRecord.state) == AlertState.PENDING)
        return int(session.exec(query).one())


def _ingest_round(
    runtime: Runtime, bare: StoreOnly, proxy: Helper, prefix: str, bare_first: bool
) -> dict[str, float]:
    """The burst to the bot (then again: all duplicates) and to the bare endpoint."""
    bodies = _burst_bodies(prefix)
    bot_url = f"http://127.0.0.1:{runtime.port}"
    figures: dict[str, float] = {}
    if bare_first:
        figures["bare_rate"] = BURST / _burst(proxy, bare.url, bodies)[0]
    began = time.monotonic()
    elapsed, stored, seen = _burst(proxy, bot_url, bodies)
    if (stored, seen) != (BURST, 0):
        raise SystemExit(f"VERIFICATION FAILED: first burst stored {stored}, {seen} seen before")
    _wait(lambda: _stored_rows(runtime.ctx.db, prefix, pending=True) == 0, 120, "routing")
    figures["routed_s"] = time.monotonic() - began
    figures["rate"] = BURST / elapsed
    elapsed, stored, seen = _burst(proxy, bot_url, bodies)
    rows = _stored_rows(runtime.ctx.db, prefix)
    if (stored, seen, rows) != (0, BURST, BURST):
        raise SystemExit(
            f"VERIFICATION FAILED: the same burst again stored {stored} ({seen} seen before);"
            f" {rows} rows, expected {BURST}"
        )
    figures["again_rate"] = BURST / elapsed
    if not bare_first:
        figures["bare_rate"] = BURST / _burst(proxy, bare.url, bodies)[0]
    return figures


def _run_engine(
    engine: str, url: str, args: argparse.Namespace, am: Alertmanager, fake: Helper, proxy: Helper
) -> None:
    """Every round of both measurements on one engine, then its figures."""
    runtime = _start_bot(fake.info["api_url"], fake.info["channel"], url)
    bare = StoreOnly(runtime.ctx.db, runtime.settings.http_threads)
    try:
        latency = [
            _latency_round(runtime, bare, am, fake, proxy, args, f"{engine}-r{n}-")
            for n in range(args.rounds)
        ]
        ingest = [
            _ingest_round(runtime, bare, proxy, f"{engine}-burst{n}-", bare_first=n % 2 == 1)
            for n in range(args.rounds)
        ]
    finally:
        bare.close()
        runtime.stop()
    _print(engine, args, latency, ingest)


def _print(
    engine: str,
    args: argparse.Namespace,
    latency: list[dict[str, list[float]]],
    ingest: list[dict[str, float]],
) -> None:
    def q(key: str, p: float, scale: float = 1.0) -> list[float]:
        return [scale * percentile(r[key], p) for r in latency]

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    ack99, bare99 = q("ack_ms", 0.99), q("bare_ms", 0.99)
    print(f"{engine:<10} {'figure':<44} {'p50':>22} {'p99':>22}")
    rows = [
        ("webhook ack, bot (ms)", q("ack_ms", 0.5), ack99),
        ("webhook ack, store-only endpoint (ms)", q("bare_ms", 0.5), bare99),
        ("webhook → channel created (ms)", q("created_s", 0.5, 1000), q("created_s", 0.99, 1000)),
        ("webhook → first message in it (ms)", q("posted_s", 0.5, 1000), q("posted_s", 0.99, 1000)),
    ]
    for name, p50, p99 in rows:
        print(f"{engine:<10} {name:<44} {spread(p50, 1):>22} {spread(p99, 1):>22}")
    ratio50 = [b / a for a, b in zip(q("bare_ms", 0.5), q("ack_ms", 0.5), strict=True)]
    ratio99 = [b / a for a, b in zip(bare99, ack99, strict=True)]
    print(
        f"{engine:<10} {'ack ratio bot/store-only':<44} {spread(ratio50):>22} {spread(ratio99):>22}"
    )
    created99 = statistics.median(q("created_s", 0.99))
    print(
        f"{engine:<10} targets (medians): ack p99 < {TARGET_ACK_P99_MS:g} ms:"
        f" {verdict(statistics.median(ack99) < TARGET_ACK_P99_MS)};"
        f" channel p99 < {TARGET_CHANNEL_P99_S:g} s: {verdict(created99 < TARGET_CHANNEL_P99_S)}"
    )
    print(
        f"{engine:<10} verified: {args.groups} groups a round → {args.groups} incidents, one"
        " channel each, every webhook answered 200"
    )
    rates = [r["rate"] for r in ingest]
    bare_rates = [r["bare_rate"] for r in ingest]
    print(f"{engine:<10} ingest: {BURST} alerts in {BURST // BATCH} webhooks, {CLIENTS} clients")
    for name, figures, unit in (
        ("bot: stored", rates, "alerts/s"),
        ("bot: the same burst again", [r["again_rate"] for r in ingest], "alerts/s"),
        ("store-only endpoint", bare_rates, "alerts/s"),
        ("bot: every alert routed after", [r["routed_s"] for r in ingest], "s"),
    ):
        print(f"{engine:<10}   {name:<32} {spread(figures, 2 if unit == 's' else 0):>22} {unit}")
    costs = [bare / bot for bot, bare in zip(rates, bare_rates, strict=True)]
    print(f"{engine:<10}   per-alert cost bot/store-only: {spread(costs)}")
    print(
        f"{engine:<10} verified: each burst stored {BURST} rows; the same burst again stored"
        f" none ({BURST} duplicates, still {BURST} rows)"
    )


def main() -> None:
    """Run the benchmark and print the figures."""
    if sys.argv[1:2] == ["--fake"]:
        _fake_main()
        return
    if sys.argv[1:2] == ["--proxy"]:
        _proxy_main()
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=100, help="alert groups per round")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between new groups")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="measurements")
    add_engine_arguments(parser)
    args = parser.parse_args()
    engines = chosen_engines(parser, args)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    fake, proxy = Helper("--fake"), Helper("--proxy")
    try:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            am = Alertmanager(Path(tmp), f"{proxy.info['url']}/alerts/am")
            stack.callback(am.close)
            urls = {
                engine: stack.enter_context(fresh_database(engine, tmp, args.pg_url, "alert-bench"))
                for engine in engines
            }
            print(
                f"Alert latency: {args.groups} alert groups a round, one every {args.interval:g} s,"
                f" {args.rounds} rounds: Alertmanager → recording proxy → the bot (waitress,"
                " sweeper on) → the fake Slack"
            )
            print(f"{cores()}; {am.version}; {engine_versions(urls)}")
            for engine in engines:
                _run_engine(engine, urls[engine], args, am, fake, proxy)
    finally:
        proxy.close()
        fake.close()


if __name__ == "__main__":
    main()
