"""Ledger verbs on SQLite and on this machine's PostgreSQL: one transaction each, repeats blocked, audit proves it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from storage.checkins import Reward
from storage.db import make_engine
from storage.errors import AlreadyCheckedIn, InsufficientPoints
from storage.ledger import Ledger
from storage.store import Storage

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def st(db_url: str) -> Iterator[Storage]:
    s = Storage.open(make_engine(db_url), SH)
    s.presence.see_member("a", "Alice", T0)
    s.presence.see_member("b", "Bob", T0)
    yield s
    s.db.engine.dispose()


def pay(points: int = 5):  # type: ignore[no-untyped-def]
    return lambda streak, total: [Reward("checkin", points, "每日签到")] + (
        [Reward("checkin_streak", 10, "连续3天")] if streak == 3 else [])


def test_award_moves_balance_and_growth_together(st: Storage) -> None:
    e = st.ledger.award(member="a", points=30, kind="admin_award", key="k1", at=T0, detail="活动奖励")
    assert e is not None and e.delta == 30 and e.balance_after == 30 and e.growth_delta == 30
    m = st.ledger.member("a")
    assert m is not None and (m.points, m.growth) == (30, 30)
    assert st.ledger.audit() == []


def test_a_repeated_key_changes_nothing(st: Storage) -> None:
    assert st.ledger.award(member="a", points=30, kind="admin_award", key="k1", at=T0) is not None
    assert st.ledger.award(member="a", points=30, kind="admin_award", key="k1", at=T0) is None
    assert st.ledger.spend(member="a", points=10, kind="redeem", key="k2", at=T0) is not None
    assert st.ledger.spend(member="a", points=10, kind="redeem", key="k2", at=T0) is None
    assert [e.delta for e in st.ledger.entries("a")] == [30, -10]
    assert st.ledger.member("a").points == 20  # type: ignore[union-attr]
    assert st.ledger.audit() == []


def test_spending_never_goes_below_zero_and_never_lowers_growth(st: Storage) -> None:
    st.ledger.award(member="a", points=10, kind="admin_award", key="k1", at=T0)
    with pytest.raises(InsufficientPoints) as err:
        st.ledger.spend(member="a", points=11, kind="redeem", key="k2", at=T0)
    assert (err.value.needed, err.value.points) == (11, 10)
    st.ledger.spend(member="a", points=10, kind="redeem", key="k3", at=T0)
    m = st.ledger.member("a")
    assert m is not None and (m.points, m.growth) == (0, 10)
    assert [e.key for e in st.ledger.entries("a")] == ["k1", "k3"]
    assert st.ledger.audit() == []


def test_check_in_streaks_totals_and_one_per_day(st: Storage) -> None:
    day = date(2026, 11, 23)
    results = []
    for offset in range(5):
        st.checkins.mark_active(day + timedelta(days=offset))  # the bot ran every day
    for offset in (0, 1, 2, 4):
        results.append(st.checkins.check_in(member="a", day=day + timedelta(days=offset), at=T0 + timedelta(days=offset),
                                       room="g1", rewards=pay()))
    assert [(r.streak, r.total_days, r.earned) for r in results] == [(1, 1, 5), (2, 2, 5), (3, 3, 15), (1, 4, 5)]
    with pytest.raises(AlreadyCheckedIn) as err:
        st.checkins.check_in(member="a", day=day + timedelta(days=4), at=T0, room="g2", rewards=pay())
    assert (err.value.streak, err.value.total_days, err.value.points) == (1, 4, 30)
    assert st.ledger.member("a").points == 30  # type: ignore[union-attr]
    assert len(st.checkins.checkins("a")) == 4
    assert st.ledger.audit() == []


def test_check_in_with_zero_base_points_still_counts_the_day(st: Storage) -> None:
    r = st.checkins.check_in(member="a", day=date(2026, 11, 23), at=T0, room="g1", rewards=pay(0))
    assert (r.earned, r.total_days) == (0, 1) and st.ledger.entries("a") == []
    assert st.ledger.audit() == []


def test_top_and_rank_leave_out_the_excluded(st: Storage) -> None:
    st.presence.see_member("owner", "Owner", T0)
    st.ledger.award(member="owner", points=100, kind="admin_award", key="o", at=T0)
    st.ledger.award(member="a", points=10, kind="admin_award", key="a", at=T0)
    st.ledger.award(member="b", points=10, kind="admin_award", key="b", at=T0 + timedelta(seconds=1))
    assert [m.id for m in st.boards.top_members(10, exclude=["owner"])] == ["a", "b"]
    assert st.boards.rank("b", exclude=["owner"]) == 1
    assert st.boards.rank("owner") == 1


def test_audit_names_every_kind_of_breach(st: Storage) -> None:
    st.ledger.award(member="a", points=10, kind="admin_award", key="k1", at=T0)
    st.checkins.check_in(member="b", day=date(2026, 11, 23), at=T0, room="g1", rewards=pay())
    with st.ledger.engine.begin() as c:
        c.execute(text("UPDATE members SET points = 99 WHERE id = 'a'"))
        c.execute(text("UPDATE members SET checkin_days = 5 WHERE id = 'b'"))
        c.execute(text("UPDATE ledger SET balance_after = 7 WHERE key = 'k1'"))
    problems = st.ledger.audit()
    assert any("member a: stored balance 99 != ledger sum 10" in p for p in problems)
    assert any("member b: check-in counters (5 days" in p for p in problems)
    assert any("balance_after 7 != 10" in p for p in problems)


def test_a_batch_commits_together_and_a_savepoint_undoes_only_its_part(st: Storage) -> None:
    with st.db.transaction():
        st.ledger.award(member="a", points=5, kind="x", key="k1", at=T0)
        with pytest.raises(RuntimeError), st.db.savepoint():
            st.ledger.award(member="b", points=5, kind="x", key="k2", at=T0)
            raise RuntimeError("handler bug")
        st.ledger.award(member="b", points=7, kind="x", key="k3", at=T0)
    assert [(e.member, e.key) for e in st.ledger.entries()] == [("a", "k1"), ("b", "k3")]
    assert st.ledger.audit() == []


def test_concurrent_spenders_never_overspend(db_url: str) -> None:
    """Eight connections race to spend 10 points each from a balance of 50: exactly five succeed."""
    setup = Storage.open(make_engine(db_url), SH).ledger
    Storage.open(setup.engine, SH).presence.see_member("a", "Alice", T0)
    setup.award(member="a", points=50, kind="admin_award", key="seed", at=T0)
    ledgers = [Storage.open(make_engine(db_url, create=False), SH).ledger for _ in range(8)]
    barrier = threading.Barrier(len(ledgers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def spender(i: int, led: Ledger) -> None:
        barrier.wait()
        for j in range(3):
            try:
                led.spend(member="a", points=10, kind="redeem", key=f"order:{i}:{j}", at=T0)
                result = "ok"
            except InsufficientPoints:
                result = "refused"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=spender, args=(i, led)) for i, led in enumerate(ledgers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 5 and outcomes.count("refused") == 19
    assert setup.member("a").points == 0  # type: ignore[union-attr]
    assert setup.audit() == []
    for led in [setup, *ledgers]:
        led.engine.dispose()
