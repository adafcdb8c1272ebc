"""The storage layers: hot-path statements in the driver's style, transaction-honest growth notes, reversals
that name what they undo, order moves from one table, hooks and audits per ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from storage import keys
from storage.db import Statement, make_engine, stored_datetime
from storage.mall import OrderMove, OrderStatus, WrongStatus
from storage.statement import read_year
from storage.store import Storage
from storage.tables import LEDGER
from storage.vocabulary import MOVES, Kind
from tests.factories import config

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def st(db_url: str) -> Iterator[Storage]:
    s = Storage.open(make_engine(db_url), SH)
    for m in ("a", "b"):
        s.presence.see_member(m, m.upper(), T0)
    yield s
    assert s.ledger.audit() == []
    s.db.engine.dispose()


def test_statements_are_rendered_in_the_drivers_paramstyle() -> None:
    sql = "SELECT :a WHERE x LIKE 'a%' AND y = :b"
    assert Statement(sql, create_engine("sqlite://").dialect).sql == sql
    pg = Statement(sql, create_engine("postgresql+psycopg://u@h/db").dialect).sql
    assert pg == "SELECT %(a)s WHERE x LIKE 'a%%' AND y = %(b)s"


def test_the_hot_path_and_the_models_store_a_time_alike(st: Storage) -> None:
    at = datetime(2026, 11, 23, 9, 30, 0, 5, tzinfo=SH)
    st.ledger.award(member="a", points=5, kind=Kind.ADMIN_AWARD, key="k", at=at)  # raw cursor
    with st.db.reading() as conn:
        stored = conn.execute(text("SELECT at FROM ledger")).scalar_one()
        assert conn.execute(text("SELECT count(*) FROM ledger WHERE at = :at"),
                            {"at": stored_datetime(at, st.db.sqlite)}).scalar_one() == 1
    [e] = st.ledger.entries()  # read back through types.UTCDateTime
    assert e.at == at and e.at.tzinfo is not None
    if st.db.sqlite:
        assert stored == "2026-11-23 01:30:00.000005"


def test_a_write_sent_later_that_fails_undoes_its_savepoint_and_nothing_before_it(st: Storage) -> None:
    """PostgreSQL sends `later` writes with the next read or at the savepoint's end: the error is raised
    there, inside the block that wrote it, and undoes that block only (SQLite raises at the statement)."""
    claim = st.db.statement("INSERT INTO processed_events (id, at) VALUES (:id, :at)")
    with st.db.transaction() as conn:
        st.ledger.award(member="a", points=5, kind=Kind.ADMIN_AWARD, key="k1", at=T0)
        claim.later(conn, id="e1", at=st.db.at(T0))
        with pytest.raises(Exception, match=r"(?i)unique"), st.db.savepoint():
            st.ledger.award(member="b", points=7, kind=Kind.ADMIN_AWARD, key="k2", at=T0)
            claim.later(conn, id="e2", at=st.db.at(T0))
            claim.later(conn, id="e1", at=st.db.at(T0))  # already there: UNIQUE fails
            claim.later(conn, id="e3", at=st.db.at(T0))
        with st.db.savepoint():  # the next block starts clean and commits with the transaction
            claim.later(conn, id="e4", at=st.db.at(T0))
    assert [st.presence.claimed_at(e) is not None for e in ("e1", "e2", "e3", "e4")] == [True, False, False, True]
    assert [(m.id, m.points) for m in st.ledger.members()] == [("a", 5), ("b", 0)]


@pytest.mark.postgres
def test_a_savepoint_that_wrote_nothing_costs_postgresql_nothing(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SAVEPOINT waits for the block's first statement: a block that sent none (a refusal before any write)
    leaves the server alone, and is no savepoint to roll back to."""
    import psycopg

    st = Storage.open(make_engine(pg_url), SH)
    st.presence.see_member("a", "A", T0)
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self: Any, sql: Any, *args: Any, **kw: Any) -> Any:
        sent.append(str(sql))
        return execute(self, sql, *args, **kw)

    with st.db.transaction():
        monkeypatch.setattr(psycopg.Cursor, "execute", counted)
        with st.db.savepoint():
            pass
        with pytest.raises(RuntimeError), st.db.savepoint():
            raise RuntimeError("refused before any write")
        assert sent == []
        with st.db.savepoint():
            st.ledger.award(member="a", points=1, kind=Kind.ADMIN_AWARD, key="k1", at=T0)
        assert [q.split()[0] for q in sent][:3] == ["SAVEPOINT", "SELECT", "SELECT"]  # lock, key check
    assert [(m.id, m.points) for m in st.ledger.members()] == [("a", 1)]
    assert st.ledger.audit() == []
    st.db.engine.dispose()


