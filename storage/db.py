"""Engines for SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE) and PostgreSQL, and schema creation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loguru import logger
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables)


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Build the engine for `url`; on SQLite make the folder, turn on WAL and full fsync."""
    u = make_url(url)
    sqlite = u.get_backend_name() == "sqlite"
    engine = _sqlite_engine(url, u.database) if sqlite else create_engine(url, pool_pre_ping=True)
    if create:
        SQLModel.metadata.create_all(engine)
    logger.debug("storage ready: {}", u.render_as_string(hide_password=True))
    return engine


def _sqlite_engine(url: str, database: str | None) -> Engine:
    memory = not database or database == ":memory:" or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    elif database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, say when transactions begin (see BEGIN IMMEDIATE below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        # An acknowledged award or delivered card code must survive a power loss.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock before the first read, so read-then-write cannot race another process.
        if conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
