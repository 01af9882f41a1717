"""Engine and session factory for SQLite (embedded default) or Postgres."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from herald.db import sqlite_writes

SessionFactory = async_sessionmaker[AsyncSession]


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the worker writes; busy_timeout waits out short write locks
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # Take over transaction control so every transaction can start as BEGIN IMMEDIATE (below).
    dbapi_connection.isolation_level = None


READ_ONLY = "herald_read_only"


def _begin_immediate(database: str) -> Any:
    # A deferred transaction that reads and then writes fails at once with "database is locked"
    # when another writer got in between; an immediate one waits for the lock instead. Readers
    # (engines marked READ_ONLY) never write, and in WAL mode they never wait for writers.
    def begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        sqlite_writes.acquire(connection, database)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            sqlite_writes.release(connection.info)
            raise

    return begin


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_immediate(str(make_url(url).database)))
        sqlite_writes.install(engine.sync_engine)
        return engine
    # Overflow connections are closed when returned: a pool smaller than the usual concurrency
    # (API requests plus platform activities) would connect and disconnect all the time.
    return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def create_session_factory(engine: AsyncEngine, *, read_only: bool = False) -> SessionFactory:
    """`read_only` sessions are for requests that never write (GET): on SQLite they take no
    write lock; elsewhere the option changes nothing."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return async_sessionmaker(bind, expire_on_commit=False)
