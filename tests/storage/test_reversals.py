"""Reversals at the database's edge and in the audit: growth is undone with the points, no entry is undone twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError

from storage.db import make_engine
from storage.errors import InsufficientPoints, NotUndoable
from storage.store import Storage
from storage.tables import LEDGER

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def st(db_url: str) -> Iterator[Storage]:
    s = Storage.open(make_engine(db_url), ZoneInfo("Asia/Shanghai"))
    s.presence.see_member("a", "Alice", T0)
    yield s
    s.db.engine.dispose()


def second_reversal(original: int) -> dict[str, object]:
    return {"member_id": "a", "delta": -10, "growth_delta": -10, "balance_after": -10, "kind": "reversal",
            "key": "by-hand", "at": T1, "detail": "", "reverses": original}


def test_an_undo_moves_points_growth_and_period_sums_back(st: Storage) -> None:
    e = st.ledger.award(member="a", points=10, kind="admin_award", key="k1", at=T0)
    assert e is not None
    done = st.ledger.undo(entry=e.id, key="u1", at=T1, detail="输错了")
    assert (done.reversal.delta, done.reversal.growth_delta, done.reversal.reverses) == (-10, -10, e.id)
    m = st.ledger.member("a")
    assert m is not None and (m.points, m.growth) == (0, 0)
    assert st.boards.standing("a", period="week:2026-11-23") == (None, 0)
    assert st.ledger.audit() == []


def test_undo_refuses_other_kinds_and_a_debt(st: Storage) -> None:
    st.ledger.award(member="a", points=10, kind="checkin", key="k0", at=T0)
    gift = st.ledger.award(member="a", points=30, kind="admin_award", key="k1", at=T0)
    assert gift is not None
    with pytest.raises(NotUndoable) as refused:
        st.ledger.undo(entry=gift.id - 1, key="u0", at=T1)
    assert refused.value.kind == "checkin"
    st.ledger.spend(member="a", points=25, kind="redeem", key="k2", at=T0)
    with pytest.raises(InsufficientPoints) as poor:
        st.ledger.undo(entry=gift.id, key="u1", at=T1)
    assert (poor.value.needed, poor.value.points) == (30, 15)
    assert [e.key for e in st.ledger.entries()] == ["k0", "k1", "k2"]


def test_the_database_refuses_a_second_reversal_of_an_entry(st: Storage) -> None:
    e = st.ledger.award(member="a", points=10, kind="admin_award", key="k1", at=T0)
    assert e is not None
    st.ledger.undo(entry=e.id, key="u1", at=T1)
    with pytest.raises(IntegrityError), st.ledger.engine.begin() as c:
        c.execute(insert(LEDGER).values(**second_reversal(e.id)))
    assert st.ledger.audit() == []


def test_audit_reports_an_entry_reversed_twice(st: Storage) -> None:
    e = st.ledger.award(member="a", points=10, kind="admin_award", key="k1", at=T0)
    assert e is not None
    st.ledger.undo(entry=e.id, key="u1", at=T1)
    with st.ledger.engine.begin() as c:  # broken by hand: the index gone, a second reversal written
        c.execute(text("DROP INDEX uq_ledger_reverses"))
        c.execute(insert(LEDGER).values(**second_reversal(e.id)))
    assert f"ledger line {e.id} is reversed 2 times" in st.ledger.audit()


def test_audit_reports_a_reversal_that_leaves_the_growth(st: Storage) -> None:
    e = st.ledger.award(member="a", points=10, kind="admin_award", key="k1", at=T0)
    assert e is not None
    done = st.ledger.undo(entry=e.id, key="u1", at=T1)
    with st.ledger.engine.begin() as c:  # broken by hand: the points went back, the growth stayed
        c.execute(update(LEDGER).where(LEDGER.c.id == done.reversal.id).values(growth_delta=0))
        c.execute(text("UPDATE members SET growth = 10 WHERE id = 'a'"))
    problems = st.ledger.audit()
    assert f"ledger line {done.reversal.id} (a) reverses growth 10 by 0" in problems
