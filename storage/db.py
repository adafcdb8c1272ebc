"""The ground floor of storage: engines, the Database (transactions, savepoints, hot-path statements), codecs, locks.

Every storage module works through a `Database`: `transaction()` joins the transaction already open in
this context (the pipeline's batch: group commit) or opens one; `savepoint()` undoes one block's writes;
`reading()` reads without taking the write lock; `before_commit` steps write what a journal of the
transaction gathered (storage.hours' sums) just before it commits. The check-in hot path runs `Statement`s on the DBAPI
cursor of the open transaction (SQLAlchemy Core costs ~0.2 ms of CPU per statement); everything else
uses SQLAlchemy Core on the same connection.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from storage.codecs import loaded_date, loaded_datetime, stored_date, stored_datetime

__all__ = ["Database", "Locked", "Statement", "close_all", "dialect_insert", "flush", "loaded_date", "loaded_datetime",
           "lock_member", "lock_members", "make_engine", "open_readonly", "stored_date", "stored_datetime", "transient"]

# every engine this process made, so a process that ends without running the interpreter's teardown
# (run_bot's fast exit) can still close each connection, and so let SQLite checkpoint its WAL
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
_CHECKPOINTERS: weakref.WeakSet[_Checkpointer] = weakref.WeakSet()


def close_all(timeout: float = 5.0) -> None:
    """Dispose of every engine made here and wait for the WAL checkpointers to close their connections.

    The last connection to a WAL database that closes checkpoints the WAL into the file: after this the
    database file is complete by itself.
    """
    for engine in list(_ENGINES):
        engine.dispose()
    for thread in list(_CHECKPOINTERS):
        thread.stop(timeout)


def dialect_insert(sqlite: bool) -> Any:
    """The dialect's INSERT construct (with ON CONFLICT), imported when first needed: the PostgreSQL
    dialect costs ~60 ms of start-up that a SQLite bot never uses."""
    if sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert


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
        event.listen(engine, "engine_disposed", lambda _engine: self.stop())
        _CHECKPOINTERS.add(self)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait until this thread's connection is closed: once `engine.dispose()` returns, no
        connection of the engine is open, so the last one closed has checkpointed the WAL into the file."""
        self.stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

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


# SQLite's own default page cache is ~2 MB: at 100k members the member-keyed indexes a check-in touches
# (members, ledger by member, check-ins by member) are far larger, and every miss is a read() of a page.
CACHE_MB = 64
MMAP_MB = 256


