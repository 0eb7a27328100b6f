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

The bot and the bare app are measured `--rounds` times (3), interleaved, and the median
ratio is printed with its spread (min-max), with the machine's cores and the versions.

Run: `python bench/timeline_ingest.py [--events N] [--clients N] [--rounds N]
[--engines sqlite,postgresql]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from common import (
    ROUNDS,
    FakeSlackProcess,
    add_engine_arguments,
    bare_server,
    chosen_engines,
    cores,
    engine_versions,
    fresh_database,
    percentile,
    signed_headers,
    spread,
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


def _verify(db: Database, base: int, numbers: set[int]) -> str:
    """Every event sent to the bot has exactly one timeline row and none failed."""
    sent = len(numbers)
    expected = {_ts(base, n) for n in numbers}
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
    engine: str,
    url: str,
    args: argparse.Namespace,
    fake: FakeSlackProcess,
    driver: Driver,
) -> tuple[list[Figures], list[Figures], str]:
    """`args.rounds` measurements of the bot and of the bare app, interleaved (the order
    flips each round), each after a warm-up; then every event is checked to be recorded."""
    info = fake.info
    runtime = start_runtime(info, url)
    bare = bare_server(info["api_url"], runtime.ctx.db, runtime.settings.http_threads, _listen)
    bots: list[Figures] = []
    bares: list[Figures] = []
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
        sent = 0
        for number in range(args.rounds):
            order = [(runtime.port, bots), (bare.effective_port, bares)]
            for port, found in order if number % 2 == 0 else reversed(order):
                driver.run({**spec, "start": sent, "count": WARMUP, "port": port})
                sent += WARMUP
                result = driver.run({**spec, "start": sent, "count": args.events, "port": port})
                sent += args.events
                found.append(Figures(args.events, result["elapsed"], result["latencies"]))
        # The bare app records nothing: only the events sent to the bot must be on record.
        verified = _verify(runtime.ctx.db, base, _bot_sent(args))
    finally:
        _close_server(bare)
        runtime.stop()
    return bots, bares, verified


def _bot_sent(args: argparse.Namespace) -> set[int]:
    """The numbers of the events sent to the bot (in rounds where it went first or second)."""
    numbers: set[int] = set()
    block = WARMUP + args.events
    for number in range(args.rounds):
        first = 2 * number * block + (0 if number % 2 == 0 else block)
        numbers.update(range(first, first + block))
    return numbers


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000, help="measured events per engine")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP client threads")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved measurements")
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
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            urls = {
                engine: stack.enter_context(
                    fresh_database(engine, tmp, args.pg_url, "timeline-bench")
                )
                for engine in engines
            }
            print(
                f"Timeline ingestion: {args.events} signed message events per measurement"
                f" (after {WARMUP} warm-up), {args.rounds} rounds with the bot and the bare app"
                f" interleaved, {args.clients} client threads on keep-alive connections,"
                f" {Settings.model_fields['http_threads'].default} server threads"
            )
            print(f"{cores()}; {engine_versions(urls)}")
            print(
                f"{'engine':<10} {'app':<5} {'events/s':>22} {'per-event ms':>22}"
                f" {'p50 ms':>8} {'p99 ms':>8}   (median of the rounds, min-max)"
            )
            for engine in engines:
                bots, bares, verified = _run_engine(engine, urls[engine], args, fake, driver)
                for name, runs in (("bot", bots), ("bare", bares)):
                    print(
                        f"{engine:<10} {name:<5} {spread([f.rate for f in runs], 0):>22}"
                        f" {spread([f.cost_ms for f in runs], 3):>22}"
                        f" {statistics.median(f.percentile_ms(0.5) for f in runs):8.2f}"
                        f" {statistics.median(f.percentile_ms(0.99) for f in runs):8.2f}"
                    )
                ratios = [bot.cost_ms / bare.cost_ms for bot, bare in zip(bots, bares, strict=True)]
                verdict = "met" if statistics.median(ratios) <= TARGET_COST_RATIO else "MISSED"
                print(
                    f"{engine:<10} per-event cost bot/bare, per round: {spread(ratios)}"
                    f" (target ≤ {TARGET_COST_RATIO:g} for the median: {verdict})"
                )
                if engine == "sqlite":
                    rate = statistics.median(f.rate for f in bots)
                    met = rate >= TARGET_EVENTS_PER_SECOND
                    print(
                        f"{engine:<10} bot throughput: {rate:.0f} events/s, median"
                        f" (target ≥ {TARGET_EVENTS_PER_SECOND}: {'met' if met else 'MISSED'})"
                    )
                print(f"{engine:<10} verified: {verified}")
    finally:
        driver.close()
        fake.close()


if __name__ == "__main__":
    main()
