"""Timeline ingestion throughput: signed `message` events in, timeline rows committed.

The bot runs in this process under its real waitress server, on SQLite (a file, the bot's
WAL settings) and on PostgreSQL (a fresh schema, dropped at the end). An incident is
declared directly through the services and given a made-up channel, so only ingestion is
measured: each event is written to the timeline (message events land once under their
channel-and-ts key; a failed one goes to the inbox for retry) before the ack.
A bare Bolt app whose `message` listener does nothing, under the same server set-up, gets
the same events at the same concurrency as the baseline. The fake Slack (it answers the
one auth.test) and the HTTP clients (N threads on keep-alive connections, with requests
built and signed before the clock starts) run in processes of their own, so the client
work does not share this process's interpreter lock with the servers.

After each run the rows are counted: every event must have produced exactly one timeline
row and none may be left failed in the inbox, or the script fails.

Run: `python bench/timeline_ingest.py [--events N] [--clients N] [--engines sqlite,postgresql]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from common import (
    FakeSlackProcess,
    add_engine_arguments,
    bare_server,
    chosen_engines,
    fresh_database,
    percentile,
    signed_headers,
    start_runtime,
)
from slack_bolt import App
from sqlalchemy import func
from sqlmodel import select

from bot.db import Database
from bot.models import InboxEvent, TimelineEvent, TimelineKind
from bot.runtime import Runtime
from bot.services.declaration import declare, validate_declaration
from bot.settings import Settings

CHANNEL = "C0BENCHINC1"  # made up: the incident's channel exists only in the database
WARMUP = 200
TARGET_EVENTS_PER_SECOND = 500  # SQLite
TARGET_COST_RATIO = 3.0


# --- the events ------------------------------------------------------------------------------


def _ts(base: int, n: int) -> str:
    return f"{base}.{n:06d}"


def _event_body(spec: dict[str, Any], n: int) -> bytes:
    ts = _ts(spec["base"], n)
    return json.dumps(
        {
            "token": "bench-verification-token",
            "team_id": spec["team"],
            "api_app_id": "A0BENCH",
            "type": "event_callback",
            "event_id": f"Ev{spec['base']}{n:07d}",
            "event_time": spec["base"],
            "event": {
                "type": "message",
                "channel": spec["channel"],
                "channel_type": "channel",
                "user": spec["user"],
                "text": f"bench message {n}: error rate back under 1% after the rollback",
                "ts": ts,
                "event_ts": ts,
            },
        },
        separators=(",", ":"),
    ).encode()


# --- the client process --------------------------------------------------------------------


def _drive(spec: dict[str, Any]) -> dict[str, Any]:
    """Send the spec's events from `clients` threads over keep-alive connections."""
    timestamp = str(int(time.time()))
    requests = []
    for n in range(spec["start"], spec["start"] + spec["count"]):
        body = _event_body(spec, n)
        requests.append((body, signed_headers(body, "application/json", timestamp)))
    clients = spec["clients"]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    answered = [0] * clients
    failures: list[str] = []
    ready = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=60)
        times = latencies[index]
        try:
            try:
                conn.connect()  # before the clock starts
            finally:
                ready.wait()
            for body, headers in requests[index::clients]:
                start = time.perf_counter()
                conn.request("POST", "/slack/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                times.append(time.perf_counter() - start)
                if response.status == 200:
                    answered[index] += 1
                else:
                    failures.append(f"HTTP {response.status}")
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "elapsed": elapsed,
        "latencies": [t for times in latencies for t in times],
        "failures": failures[:5],
        "failed": len(requests) - sum(answered),
    }


def _driver_main() -> None:
    """The client process: one JSON spec per input line, one JSON result per output line."""
    for line in sys.stdin:
        if not line.strip():
            break
        print(json.dumps(_drive(json.loads(line))), flush=True)


class Driver:
    """The client process, seen from the servers' process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--drive"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Send one batch of events and return the timings; fail on any non-200."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the client process ended unexpectedly")
        result: dict[str, Any] = json.loads(line)
        if result["failed"]:
            raise RuntimeError(
                f"{result['failed']} of {spec['count']} requests failed on port {spec['port']}:"
                f" {result['failures']}"
            )
        return result

    def close(self) -> None:
        """End the process."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


# --- the servers ---------------------------------------------------------------------------


def _ignore() -> None:
    pass


def _listen(app: App) -> None:
    app.event("message")(_ignore)


def _close_server(server: Any) -> None:
    server.task_dispatcher.shutdown(timeout=5)
    server.close()
    for channel in list(server._map.values()):
        channel.close()


def _declare_incident(runtime: Runtime, reporter: str) -> None:
    ctx = runtime.ctx
    data = validate_declaration(
        {
            "title": "Checkout is failing",
            "severity": "sev2",
            "category": "software",
            "impact": "high",
            "urgency": "high",
        },
        ctx.policy,
    )
    with ctx.db.session() as session:
        incident = declare(
            session=session, data=data, reporter_id=reporter, policy=ctx.policy, now=ctx.clock.now()
        )
        incident.channel_id = CHANNEL
        session.add(incident)


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Figures:
    """One measured run."""

    events: int
    elapsed: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.elapsed

    @property
    def cost_ms(self) -> float:
        """Per-event cost: 1/throughput, in milliseconds."""
        return 1000 * self.elapsed / self.events

    def percentile_ms(self, q: float) -> float:
        """A per-request latency percentile, in milliseconds."""
        return 1000 * percentile(self.latencies, q)


