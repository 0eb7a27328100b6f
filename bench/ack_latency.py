"""`/incident` acknowledgement latency through real HTTP servers, against bare Bolt apps.

Each set-up runs in a process of its own (bench/ack_server.py): the bot as `incident-bot
run` serves it, and a bare Bolt app that only acks `/incident` under waitress (the bot's
server set-up) and under gunicorn's threaded worker (one gthread worker), all with the
bot's `HTTP_THREADS`. The fake Slack that answers the bot's Web API calls and
response_url posts runs in a process of its own too, and this process only sends
requests: N client threads, each on a keep-alive connection made before the clock starts,
send signed `/incident help`, `/incident declare …` and `/incident note …` (a lifecycle change
in the channel of an incident the bot's server set up, with the timeline entry, the row lock
and the post it owes Slack) commands one after another and time each from sending to the
full reply.

Every (path, concurrency) cell is measured once per round for each set-up, in a rotating
order, for three rounds; the bot's deferred work (its replies, the modal it opens, the note's
post) is let
finish before the next measurement. Prints p50 and p99 per set-up (median of the rounds,
with min-max), the server processes' CPU time per request, and the bot's ratio to each
bare set-up (median of the per-round ratios, with min-max); then the Web API calls one
declaration makes.

Run: `python bench/ack_latency.py [--requests N] [--rounds N] [--bot-servers waitress,gunicorn]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from common import FakeSlackProcess, command_body, percentile

from bot.settings import Settings

MINIMUM_DECLARE_CALLS = 8  # views.open + the seven set-up steps
TARGET_P99_RATIO = 1.5
# help: the registry's answer; declare: opens the form; note: a lifecycle change in the
# incident's channel (the timeline entry, the row lock, the effect it owes Slack).
PATHS = {"help": "help", "declare": "declare Bench incident", "note": "note Bench note"}
CONCURRENCY = (1, 20)
TRIGGER_BATCH = 10  # fresh trigger_ids a client takes at a time (they live three seconds)
HERE = Path(__file__).resolve().parent


# --- the servers ---------------------------------------------------------------------------


class ServerProcess:
    """bench/ack_server.py serving APP under SERVER, seen from here."""

    def __init__(
        self, app: str, server: str, fake: FakeSlackProcess, tmp: str, threads: int
    ) -> None:
        self.name = f"{app} {server}"
        self.is_bot = app == "bot"
        self.log = Path(tmp) / f"{app}-{server}.log"
        info = fake.info
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "ack_server.py"),
                app,
                server,
                info["api_url"],
                f"sqlite:///{tmp}/{app}-{server}.db",
                info["channel"],
                str(threads),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} ended before serving:\n{self.log.read_text()}")
        self.port = int(json.loads(line)["port"])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server process and its children so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in _process_tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def log_summary(self) -> str:
        """How many WARNING and ERROR lines the server logged, by message."""
        counts: dict[str, int] = {}
        for line in self.log.read_text().splitlines():
            for level in ("WARNING", "ERROR"):
                if f" {level} " in line:
                    message = line.split(": ", 1)[-1]
                    key = f"{level} {message.rstrip('0123456789 ')}"
                    counts[key] = counts.get(key, 0) + 1
        return "; ".join(f"{key} x{n}" for key, n in sorted(counts.items())) or "nothing"

    def close(self) -> None:
        """Stop the server."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _process_tree(root: int) -> list[int]:
    """`root` and its descendants (Linux /proc; just `root` elsewhere)."""
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return [root]
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


# --- the client ----------------------------------------------------------------------------


