"""The public status page under load: `/status` and `/status.json` beside a static file
(the page's stylesheet, served by the same server in the same run).

The bot runs in this process under its real waitress server (`HTTP_THREADS`, default 8),
with a status page of 50 components in 5 groups and 500 past incidents published through
`bot.services.status_publication.publish` over the 90 days of history (each with an
investigating and a resolved update), plus one open incident. The load comes from this
script again in a process of its own (`--client`): `--clients` (50) keep-alive
connections driven by one asyncio loop, each sending its next request as soon as the last
was answered, for `--duration` (20 s), with `Accept-Encoding: gzip` as a browser sends.
Per target: p50 and p99 of the request time, and requests per second. The three targets
run `--rounds` times (3), interleaved in rotating order; each figure is printed as the
median of the rounds with min-max, each ratio to the static file as the median of the
per-round ratios with min-max.

Then freshness: an update is published (committed) while 8 clients keep loading `/status`,
and the time until a fresh `GET /status` shows it is measured, 5 times.

Run: `python bench/status_page.py [--duration 20] [--clients 50] [--rounds 3]
[--engines sqlite,postgresql]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from common import (
    ROUNDS,
    SECRET,
    TOKEN,
    FakeSlackProcess,
    add_engine_arguments,
    chosen_engines,
    cores,
    engine_versions,
    fresh_database,
    percentile,
    spread,
)

from bot.clock import SystemClock
from bot.policy import Policy
from bot.policy_defaults import default_policy_data
from bot.runtime import Runtime, freeze_startup_heap
from bot.settings import Settings
from tests.status_page_support import add_incident, publish

GROUPS = ("Web", "Payments", "Platform", "Data", "Messaging")
TARGET_P99_MS = 50.0
TARGET_RATIO = 2.0
TARGET_FRESH_S = 1.0


# --- the load, in a process of its own -----------------------------------------------------------


async def _client(
    host: str, port: int, path: str, until: float, times: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: gzip\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode()
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            times.append(time.perf_counter() - started)
            if status != 200:
                errors.append(str(status))
    finally:
        writer.close()


async def _load(host: str, port: int, path: str, clients: int, duration: float) -> dict[str, Any]:
    times: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + duration
    started = time.perf_counter()
    await asyncio.gather(*(_client(host, port, path, until, times, errors) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {"times": times, "errors": errors, "elapsed": elapsed}


def _client_main(argv: list[str]) -> None:
    """`--client <port> <path> <clients> <duration>`: print the request times as JSON."""
    port, path, clients, duration = int(argv[0]), argv[1], int(argv[2]), float(argv[3])
    print(json.dumps(asyncio.run(_load("127.0.0.1", port, path, clients, duration))))


def load(port: int, path: str, clients: int, duration: float) -> dict[str, float]:
    """Run the load process against one path; p50, p99 (ms) and requests per second."""
    out = subprocess.run(
        [sys.executable, __file__, "--client", str(port), path, str(clients), str(duration)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    times = result["times"]
    if result["errors"]:
        raise SystemExit(f"{path}: {len(result['errors'])} errors, e.g. {result['errors'][:3]}")
    return {
        "p50": percentile(times, 0.50) * 1000,
        "p99": percentile(times, 0.99) * 1000,
        "rps": len(times) / result["elapsed"],
    }


# --- the bot, seeded ----------------------------------------------------------------------------


def policy(channel: str, components: int) -> Policy:
    """The default policy with a status page of `components` components in 5 groups."""
    data = default_policy_data()
    data["announcement_channel"] = channel
    data["status_page"] = {
        "title": "Bench status",
        "components": [
            {
                "name": f"Component {n:02d}",
                "group": GROUPS[n % len(GROUPS)],
                "services": [f"svc{n:02d}"],
                "description": f"Service number {n}",
            }
            for n in range(components)
        ],
    }
    return Policy.model_validate(data)


def seed(runtime: Runtime, components: int, incidents: int) -> None:
    """`incidents` past incidents over the 90 days, published as the bot does, and one open."""
    db = runtime.ctx.db
    now = datetime.now(UTC)
    rng = random.Random(11)
    states = ("degraded_performance", "partial_outage", "major_outage")
    for n in range(incidents):
        start = now - timedelta(days=89) + timedelta(minutes=rng.randrange(89 * 1440))
        hit = {f"Component {rng.randrange(components):02d}": rng.choice(states) for _ in range(2)}
        incident = add_incident(db, now=start, title=f"Past incident {n}")
        publish(db, incident, now=start, title=f"Past incident {n}", components=hit)
        publish(
            db,
            incident,
            now=start + timedelta(minutes=rng.randrange(5, 240)),
            status="resolved",
            title=f"Past incident {n}",
            message="Resolved.",
        )
    incident = add_incident(db, now=now, title="Open incident")
    publish(
        db, incident, now=now, title="Open incident", components={"Component 03": "major_outage"}
    )


def start(info: dict[str, str], url: str, components: int) -> Runtime:
    """The bot on a free port with the benchmark's status page."""
    settings = Settings(
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=info["api_url"],
        database_url=url,
        port=0,
        host="127.0.0.1",
        _env_file=None,
    )
    runtime = Runtime(
        settings, clock=SystemClock(), policy=policy(info["channel"], components), sweep=False
    )
    runtime.start()
    return runtime


