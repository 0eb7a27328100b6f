"""Shared fixtures: databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
the fake Slack workspace, and the running bot wired to both."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import yaml
from sqlalchemy import text
from sqlmodel import select

from bot import migrate
from bot.clock import ManualClock
from bot.db import Database
from bot.models import Incident, ScheduledTask, TaskKind, TaskState
from bot.policy import Policy
from bot.policy_defaults import default_policy_data
from bot.runtime import Runtime
from bot.settings import Settings

if TYPE_CHECKING:
    from tests.fakeslack import FakeSlack

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
PG_URL = os.environ.get("TEST_DATABASE_URL")

T = TypeVar("T")


def _engines() -> list[Any]:
    engines: list[Any] = ["sqlite"]
    engines.append(
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL is not set"),
        )
    )
    return engines


@pytest.fixture(params=_engines())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database.from_url(Settings.normalise_database_url(PG_URL))
    with admin.engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = Settings.normalise_database_url(PG_URL)
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database."""
    database = Database.from_url(database_url)
    migrate.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test moves it, starting now."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A running fake Slack workspace with two people and an #incidents channel."""
    from tests.fakeslack import FakeSlack

    fake = FakeSlack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    # As Slack does: only the events the app's manifest subscribes to are delivered.
    fake.subscribed_events = manifest_bot_events()
    fake.start()
    fake.alice = fake.add_user("alice", real_name="Alice Example")  # type: ignore[attr-defined]
    fake.bob = fake.add_user("bob", real_name="Bob Example")  # type: ignore[attr-defined]
    fake.incidents = fake.add_channel(  # type: ignore[attr-defined]
        "incidents",
        members=[fake.alice, fake.bob],
        bot_member=True,  # type: ignore[attr-defined]
    )
    fake.general = fake.add_channel(  # type: ignore[attr-defined]
        "general",
        members=[fake.alice, fake.bob],
        bot_member=False,  # type: ignore[attr-defined]
    )
    try:
        yield fake
    finally:
        fake.stop()
    # The fake reports its own inconsistencies (an undocumented error code, say) here.
    assert not fake.internal_errors, fake.internal_errors


def manifest_bot_events() -> set[str]:
    """The event subscriptions `manifest.yml` asks for."""
    manifest = yaml.safe_load((Path(__file__).parent.parent / "manifest.yml").read_text())
    return set(manifest["settings"]["event_subscriptions"]["bot_events"])


def make_policy(**overrides: Any) -> Policy:
    """The default policy with top-level keys replaced."""
    data = default_policy_data()
    data.update(overrides)
    return Policy.model_validate(data)


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll until `predicate` returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


class Harness:
    """The bot running against the fake Slack, with helpers to drive it like a person."""

    def __init__(self, runtime: Runtime, fake: FakeSlack, via: str) -> None:
        self.runtime = runtime
        self.fake = fake
        self.via = via
        self.ctx = runtime.ctx
        self.db = runtime.ctx.db

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the bot (`with start_bot(...) as bot:`)."""
        self.runtime.stop()

    def command(self, user: str, channel: str, text: str = "") -> Any:
        """Send `/incident <text>` and return the delivery."""
        return self.fake.send_command(user, channel, text=text, via=self.via)

    def open_declare(self, user: str, channel: str, text: str = "") -> dict[str, Any]:
        """Run the command and return the modal it opened."""
        before = len(self.fake.opened_views(user))
        delivery = self.command(user, channel, text)
        assert delivery.status == 200, delivery
        views = wait_for(lambda: self.fake.opened_views(user)[before:] or None)
        return views[-1]

    def submit(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> Any:
        """Submit a modal with the given block_id → value answers."""
        return self.fake.send_view_submission(user, view["id"], values=values, via=self.via)

    def declare(
        self, user: str, channel: str | None = None, *, wait: bool = True, **fields: Any
    ) -> Incident:
        """Declare an incident through the modal and return its row once set up."""
        values: dict[str, Any] = {
            "title": "Checkout is failing",
            "severity": "sev2",
            "category": "software",
            "impact": "high",
            "urgency": "medium",
        }
        values.update(fields)
        view = self.open_declare(user, channel or self.fake.incidents)  # type: ignore[attr-defined]
        delivery = self.submit(user, view, values)
        assert delivery.status == 200, delivery
        assert not (delivery.json or {}).get("errors"), delivery.json
        incident = wait_for(lambda: self.latest_incident(user))
        if wait:
            return wait_for(lambda: self.incident(incident.reference, done=True))
        return incident

    def latest_incident(self, reporter: str) -> Incident | None:
        """The newest incident this person declared."""
        with self.db.session() as session:
            return session.exec(
                select(Incident)
                .where(Incident.reporter_id == reporter)
                .order_by(Incident.id.desc())  # type: ignore[union-attr]
            ).first()

    def incident(self, reference: str, *, done: bool = False) -> Incident | None:
        """An incident by reference; with done=True only once its set-up task has finished."""
        with self.db.session() as session:
            row = session.exec(select(Incident).where(Incident.reference == reference)).one()
            pending = session.exec(
                select(ScheduledTask.id).where(
                    ScheduledTask.incident_id == row.id,
                    ScheduledTask.kind == TaskKind.PROVISION,
                    ScheduledTask.state == TaskState.PENDING,
                )
            ).first()
        if done and (row.provisioned_at is None or pending is not None):
            return None
        return row


def start_bot(
    fake: FakeSlack,
    database_url: str,
    *,
    via: str = "http",
    clock: ManualClock | None = None,
    policy: Policy | None = None,
    sweep: bool = False,
    slack_timeout: int = 10,
    public_url: str | None = None,
) -> Harness:
    """Start the bot in HTTP or Socket Mode against the fake Slack."""
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=APP_TOKEN if via == "socket" else None,
        slack_api_url=fake.api_url,
        database_url=database_url,
        port=0,
        host="127.0.0.1",
        sweep_interval_seconds=0.2,
        slack_timeout_seconds=slack_timeout,
        public_url=public_url,
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = Runtime(
        settings,
        clock=clock,
        policy=policy if policy is not None else make_policy(announcement_channel=fake.incidents),  # type: ignore[attr-defined]
        sweep=sweep,
    )
    runtime.start()
    if via == "http":
        fake.app_url = f"http://127.0.0.1:{runtime.port}/slack/events"
    else:
        assert fake.socket_connected.wait(10), "the bot did not connect over Socket Mode"
    return Harness(runtime, fake, via)


@pytest.fixture
def bot(fake_slack: FakeSlack, database_url: str, clock: ManualClock) -> Iterator[Harness]:
    """The bot in HTTP mode, announcing in #incidents, with a manual clock and no sweeper."""
    harness = start_bot(fake_slack, database_url, clock=clock)
    try:
        yield harness
    finally:
        harness.runtime.stop()


@pytest.fixture
def abot(fake_slack: FakeSlack, database_url: str, clock: ManualClock) -> Iterator[Harness]:
    """The bot taking alerts (three sources, one per format), announcing and triaging in
    #incidents, with a manual clock and no sweeper."""
    from tests.alert_support import alerts_policy

    harness = start_bot(fake_slack, database_url, clock=clock, policy=alerts_policy(fake_slack))
    try:
        yield harness
    finally:
        harness.runtime.stop()
