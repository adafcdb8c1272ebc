"""ledger_hours (storage.hours): kept in the same transaction as the entries, dropped with a rolled-back savepoint,
and read by the figures so that entries on a period's edges count exactly, in whole-hour and half-hour zones."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from storage.db import make_engine
from storage.hours import SHARDS
from storage.stats import Figures
from storage.store import Storage

T0 = datetime(2026, 11, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


def hours(s: Storage) -> list[tuple[str, int, int, int, int]]:
    with s.db.reading() as conn:
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in conn.execute(text(
            "SELECT kind, shard, delta, growth_delta, entries FROM ledger_hours ORDER BY hour, kind, shard"))]


def test_a_transaction_writes_its_entries_by_hour_and_a_rolled_back_savepoint_none(db_url: str) -> None:
    s = Storage.open(make_engine(db_url), ZoneInfo("Asia/Shanghai"))
    s.presence.see_member("a", "A", T0)
    mine = os.getpid() % SHARDS
    with s.db.transaction():
        for i in range(3):
            s.ledger.award(member="a", points=10, kind="admin_award", key=f"k{i}", at=T0 + timedelta(minutes=i))
        with pytest.raises(RuntimeError), s.db.savepoint():
            s.ledger.award(member="a", points=1000, kind="admin_award", key="gone", at=T0)
            raise RuntimeError("undone")
        s.ledger.spend(member="a", points=5, kind="redeem", key="r1", at=T0 + timedelta(hours=1))
        assert hours(s) == []  # written once, just before commit
    assert hours(s) == [("admin_award", mine, 30, 30, 3), ("redeem", mine, -5, 0, 1)]
    with pytest.raises(RuntimeError), s.db.transaction():
        s.ledger.award(member="a", points=7, kind="admin_award", key="k9", at=T0)
        raise RuntimeError("rolled back")
    s.ledger.award(member="a", points=7, kind="admin_award", key="k9", at=T0 + timedelta(seconds=30))
    assert hours(s)[0] == ("admin_award", mine, 37, 37, 4)
    assert s.ledger.audit() == []
    s.db.engine.dispose()


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Kolkata"])
def test_entries_on_the_edges_of_a_period_count_in_the_period_they_fall_in(db_url: str, zone: str) -> None:
    tz = ZoneInfo(zone)  # Kolkata is UTC+5:30: its midnight falls in the middle of a UTC hour
    s = Storage.open(make_engine(db_url), tz)
    s.presence.see_member("a", "A", T0)
    start, end = date(2026, 11, 12), date(2026, 11, 14)

    def at(day: date, h: int, m: int = 0, sec: int = 0, us: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, h, m, sec, us, tzinfo=tz)

    before, last = start - timedelta(days=1), end - timedelta(days=1)
    times = [at(before, 12), at(before, 23, 30), at(before, 23, 59, 59, 999999),  # before the period
             at(start, 0), at(start, 0, 0, 0, 1), at(start, 0, 29, 59), at(start, 0, 30), at(start, 13),
             at(last, 23, 29, 59), at(last, 23, 30), at(last, 23, 59, 59),  # in it
             at(end, 0), at(end, 0, 30), at(end, 5)]  # after it
    for i, t in enumerate(times):
        s.ledger.award(member="a", points=2 ** i, kind="admin_award", key=f"k{i}", at=t)
    # the same answer straight from the times, in the zone's local days
    inside = sum(2 ** i for i, t in enumerate(times) if start <= t.date() < end)
    ahead = sum(2 ** i for i, t in enumerate(times) if t.date() < start)
    assert inside == sum(2 ** i for i in range(3, 11))
    p = Figures(s.db, tz).compute(start=start, end=end).points
    assert (p.opening, p.earned, p.closing) == (ahead, {"admin_award": inside}, ahead + inside)
    assert p.holds
    whole = Figures(s.db, tz).compute(start=None, end=end + timedelta(days=1)).points
    assert whole.earned == {"admin_award": 2 ** len(times) - 1} and whole.closing == 2 ** len(times) - 1
    assert s.ledger.audit() == []
    s.db.engine.dispose()
