"""Schema versions: alembic revisions in storage/migrations, applied under a lock; read-outs only check them."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "alembic_version"
# Every process of every release takes this one key, whatever database or schema it upgrades: at worst two
# upgrades of different databases wait for each other, never two of the same one run together.
PG_LOCK_KEY = 7_153_428_011
SQLITE_LOCK_TRIES = 30  # each waits busy_timeout (10 s) for another process's upgrade to commit
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

# (revision, its docstring's first line) of each revision as it is applied
Progress = Callable[[str, str], None]


class SchemaError(Exception):
    """The database's schema is not the one this code runs on."""


class NeedsUpgrade(SchemaError):
    def __init__(self, current: str | None) -> None:
        self.current = current
        super().__init__(f"database schema at {current or 'no revision'}, this code needs {head()}: run migrate")


class UnknownRevision(SchemaError):
    def __init__(self, current: str) -> None:
        self.current = current
        super().__init__(f"database schema at revision {current}, which this code does not know (a newer release?)")


@dataclass(frozen=True)
class Upgrade:
    """What upgrade() found and did."""

    before: str | None  # the revision found; None: unversioned (or empty)
    after: str
    adopted: bool  # tables but no revision (written before alembic): brought to the baseline
    applied: tuple[str, ...]  # revisions run, oldest first


def alembic_config(connection: Connection | None = None, **attributes: Any) -> Any:
    """An alembic Config for storage/migrations; `connection` (and the other attributes) go to env.py."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    cfg.attributes.update(attributes)
    return cfg


@functools.cache
def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


_HEADER = re.compile(r"""^(revision|down_revision)\s*(?::[^=]*)?=\s*(None|"[^"]*"|'[^']*')\s*$""", re.MULTILINE)
_TANGLED = re.compile(r"^(?:branch_labels|depends_on)\s*(?::[^=]*)?=\s*(?!None\s*$)\S", re.MULTILINE)


@functools.cache
def _chain() -> tuple[str, ...]:
    """Every revision, oldest first, read off the files' headers without importing alembic (~0.5 s at start).

    Only a plain chain is read this way; anything alembic allows beyond it (branches, merges, labels, a
    header this does not parse) is left to alembic's own ScriptDirectory, which then gives the answer.
    """
    parents: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        found = dict(_HEADER.findall(source))
        if "revision" not in found or "down_revision" not in found or _TANGLED.search(source):
            return _alembic_chain()
        rev = found["revision"].strip("\"'")
        down = found["down_revision"]
        if rev in parents:
            return _alembic_chain()
        parents[rev] = None if down == "None" else down.strip("\"'")
    children: dict[str | None, list[str]] = {}
    for rev, down in parents.items():
        children.setdefault(down, []).append(rev)
    chain: list[str] = []
    at: str | None = None
    while at in children:
        nxt = children[at]
        if len(nxt) != 1:
            return _alembic_chain()
        at = nxt[0]
        chain.append(at)
    if len(chain) != len(parents):  # a revision off the chain (a down_revision naming nothing here)
        return _alembic_chain()
    return tuple(chain)


def _alembic_chain() -> tuple[str, ...]:
    heads = _script().get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"storage/migrations must have one head, has {heads}")
    return tuple(str(s.revision) for s in reversed(list(_script().walk_revisions())))


def head() -> str:
    """The newest revision: the schema of storage.models."""
    return _chain()[-1]


def revisions() -> list[str]:
    """Every revision, oldest first."""
    return list(_chain())


def current(conn: Connection) -> str | None:
    """The database's revision; None when it has none (a fresh database, or one written before alembic)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = [r[0] for r in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    if len(rows) > 1:
        raise SchemaError(f"{VERSION_TABLE} holds several revisions: {rows}")
    return rows[0] if rows else None


def _read(engine: Engine) -> str | None:
    with engine.connect() as conn:
        conn = conn.execution_options(readonly=True)
        with conn.begin():
            return current(conn)


def check(engine: Engine) -> str:
    """The revision, when it is head; else NeedsUpgrade (older or none) or UnknownRevision. Writes nothing."""
    rev = _read(engine)
    if rev == head():
        return rev
    if rev is None or rev in revisions():
        raise NeedsUpgrade(rev)
    raise UnknownRevision(rev)


def upgrade(engine: Engine, *, tz: ZoneInfo | None = None, progress: Progress | None = None) -> Upgrade:
    """Bring the database to head, safe with other processes doing the same; a database at head costs one read.

    A database with tables but no revision (written by release 0.1 or older) is adopted: revision 0001 adds
    what it lacks (mall_items.first_seen, period_sums from the ledger, in the local weeks of `tz`) and
    stamps it. Everything runs in one transaction, so a failure changes nothing.
    """
    target = head()
    rev = _read(engine)
    if rev == target:
        return Upgrade(rev, rev, False, ())
    if rev is not None and rev not in revisions():
        raise UnknownRevision(rev)
    with _locked(engine) as conn:
        rev = current(conn)  # another process may have upgraded it while we waited
        if rev == target:
            return Upgrade(rev, rev, False, ())
        if rev is not None and rev not in revisions():
            raise UnknownRevision(rev)
        adopted = rev is None and bool(set(inspect(conn).get_table_names()) - {VERSION_TABLE})
        if adopted:
            logger.info("storage: adopting a database written before schema versions")
        applied: list[str] = []

        def step(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
            doc = (step.up_revision.doc or "").strip().splitlines()[0] if step.up_revision else ""
            applied.append(step.up_revision_id)
            if progress is None:
                logger.info("storage: schema upgraded to {} ({})", step.up_revision_id, doc)
            else:
                progress(step.up_revision_id, doc)

        from alembic import command

        command.upgrade(alembic_config(conn, tz=tz or DEFAULT_TZ, on_version_apply=step), "head")
        return Upgrade(rev, target, adopted, tuple(applied))


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the schema lock; commits when the block ends."""
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
            yield conn
        return
    for attempt in range(1, SQLITE_LOCK_TRIES + 1):
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            # a batch_alter_table rebuilds a table: foreign keys must be off (outside a transaction) for that
            raw.execute("PRAGMA foreign_keys=OFF")
            try:
                try:
                    tx = conn.begin()  # BEGIN IMMEDIATE (storage.db): the write lock
                except OperationalError as exc:
                    if "locked" not in str(exc) or attempt == SQLITE_LOCK_TRIES:
                        raise
                    logger.info("storage: another process is upgrading the schema; waiting")
                    continue
                with tx:
                    yield conn
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaError(f"the upgrade broke foreign keys: {broken[:5]}")
            finally:
                raw.execute("PRAGMA foreign_keys=ON")
        return
