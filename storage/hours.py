"""The ledger by UTC hour and kind (ledger_hours): the points accounting of any period without reading the ledger.

The ledger's entry hook notes each entry in a journal of the open transaction (a rolled-back savepoint drops its
lines with its writes); just before the transaction commits, `flush` writes the journal as one executemany
upsert, its keys sorted (a stable lock order on PostgreSQL). So a check-in pays no statement of its own: a batch
of them pays one. Each process writes its own `shard` of every hour, so processes sharing a PostgreSQL never
queue on one hot row; readers sum over shards.

Hours are UTC, so the table does not depend on bot.timezone: a period of local days sums the whole hours inside
it here and reads only the partial hours at its edges from the ledger (ix_ledger_at), which is exact for zones
whose offset is not whole hours too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection

from storage.codecs import loaded_datetime
from storage.db import Database

JOURNAL = "ledger_hours"
SHARDS = 16
HOUR = timedelta(hours=1)

_UPSERT = ("INSERT INTO ledger_hours (hour, kind, shard, delta, growth_delta, entries) "
           "VALUES (:hour, :kind, :shard, :delta, :growth, :n) ON CONFLICT (hour, kind, shard) DO UPDATE SET "
           "delta = ledger_hours.delta + excluded.delta, growth_delta = ledger_hours.growth_delta + "
           "excluded.growth_delta, entries = ledger_hours.entries + excluded.entries")

Sums = dict[str, tuple[int, int]]  # kind -> (sum of deltas, entries)


class Noted(Protocol):
    """What the hook reads of a ledger entry (storage.ledger.Entry)."""

    @property
    def kind(self) -> str: ...
    @property
    def delta(self) -> int: ...
    @property
    def growth_delta(self) -> int: ...
    @property
    def at(self) -> datetime: ...


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour holding `at`."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ceil(at: datetime) -> datetime:
    start = hour_of(at)
    return start if start == at else start + HOUR


def shard() -> int:
    """This process's shard (read when writing: a forked child gets its own)."""
    return os.getpid() % SHARDS


class Hours:
    """Reads ledger_hours on one Database, and keeps it once the ledger attaches `note` and `flush` (storage.ledger)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._upsert = db.statement(_UPSERT)
        by_kind = "SELECT kind, SUM(delta), SUM(entries) FROM ledger_hours{} GROUP BY kind"
        self._between = db.statement(by_kind.format(" WHERE hour >= :lo AND hour < :hi"))
        self._from = db.statement(by_kind.format(" WHERE hour >= :lo"))
        self._until = db.statement(by_kind.format(" WHERE hour < :hi"))
        self._all = db.statement(by_kind.format(""))
        self._edge = db.statement(
            "SELECT kind, SUM(delta), COUNT(*) FROM ledger WHERE at >= :since AND at < :until GROUP BY kind")

    # -- writing --------------------------------------------------------------------------------

    def note(self, entries: Iterable[Noted]) -> None:
        """Journal the entries of one append (they share one time) in the open transaction."""
        hour: datetime | None = None
        for e in entries:
            if hour is None:
                hour = hour_of(e.at)
            self.db.note(JOURNAL, (hour, e.kind, e.delta, e.growth_delta))

    def flush(self, conn: Connection) -> None:
        """Before commit: add the transaction's journal to ledger_hours in one executemany (none when empty)."""
        lines = self.db.pending(JOURNAL)
        if not lines:
            return
        sums: dict[tuple[datetime, str], list[int]] = {}
        for hour, kind, delta, growth in lines:
            row = sums.get((hour, kind))
            if row is None:
                sums[(hour, kind)] = [delta, growth, 1]
            else:
                row[0] += delta
                row[1] += growth
                row[2] += 1
        mine = shard()
        at = self.db.at
        self._upsert.run_many(conn, [{"hour": at(h), "kind": k, "shard": mine, "delta": d, "growth": g, "n": n}
                                     for (h, k), (d, g, n) in sorted(sums.items())])

    # -- reading --------------------------------------------------------------------------------

    def sums(self, conn: Connection, since: datetime | None, until: datetime | None) -> Sums:
        """(sum of deltas, entries) by kind of the ledger entries in [since, until) (None: open): the whole hours
        from ledger_hours, the partial hours at either edge from the ledger."""
        lo = None if since is None else _ceil(since)
        hi = None if until is None else hour_of(until)
        if lo is not None and hi is not None and lo >= hi:  # no whole hour inside: the ledger alone
            return self._entries(conn, since, until)  # type: ignore[arg-type]
        at = self.db.at
        if lo is not None and hi is not None:
            rows = self._between.run(conn, lo=at(lo), hi=at(hi))
        elif lo is not None:
            rows = self._from.run(conn, lo=at(lo))
        elif hi is not None:
            rows = self._until.run(conn, hi=at(hi))
        else:
            rows = self._all.run(conn)
        out = _sums(rows.fetchall())
        if since is not None and lo is not None and since < lo:
            _add(out, self._entries(conn, since, lo))
        if until is not None and hi is not None and hi < until:
            _add(out, self._entries(conn, hi, until))
        return out

    def _entries(self, conn: Connection, since: datetime, until: datetime) -> Sums:
        """The ledger's own sums of [since, until), read off ix_ledger_at (an edge: under an hour)."""
        at = self.db.at
        return _sums(self._edge.run(conn, since=at(since), until=at(until)).fetchall())

    # -- audit ----------------------------------------------------------------------------------

    def audit(self, conn: Connection) -> list[str]:
        """Breaches of: ledger_hours (summed over shards) equals the ledger grouped by UTC hour and kind."""
        trunc = ("substr(at, 1, 13) || ':00:00.000000'" if self.db.sqlite
                 else "date_trunc('hour', at AT TIME ZONE 'UTC')")
        want: dict[tuple[datetime, str], tuple[int, int, int]] = {}
        for hour, kind, d, g, n in self.db.statement(
                f"SELECT {trunc} AS h, kind, SUM(delta), SUM(growth_delta), COUNT(*) FROM ledger "
                "GROUP BY h, kind").run(conn).fetchall():
            want[(_hour(hour), kind)] = (int(d or 0), int(g or 0), int(n))
        problems = []
        for hour, kind, d, g, n in self.db.statement(
                "SELECT hour, kind, SUM(delta), SUM(growth_delta), SUM(entries) FROM ledger_hours "
                "GROUP BY hour, kind ORDER BY hour, kind").run(conn).fetchall():
            got = (int(d or 0), int(g or 0), int(n or 0))
            expect = want.pop((_hour(hour), kind), (0, 0, 0))
            if got != expect:
                problems.append(f"ledger_hours {_hour(hour):%Y-%m-%d %H:00} UTC {kind}: points/growth/entries "
                                f"{got[0]}/{got[1]}/{got[2]} != ledger {expect[0]}/{expect[1]}/{expect[2]}")
        problems += [f"ledger_hours {h:%Y-%m-%d %H:00} UTC {k}: missing, ledger has {v[2]} entries ({v[0]} points)"
                     for (h, k), v in sorted(want.items())]
        return problems


def _hour(value: Any) -> datetime:
    """A stored hour (text on SQLite, naive UTC from date_trunc or aware from the column on PostgreSQL)."""
    return loaded_datetime(value)


def _sums(rows: Iterable[Any]) -> Sums:
    return {str(k): (int(d or 0), int(n or 0)) for k, d, n in rows}


def _add(out: Sums, more: Sums) -> None:
    for kind, (d, n) in more.items():
        d0, n0 = out.get(kind, (0, 0))
        out[kind] = (d0 + d, n0 + n)
