"""One HTTP server for bench/ack_latency.py, in a process of its own.

`python bench/ack_server.py APP SERVER API_URL DATABASE_URL CHANNEL THREADS` serves

- APP `bot`: the bot as `incident-bot run` serves it (announcing in CHANNEL, without the
  sweeper), or APP `bare`: a Bolt app set up as the bot's whose only listener acks
  `/incident`;
- under SERVER `waitress` (the bot's server set-up, `bot.server.make_server`) or `gunicorn`
  (one gthread worker), with THREADS request threads, on a free port of 127.0.0.1,
  logging as `incident-bot run` does (INFO, to stderr) and, as it does, with the start-up
  heap frozen once serving (`bot.runtime.freeze_startup_heap`; in the gunicorn worker once
  the app is loaded).

It prints one JSON line, `{"port": N}`, once it answers requests, and stops when its stdin
closes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from common import SECRET, TOKEN
from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import migrate
from bot.app import build_context, create_app
from bot.cli import configure_logging
from bot.db import Database
from bot.policy import Policy, default_policy
from bot.policy_defaults import default_policy_data
from bot.runtime import Runtime, freeze_startup_heap
from bot.server import BotWSGI, make_server
from bot.services.declaration import declare, validate_declaration
from bot.settings import Settings

APPS = ("bot", "bare")
REPORTER = "U0BENCHREPORTER"
SERVERS = ("waitress", "gunicorn")


def _announce(port: int) -> None:
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()


def _ack_only(ack: Ack) -> None:
    ack()


def bare_app(api_url: str) -> App:
    """A Bolt app set up as the bot's, whose only listener acks `/incident`."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=api_url),
        token_verification_enabled=False,
    )
    app.command("/incident")(_ack_only)
    return app


def bot_settings(api_url: str, database_url: str, threads: int) -> Settings:
    """The bot's settings: the fake Slack, a free port of 127.0.0.1, THREADS threads."""
    return Settings(
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        database_url=database_url,
        port=0,
        host="127.0.0.1",
        http_threads=threads,
        _env_file=None,
    )


def bot_policy(channel: str) -> Policy:
    """The built-in policy, announcing in `channel`."""
    data = default_policy_data()
    data["announcement_channel"] = channel
    return Policy.model_validate(data)


def incident_in(db: Database, channel: str, reporter: str) -> None:
    """An incident whose channel is CHANNEL, set up already: the channel `/incident note`
    and the other lifecycle commands are run in."""
    with db.session() as session:
        data = validate_declaration(
            {
                "title": "Bench incident",
                "severity": "sev3",
                "category": "software",
                "impact": "low",
                "urgency": "low",
            },
            default_policy(),
        )
        incident = declare(
            session=session,
            data=data,
            reporter_id=reporter,
            policy=default_policy(),
            now=datetime.now(UTC),
        )
        incident.channel_id = channel
        incident.provisioned_at = datetime.now(UTC)
        session.add(incident)


def _serve_waitress(app: str, api_url: str, database_url: str, channel: str, threads: int) -> None:
    if app == "bot":
        runtime = Runtime(
            bot_settings(api_url, database_url, threads), policy=bot_policy(channel), sweep=False
        )
        runtime.start()
        incident_in(runtime.ctx.db, channel, REPORTER)
        freeze_startup_heap()
        _announce(runtime.port)
        sys.stdin.read()
        runtime.stop()
        return
    db = Database.from_url(database_url)
    server = make_server(bare_app(api_url), db, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    freeze_startup_heap()
    _announce(server.effective_port)
    sys.stdin.read()
    server.close()
    db.dispose()


def _serve_gunicorn(app: str, api_url: str, database_url: str, channel: str, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    if app == "bot":
        db = Database.from_url(database_url)
        migrate.upgrade(db)  # once, before the worker starts
        incident_in(db, channel, REPORTER)
        db.dispose()

    def load() -> Any:
        if app == "bare":
            return BotWSGI(bare_app(api_url), Database.from_url(database_url))
        settings = bot_settings(api_url, database_url, threads)
        ctx = build_context(settings, policy=bot_policy(channel))
        return BotWSGI(create_app(settings, ctx), ctx.db)

    def ready(worker: Any) -> None:
        freeze_startup_heap()
        _announce(worker.sockets[0].getsockname()[1])

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": ["127.0.0.1:0"],
                "workers": 1,
                "worker_class": "gthread",
                "threads": threads,
                "post_worker_init": ready,
                # gunicorn ≥ 25 opens a control socket at a fixed path by default.
                "control_socket_disable": True,
            }
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return load()

    def stop_on_eof() -> None:
        sys.stdin.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_on_eof, daemon=True).start()
    Server().run()


def main() -> None:
    """Serve until stdin closes."""
    app, server, api_url, database_url, channel, threads = sys.argv[1:7]
    if app not in APPS or server not in SERVERS:
        raise SystemExit(f"usage: {sys.argv[0]} bot|bare waitress|gunicorn …")
    configure_logging("INFO")
    serve = _serve_waitress if server == "waitress" else _serve_gunicorn
    serve(app, api_url, database_url, channel, int(threads))


if __name__ == "__main__":
    main()
