"""storage.freezes on SQLite and PostgreSQL: the ledger itself refuses a frozen member's payouts and spending
(nothing written), lets operators' entries through, keeps who/why/when, and audit sees a flag without a record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from storage.checkins import Reward
from storage.db import make_engine
from storage.errors import MemberFrozen
from storage.store import Storage

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def st(db_url: str) -> Iterator[Storage]:
    s = Storage.open(make_engine(db_url), SH)
    s.presence.see_member("a", "Alice", T0)
    s.ledger.award(member="a", points=50, kind="admin_award", key="seed", at=T0)
    yield s
    s.db.engine.dispose()


def rows(st: Storage) -> tuple[int, int, int]:
    with st.db.engine.connect() as c:
        ledger = int(c.execute(text("SELECT count(*) FROM ledger")).scalar_one())
        checkins = int(c.execute(text("SELECT count(*) FROM checkins")).scalar_one())
        points = int(c.execute(text("SELECT points FROM members WHERE id = 'a'")).scalar_one())
    return ledger, checkins, points


def test_the_ledger_refuses_a_frozen_members_payouts_and_lets_operators_through(st: Storage) -> None:
    assert st.freezes is not None
    change = st.freezes.freeze("a", actor="wxid_owner", reason="刷签到", at=T0)
    assert change.changed and change.record
    before = rows(st)
    for kind in ("checkin", "task", "invite", "newcomer", "profile", "follow", "quiz"):
        with pytest.raises(MemberFrozen):
            st.ledger.award(member="a", points=5, kind=kind, key=f"k:{kind}", at=T0)
    with pytest.raises(MemberFrozen):
        st.ledger.spend(member="a", points=5, kind="redeem", key="k:redeem", at=T0)
    with pytest.raises(MemberFrozen):
        st.checkins.check_in(member="a", day=date(2026, 11, 23), at=T0, room="g1",
                             rewards=lambda s, t: [Reward("checkin", 5, "每日签到")])
    assert rows(st) == before  # nothing written, not even the check-in row
    st.ledger.spend(member="a", points=20, kind="admin_deduct", key="deduct", at=T0)  # 扣分 still works
    st.ledger.award(member="a", points=5, kind="admin_award", key="award", at=T0)  # and 加分
    assert rows(st)[2] == 35
    assert st.ledger.audit() == []

    again = st.freezes.freeze("a", actor="wxid_owner", reason="再次", at=T0)
    assert not again.changed  # already frozen: nothing recorded
    assert st.freezes.tell_once("a") and not st.freezes.tell_once("a")
    st.freezes.unfreeze("a", actor="console:ops", actor_kind="console", reason="误判", at=T0 + timedelta(hours=1))
    assert not st.freezes.tell_once("a")  # nobody to tell once unfrozen
    st.checkins.check_in(member="a", day=date(2026, 11, 23), at=T0, room="g1",
                         rewards=lambda s, t: [Reward("checkin", 5, "每日签到")])
    assert rows(st)[2] == 40
    assert [(c.action, c.actor, c.actor_kind, c.reason) for c in st.freezes.history("a")] == [
        ("freeze", "wxid_owner", "chat", "刷签到"), ("unfreeze", "console:ops", "console", "误判")]
    assert st.freezes.frozen() == []
    assert st.ledger.audit() == []


def test_a_freeze_needs_a_reason_and_a_known_member_and_audit_sees_a_flag_without_a_record(st: Storage) -> None:
    assert st.freezes is not None
    with pytest.raises(ValueError):
        st.freezes.freeze("a", actor="wxid_owner", reason="  ", at=T0)
    with pytest.raises(LookupError):
        st.freezes.freeze("nobody", actor="wxid_owner", reason="刷签到", at=T0)
    assert st.freezes.history() == [] and not st.freezes.is_frozen("a")
    with st.db.engine.begin() as c:
        c.execute(text("UPDATE members SET frozen = :yes WHERE id = 'a'"), {"yes": True})
    assert st.ledger.audit() == ["member a: frozen without a freeze record"]
