"""Checkpointer factory: where conversations live between turns (and processes).

DATABASE_URL -> PostgreSQL (PostgresSaver / AsyncPostgresSaver) on a psycopg pool opened
here with autocommit, dict rows and prepare_threshold=None: `from_conn_string` would use
prepared statements, which break behind RDS Proxy and pgbouncer (transaction pooling).
No DATABASE_URL -> a SQLite file in the user's data directory when a local store is wanted
(the CLI: conversations survive restarts); in memory as the last fallback. Every choice
is logged with a notice saying why.

The pools check a connection before lending it: after a database restart or failover the
next turn reconnects instead of failing on a connection the server has closed.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NO_DATABASE = "DATABASE_URL not configured"
POOL_MAX_SIZE = 4
POOL_TIMEOUT_S = 10  # how long a turn waits for a connection before it says the database is unreachable
_setup_done: set[str] = set()  # setup() runs migrations: once per database per process is enough
_setup_lock = threading.Lock()


@dataclass
class Memory:
    """A checkpointer and what it took to open it; `close()` / `aclose()` release the connections."""

    saver: Any
    kind: str  # "postgres" | "sqlite" | "memory"
    notice: str
    _closers: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for closer in self._closers:
            closer()

    async def aclose(self) -> None:
        for closer in self._closers:
            result = closer()
            if hasattr(result, "__await__"):
                await result


def data_dir() -> Path:
    """The user's data directory for ecs-agent ($XDG_DATA_HOME/ecs-agent, else ~/.local/share/ecs-agent)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ecs-agent"


def default_sqlite_path() -> Path:
    return data_dir() / "conversations.sqlite"


def _connection_kwargs() -> dict[str, Any]:
    from psycopg.rows import dict_row

    return {"autocommit": True, "row_factory": dict_row, "prepare_threshold": None}


def _notice(kind: str, text: str) -> str:
    log.log(logging.INFO if kind == "postgres" else logging.WARNING, text)
    return text


def _postgres_memory(saver: Any, close: Any) -> Memory:
    return Memory(saver, "postgres", _notice("postgres", "conversation memory: PostgreSQL"), [close])


def _postgres_failure(exc: Exception) -> str:
    return f"Failed to create PostgreSQL checkpointer: {type(exc).__name__}: {exc}"


def _sqlite_file(sqlite_path: str | os.PathLike) -> Path:
    path = Path(sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _sqlite_memory(saver: Any, path: Path, failure: str, close: Any) -> Memory:
    return Memory(saver, "sqlite", _notice("sqlite", f"{failure}; conversation memory: SQLite file {path}"), [close])


def _sqlite_failure(failure: str, sqlite_path: str | os.PathLike, exc: Exception) -> str:
    return f"{failure}; Failed to open SQLite checkpointer at {sqlite_path}: {exc}"


def _in_memory(failure: str) -> Memory:
    from langgraph.checkpoint.memory import InMemorySaver

    return Memory(InMemorySaver(), "memory", _notice("memory", f"{failure}; conversation memory: in-memory only "
                                                                "(lost when the process ends)"))


def _database_url(database_url: str | None) -> str | None:
    return database_url if database_url is not None else os.environ.get("DATABASE_URL") or None


def open_memory(database_url: str | None = None, sqlite_path: str | os.PathLike | None = None) -> Memory:
    """A sync checkpointer (the CLI's graph.stream). `sqlite_path=None`: no local file, memory fallback."""
    url = _database_url(database_url)
    failure = NO_DATABASE
    if url:
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg_pool import ConnectionPool

            pool = ConnectionPool(url, min_size=1, max_size=POOL_MAX_SIZE, kwargs=_connection_kwargs(), open=True,
                                  timeout=POOL_TIMEOUT_S, check=ConnectionPool.check_connection)
            try:
                saver = PostgresSaver(pool)
                with _setup_lock:
                    if url not in _setup_done:
                        saver.setup()
                        _setup_done.add(url)
            except Exception:
                pool.close()
                raise
            return _postgres_memory(saver, pool.close)
        except Exception as exc:  # noqa: BLE001 - any failure falls back, with the reason logged
            failure = _postgres_failure(exc)
    if sqlite_path is not None:
        try:
            import sqlite3

            from langgraph.checkpoint.sqlite import SqliteSaver

            path = _sqlite_file(sqlite_path)
            conn = sqlite3.connect(str(path), check_same_thread=False)
            saver = SqliteSaver(conn)
            saver.setup()
            return _sqlite_memory(saver, path, failure, conn.close)
        except Exception as exc:  # noqa: BLE001
            failure = _sqlite_failure(failure, sqlite_path, exc)
    return _in_memory(failure)


async def aopen_memory(database_url: str | None = None, sqlite_path: str | os.PathLike | None = None) -> Memory:
    """The async twin of `open_memory` (ainvoke / astream)."""
    url = _database_url(database_url)
    failure = NO_DATABASE
    if url:
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
            from psycopg_pool import AsyncConnectionPool

            pool = AsyncConnectionPool(url, min_size=1, max_size=POOL_MAX_SIZE, kwargs=_connection_kwargs(),
                                       open=False, timeout=POOL_TIMEOUT_S, check=AsyncConnectionPool.check_connection)
            await pool.open(wait=True, timeout=POOL_TIMEOUT_S)
            try:
                saver = AsyncPostgresSaver(pool)
                if url not in _setup_done:
                    await saver.setup()
                    _setup_done.add(url)
            except Exception:
                await pool.close()
                raise
            return _postgres_memory(saver, pool.close)
        except Exception as exc:  # noqa: BLE001
            failure = _postgres_failure(exc)
    if sqlite_path is not None:
        try:
            import aiosqlite
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            path = _sqlite_file(sqlite_path)
            conn = await aiosqlite.connect(str(path))
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            return _sqlite_memory(saver, path, failure, conn.close)
        except Exception as exc:  # noqa: BLE001
            failure = _sqlite_failure(failure, sqlite_path, exc)
    return _in_memory(failure)
