"""Engines for SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE) and PostgreSQL, read-write (schema at head) or read-only."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool


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


def make_engine(url: str, *, create: bool = True, tz: ZoneInfo | None = None) -> Engine:
    """Build the engine for `url`; on SQLite make the folder, turn on WAL and full fsync.

    `create`: bring the schema to head (storage.schema.upgrade: under a lock, one read when already there);
    `tz` is the bot's, for what adopting a database written before schema versions fills in.
    """
    u = make_url(url)
    sqlite = u.get_backend_name() == "sqlite"
    engine = _sqlite_engine(url, u.database) if sqlite else create_engine(url, pool_pre_ping=True)
    if create:
        from storage import schema

        try:
            schema.upgrade(engine, tz=tz)
        except BaseException:
            engine.dispose()
            raise
    logger.debug("storage ready: {}", u.render_as_string(hide_password=True))
    return engine


def open_readonly(url: str) -> Engine:
    """An engine that cannot write and creates nothing, for read-outs; FileNotFoundError for a missing SQLite file.

    No schema work: check it with storage.schema.check. SQLite opens the file with mode=ro (and no WAL
    checkpointer); PostgreSQL runs every transaction READ ONLY.
    """
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, execution_options={"postgresql_readonly": True})
    database = u.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return _sqlite_engine(url, database, readonly=True)
    path = Path(database)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return _sqlite_engine(url, database, readonly=True,
                          creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))


def _sqlite_engine(url: str, database: str | None, *, readonly: bool = False,
                   creator: Callable[[], Any] | None = None) -> Engine:
    memory = not database or database == ":memory:" or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if creator is not None:
        kwargs["creator"] = creator
    if memory:
        kwargs["poolclass"] = StaticPool
    elif database and not readonly:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    if not memory and database and not readonly:  # a checkpoint writes the database file
        _Checkpointer(engine, database).start()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, say when transactions begin (see BEGIN IMMEDIATE below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory and not readonly:
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
        if readonly or conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
