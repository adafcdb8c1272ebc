"""Engines for SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE) and PostgreSQL, and schema creation."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from loguru import logger
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables)


class _Checkpointer(threading.Thread):
    """Checkpoints the WAL from its own connection, off the event loop.

    With a large ledger each commit dirties pages all over the file; SQLite's automatic checkpoint
    would copy and fsync them inside whichever commit crosses the threshold, on the bot's only
    thread. A PASSIVE checkpoint here runs beside the writers and never blocks them.
    """

    def __init__(self, engine: Engine, path: str, interval: float = 1.0) -> None:
        super().__init__(name=f"wal-checkpoint {path}", daemon=True)
        self.path = path
        self.interval = interval
        self.stopped = threading.Event()
        event.listen(engine, "engine_disposed", lambda _engine: self.stopped.set())

    def run(self) -> None:
        try:
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            con.execute("PRAGMA busy_timeout=1000")
            while not self.stopped.wait(self.interval):
                if not Path(self.path).exists():
                    return
                try:
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # busy or gone: try again next time
                    logger.debug("wal checkpoint skipped: {}", exc)
        finally:
            con.close()


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Build the engine for `url`; on SQLite make the folder, turn on WAL and full fsync."""
    u = make_url(url)
    sqlite = u.get_backend_name() == "sqlite"
    engine = _sqlite_engine(url, u.database) if sqlite else create_engine(url, pool_pre_ping=True)
    if create:
        SQLModel.metadata.create_all(engine)
        add_columns(engine)
    logger.debug("storage ready: {}", u.render_as_string(hide_password=True))
    return engine


# Columns added to a table after databases with it were in use: create_all makes new tables only, so these
# are added in place (nullable, no default: existing rows read NULL). (table, column) in the order added.
ADDED_COLUMNS: list[tuple[str, str]] = [
    ("mall_items", "first_seen"),
]


def add_columns(engine: Engine) -> None:
    """Add each of ADDED_COLUMNS that an existing table lacks; a no-op on a database made by this version."""
    tables = SQLModel.metadata.tables
    for table, column in ADDED_COLUMNS:
        if column in {c["name"] for c in inspect(engine).get_columns(table)}:
            continue
        ddl = tables[table].c[column].type.compile(dialect=engine.dialect)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f'ALTER TABLE {table} ADD COLUMN "{column}" {ddl}')
        except DBAPIError:
            # another process starting on the same database added it first
            if column not in {c["name"] for c in inspect(engine).get_columns(table)}:
                raise
        logger.info("storage: added column {}.{} to an existing database", table, column)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    memory = not database or database == ":memory:" or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool
    elif database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    if not memory and database:
        _Checkpointer(engine, database).start()

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
        # The background checkpointer moves WAL pages into the database; a commit only checkpoints
        # by itself when the WAL has grown large (the checkpointer is stalled or absent).
        cur.execute("PRAGMA wal_autocheckpoint=20000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock before the first read, so read-then-write cannot race another process.
        if conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