def test_journal_lines_taken_inside_a_savepoint_that_rolls_back_come_back(st: Storage) -> None:
    """`pending` inside a savepoint hands out what was noted before it too; when the savepoint's writes are
    undone those lines are back in the journal, and what was noted inside it is gone."""
    with st.db.transaction():
        for line in ("before-1", "before-2"):
            st.db.note("j", line)
        with pytest.raises(RuntimeError), st.db.savepoint():
            st.db.note("j", "inside-1")
            assert st.db.pending("j") == ["before-1", "before-2", "inside-1"]
            st.db.note("j", "inside-2")
            with st.db.savepoint():  # an inner block that succeeds takes nothing back
                st.db.note("j", "inner")
            raise RuntimeError("handler bug")
        assert st.db.pending("j") == ["before-1", "before-2"]
        st.db.note("j", "after")
        with st.db.savepoint():  # a block that succeeds keeps what it took
            assert st.db.pending("j") == ["after"]
        assert st.db.pending("j") == []


def test_board_moves_written_by_a_read_in_a_failed_block_are_written_again(db_url: str) -> None:
    """PostgreSQL holds a transaction's board moves until a board is read (or the commit). A read inside an
    event's savepoint writes the moves of the events before it; if that event then fails, its savepoint undoes
    the write, and the moves are held again, so the commit counts them (the audit checks the board counts)."""
    st = Storage.open(make_engine(db_url), SH)
    st.presence.see_room("g1", "一群", T0)
    for m in ("a", "b"):
        st.presence.see_member(m, m.upper(), T0)
        st.presence.see_in_room("g1", m, T0)
    with st.db.transaction():
        st.ledger.award(member="a", points=5, kind=Kind.ADMIN_AWARD, key="k1", at=T0)
        with pytest.raises(RuntimeError), st.db.savepoint():
            assert st.boards.standing("a") == (1, 5)
            raise RuntimeError("handler bug after a board read")
        st.ledger.award(member="b", points=3, kind=Kind.ADMIN_AWARD, key="k2", at=T0)
    assert st.boards.standing("a") == (1, 5) and st.boards.standing("b") == (2, 3)
    assert st.ledger.audit() == []
    st.db.engine.dispose()


def test_growth_notes_undone_by_a_savepoint_are_dropped(st: Storage) -> None:
    with st.db.transaction():
        st.ledger.award(member="a", points=5, kind=Kind.ADMIN_AWARD, key="k1", at=T0)
        with pytest.raises(RuntimeError), st.db.savepoint():
            st.ledger.award(member="b", points=7, kind=Kind.ADMIN_AWARD, key="k2", at=T0)
            raise RuntimeError("handler bug")
        st.ledger.spend(member="a", points=2, kind=Kind.REDEEM, key="k3", at=T0)  # no growth change
        changes = st.growth.take()
        assert [(c.member, c.before, c.after) for c in changes] == [("a", 0, 5)]
        assert st.growth.take() == []  # taken once
    assert st.growth.take() == []
    st.ledger.award(member="b", points=3, kind=Kind.ADMIN_AWARD, key="k4", at=T0)  # its own transaction, committed
    with pytest.raises(RuntimeError), st.db.transaction():
        st.ledger.award(member="a", points=4, kind=Kind.ADMIN_AWARD, key="k5", at=T0)
        raise RuntimeError("rolled back")
    assert [(c.member, c.before, c.after) for c in st.growth.take()] == [("b", 0, 3)]