def _verify(db: Database, base: int, sent: int) -> str:
    """Every event sent to the bot has exactly one timeline row and none failed."""
    expected = {_ts(base, n) for n in range(sent)}
    with db.session() as session:
        per_ts = dict(
            session.exec(
                select(TimelineEvent.slack_ts, func.count())
                .where(TimelineEvent.channel_id == CHANNEL)
                .group_by(TimelineEvent.slack_ts)
            ).all()
        )
        kinds = dict(
            session.exec(
                select(TimelineEvent.kind, func.count())
                .where(TimelineEvent.channel_id == CHANNEL)
                .group_by(TimelineEvent.kind)
            ).all()
        )
        states = dict(
            session.exec(
                select(InboxEvent.state, func.count())
                .where(InboxEvent.channel_id == CHANNEL)
                .group_by(InboxEvent.state)
            ).all()
        )
    problems = []
    missing = expected - per_ts.keys()
    extra = per_ts.keys() - expected
    doubled = [ts for ts, count in per_ts.items() if count != 1]
    if missing:
        problems.append(f"{len(missing)} events have no timeline row (e.g. {min(missing)})")
    if extra:
        problems.append(f"{len(extra)} timeline rows match no event sent")
    if doubled:
        problems.append(f"{len(doubled)} events have more than one timeline row")
    if kinds != {TimelineKind.MESSAGE: sent}:
        problems.append(f"timeline rows by kind: {kinds}, expected {{'message': {sent}}}")
    if states.get("pending") or states.get("dead"):
        problems.append(f"inbox rows by state: {states}: some events failed")
    if problems:
        raise SystemExit("VERIFICATION FAILED: " + "; ".join(problems))
    return f"{sent} events → {sent} timeline rows, none left pending in the inbox"


def _run_engine(
    engine: str, args: argparse.Namespace, fake: FakeSlackProcess, driver: Driver, tmp: str
) -> tuple[Figures, Figures, str]:
    info = fake.info
    with fresh_database(engine, tmp, args.pg_url, "timeline-bench") as url:
        runtime = start_runtime(info, url)
        bare = bare_server(info["api_url"], runtime.ctx.db, runtime.settings.http_threads, _listen)
        try:
            _declare_incident(runtime, info["user"])
            base = int(time.time())
            spec = {
                "team": info["team"],
                "user": info["user"],
                "channel": CHANNEL,
                "base": base,
                "clients": args.clients,
            }
            warmup = {**spec, "start": 0, "count": WARMUP}
            measured = {**spec, "start": WARMUP, "count": args.events}
            figures = []
            for port in (runtime.port, bare.effective_port):
                driver.run({**warmup, "port": port})
                result = driver.run({**measured, "port": port})
                figures.append(Figures(args.events, result["elapsed"], result["latencies"]))
            verified = _verify(runtime.ctx.db, base, WARMUP + args.events)
        finally:
            _close_server(bare)
            runtime.stop()
    return figures[0], figures[1], verified


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000, help="measured events per engine")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP client threads")
    add_engine_arguments(parser)
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        _driver_main()
        return
    engines = chosen_engines(parser, args)

    # waitress warns about its queue whenever every server thread is busy: here, all the time
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    fake = FakeSlackProcess()
    driver = Driver()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(
                f"Timeline ingestion: {args.events} signed message events per engine"
                f" (after {WARMUP} warm-up), {args.clients} client threads on keep-alive"
                f" connections, {Settings.model_fields['http_threads'].default} server threads,"
                f" {os.cpu_count()} CPUs"
            )
            print(
                f"{'engine':<10} {'app':<5} {'events/s':>9} {'per-event ms':>13}"
                f" {'p50 ms':>8} {'p99 ms':>8}"
            )
            for engine in engines:
                bot, bare, verified = _run_engine(engine, args, fake, driver, tmp)
                for name, figures in (("bot", bot), ("bare", bare)):
                    print(
                        f"{engine:<10} {name:<5} {figures.rate:9.0f} {figures.cost_ms:13.3f}"
                        f" {figures.percentile_ms(0.5):8.2f} {figures.percentile_ms(0.99):8.2f}"
                    )
                ratio = bot.cost_ms / bare.cost_ms
                verdict = "met" if ratio <= TARGET_COST_RATIO else "MISSED"
                print(
                    f"{engine:<10} per-event cost bot/bare: {ratio:.2f}"
                    f" (target ≤ {TARGET_COST_RATIO:g}: {verdict})"
                )
                if engine == "sqlite":
                    met = bot.rate >= TARGET_EVENTS_PER_SECOND
                    print(
                        f"{engine:<10} bot throughput: {bot.rate:.0f} events/s"
                        f" (target ≥ {TARGET_EVENTS_PER_SECOND}: {'met' if met else 'MISSED'})"
                    )
                print(f"{engine:<10} verified: {verified}")
    finally:
        driver.close()
        fake.close()


if __name__ == "__main__":
    main()
