"""One SQLite writer at a time per process and event loop, queued in order.

SQLite lets one transaction write at a time. Left to itself, a writer that finds the lock taken
sleeps in SQLite's busy handler (1, 2, 5 … up to 100 ms between tries) and does not notice when
the lock comes free, so under load the database sits idle while writers sleep: with twenty
platform activities storing outcomes next to the API's creates, a write took half a second on
average for a few milliseconds of work. Every engine of a process on the same file shares a
gate here (the API and the worker share a process in the test suite and `bench --in-process`),
so writers wait on an `asyncio.Lock` and get the database the moment the previous one is done.
Other processes on the same file (`herald api` next to `herald worker`) still meet SQLite's
busy timeout, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, PendingRollbackError
from sqlalchemy.util import await_only

# As long as SQLite's own busy timeout (engine.py): a writer that waits this long fails as it
# would have without the gate, instead of hanging.
WAIT_S = 30.0
_HELD = "herald_sqlite_write_gate"

_locks: dict[str, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = {}


def _lock_for(database: str) -> asyncio.Lock:
    # asyncio locks belong to one loop; tests and Alembic run several loops in one process.
    per_loop = _locks.setdefault(database, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    lock = per_loop.get(loop)
    if lock is None:
        lock = per_loop[loop] = asyncio.Lock()
    return lock


class _Hold:
    """One writer's hold on the gate: released once, however many paths end it."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.lock.release()


# The hold of each connection in a transaction, for when its info can no longer be read.
_holds: weakref.WeakKeyDictionary[Any, _Hold] = weakref.WeakKeyDictionary()


def acquire(connection: Any, database: str) -> None:
    """Called as a write transaction begins, inside SQLAlchemy's greenlet: waits for the gate."""
    lock = _lock_for(database)
    try:
        await_only(asyncio.wait_for(lock.acquire(), WAIT_S))
    except TimeoutError as err:
        raise OperationalError(
            "BEGIN IMMEDIATE", None, Exception("database is locked (gate)")
        ) from err
    hold = _Hold(lock)
    connection.info[_HELD] = hold
    _holds[connection] = hold


def release(info: dict[str, Any]) -> None:
    """Opens the gate if this connection holds it; safe to call more than once."""
    hold = info.pop(_HELD, None)
    if hold is not None:
        hold.release()


def install(engine: Engine) -> None:
    """Releases the gate whenever a transaction ends, however it ends."""

    # "commit" fires just before the COMMIT itself: the next writer may meet SQLite's busy
    # handler for the moment that takes, which is short next to a whole transaction.
    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        _release_connection(connection)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        _release_connection(connection)

    # A connection dropped mid-transaction never reaches commit or rollback.
    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            release(record.info)

    @event.listens_for(engine.pool, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
        release(record.info)


def _release_connection(connection: Any) -> None:
    hold = _holds.pop(connection, None)
    if hold is not None:
        hold.release()
    try:
        info = connection.info
    except PendingRollbackError:
        # Invalidated mid-transaction (a cancelled statement): its info can no longer be read,
        # and asking would raise over the cancellation that caused it. Released above.
        return
    release(info)