def make_engine(url: str, *, create: bool = True, tz: ZoneInfo | None = None, cache_mb: int = CACHE_MB,
                mmap_mb: int = MMAP_MB) -> Engine:
    """Build the engine for `url`; on SQLite make the folder, turn on WAL and full fsync.

    `create`: bring the schema to head (storage.schema.upgrade: under a lock, one read when already there);
    `tz` is the bot's, for what adopting a database written before schema versions fills in.
    `cache_mb` / `mmap_mb` ([storage]): SQLite's page cache per connection and how much of the file it
    maps into memory (pages read through the map cost no system call, and count in RSS once touched).
    """
    u = make_url(url)
    sqlite = u.get_backend_name() == "sqlite"
    engine = (_sqlite_engine(url, u.database, cache_mb=cache_mb, mmap_mb=mmap_mb) if sqlite
              else create_engine(url, pool_pre_ping=True))
    _ENGINES.add(engine)
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
        engine = create_engine(url, pool_pre_ping=True, execution_options={"postgresql_readonly": True})
        _ENGINES.add(engine)
        return engine
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
                   creator: Callable[[], Any] | None = None, cache_mb: int = CACHE_MB,
                   mmap_mb: int = MMAP_MB) -> Engine:
    memory = not database or database == ":memory:" or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if creator is not None:
        kwargs["creator"] = creator
    if memory:
        kwargs["poolclass"] = StaticPool
    elif database and not readonly:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    _ENGINES.add(engine)
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
        cur.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")  # negative: KiB, whatever the page size
        cur.execute(f"PRAGMA mmap_size={int(mmap_mb) * 1024 * 1024}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock before the first read, so read-then-write cannot race another process.
        if readonly or conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Statement:
    """One hot-path statement, written once with :name parameters and run on the driver's own cursor.

    SQLAlchemy's compiler renders it in the driver's paramstyle (and escapes what that style needs).
    On PostgreSQL a statement whose answer nobody reads may be sent `later`: it waits in Python and goes to
    the server in one pipeline with the next statement whose answer is read (psycopg's pipeline mode), so
    the writes of a check-in cost one round trip together instead of one each.
    """

    def __init__(self, sql: str, dialect: Dialect) -> None:
        self.pipelined = dialect.name != "sqlite"
        if not self.pipelined:
            dialect = type(dialect)(paramstyle="named")  # type: ignore[call-arg]  # pysqlite takes :name as it is
        self.sql = str(text(sql).compile(dialect=dialect))

    def run(self, conn: Connection, /, **params: Any) -> Any:
        """Execute on a fresh cursor of `conn`'s DBAPI connection; returns the cursor.

        On PostgreSQL the statements sent `later` on this connection go first, in the same round trip; an
        error of one of them is raised here.
        """
        raw = conn.connection.dbapi_connection
        # a fresh cursor per statement, so a caller may iterate one result while running another statement
        cur = raw.cursor()  # type: ignore[union-attr]
        waiting = _WAITING.get(raw) if self.pipelined else None
        if waiting:
            waiting.append((cur, self.sql, params))
            _send(raw, waiting)
        else:
            cur.execute(self.sql, params)
        return cur

    def run_many(self, conn: Connection, rows: Sequence[dict[str, Any]], /) -> None:
        """Execute once per row of `rows` in one executemany on `conn`'s DBAPI connection (one round trip
        per batch on psycopg's pipeline, one prepared statement on SQLite)."""
        flush(conn)  # what waits (Statement.later) was written first: it goes first
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cur.executemany(self.sql, rows)
        cur.close()

    def later(self, conn: Connection, /, **params: Any) -> Any:
        """Execute, but let the server's answer wait until the next `run` or `flush` on this connection.

        For writes whose result is not read (SQLite runs them at once). Their errors surface at that next
        round trip; Database.savepoint flushes at its end, so an error stays with the block that caused it.
        The cursor's result (RETURNING) can be read after a flush.
        """
        if not self.pipelined:
            return self.run(conn, **params)
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()  # type: ignore[union-attr]
        _WAITING.setdefault(raw, []).append((cur, self.sql, params))
        return cur


# statements sent `later`, per DBAPI connection (PostgreSQL): (cursor, SQL, parameters), oldest first
_WAITING: weakref.WeakKeyDictionary[Any, list[tuple[Any, str, Any]]] = weakref.WeakKeyDictionary()


def _send(raw: Any, waiting: list[tuple[Any, str, Any]]) -> None:
    """Send the waiting statements in one pipeline and wait for their answers; the first error is raised."""
    items = waiting[:]
    waiting.clear()  # sent, even when one fails: the transaction (or savepoint) is rolled back then
    with raw.pipeline():
        for cur, sql, params in items:
            cur.execute(sql, params)


def _wait(raw: Any, cur: Any, sql: str) -> tuple[Any, str, Any]:
    """Queue `sql` (no parameters) on PostgreSQL connection `raw`, as Statement.later does; the queue's entry."""
    entry = (cur, sql, None)
    _WAITING.setdefault(raw, []).append(entry)
    return entry


def flush(conn: Connection) -> None:
    """Send what waits on `conn` (Statement.later) and raise the first error among it (SQLite: nothing waits)."""
    if conn.dialect.name == "sqlite":
        return
    raw = conn.connection.dbapi_connection
    waiting = _WAITING.get(raw)
    if waiting:
        _send(raw, waiting)


def _discard(raw: Any) -> None:
    """Drop what waits on DBAPI connection `raw`: its transaction or savepoint is being undone."""
    _WAITING.pop(raw, None)


def _pipelined(engine: Engine) -> None:
    """Keep `engine`'s SQLAlchemy statements and commits behind the statements sent `later` (once per engine)."""
    if event.contains(engine, "before_cursor_execute", _flush_before):
        return
    event.listen(engine, "before_cursor_execute", _flush_before)
    event.listen(engine, "commit", _flush_commit)
    event.listen(engine, "rollback", _drop_rollback)
    event.listen(engine, "checkin", _drop_checkin)


def _flush_before(conn: Connection, *_args: Any) -> None:
    flush(conn)


def _flush_commit(conn: Connection) -> None:
    flush(conn)


def _drop_rollback(conn: Connection) -> None:
    _discard(conn.connection.dbapi_connection)


def _drop_checkin(dbapi_conn: Any, _record: Any) -> None:
    _discard(dbapi_conn)


class Locked(NamedTuple):
    """A member's row as read under its lock: what the money verbs and check-ins start from."""

    member: str
    points: int
    growth: int
    checkin_streak: int
    checkin_days: int
    last_checkin: date | None
    # 冻结 (storage.freezes), read in the same statement: every process sees it the moment it commits, at no cost
    frozen: bool = False


_LOCK_SQL = "SELECT points, growth, checkin_streak, checkin_days, last_checkin, frozen FROM members WHERE id = :id"
_lock_statements: dict[str, Statement] = {}


def lock_member(conn: Connection, member: str) -> Locked:
    """Lock `member`'s row for the rest of the transaction and read it; LookupError for an unknown member.

    SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL locks the row (FOR UPDATE).
    """
    dialect = conn.dialect
    stmt = _lock_statements.get(dialect.name)
    if stmt is None:
        sql = _LOCK_SQL if dialect.name == "sqlite" else _LOCK_SQL + " FOR UPDATE"
        stmt = _lock_statements[dialect.name] = Statement(sql, dialect)
    row = stmt.run(conn, id=member).fetchone()
    if row is None:
        raise LookupError(f"unknown member {member}: call see_member first")
    last = None if row[4] is None else loaded_date(row[4])
    return Locked(member, int(row[0]), int(row[1]), int(row[2]), int(row[3]), last, bool(row[5]))


def lock_members(conn: Connection, members: Sequence[str]) -> None:
    """Lock the rows of those of `members` that exist, in id order (PostgreSQL; SQLite holds the write lock).

    Every batch that takes its member rows here, before anything else, takes them in one global order:
    two processes on overlapping members wait for each other instead of deadlocking.
    """
    if conn.dialect.name == "sqlite" or not members:
        return
    stmt = _lock_statements.get("many")
    if stmt is None:
        stmt = _lock_statements["many"] = Statement(
            "SELECT id FROM members WHERE id = ANY(:ids) ORDER BY id FOR UPDATE", conn.dialect)
    stmt.run(conn, ids=sorted(set(members))).fetchall()


# SQLSTATEs that say "this transaction lost a race or its connection; the same work may succeed again":
# class 40 (serialization failure, deadlock), 08 (connection exception), 55P03 (lock not available),
# 57P01-57P03 (the server is shutting down or restarting)
_TRANSIENT_STATES = ("40", "08")
_TRANSIENT_CODES = frozenset({"55P03", "57P01", "57P02", "57P03"})


def transient(exc: BaseException) -> bool:
    """Is `exc` (or what it was raised from) a database error that retrying the whole transaction can cure?

    A deadlock or serialization failure on PostgreSQL, a lost connection, SQLite's "database is locked"
    after the busy timeout. Refusals, constraint violations and bugs are not: they fail again.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, DBAPIError):
            if e.connection_invalidated:
                return True
            if e.orig is not None and _transient_driver_error(e.orig):
                return True
        elif _transient_driver_error(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _transient_driver_error(e: BaseException) -> bool:
    if isinstance(e, sqlite3.OperationalError):
        code = getattr(e, "sqlite_errorcode", None)
        return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in str(e)
    if type(e).__module__.split(".")[0] != "psycopg":
        return False
    state = getattr(e, "sqlstate", None)
    if state is None:  # a psycopg OperationalError with no SQLSTATE: the connection broke
        return type(e).__name__ in ("OperationalError", "InterfaceError") or _is_psycopg_operational(e)
    return state[:2] in _TRANSIENT_STATES or state in _TRANSIENT_CODES


def _is_psycopg_operational(e: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is in requirements.txt
        return False
    return isinstance(e, psycopg.OperationalError)


# -- the database ----------------------------------------------------------------------------------


@dataclass
class _Open:
    """The transaction open in this context, and the journals tied to it."""

    conn: Connection
    journals: dict[str, list[Any]] = field(default_factory=dict)
    # per open savepoint, outermost first: each journal as `pending` first took it inside that savepoint
    savepoints: list[dict[str, list[Any]]] = field(default_factory=list)


class Database:
    """Transactions shared by every storage service: one per context (the pipeline's batch, or a verb's own)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        if self.dialect.name not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"unsupported database {self.dialect.name}: use SQLite or PostgreSQL")
        self.sqlite = self.dialect.name == "sqlite"
        self._open: ContextVar[_Open | None] = ContextVar(f"db_open_{id(self)}", default=None)
        self._savepoints = itertools.count(1)
        self._last_at: tuple[Any, Any] = (None, None)
        self._committed: dict[str, list[Any]] = {}  # journal lines of committed transactions, not yet taken
        # steps run in every transaction this Database opens, just before it commits (by name: a module that is
        # set up twice on one Database registers its step once); each writes what its journal gathered
        self.before_commit: dict[str, Callable[[Connection], None]] = {}
        if not self.sqlite:
            _pipelined(engine)

    def statement(self, sql: str) -> Statement:
        return Statement(sql, self.dialect)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Join the open transaction, or open one and commit it when the block ends (after `before_commit`'s steps)."""
        current = self._open.get()
        if current is not None:
            yield current.conn
            return
        with self.engine.begin() as conn:
            opened = _Open(conn)
            token = self._open.set(opened)
            try:
                yield conn
                for step in list(self.before_commit.values()):
                    step(conn)
            finally:
                self._open.reset(token)
        # committed: its journal lines stand (a transaction that raised drops them with its writes)
        for name, lines in opened.journals.items():
            self._committed.setdefault(name, []).extend(lines)

    @contextmanager
    def savepoint(self) -> Iterator[Connection]:
        """Inside a transaction: undo just this block's writes (and its journal lines) if it raises.

        On PostgreSQL SAVEPOINT goes with the block's first statement and RELEASE with its last writes (one
        round trip at the end, where any error of those writes is raised and undoes the block).
        """
        current = self._open.get()
        if current is None:
            with self.transaction() as conn:
                yield conn
            return
        name = f"sp{next(self._savepoints)}"
        conn = current.conn
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()  # type: ignore[union-attr]
        lengths = {k: len(v) for k, v in current.journals.items()}
        taken: dict[str, list[Any]] = {}
        current.savepoints.append(taken)
        if self.sqlite:
            cur.execute(f"SAVEPOINT {name}")
            begin = None
        else:
            flush(conn)  # what waits belongs to the enclosing block: its errors must not land in this one
            begin = _wait(raw, cur, f"SAVEPOINT {name}")
        try:
            yield conn
            current.savepoints.pop()
            if self.sqlite:
                cur.execute(f"RELEASE SAVEPOINT {name}")
                return
            waiting = _WAITING.get(raw)
            if waiting and len(waiting) == 1 and waiting[0] is begin:  # nothing written: the server need not know
                _discard(raw)
                return
            _wait(raw, cur, f"RELEASE SAVEPOINT {name}")
            flush(conn)
        except BaseException:
            if current.savepoints and current.savepoints[-1] is taken:
                current.savepoints.pop()
            waiting = None if self.sqlite else _WAITING.get(raw)
            unsent = waiting is not None and len(waiting) > 0 and waiting[0] is begin
            if not self.sqlite:
                _discard(raw)  # everything that waits was written in this block (or one inside it)
            if not unsent:
                cur = raw.cursor()  # type: ignore[union-attr]
                cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
                cur.execute(f"RELEASE SAVEPOINT {name}")
            for k, v in current.journals.items():
                del v[lengths.get(k, 0):]
            for k, lines in taken.items():  # taken in here: what was noted before the savepoint is back
                current.journals[k] = lines[:lengths.get(k, 0)]
            raise

    def flush(self, conn: Connection) -> None:
        """Send what waits on `conn` (Statement.later) and raise the first error among it; nothing on SQLite."""
        if not self.sqlite:
            flush(conn)

    def in_transaction(self) -> bool:
        """Whether this context has a transaction open (what it reads may not be committed yet)."""
        return self._open.get() is not None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """Read on the open transaction, or in a read-only one (no write lock taken)."""
        current = self._open.get()
        if current is not None:
            yield current.conn
            return
        with self.engine.connect() as c:
            c = c.execution_options(readonly=True)
            with c.begin():
                yield c

    def note(self, name: str, line: Any) -> None:
        """Add `line` to journal `name` of the open transaction: it is dropped if the savepoint or the
        transaction it was written in rolls back, and kept once the transaction commits."""
        current = self._open.get()
        if current is None:
            raise RuntimeError("a journal line needs an open transaction")
        current.journals.setdefault(name, []).append(line)

    def pending(self, name: str) -> list[Any]:
        """The open transaction's lines of journal `name`, removed from it: for a step that writes them into this
        transaction (so they never reach the committed journal). Taken inside a savepoint that then rolls back,
        the lines noted before it come back with its writes undone."""
        current = self._open.get()
        if current is None:
            return []
        lines = current.journals.pop(name, [])
        for taken in current.savepoints:
            taken.setdefault(name, lines)
        return lines
    def take(self, name: str) -> list[Any]:
        """The lines of journal `name` not taken yet, oldest first: committed ones, then the open transaction's."""
        out = self._committed.pop(name, [])
        current = self._open.get()
        if current is not None and name in current.journals:
            out += current.journals[name]
            current.journals[name].clear()
        return out

    def at(self, value: datetime) -> Any:
        """`value` as a datetime column stores it (for Statements; Core binds through types.UTCDateTime)."""
        last = self._last_at  # one read: another thread may replace it
        if value is last[0]:  # one command stores the same time several times
            return last[1]
        out = stored_datetime(value, self.sqlite)
        self._last_at = (value, out)
        return out

    def day(self, value: date | None) -> Any:
        """`value` as a date column stores it (for Statements)."""
        return stored_date(value, self.sqlite)
