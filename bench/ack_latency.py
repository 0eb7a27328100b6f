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
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import Ack, App  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bot.policy import Policy, default_policy_data  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.server import make_server  # noqa: E402
from bot.settings import Settings  # noqa: E402

SECRET = "bench-secret"
TOKEN = "xoxb-bench"
MINIMUM_DECLARE_CALLS = 8  # views.open + the seven set-up steps


class FakeSlackProcess:
    """Talks to bench/fake_slack_process.py."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "fake_slack_process.py"), SECRET, TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()
        self.info: dict[str, str] = json.loads(self._line())

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def ask(self, request: str) -> Any:
        """Send one request line and read its JSON answer."""
        assert self.proc.stdin is not None
        with self.lock:
            self.proc.stdin.write(request + "\n")
            self.proc.stdin.flush()
            return json.loads(self._line())

    def close(self) -> None:
        """Stop the process."""
        try:
            self.ask("quit")
        finally:
            self.proc.wait(timeout=10)


def _bare_server(api_url: str, db: Any) -> Any:
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=api_url),
        token_verification_enabled=False,
    )

    def handle(ack: Ack) -> None:
        ack()

    app.command("/incident")(handle)
    server = make_server(app, db, host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    return server


def _measure(port: int, fake: FakeSlackProcess, count: int, workers: int) -> list[float]:
    verifier = SignatureVerifier(SECRET)
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
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=timestamp, body=body),
        }
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="requests per run")
    args = parser.parse_args()

    fake = FakeSlackProcess()
    with tempfile.TemporaryDirectory() as tmp:
        data = default_policy_data()
        data["announcement_channel"] = fake.info["channel"]
        settings = Settings(
            slack_bot_token=TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=fake.info["api_url"],
            database_url=f"sqlite:///{tmp}/bench.db",
            port=0,
            host="127.0.0.1",
            _env_file=None,  # type: ignore[call-arg]
        )
        runtime = Runtime(settings, policy=Policy.model_validate(data), sweep=False)
        runtime.start()
        bare = _bare_server(fake.info["api_url"], runtime.ctx.db)
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
                        f"{workers:>11} {name:>5} {_percentile(times, 0.5) * 1000:8.2f}"
                        f" {_percentile(times, 0.99) * 1000:8.2f}"
                    )
                p99 = _percentile(bot_times, 0.99) / _percentile(bare_times, 0.99)
                p50 = _percentile(bot_times, 0.5) / _percentile(bare_times, 0.5)
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
