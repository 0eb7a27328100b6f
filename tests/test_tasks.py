"""Scheduled tasks: a due row is claimed by one sweeper at a time, with a lease."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.db import Database
from bot.models import Incident, ScheduledTask, TaskKind, TaskState
from bot.policy import Policy, default_policy
from bot.policy_defaults import default_policy_data
from bot.services import stakeholder_rules, task_schedule, tasks
from bot.services.declaration import DeclareInput, declare

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _incident(db: Database, title: str = "x") -> int:
    with db.session() as session:
        incident = declare(
            session=session,
            data=DeclareInput(
                title=title, severity="sev3", category="other", impact="low", urgency="low"
            ),
            reporter_id="U0ALICE",
            policy=default_policy(),
            now=T0,
        )
        assert incident.id is not None
        return incident.id


def test_declare_schedules_setup_due_at_once(db: Database) -> None:
    incident_id = _incident(db)
    claims = tasks.claim_due(db=db, now=T0)
    assert [(c.incident_id, c.kind, c.attempts) for c in claims] == [(incident_id, "provision", 1)]
    # Held: nobody else gets it while the lease lasts.
    assert tasks.claim_due(db=db, now=T0 + timedelta(seconds=30)) == []
    # The holder died: the lease runs out and another sweeper takes over.
    retaken = tasks.claim_due(db=db, now=T0 + tasks.DEFAULT_LEASE + timedelta(seconds=1))
    assert [c.attempts for c in retaken] == [2]
    # The first holder can no longer complete it.
    with db.session() as session:
        assert not tasks.complete(session=session, claim=claims[0], now=T0)
        assert tasks.complete(session=session, claim=retaken[0], now=T0)
    later = tasks.claim_due(db=db, now=T0 + timedelta(days=1))
    assert "provision" not in [claim.kind for claim in later]


def test_release_moves_due_time_by_retry_after_or_backoff(db: Database) -> None:
    _incident(db)
    (claim,) = tasks.claim_due(db=db, now=T0)
    with db.session() as session:
        due = tasks.release(
            session=session, claim=claim, now=T0, error="x", retry_after=timedelta(seconds=7)
        )
    assert due == T0 + timedelta(seconds=7)
    assert tasks.claim_due(db=db, now=T0 + timedelta(seconds=6)) == []
    (claim,) = tasks.claim_due(db=db, now=T0 + timedelta(seconds=7))
    with db.session() as session:
        due = tasks.release(session=session, claim=claim, now=T0, error="boom")
        row = session.get(ScheduledTask, claim.task_id)
        assert row is not None
        assert row.last_error == "boom"
        assert row.state == TaskState.PENDING
    assert due == T0 + tasks.backoff(2)
    assert tasks.backoff(2) == timedelta(seconds=10)
    assert tasks.backoff(50) == tasks.MAX_BACKOFF


def test_concurrent_sweepers_claim_each_task_once(db: Database) -> None:
    for index in range(60):
        _incident(db, f"incident {index}")
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def sweeper() -> None:
        barrier.wait()
        while True:
            batch = tasks.claim_due(db=db, now=T0, limit=7)
            if not batch:
                return
            with lock:
                claimed.extend(claim.task_id for claim in batch)

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 60
    assert len(set(claimed)) == 60


def test_claim_task_only_when_free(db: Database) -> None:
    _incident(db)
    (claim,) = tasks.claim_due(db=db, now=T0)
    assert tasks.claim_task(db=db, task_id=claim.task_id, now=T0) is None
    with db.session() as session:
        tasks.complete(session=session, claim=claim, now=T0)
    assert tasks.claim_task(db=db, task_id=claim.task_id, now=T0 + timedelta(hours=1)) is None


def test_giving_back_a_task_another_process_took_over_changes_nothing(db: Database) -> None:
    _incident(db)
    (stale,) = tasks.claim_due(db=db, now=T0)
    (current,) = tasks.claim_due(db=db, now=T0 + tasks.DEFAULT_LEASE + timedelta(seconds=1))
    with db.session() as session, pytest.raises(tasks.ClaimLost):
        tasks.release(session=session, claim=stale, now=T0, error="late", give_up=True)
    with db.session() as session:
        row = session.get(ScheduledTask, current.task_id)
        assert row is not None
        assert row.state == TaskState.PENDING and row.claim_token == current.token
        assert row.last_error is None


def test_try_arm_says_whether_it_armed(db: Database) -> None:
    incident_id = _incident(db)
    later = T0 + timedelta(hours=1)

    def try_arm(now: datetime, **flags: bool) -> ScheduledTask | None:
        with db.session() as session:
            return task_schedule.try_arm(
                session=session,
                incident_id=incident_id,
                kind="stale",
                key="t",
                due_at=now,
                now=now,
                **flags,
            )

    created = try_arm(T0)
    assert created is not None and created.due_at == T0
    assert try_arm(later, if_not_pending=True) is None  # pending: left as it was
    rearmed = try_arm(later)
    assert rearmed is not None and rearmed.due_at == later and rearmed.data["occurrence"] == 1
    claim = tasks.claim_task(db=db, task_id=created.id or 0, now=later)
    assert claim is not None
    assert try_arm(later + timedelta(seconds=1)) is None  # a live process holds it
    with db.session() as session:
        assert tasks.complete(session=session, claim=claim, now=later)
    assert try_arm(later, once=True) is None  # done once
    with db.session() as session:
        row = task_schedule.arm(
            session=session,
            incident_id=incident_id,
            kind="stale",
            key="t",
            due_at=later,
            now=later,
            once=True,
        )
        assert row.state == TaskState.DONE  # `arm` gives the row back either way


def test_resolving_leaves_a_stakeholder_update_being_sent_to_its_sender(db: Database) -> None:
    data = default_policy_data()
    data["stakeholders"] = [
        {"name": "executives", "targets": ["C0EXECS1"], "severities": ["sev3"], "every": "1h"}
    ]
    policy = Policy.model_validate(data)
    with db.session() as session:
        incident = declare(
            session=session,
            data=DeclareInput(
                title="x", severity="sev3", category="other", impact="low", urgency="low"
            ),
            reporter_id="U0ALICE",
            policy=policy,
            now=T0,
        )
        row = session.exec(
            select(ScheduledTask).where(
                ScheduledTask.incident_id == incident.id, ScheduledTask.kind == TaskKind.STAKEHOLDER
            )
        ).one()
        row.data = {**row.data, "digest": "sent once"}  # it has heard of the incident
        session.add(row)
        session.flush()
        assert row.id is not None
        task_id, before = row.id, dict(row.data)
    claim = tasks.claim_task(db=db, task_id=task_id, now=T0)  # being sent right now
    assert claim is not None
    with db.session() as session:
        fresh = session.get(Incident, incident.id)
        assert fresh is not None
        stakeholder_rules.on_resolved(session, fresh, T0 + timedelta(minutes=1))
    with db.session() as session:
        held = session.get(ScheduledTask, task_id)
        assert held is not None
        assert held.claim_token == claim.token and held.due_at == T0
        assert held.data == before  # its sender finishes it and arms the last update


def test_claim_and_run_leaves_a_task_held_elsewhere_to_its_holder(db: Database) -> None:
    _incident(db)
    (held,) = tasks.claim_due(db=db, now=T0)

    def give_back(claim: tasks.Claim) -> str:
        with db.session() as session:
            tasks.release(session=session, claim=claim, now=T0, error="x")
        return "given back"

    # Held by a live process: not run at all.
    assert tasks.claim_and_run(db=db, task_id=held.task_id, now=T0, run=give_back) is None
    # Claimed once the lease ran out; then the first holder gives it back too late.
    later = T0 + tasks.DEFAULT_LEASE + timedelta(seconds=1)

    def overtaken(claim: tasks.Claim) -> str:
        retaken = tasks.claim_due(db=db, now=later + tasks.DEFAULT_LEASE + timedelta(seconds=1))
        assert [c.task_id for c in retaken] == [claim.task_id]
        return give_back(claim)

    assert tasks.claim_and_run(db=db, task_id=held.task_id, now=later, run=overtaken) is None
    with db.session() as session:
        row = session.get(ScheduledTask, held.task_id)
        assert row is not None and row.claim_token is not None  # still the new holder's
    final = later + 3 * tasks.DEFAULT_LEASE
    assert tasks.claim_and_run(db=db, task_id=held.task_id, now=final, run=give_back) == (
        "given back"
    )