def measure(port: int, fake: FakeSlackProcess, text: str, count: int, clients: int) -> list[float]:
    """Send `count` signed `/incident TEXT` commands from `clients` threads, each on its own
    keep-alive connection, and return each one's latency in seconds. A declaration gets a
    fresh trigger_id, taken before its clock starts."""
    fresh_triggers = text.startswith("declare")
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    ready = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        times = latencies[index]
        triggers: list[str] = []
        try:
            try:
                conn.connect()  # before the clock starts
            finally:
                ready.wait()
            for _ in range(index, count, clients):
                if fresh_triggers and not triggers:
                    triggers = fake.ask(f"triggers {TRIGGER_BATCH}")
                trigger = triggers.pop() if fresh_triggers else "1000.2000.bench"
                body, headers = command_body(fake.info, text, trigger)
                start = time.perf_counter()
                conn.request("POST", "/slack/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                times.append(time.perf_counter() - start)
                if response.status != 200:
                    failures.append(f"HTTP {response.status}")
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests to port {port} failed: {failures[:3]}")
    return [t for times in latencies for t in times]


# --- figures -------------------------------------------------------------------------------


@dataclass
class Cell:
    """One set-up's figures for one (path, concurrency), a value per round."""

    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # server CPU seconds per request


def _spread(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """`median (min-max)`."""
    median = statistics.median(values) * scale
    low, high = min(values) * scale, max(values) * scale
    return f"{median:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def _ratios(bot: Cell, bare: Cell, name: str) -> list[float]:
    return [b / a for b, a in zip(getattr(bot, name), getattr(bare, name), strict=True)]


def _versions() -> str:
    libraries = ", ".join(
        f"{name} {version(name)}" for name in ("waitress", "gunicorn", "slack-bolt", "slack-sdk")
    )
    return f"Python {platform.python_version()}, {libraries}"


def _cores() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{os.cpu_count()} cores ({usable} usable by this process)"


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--bot-servers",
        default="waitress",
        help="servers to run the bot under (comma-separated: waitress, gunicorn); "
        "`incident-bot run` uses waitress",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=int(Settings.model_fields["http_threads"].default),
        help="request threads of every server (default: HTTP_THREADS' default)",
    )
    args = parser.parse_args()
    bot_servers = [s.strip() for s in args.bot_servers.split(",") if s.strip()]

    print(f"{_cores()}; {_versions()}")
    print(
        f"{args.requests} signed requests per measurement, {args.rounds} interleaved rounds, "
        f"{args.threads} request threads per server, bare gunicorn: 1 gthread worker"
    )
    fake = FakeSlackProcess()
    # The fake stands in for Slack, whose work is not done on the bot's machine: it yields
    # the cores to the servers and the clients.
    os.setpriority(os.PRIO_PROCESS, fake.proc.pid, 10)
    servers: list[ServerProcess] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for app, server in [("bot", s) for s in bot_servers] + [
                ("bare", "waitress"),
                ("bare", "gunicorn"),
            ]:
                servers.append(ServerProcess(app, server, fake, tmp, args.threads))
            _run(fake, servers, args.requests, args.rounds)
            bot = next(s for s in servers if s.is_bot)
            fake.ask("settle")
            app_url = f"http://127.0.0.1:{bot.port}/slack/events"
            calls = fake.ask(f"declare {app_url}")
            print(f"Web API calls for one declaration (command → modal → set-up), {bot.name}:")
            for method, count in sorted(calls.items()):
                if method != "history messages":
                    print(f"  {method:<26} {count}")
            total = sum(n for m, n in calls.items() if m != "history messages")
            ratio = total / MINIMUM_DECLARE_CALLS
            print(f"  {'total':<26} {total} (minimum {MINIMUM_DECLARE_CALLS}; ratio {ratio:.2f})")
            print("Server logs (WARNING and ERROR lines):")
            for server in servers:
                print(f"  {server.name}: {server.log_summary()}")
        finally:
            for server in servers:
                server.close()
            fake.close()


def _run(fake: FakeSlackProcess, servers: list[ServerProcess], requests: int, rounds: int) -> None:
    cells: dict[tuple[str, int, str], Cell] = {}
    for server in servers:  # warm-up
        for text in PATHS.values():
            measure(server.port, fake, text, 100, 4)
    fake.ask("settle")
    for round_ in range(rounds):
        for path, text in PATHS.items():
            for clients in CONCURRENCY:
                shift = round_ % len(servers)
                for server in servers[shift:] + servers[:shift]:
                    cell = cells.setdefault((path, clients, server.name), Cell())
                    fake.ask("settle")
                    before = server.cpu_seconds()
                    times = measure(server.port, fake, text, requests, clients)
                    fake.ask("settle")
                    cell.cpu.append((server.cpu_seconds() - before) / len(times))
                    cell.p50.append(percentile(times, 0.5))
                    cell.p99.append(percentile(times, 0.99))
    bares = [s for s in servers if not s.is_bot]
    for path, text in PATHS.items():
        print()
        print(f"/incident {text}: latency in ms, median of {rounds} rounds (min-max)")
        print(f"{'clients':>7}  {'set-up':<16} {'p50':>20} {'p99':>20} {'CPU ms/req':>11}")
        for clients in CONCURRENCY:
            for server in servers:
                cell = cells[(path, clients, server.name)]
                print(
                    f"{clients:>7}  {server.name:<16} {_spread(cell.p50, 1000):>20}"
                    f" {_spread(cell.p99, 1000):>20} {statistics.median(cell.cpu) * 1000:11.2f}"
                )
        print(f"{'clients':>7}  ratio (median of per-round ratios, min-max)")
        for clients in CONCURRENCY:
            fastest = min(
                bares, key=lambda s: statistics.median(cells[(path, clients, s.name)].p99)
            )
            for bot in (s for s in servers if s.is_bot):
                for bare in bares:
                    b, a = cells[(path, clients, bot.name)], cells[(path, clients, bare.name)]
                    p99 = _ratios(b, a, "p99")
                    mark = ""
                    if clients == max(CONCURRENCY) and bare is fastest:
                        ok = statistics.median(p99) <= TARGET_P99_RATIO
                        mark = f"  fastest bare; target p99 ≤ {TARGET_P99_RATIO}: "
                        mark += "met" if ok else "NOT met"
                    print(
                        f"{clients:>7}  {bot.name} / {bare.name}: p99 {_spread(p99)},"
                        f" p50 {_spread(_ratios(b, a, 'p50'))}{mark}"
                    )


if __name__ == "__main__":
    main()