def freshness(runtime: Runtime, times: int = 5) -> list[float]:
    """Seconds from a publication's commit to `/status` showing it, under light load."""
    port = runtime.port
    stop = threading.Event()

    def background() -> None:
        while not stop.is_set():
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10).read()

    loaders = [threading.Thread(target=background, daemon=True) for _ in range(8)]
    for thread in loaders:
        thread.start()
    found: list[float] = []
    try:
        for n in range(times):
            marker = f"Fresh update {n} {random.random()}"
            incident = add_incident(runtime.ctx.db, now=datetime.now(UTC))
            publish(runtime.ctx.db, incident, now=datetime.now(UTC), title=marker)
            committed = time.perf_counter()
            while True:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10)
                if marker in page.read().decode():
                    found.append(time.perf_counter() - committed)
                    break
                if time.perf_counter() - committed > 10:
                    raise SystemExit("a publication did not show on the page within 10 s")
    finally:
        stop.set()
        for thread in loaders:
            thread.join()
    return found


def run_engine(engine: str, url: str, args: argparse.Namespace, info: dict[str, str]) -> None:
    """Seed, load the three targets in rotating order per round, report."""
    runtime = start(info, url, args.components)
    try:
        began = time.perf_counter()
        seed(runtime, args.components, args.incidents)
        freeze_startup_heap()  # as `incident-bot run` does once it serves
        print(
            f"\n== {engine}: seeded {args.incidents} incidents in "
            f"{time.perf_counter() - began:.1f} s"
        )
        port = runtime.port
        site = runtime.status_page
        assert site is not None
        css = f"{site.base}/style.css"
        targets = {"static file": css, "/status": site.base, "/status.json": site.base + ".json"}
        sizes = {
            name: len(urllib.request.urlopen(f"http://127.0.0.1:{port}{path}").read())
            for name, path in targets.items()
        }
        figures: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        order = list(targets)
        renders_before = dict(site.renders)
        for round_no in range(args.rounds):
            rotated = order[round_no % len(order) :] + order[: round_no % len(order)]
            for name in rotated:
                figures[name].append(load(port, targets[name], args.clients, args.duration))
        renders = {k: v - renders_before.get(k, 0) for k, v in site.renders.items()}
        print(
            f"{args.clients} clients, {args.duration:g} s per target per round, "
            f"{args.rounds} rounds; {args.components} components"
        )
        print(f"{'target':<14}{'bytes':>9}  {'p50 ms':<22}{'p99 ms':<22}{'req/s':<26}p99 / static")
        for name in targets:
            rows = figures[name]
            ratios = [
                row["p99"] / base["p99"]
                for row, base in zip(rows, figures["static file"], strict=True)
            ]
            print(
                f"{name:<14}{sizes[name]:>9}  {spread([r['p50'] for r in rows]):<22}"
                f"{spread([r['p99'] for r in rows]):<22}{spread([r['rps'] for r in rows], 0):<26}"
                f"{spread(ratios)}"
            )
        print(f"renders during the load: {renders} (at most one per second per representation)")
        fresh = freshness(runtime)
        print(
            f"publication to page: {spread(fresh, 3)} s over {len(fresh)} publications "
            f"(max {max(fresh):.3f} s)"
        )
        verdicts = []
        for name in ("/status", "/status.json"):
            p99 = statistics.median(r["p99"] for r in figures[name])
            ratio = statistics.median(
                r["p99"] / b["p99"]
                for r, b in zip(figures[name], figures["static file"], strict=True)
            )
            verdicts.append(
                f"{name} p99 {p99:.1f} ms (< {TARGET_P99_MS:g}: "
                f"{'yes' if p99 < TARGET_P99_MS else 'NO'}), "
                f"{ratio:.2f}x static (<= {TARGET_RATIO:g}: "
                f"{'yes' if ratio <= TARGET_RATIO else 'NO'})"
            )
        verdicts.append(
            f"fresh within {TARGET_FRESH_S:g} s: {'yes' if max(fresh) < TARGET_FRESH_S else 'NO'}"
        )
        print("targets: " + "; ".join(verdicts))
    finally:
        runtime.stop()


def main() -> None:
    """Parse the flags and run each engine."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per target")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--incidents", type=int, default=500)
    add_engine_arguments(parser)
    args = parser.parse_args()
    engines = chosen_engines(parser, args)
    logging.basicConfig(level=logging.WARNING)
    fake = FakeSlackProcess()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for engine in engines:
                with fresh_database(engine, tmp, args.pg_url, f"status_{engine}") as url:
                    print(engine_versions({engine: url}))
                    run_engine(engine, url, args, fake.info)
            print(f"\n{cores()}")
    finally:
        fake.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        _client_main(sys.argv[2:])
    else:
        main()
