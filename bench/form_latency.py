"""How long a form takes to open in a busy incident, against Slack's 3-second trigger.

Slack honours a trigger_id for 3 s after the command or click that carries it; a form the
bot opens later fails (`expired_trigger_id`). The bot runs in this process under its real
waitress server, on SQLite and on PostgreSQL (a schema of its own), with the fake Slack in a
process of its own (bench/fake_slack_process.py). One incident is declared through it;
then, in its channel, `/incident update` is sent and timed from the moment its signed POST
leaves this process to the moment the fake Slack receives `views.open` (both stamp with
`time.monotonic()`, one clock for the machine):

- idle: nothing else is going on (the baseline);
- backlog: right after `--backlog` (200) `/incident note …` commands, sent by `--clients`
  (8) keep-alive clients as fast as the bot acknowledges them. Each note is a timeline
  entry, a row lock and a post the bot owes Slack, run after the acknowledgement on the
  work pool; the form is opened from its own pool, so it does not wait behind them;
- with `--shared-pool`, also the backlog case with forms opened from the work pool (how
  the bot behaved before: the form waited behind every note).

`--trials` (10) forms per case and round; three rounds (`--rounds`), the cases interleaved
(the order rotates each round). Prints p50 and p99 per case (median of the rounds, with
min-max), the backlog's ratio to idle (median of the per-round ratios) and how many forms
failed to open. The bot's deferred work is let finish between trials.

Run: `python bench/form_latency.py [--backlog 200] [--trials 10] [--shared-pool]`.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    ROUNDS,
    FakeSlackProcess,
    add_engine_arguments,
    chosen_engines,
    command_body,
    cores,
    engine_versions,
    fresh_database,
    percentile,
    spread,
    start_runtime,
)
from sqlmodel import select

from bot.models import Incident
from bot.runtime import Runtime

TRIGGER_TTL = 3.0  # seconds: Slack's limit on using a trigger_id
TARGET_P99 = 1.0  # seconds from the command to views.open, with the backlog


def _send(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> None:
    conn.request("POST", "/slack/events", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"the bot answered HTTP {response.status}")


def _flood(port: int, info: dict[str, str], channel: str, notes: int, clients: int) -> None:
    """Send `notes` note commands from `clients` keep-alive connections; return once each
    has been acknowledged (the work they start is still queued)."""
    failures: list[str] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for number in range(index, notes, clients):
                body, headers = command_body(info, f"note backlog {number}", "1.2.bench", channel)
                _send(conn, body, headers)
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} note clients failed: {failures[:3]}")


def _trial(
    runtime: Runtime, fake: FakeSlackProcess, channel: str, backlog: int, clients: int
) -> tuple[float, bool]:
    """One form: (seconds from the command to views.open, whether it opened)."""
    fake.ask("reset")
    if backlog:
        _flood(runtime.port, fake.info, channel, backlog, clients)
    trigger = fake.ask("trigger")
    body, headers = command_body(fake.info, "update", trigger, channel)
    conn = http.client.HTTPConnection("127.0.0.1", runtime.port, timeout=60)
    try:
        conn.connect()
        sent = time.monotonic()
        _send(conn, body, headers)
    finally:
        conn.close()
    deadline = time.monotonic() + 60
    opened: list[list] = []
    while not opened and time.monotonic() < deadline:
        opened = fake.ask("opened")
        if not opened:
            time.sleep(0.005)
    if not runtime.ctx.wait_idle(timeout=300):
        raise RuntimeError("the bot's deferred work did not finish")
    if not opened:
        raise RuntimeError("the form was never opened")
    at, ok, _ = opened[0]
    return at - sent, bool(ok)


def _incident_channel(runtime: Runtime, fake: FakeSlackProcess) -> str:
    fake.ask(f"declare http://127.0.0.1:{runtime.port}/slack/events")
    if not runtime.ctx.wait_idle(timeout=60):
        raise RuntimeError("the declaration did not finish")
    with runtime.ctx.db.session() as session:
        channel = session.exec(select(Incident.channel_id)).first()
    if not channel:
        raise RuntimeError("the declaration made no channel")
    return channel


def main() -> None:
    # waitress warns when requests wait for a thread, as the backlog makes them do on purpose
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=200, help="note commands before a form")
    parser.add_argument("--clients", type=int, default=8, help="clients sending the notes")
    parser.add_argument("--trials", type=int, default=10, help="forms per case and round")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--shared-pool",
        action="store_true",
        help="also time forms opened from the work pool, behind the backlog",
    )
    add_engine_arguments(parser)
    args = parser.parse_args()
    engines = chosen_engines(parser, args)
    cases = ["idle", "backlog"] + (["backlog, shared pool"] if args.shared_pool else [])
    print(f"{cores()}; backlog {args.backlog} notes from {args.clients} clients")
    versions = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            with fresh_database(engine, tmp, args.pg_url, f"forms_{engine}") as url:
                versions.append(engine_versions({engine: url}))
                _engine(engine, url, cases, args)
    print("\n" + "\n".join(versions))


def _engine(engine: str, url: str, cases: list[str], args: argparse.Namespace) -> None:
    fake = FakeSlackProcess()
    runtime = start_runtime(fake.info, url)
    own_pool = runtime.ctx.defer_form
    try:
        channel = _incident_channel(runtime, fake)
        times: dict[str, list[list[float]]] = {case: [] for case in cases}
        failed: dict[str, int] = dict.fromkeys(cases, 0)
        for round_number in range(args.rounds):
            shift = round_number % len(cases)
            for case in cases[shift:] + cases[:shift]:
                runtime.ctx.defer_form = runtime.ctx.defer if "shared" in case else own_pool  # type: ignore[method-assign]
                backlog = 0 if case == "idle" else args.backlog
                seconds = []
                for _ in range(args.trials):
                    took, ok = _trial(runtime, fake, channel, backlog, args.clients)
                    seconds.append(took)
                    failed[case] += 0 if ok else 1
                times[case].append(seconds)
        _report(engine, cases, times, failed, args)
    finally:
        runtime.ctx.defer_form = own_pool  # type: ignore[method-assign]
        runtime.stop()
        fake.close()


def _report(
    engine: str,
    cases: list[str],
    times: dict[str, list[list[float]]],
    failed: dict[str, int],
    args: argparse.Namespace,
) -> None:
    print(f"\n{engine}: seconds from `/incident update` to views.open ({args.trials} a round)")
    print(f"{'case':<24} {'p50':>22} {'p99':>22} {'not opened':>11}")
    for case in cases:
        p50 = [percentile(r, 0.5) for r in times[case]]
        p99 = [percentile(r, 0.99) for r in times[case]]
        print(f"{case:<24} {spread(p50, 3):>22} {spread(p99, 3):>22} {failed[case]:>11}")
    for case in cases[1:]:
        ratios = [
            percentile(busy, 0.99) / percentile(idle, 0.99)
            for busy, idle in zip(times[case], times["idle"], strict=True)
        ]
        print(f"{case} / idle, p99: {spread(ratios)}")
    p99 = statistics.median(percentile(r, 0.99) for r in times["backlog"])
    verdict = "met" if p99 < TARGET_P99 and not failed["backlog"] else "MISSED"
    print(
        f"target: with the backlog, p99 < {TARGET_P99:.0f} s (Slack allows {TRIGGER_TTL:.0f} s) "
        f"and every form opened: {verdict}"
    )


if __name__ == "__main__":
    main()