def test_every_reversal_names_the_entry_it_undoes(st: Storage) -> None:
    paid = st.ledger.award(member="a", points=20, kind=Kind.INVITE, key=keys.invite("e1", "b"), at=T0)
    back = st.ledger.reverse(original_key=keys.invite("e1", "b"), key=keys.clawback(keys.invite("e1", "b")),
                             kind=Kind.INVITE_REVOKE, at=T0)
    assert paid is not None and back is not None and back.reverses == paid.id and paid.reverses is None
    assert [e.reverses for e in st.ledger.entries("a")] == [None, paid.id]
    year = read_year(st.ledger, "a", start=T0 - timedelta(days=1), end=T0 + timedelta(days=1),
                     first=date(2026, 1, 1), last=date(2026, 12, 31))
    assert year.by_kind == {"invite": 20, "invite_revoke": -20}
    assert year.by_source == {"invite": 0}  # the clawback counts against the invite it undoes


def test_a_reversal_of_any_kind_counts_as_what_it_undoes(st: Storage) -> None:
    st.ledger.award(member="a", points=9, kind="lucky_draw", key="d1", at=T0)
    st.ledger.reverse(original_key="d1", key="d1:oops", kind="correction", at=T0)
    # a clawback written before ledger.reverses existed: its kind names its source
    st.ledger.award(member="a", points=4, kind=Kind.TASK, key="t1", at=T0)
    st.ledger.reverse(original_key="t1", key="t1:revoke", kind=Kind.TASK_REVOKE, at=T0)
    with st.db.transaction() as conn:
        conn.execute(LEDGER.update().where(LEDGER.c.key == "t1:revoke").values(reverses=None))
    year = read_year(st.ledger, "a", start=T0 - timedelta(days=1), end=T0 + timedelta(days=1),
                     first=date(2026, 1, 1), last=date(2026, 12, 31))
    assert year.by_source == {"lucky_draw": 0, "task": 0}


def test_order_moves_come_from_one_table(st: Storage) -> None:
    from bot.config import parse

    item = {"sku": "mug", "name": "马克杯", "kind": "physical", "points": 10, "stock": 5}
    st.mall.sync(parse(config(mall={"items": [item]})).mall.items, T0)  # type: ignore[union-attr]
    st.ledger.award(member="a", points=100, kind=Kind.ADMIN_AWARD, key="seed", at=T0)
    order, _ = st.mall.redeem(member="a", sku="mug", key=keys.redeem("m1", "a"), at=T0)
    assert order.status == OrderStatus.ADDRESS
    with pytest.raises(WrongStatus):  # paid is for unpaid orders only
        st.mall.move(order=order.id, move=OrderMove.PAY, status=OrderStatus.PENDING, at=T0)
    with pytest.raises(ValueError):  # a move leads only where the table says
        st.mall.move(order=order.id, move=OrderMove.GIVE_ADDRESS, status=OrderStatus.DONE, at=T0)
    moved = st.mall.move(order=order.id, move=OrderMove.GIVE_ADDRESS, status=OrderStatus.PENDING, at=T0)
    assert moved.status == OrderStatus.PENDING
    with pytest.raises(WrongStatus):  # gone past the address step
        st.mall.refund(order=order.id, move=OrderMove.DROP_ADDRESS, at=T0)
    back = st.mall.refund(order=order.id, move=OrderMove.REFUND, at=T0)
    assert back.status == OrderStatus.REFUNDED
    [redeem, refund] = [e for e in st.ledger.entries("a") if e.kind in (Kind.REDEEM, Kind.REFUND)]
    assert refund.reverses == redeem.id and refund.key == keys.refund(redeem.key)
    assert all(move in MOVES for move in OrderMove)


def test_hooks_and_audits_belong_to_one_ledger(db_url: str) -> None:
    one = Storage.open(make_engine(db_url), SH)
    two = Storage.open(make_engine(db_url, create=False), SH)
    assert one.ledger.entry_hooks is not two.ledger.entry_hooks
    seen: list[str] = []
    one.ledger.entry_hooks.append(lambda conn, locked, entries: seen.extend(e.key for e in entries))
    one.ledger.audits.append(lambda conn: ["always broken"])
    one.presence.see_member("a", "A", T0)
    two.ledger.award(member="a", points=1, kind=Kind.ADMIN_AWARD, key="k2", at=T0)
    one.ledger.award(member="a", points=1, kind=Kind.ADMIN_AWARD, key="k1", at=T0)
    assert seen == ["k1"]
    assert one.ledger.audit() == ["always broken"] and two.ledger.audit() == []
    for s in (one, two):
        s.db.engine.dispose()
