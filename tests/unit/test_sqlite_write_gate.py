"""SQLite writers of one process queue on a gate instead of sleeping in SQLite's busy handler
(herald/db/sqlite_writes.py): every write still lands, a failed transaction opens the gate for
the next one, and readers never wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from herald.db import sqlite_writes
from herald.db.engine import create_engine, create_session_factory


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on one file, as the API and the worker have under `herald dev`."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}"
    first, second = create_engine(url), create_engine(url)
    async with first.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await connection.execute(text("INSERT INTO counter VALUES (0)"))
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def _increment(engine: AsyncEngine) -> None:
    """Read, yield to the others, then write: lost updates if two ever overlapped."""
    async with create_session_factory(engine)() as session, session.begin():
        n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
        await asyncio.sleep(0)
        await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})


async def _count(engine: AsyncEngine) -> int:
    async with create_session_factory(engine, read_only=True)() as session:
        return int((await session.execute(text("SELECT n FROM counter"))).scalar_one())


async def test_concurrent_writers_of_two_engines_all_land(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    first, second = engines
    await asyncio.wait_for(
        asyncio.gather(*(_increment(first if i % 2 else second) for i in range(40))), 30
    )
    assert await _count(first) == 40


async def test_a_failed_transaction_opens_the_gate_for_the_next(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    first, second = engines
    with pytest.raises(RuntimeError):
        async with create_session_factory(first)() as session, session.begin():
            await session.execute(text("UPDATE counter SET n = 100"))
            raise RuntimeError("the handler failed")
    with pytest.raises(Exception, match="no such table"):
        async with create_session_factory(second)() as session, session.begin():
            await session.execute(text("UPDATE missing SET n = 1"))
    await asyncio.wait_for(_increment(first), 5)
    await asyncio.wait_for(_increment(second), 5)
    assert await _count(first) == 2  # the failed transaction was rolled back


async def test_readers_do_not_wait_for_a_writer(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    first, second = engines
    writing = asyncio.Event()
    done = asyncio.Event()

    async def slow_writer() -> None:
        async with create_session_factory(first)() as session, session.begin():
            await session.execute(text("UPDATE counter SET n = 7"))
            writing.set()
            await done.wait()

    writer = asyncio.create_task(slow_writer())
    await writing.wait()
    # The write is not committed yet; the reader sees the old value without waiting.
    assert await asyncio.wait_for(_count(second), 5) == 0
    done.set()
    await writer
    assert await _count(second) == 7


async def test_a_writer_cancelled_mid_statement_ends_cancelled_and_opens_the_gate(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """A cancelled activity (its worker shutting down, its attempt timed out) leaves a
    connection SQLAlchemy invalidates: the cancellation is what surfaces, not an error of the
    gate's own bookkeeping (PendingRollbackError), and the gate is open for the next writer."""
    first, _ = engines
    started = asyncio.Event()
    slow = (
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 2000000) "
        "SELECT count(*) FROM r"
    )

    async def writer() -> None:
        async with create_session_factory(first)() as session, session.begin():
            await session.execute(text("UPDATE counter SET n = 50"))
            started.set()
            await session.execute(text(slow))

    task = asyncio.create_task(writer())
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not sqlite_writes._lock_for(str(first.url.database)).locked()
