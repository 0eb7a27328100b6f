"""`/incident` acknowledgement latency through the real HTTP server, against a bare Bolt app.

Both apps run under the same waitress server set-up in this process, receive the same
signed slash commands, and are measured in the same run; the fake Slack that answers the
bot's Web API calls runs in a process of its own. Prints p50 and p99 at 1 and 20 concurrent
requests with the ratio to the bare app, and the Web API calls one declaration makes.

Run: `python bench/ack_latency.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from common import FakeSlackProcess, bare_server, percentile, signed_headers, start_runtime
from slack_bolt import Ack, App

MINIMUM_DECLARE_CALLS = 8  # views.open + the seven set-up steps


def _ack_only(ack: Ack) -> None:
    ack()


def _listen(app: App) -> None:
    app.command("/incident")(_ack_only)


def _measure(port: int, fake: FakeSlackProcess, count: int, workers: int) -> list[float]:
    local = threading.local()
    info = fake.info

    def one(_index: int) -> float:
        body = urllib.parse.urlencode(
            {
                "team_id": info["team"],
                "channel_id": info["channel"],
                "user_id": info["user"],
                "command": "/incident",
                "text": "declare Bench incident",
                "trigger_id": fake.ask("trigger"),
                "response_url": info["api_url"].replace("/api/", "/response/bench"),
            }
        ).encode()
        headers = signed_headers(body, "application/x-www-form-urlencoded")
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start = time.perf_counter()
        conn.request("POST", "/slack/events", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return elapsed

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(count)))


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="requests per run")
    args = parser.parse_args()

    fake = FakeSlackProcess()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = start_runtime(fake.info, f"sqlite:///{tmp}/bench.db")
        bare = bare_server(fake.info["api_url"], runtime.ctx.db, 8, _listen)
        try:
            _measure(runtime.port, fake, 30, 4)  # warm-up
            _measure(bare.effective_port, fake, 30, 4)
            print(f"/incident ack latency, {args.requests} signed requests per run (ms)")
            print(f"{'concurrency':>11} {'app':>5} {'p50':>8} {'p99':>8}")
            for workers in (1, 20):
                bot_times = _measure(runtime.port, fake, args.requests, workers)
                bare_times = _measure(bare.effective_port, fake, args.requests, workers)
                for name, times in (("bot", bot_times), ("bare", bare_times)):
                    print(
                        f"{workers:>11} {name:>5} {percentile(times, 0.5) * 1000:8.2f}"
                        f" {percentile(times, 0.99) * 1000:8.2f}"
                    )
                p99 = percentile(bot_times, 0.99) / percentile(bare_times, 0.99)
                p50 = percentile(bot_times, 0.5) / percentile(bare_times, 0.5)
                print(
                    f"{workers:>11} ratio bot/bare: p99 {p99:.2f}, p50 {p50:.2f} (target p99 ≤ 1.5)"
                )
            app_url = f"http://127.0.0.1:{runtime.port}/slack/events"
            calls = fake.ask(f"declare {app_url}")
            print("Web API calls for one declaration (command → modal → set-up):")
            for method, count in sorted(calls.items()):
                print(f"  {method:<26} {count}")
            total = sum(calls.values())
            ratio = total / MINIMUM_DECLARE_CALLS
            print(f"  {'total':<26} {total} (minimum {MINIMUM_DECLARE_CALLS}; ratio {ratio:.2f})")
        finally:
            bare.close()
            runtime.stop()
            fake.close()


if __name__ == "__main__":
    main()
