"""Points expiry on SQLite and PostgreSQL: oldest points spent first, only unspent remainders expire, audit proves it.

Every scenario is also checked entry by entry against an independent model (`replay_fifo`) that reads
nothing but the ledger: it rebuilds the earnings, spends them oldest first and says what each
`expire` entry may take. An expiry that took a spent point, or a point twice, fails there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from storage.db import make_engine
from storage.expiry import Lots, Policy
from storage.ledger import Entry
from storage.store import Storage

SH = ZoneInfo("Asia/Shanghai")


def at(day: str, hm: str = "09:00") -> datetime:
    return datetime.fromisoformat(f"{day} {hm}").replace(tzinfo=SH)


def book(url: str, kind: str = "rolling", days: int = 10) -> Storage:
    led = Storage.open(make_engine(url), SH, Policy(kind, days, SH))
    for m in ("a", "b"):
        led.presence.see_member(m, m.upper(), at("2026-01-01"))
    return led


@pytest.fixture
def rolling(db_url: str) -> Iterator[Storage]:
    led = book(db_url)
    yield led
    led.ledger.engine.dispose()


@pytest.fixture
def year_end(db_url: str) -> Iterator[Storage]:
    led = book(db_url, "year_end")
    yield led
    led.ledger.engine.dispose()


def replay_fifo(entries: list[Entry], expires: dict[int, datetime], tz: ZoneInfo = SH,
                floors: dict[int, datetime] | None = None) -> list[str]:
    """Independent of storage.expiry: every credit is a lot, debits take the earliest-expiring points
    first (a reversal of a credit its own lot first, a refund back where its debit came from unless that
    lot expires before the refund's floor in `floors`), and each `expire` entry must take exactly what is
    left of the lots past their time. Returns the breaches."""
    lots: dict[str, list[list]] = {}  # member -> [[entry id, expires, left]]
    drawn: dict[int, list[tuple[int, int]]] = {}  # debit entry -> (lot entry id, points)
    debt: dict[str, int] = {}
    by_key = {e.key: e for e in entries}
    problems = []
    for e in entries:
        mine = lots.setdefault(e.member, [])
        if e.kind == "expire":
            due = [lot for lot in mine if lot[1] <= e.at and lot[2] > 0]
            want = sum(lot[2] for lot in due)
            if -e.delta != want:
                problems.append(f"expire entry {e.id} took {-e.delta}, the unspent remainder due was {want}")
            for lot in due:
                lot[2] = 0
            continue
        if e.delta > 0:
            pay = min(e.delta, debt.get(e.member, 0))
            debt[e.member] = debt.get(e.member, 0) - pay
            rest = e.delta - pay
            original = by_key.get(e.key.rsplit(":", 1)[0]) if e.kind == "refund" else None
            if original is not None and original.delta < 0:
                floor = (floors or {}).get(e.id)
                for lot_id, n in drawn.get(original.id, []):
                    back = min(rest, n)
                    into = next(lot for lot in mine if lot[0] == lot_id)
                    if floor is not None and into[1] < floor:
                        continue  # it would expire too soon: stays in the refund's own lot
                    into[2] += back
                    rest -= back
            if rest or pay:
                mine.append([e.id, expires[e.id], rest])
        elif e.delta < 0:
            need = -e.delta
            order = sorted(mine, key=lambda lot: (lot[1], lot[0]))
            if e.kind.endswith("revoke"):
                original = by_key.get(e.key.rsplit(":", 1)[0])
                order.sort(key=lambda lot: lot[0] != (original.id if original else None))
            for lot in order:
                take = min(need, lot[2])
                if take:
                    lot[2] -= take
                    drawn.setdefault(e.id, []).append((lot[0], take))
                    need -= take
            debt[e.member] = debt.get(e.member, 0) + need
        held = sum(lot[2] for lot in mine) - debt.get(e.member, 0)
        if held != e.balance_after:
            problems.append(f"entry {e.id}: the model holds {held}, the ledger says {e.balance_after}")
    return problems


def run(led: Storage, when: datetime) -> list[int]:
    """The daily expiry at `when`: the points it took, one figure per member it wrote an entry for."""
    assert led.lots is not None
    return [g.points for g in led.lots.expire(when)]


def lot_expiry(lots: Lots | None, entries: list[Entry]) -> dict[int, datetime]:
    """When the lot each credit opened expires, as the policy says (computed here, not read back)."""
    assert lots is not None
    return {e.id: lots.policy.refund_floor(e.at) if e.kind == "refund"
            else lots.policy.expires_at(e.at) for e in entries if e.delta > 0}


def refund_floors(lots: Lots | None, entries: list[Entry]) -> dict[int, datetime]:
    """The earliest each refund's points may expire, as the policy says."""
    assert lots is not None
    return {e.id: lots.policy.refund_floor(e.at) for e in entries if e.kind == "refund"}


def check(led: Storage) -> None:
    assert led.ledger.audit() == []
    entries = led.ledger.entries()
    assert replay_fifo(entries, lot_expiry(led.lots, entries), floors=refund_floors(led.lots, entries)) == []


def test_rolling_expiry_takes_only_the_unspent_remainder(rolling: Storage) -> None:
    led = rolling
    led.ledger.award(member="a", points=5, kind="checkin", key="c1", at=at("2026-03-01"))
    led.ledger.award(member="a", points=5, kind="checkin", key="c2", at=at("2026-03-02"))
    led.ledger.spend(member="a", points=7, kind="redeem", key="r1", at=at("2026-03-05"))  # all of c1, 2 of c2
    # c1 is good through 03-11, expires at the start of 03-12: nothing of it is left to expire
    assert run(led, at("2026-03-12", "00:05")) == []
    [gone] = led.lots.expire(at("2026-03-13", "00:05"))  # type: ignore[union-attr]
    assert (gone.member, gone.points, gone.balance) == ("a", 3, 0)
    assert [(e.kind, e.delta) for e in led.ledger.entries("a")] == [
        ("checkin", 5), ("checkin", 5), ("redeem", -7), ("expire", -3)]
    assert led.ledger.member("a").growth == 10  # type: ignore[union-attr]  # expiry never lowers growth
    assert run(led, at("2026-03-14", "00:05")) == []  # never twice
    check(led)


def test_expiry_starts_at_the_local_day_after_the_last_valid_one(rolling: Storage) -> None:
    led = rolling
    led.ledger.award(member="a", points=5, kind="checkin", key="c1", at=at("2026-03-01", "23:59"))
    assert run(led, at("2026-03-11", "23:59")) == []  # day 10 still good
    assert run(led, at("2026-03-12", "00:00")) == [5]
    check(led)


def test_a_refund_puts_the_points_back_where_they_came_from(db_url: str) -> None:
    led = book(db_url, days=30)
    try:
        led.ledger.award(member="a", points=10, kind="checkin", key="old", at=at("2026-03-01"))
        led.ledger.award(member="a", points=10, kind="checkin", key="new", at=at("2026-03-08"))
        led.ledger.spend(member="a", points=12, kind="redeem", key="order1", at=at("2026-03-09"))
        led.ledger.reverse(original_key="order1", key="order1:refund", kind="refund", at=at("2026-03-10"))
        # the refund did not make old points young (their lot outlives the refund's week): all 10 of "old"
        # expire on time, "new" stays
        assert run(led, at("2026-04-01", "00:05")) == [10]
        assert led.ledger.member("a").points == 10  # type: ignore[union-attr]
        check(led)
    finally:
        led.ledger.engine.dispose()


def test_a_refund_after_its_points_expired_keeps_them_for_refund_days(rolling: Storage) -> None:
    led = rolling
    led.ledger.award(member="a", points=10, kind="checkin", key="old", at=at("2026-03-01"))
    led.ledger.spend(member="a", points=10, kind="redeem", key="order1", at=at("2026-03-02"))
    assert run(led, at("2026-03-12", "00:05")) == []  # all spent
    led.ledger.reverse(original_key="order1", key="order1:refund", kind="refund", at=at("2026-03-12", "10:00"))
    assert led.lots.credited_until("order1:refund") == at("2026-03-20", "00:00")  # type: ignore[union-attr]
    assert run(led, at("2026-03-13", "00:05")) == []  # not the next night
    assert run(led, at("2026-03-19", "23:59")) == []
    assert run(led, at("2026-03-20", "00:05")) == [10]  # refund_days (7) after the refund's day
    check(led)


def test_a_clawback_takes_its_own_points_first_and_may_leave_a_debt(rolling: Storage) -> None:
    led = rolling
    led.ledger.award(member="a", points=5, kind="checkin", key="c1", at=at("2026-03-01"))
    led.ledger.award(member="a", points=20, kind="invite", key="inv", at=at("2026-03-05"))
    led.ledger.reverse(original_key="inv", key="inv:revoke", kind="invite_revoke", at=at("2026-03-06"))
    # the clawback took the invite's own lot, so c1 is untouched and still expires in full
    assert run(led, at("2026-03-12", "00:05")) == [5]
    led.ledger.award(member="a", points=20, kind="invite", key="inv2", at=at("2026-03-13"))
    led.ledger.spend(member="a", points=20, kind="redeem", key="r", at=at("2026-03-13"))
    led.ledger.reverse(original_key="inv2", key="inv2:revoke", kind="invite_revoke", at=at("2026-03-14"))
    assert led.ledger.member("a").points == -20  # type: ignore[union-attr]  # the member sees the debt
    led.ledger.award(member="a", points=30, kind="checkin", key="c2", at=at("2026-03-15"))  # pays the debt first
    [gone] = led.lots.expire(at("2026-03-26", "00:05"))  # type: ignore[union-attr]
    assert (gone.points, gone.balance) == (10, 0)
    check(led)


def test_year_end_across_two_years(year_end: Storage) -> None:
    led = year_end
    led.ledger.award(member="a", points=100, kind="checkin", key="y1", at=at("2026-06-01"))
    led.ledger.award(member="a", points=50, kind="checkin", key="y2", at=at("2026-12-31", "23:00"))
    led.ledger.award(member="a", points=40, kind="checkin", key="y3", at=at("2027-01-01", "08:00"))
    led.ledger.spend(member="a", points=120, kind="redeem", key="buy", at=at("2027-05-01"))  # 100 of y1, 20 of y2
    assert run(led, at("2027-12-31", "23:59")) == []  # 2026's points good all 2027
    [gone] = led.lots.expire(at("2028-01-01", "00:05"))  # type: ignore[union-attr]
    assert (gone.points, gone.balance) == (30, 40)  # the unspent 30 of 2026; 2027's 40 stay a year more
    assert run(led, at("2028-06-01", "00:05")) == []
    assert run(led, at("2029-01-01", "00:05")) == [40]
    assert led.ledger.member("a").points == 0  # type: ignore[union-attr]
    check(led)


def test_warnings_go_once_for_points_expiring_within_the_window(rolling: Storage) -> None:
    led = rolling
    led.ledger.award(member="a", points=5, kind="checkin", key="c1", at=at("2026-03-01"))
    led.ledger.award(member="b", points=8, kind="checkin", key="c2", at=at("2026-03-09"))
    lots = led.lots
    assert lots is not None
    [w] = lots.warn(at("2026-03-05", "00:05"), timedelta(days=7))
    assert (w.member, w.points, w.expires_at) == ("a", 5, at("2026-03-12", "00:00"))
    assert lots.warn(at("2026-03-06", "00:05"), timedelta(days=7)) == []  # told once
    assert lots.expiring("b", at("2026-03-10"), timedelta(days=30)) == (8, at("2026-03-20", "00:00"))
    led.ledger.spend(member="b", points=8, kind="redeem", key="r", at=at("2026-03-10"))
    assert lots.warn(at("2026-03-15", "00:05"), timedelta(days=7)) == []  # nothing left to lose
    check(led)


def test_daily_earnings_bring_one_reminder_a_week_not_one_a_day(rolling: Storage) -> None:
    led, lots = rolling, rolling.lots
    assert lots is not None
    told = []
    for d in range(1, 29):
        day = (date(2026, 3, 1) + timedelta(days=d - 1)).isoformat()
        led.ledger.award(member="a", points=5, kind="checkin", key=f"c{d}", at=at(day, "08:00"))
        lots.expire(at(day, "09:00"))
        told += [(day, w.points) for w in lots.warn(at(day, "09:00"), timedelta(days=7))]
    # the first lot comes within 7 days of expiring on 03-05; then once a week, each time what is due
    assert told == [("2026-03-05", 5), ("2026-03-12", 35), ("2026-03-19", 35), ("2026-03-26", 35)]
    check(led)


def test_settle_counts_points_held_before_expiry_was_on_from_now(db_url: str) -> None:
    led = Storage.open(make_engine(db_url), SH)
    led.presence.see_member("a", "A", at("2025-01-01"))
    led.ledger.award(member="a", points=70, kind="checkin", key="c1", at=at("2025-01-01"))
    led.lots = Lots(led.ledger, Policy("rolling", 10, SH))
    assert led.ledger.audit() != []  # the lots do not hold the balance yet
    assert led.lots.settle(at("2026-03-01")) == 1
    assert led.ledger.audit() == []
    assert led.lots.settle(at("2026-03-01")) == 0
    assert run(led, at("2026-03-11", "00:05")) == []  # counted from the day it was turned on
    assert run(led, at("2026-03-12", "00:05")) == [70]
    assert led.ledger.audit() == []
    led.ledger.engine.dispose()


def test_audit_finds_an_expiry_of_spent_points(rolling: Storage) -> None:
    led = rolling
    led.ledger.award(member="a", points=5, kind="checkin", key="c1", at=at("2026-03-01"))
    led.ledger.spend(member="a", points=5, kind="redeem", key="r", at=at("2026-03-02"))
    with led.ledger.engine.begin() as conn:  # a broken expiry: takes 5 already spent points from the lot
        lot = conn.execute(text("SELECT id FROM point_lots")).scalar_one()
        conn.execute(text("UPDATE point_lots SET remaining = 5 WHERE id = :id"), {"id": lot})
    run(led, at("2026-03-12", "00:05"))
    problems = led.ledger.audit()
    assert any("lot" in p and "drawn" in p for p in problems), problems
    assert replay_fifo(led.ledger.entries(), lot_expiry(led.lots, led.ledger.entries())) != []


def test_random_histories_never_expire_a_spent_point(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Hypothesis writes earn / spend / refund / clawback / expiry runs over two years; model and audit agree."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    step = st.tuples(st.sampled_from(["earn", "spend", "refund", "revoke", "run"]), st.integers(1, 60),
                     st.integers(0, 40))
    runs = iter(range(10_000))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(step, min_size=1, max_size=40), st.sampled_from(["rolling", "year_end"]))
    def scenario(steps: list[tuple[str, int, int]], kind: str) -> None:
        led = book(f"sqlite:///{tmp_path / f'h{next(runs)}.db'}", kind, days=30)
        t = at("2026-11-01")
        earned: list[str] = []
        spent: list[str] = []
        for i, (op, n, days) in enumerate(steps):
            t += timedelta(days=days, minutes=7)
            bal = led.ledger.member("a").points  # type: ignore[union-attr]
            if op == "earn":
                led.ledger.award(member="a", points=n, kind="checkin", key=f"e{i}", at=t)
                earned.append(f"e{i}")
            elif op == "spend" and bal > 0:
                led.ledger.spend(member="a", points=min(n, bal), kind="redeem", key=f"s{i}", at=t)
                spent.append(f"s{i}")
            elif op == "refund" and spent:
                k = spent.pop(0)
                led.ledger.reverse(original_key=k, key=f"{k}:refund", kind="refund", at=t)
            elif op == "revoke" and earned:
                k = earned.pop(0)
                led.ledger.reverse(original_key=k, key=f"{k}:revoke", kind="invite_revoke", at=t)
            elif op == "run":
                run(led, datetime.combine(t.date(), time(0, 5), tzinfo=SH))
        run(led, t + timedelta(days=800))
        try:
            check(led)
            assert max(0, led.ledger.member("a").points) == 0  # type: ignore[union-attr]  # everything expired in the end
        finally:
            led.ledger.engine.dispose()

    scenario()


def test_policy_dates() -> None:
    p = Policy("rolling", 365, SH)
    assert p.expires_at(at("2026-12-01", "08:00")) == at("2027-12-02", "00:00")
    y = Policy("year_end", 0, SH)
    assert y.expires_at(at("2026-01-01", "00:00")) == at("2028-01-01", "00:00")
    assert y.expires_at(at("2026-12-31", "23:59")) == at("2028-01-01", "00:00")
    # 2026-12-31 16:30 UTC is 2027-01-01 in Shanghai: earned in 2027
    assert y.expires_at(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == at("2029-01-01", "00:00")
    assert date(2027, 12, 2) == p.expires_at(at("2026-12-01")).date()
