"""One running bot: database, Bolt app, sweeper, and the HTTP server or Socket Mode link."""

from __future__ import annotations

import gc
import logging
import threading
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from bot import migrate
from bot.app import build_context, create_app, learn_identity
from bot.clock import Clock
from bot.context import Context
from bot.db import Database
from bot.flows import alert_intake, stakeholder_delivery
from bot.policy import Policy, policy_notes
from bot.scheduler import Sweeper
from bot.server import make_server
from bot.services import heartbeats, status_page_changes
from bot.settings import Settings
from bot.web.status_page import StatusPageSite

log = logging.getLogger(__name__)


def freeze_startup_heap() -> None:
    """Collect what start-up left behind, then keep every object still alive out of the
    garbage collector's later full passes.

    What a process builds at start (the Bolt app and its listeners, the ORM's mappers,
    templates, the policy, the libraries' modules) lives as long as the process. A full
    collection walks every tracked object and stops every thread while it does: the bot's
    start-up heap made that about 50 ms, acknowledgements included. For the process that
    owns the interpreter (`incident-bot run`), called once it serves.
    """
    gc.collect()
    gc.freeze()


class Runtime:
    """Starts and stops every part of the bot in this process."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        policy: Policy | None = None,
        db: Database | None = None,
        sweep: bool = True,
    ) -> None:
        self.settings = settings
        self.ctx: Context = build_context(settings, clock=clock, policy=policy, db=db)
        self.app = create_app(settings, self.ctx)
        self.sweeper = (
            Sweeper(self.ctx, interval_seconds=settings.sweep_interval_seconds) if sweep else None
        )
        self.alerts = alert_intake.AlertIntake(self.ctx)
        # Every publication moves the status page's version, whether this process serves
        # the page or not: the replicas that do read it.
        status_page_changes.watch_publications()
        page = self.ctx.policy.status_page
        self.status_page = (
            StatusPageSite(page, self.ctx.db, self.ctx.clock, settings.public_url)
            if page.enabled
            else None
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: SocketModeHandler | None = None

    @property
    def port(self) -> int:
        """The HTTP port actually bound (HTTP mode)."""
        assert self._server is not None, "the HTTP server is not running"
        return int(self._server.effective_port)

    def start(self) -> None:
        """Migrate if asked, then start the sweeper and the Slack link, without blocking."""
        smtp_url = self.settings.smtp_url
        for line in policy_notes(
            self.ctx.policy,
            smtp_url.get_secret_value() if smtp_url is not None else None,
            self.settings.smtp_from,
        ):
            (log.error if "NOT SET" in line else log.info)(line)
        if self.settings.auto_migrate:
            migrate.upgrade(self.ctx.db)
        with self.ctx.db.session() as session:
            heartbeats.beat(session, self.ctx.process_id, self.ctx.clock.now())
        self.ctx.defer(lambda: learn_identity(self.ctx))
        self.ctx.defer(lambda: stakeholder_delivery.catch_up(self.ctx))
        if self.sweeper is not None:
            self.sweeper.start()
        if self.settings.socket_mode:
            self._socket = SocketModeHandler(
                self.app,
                app_token=self.settings.slack_app_token,
                web_client=WebClient(base_url=self.settings.slack_api_url),
            )
            self._socket.connect()  # type: ignore[no-untyped-call]
            log.info("connected to Slack over Socket Mode")
            # Alerts, /healthz and /metrics are still served over HTTP, on PORT.
            self._serve_http(slack=False)
            return
        self._serve_http(slack=True)

    def _serve_http(self, *, slack: bool) -> None:
        self._server = make_server(
            self.app if slack else None,
            self.ctx.db,
            host=self.settings.host,
            port=self.settings.port,
            threads=self.settings.http_threads,
            alerts=self.alerts,
            metrics=self.ctx.metrics.exposition,
            status=self.status_page,
        )
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self._thread.start()
        base = f"http://{self.settings.host}:{self.port}"
        if slack:
            log.info("serving Slack requests on %s/slack/events", base)
        log.info("serving %s/healthz and %s/metrics", base, base)
        if self.status_page is not None:
            log.info("serving the status page on %s%s", base, self.status_page.base)
        for name in self.ctx.policy.alerts.sources:
            log.info("receiving alerts from %s on %s/alerts/%s", name, base, name)

    def _serve(self) -> None:
        server = self._server
        try:
            server.run()
        except (OSError, ValueError):
            # Closing the listening socket from stop() ends the loop this way.
            if self._server is not None:
                raise

    def wait(self) -> None:
        """Block until the process is told to stop."""
        stop = threading.Event()
        try:
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            log.info("stopping")

    def stop(self) -> None:
        """Stop serving, let the sweeper finish its tick, and release the database."""
        if self._socket is not None:
            self._socket.close()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._server is not None:
            server, self._server = self._server, None
            server.task_dispatcher.shutdown(timeout=5)
            server.close()
            for channel in list(server._map.values()):
                channel.close()
            if self._thread is not None:
                self._thread.join(timeout=5)
        if self.sweeper is not None:
            self.sweeper.stop()
        self.ctx.close()
