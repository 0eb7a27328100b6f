"""References: INC-YYYYMMDD-NNN, per-day sequence, unique across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime

from sqlmodel import select

from bot.db import Database
from bot.models import Incident
from bot.policy import default_policy
from bot.services.declaration import DeclareInput, declare
from bot.services.references import next_reference

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _data(title: str = "Database down") -> DeclareInput:
    return DeclareInput(
        title=title, severity="sev1", category="database", impact="high", urgency="high"
    )


def test_sequence_per_day(db: Database) -> None:
    with db.session() as session:
        first = next_reference(session=session, now=NOON)
        second = next_reference(session=session, now=NOON)
        next_day = next_reference(session=session, now=datetime(2026, 11, 23, 0, 1, tzinfo=UTC))
    assert (first, second, next_day) == (
        "INC-20261122-001",
        "INC-20261122-002",
        "INC-20261123-001",
    )


def _declare_many(url: str, count: int, barrier: object) -> list[str]:
    database = Database.from_url(url)
    policy = default_policy()
    references = []
    if barrier is not None:
        barrier.wait()  # type: ignore[attr-defined]
    for index in range(count):
        with database.session() as session:
            incident = declare(
                session=session,
                data=_data(f"Incident {index}"),
                reporter_id="U0ALICE",
                policy=policy,
                now=NOON,
            )
            references.append(incident.reference)
    database.dispose()
    return references


def _process_worker(url: str, count: int, barrier: object, out: object) -> None:
    out.put(_declare_many(url, count, barrier))  # type: ignore[attr-defined]


def test_same_second_across_threads(db: Database, database_url: str) -> None:
    results: list[list[str]] = []
    barrier = threading.Barrier(4)
    threads = [
        threading.Thread(target=lambda: results.append(_declare_many(database_url, 10, barrier)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [ref for refs in results for ref in refs]
    assert len(flat) == 40
    assert sorted(flat) == [f"INC-20261122-{n:03d}" for n in range(1, 41)]


def test_same_second_across_processes(db: Database, database_url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(3)
    out = spawn.Queue()
    processes = [
        spawn.Process(target=_process_worker, args=(database_url, 8, barrier, out))
        for _ in range(3)
    ]
    for process in processes:
        process.start()
    flat = [ref for _ in processes for ref in out.get(timeout=60)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert sorted(flat) == [f"INC-20261122-{n:03d}" for n in range(1, 25)]
    with db.session() as session:
        stored = session.exec(select(Incident.reference)).all()
    assert sorted(stored) == sorted(flat)
