"""Mall storage on SQLite and PostgreSQL: sync by sku, card codes, refunds, audit, and no oversell under concurrency."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.config import parse
from storage.db import make_engine
from storage.errors import InsufficientPoints
from storage.mall import Mall, NotOnSale, OrderMove, OutOfStock, OverLimit, WrongStatus
from storage.store import Storage
from tests.factories import config

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]


def items(*rows: dict[str, Any]) -> list[Any]:
    return parse(config(mall={"items": list(rows)})).mall.items  # type: ignore[union-attr]


MUG = {"sku": "mug", "name": "马克杯", "kind": "physical", "points": 100, "stock": 10, "limit_per_member": 1}
CODES = {"sku": "vip", "name": "会员卡密", "kind": "card_code", "points": 50}


@pytest.fixture
def mall(db_url: str) -> Iterator[Mall]:
    st = Storage.open(make_engine(db_url), SH)
    for m in ("a", "b"):
        st.presence.see_member(m, m.upper(), T0)
        st.ledger.award(member=m, points=1000, kind="admin_award", key=f"seed:{m}", at=T0)
    mall = st.mall
    mall.sync(items(MUG, CODES), T0)
    yield mall
    assert st.ledger.audit() == []
    st.db.engine.dispose()


def test_sync_keeps_stock_and_sales_across_restarts(mall: Mall) -> None:
    order, new = mall.redeem(member="a", sku="mug", key="k1", at=T0)
    assert new and order.status == "address"
    notes = mall.sync(items({**MUG, "name": "新马克杯", "stock": 99}, CODES), T0)  # a restart with an edited config
    it = mall.item("mug")
    assert it is not None and (it.stock, it.sold, it.name) == (9, 1, "新马克杯")
    assert any("补货" in n for n in notes)
    mall.sync(items(CODES), T0)  # removed from config: kept for its orders, off sale
    gone = mall.item("mug")
    assert gone is not None and not gone.in_config and gone.unavailable(T0) == "off"
    mall.sync(items({**MUG, "stock": None}, CODES), T0)  # stock taken out: unlimited
    assert mall.item("mug").stock is None  # type: ignore[union-attr]


def test_codes_import_skips_duplicates_and_a_refunded_code_is_burnt_until_recycled(mall: Mall) -> None:
    assert mall.import_codes("vip", ["C1", "C2", "C1", "", "C3"], T0) == (3, 1)
    assert mall.import_codes("VIP", ["C3", "C4"], T0) == (1, 1)
    assert mall.item("vip").stock == 4  # type: ignore[union-attr]
    o1, _ = mall.redeem(member="a", sku="vip", key="k1", at=T0)
    o2, _ = mall.redeem(member="b", sku="vip", key="k2", at=T0)
    assert (o1.secret, o2.secret, o1.status) == ("C1", "C2", "done")
    back = mall.refund(order=o1.id, at=T0, move=OrderMove.REFUND, reason="测试")
    assert back.status == "refunded"
    assert mall.item("vip").stock == 2 and not back.restocked  # type: ignore[union-attr]  # C1 was shown: burnt
    o3, _ = mall.redeem(member="b", sku="vip", key="k3", at=T0)
    assert o3.secret == "C3"
    assert [(e.kind, e.delta) for e in mall.ledger.entries("a")][-2:] == [("redeem", -50), ("refund", 50)]
    with pytest.raises(WrongStatus):
        mall.refund(order=o1.id, at=T0, move=OrderMove.REFUND)
    assert mall.recycle(order=o1.id, operator="op", at=T0)[1] == "C1"
    o4, _ = mall.redeem(member="a", sku="vip", key="k4", at=T0)
    assert o4.secret == "C1"  # recycled: delivered again, to its second order
    assert [(d["order_id"], d["code"]) for d in mall.deliveries("vip") if d["code"] == "C1"] == [(o1.id, "C1"),
                                                                                                   (o4.id, "C1")]
    assert mall.ledger.audit() == []


def test_refusals_write_nothing(mall: Mall) -> None:
    mall.redeem(member="a", sku="mug", key="k1", at=T0)
    with pytest.raises(OverLimit):
        mall.redeem(member="a", sku="mug", key="k2", at=T0)
    with pytest.raises(OutOfStock):
        mall.redeem(member="a", sku="vip", key="k3", at=T0)
    mall.set_listed("mug", False)
    with pytest.raises(NotOnSale):
        mall.redeem(member="b", sku="mug", key="k4", at=T0)
    mall.set_listed("mug", True)
    Storage.open(mall.db.engine, SH).presence.see_member("poor", "", T0)
    with pytest.raises(InsufficientPoints):
        mall.redeem(member="poor", sku="mug", key="k5", at=T0)
    assert len(mall.orders()) == 1 and mall.item("mug").stock == 9  # type: ignore[union-attr]
    assert [e.key for e in mall.ledger.entries("poor")] == []


def test_a_repeated_key_returns_the_same_order(mall: Mall) -> None:
    first, new = mall.redeem(member="b", sku="mug", key="k1", at=T0)
    again, new2 = mall.redeem(member="b", sku="mug", key="k1", at=T0)
    assert new and not new2 and first.id == again.id
    assert mall.item("mug").stock == 9  # type: ignore[union-attr]


def test_audit_catches_stock_code_and_points_breaches(mall: Mall) -> None:
    mall.import_codes("vip", ["C1", "C2"], T0)
    o, _ = mall.redeem(member="a", sku="vip", key="k1", at=T0)
    o2, _ = mall.redeem(member="b", sku="mug", key="k2", at=T0)
    with mall.ledger.engine.begin() as c:
        c.execute(text("UPDATE mall_orders SET code_id = :c, kind = 'card_code' WHERE id = :o"),
                  {"c": o.id and c.execute(text("SELECT code_id FROM mall_orders WHERE id = :o"), {"o": o.id}).scalar(),
                   "o": o2.id})
        c.execute(text("UPDATE mall_orders SET points = 1 WHERE id = :o"), {"o": o.id})
        c.execute(text("UPDATE mall_items SET sold = 5 WHERE sku = 'mug'"))
    problems = mall.ledger.audit()
    assert any("is on 2 orders" in p for p in problems)
    assert any(f"mall order {o.id}: no redeem entry" in p for p in problems)
    assert any("sold 5 != standing orders 1" in p for p in problems)
    with mall.ledger.engine.begin() as c:  # put it right, so the fixture's audit passes
        c.execute(text("UPDATE mall_orders SET code_id = NULL, kind = 'physical' WHERE id = :o"), {"o": o2.id})
        c.execute(text("UPDATE mall_orders SET points = 50 WHERE id = :o"), {"o": o.id})
        c.execute(text("UPDATE mall_items SET sold = 1 WHERE sku = 'mug'"))


def test_cash_orders_expire_and_are_refunded(mall: Mall) -> None:
    mall.sync(items(MUG, CODES, {"sku": "ebook", "name": "电子书", "kind": "link", "points": 30, "cash": 9.9,
                                 "stock": 2, "link": "https://example.com/b"}), T0)
    o, _ = mall.redeem(member="a", sku="ebook", key="k1", at=T0, pay_within=timedelta(hours=2))
    assert o.status == "unpaid" and o.cash == 990 and o.pay_by == T0 + timedelta(hours=2)
    assert mall.expire_overdue(T0 + timedelta(hours=1)) == []
    [gone] = mall.expire_overdue(T0 + timedelta(hours=2))
    assert gone.status == "expired" and mall.item("ebook").stock == 2  # type: ignore[union-attr]
    assert mall.ledger.member("a").points == 1000  # type: ignore[union-attr]


# -- concurrency: 50 members, the last 10 units ------------------------------------------------------

N_MEMBERS, N_UNITS = 50, 10


def _seed(url: str, kind: str) -> Storage:
    led = Storage.open(make_engine(url), SH)
    row = {"sku": "hot", "name": "热门", "kind": kind, "points": 100, "limit_per_member": 1}
    if kind != "card_code":
        row["stock"] = N_UNITS
    led.mall.sync(items(row), T0)
    if kind == "card_code":
        led.mall.import_codes("hot", [f"CODE-{i}" for i in range(N_UNITS)], T0)
    for i in range(N_MEMBERS):
        led.presence.see_member(f"m{i}", "", T0)
        led.ledger.award(member=f"m{i}", points=150, kind="admin_award", key=f"seed:{i}", at=T0)
    return led


def _check(led: Storage, kind: str) -> None:
    mall = led.mall
    orders = mall.orders()
    assert len(orders) == N_UNITS
    assert len({o.member for o in orders}) == N_UNITS
    it = mall.item("hot")
    assert it is not None and it.stock == 0 and it.sold == N_UNITS
    if kind == "card_code":
        assert len({o.secret for o in orders}) == N_UNITS
    buyers = {o.member for o in orders}
    for m in led.ledger.members():
        assert m.points == (50 if m.id in buyers else 150)
    assert led.ledger.audit() == []


def race(url: str, members: list[str], out: list[str]) -> None:
    """Each member redeems at once on its own connection (threads)."""
    ledgers = [Storage.open(make_engine(url, create=False), SH) for _ in range(8)]
    barrier = threading.Barrier(len(members))
    lock = threading.Lock()

    def buyer(i: int, m: str) -> None:
        mall = ledgers[i % len(ledgers)].mall
        barrier.wait()
        try:
            mall.redeem(member=m, sku="hot", key=f"redeem:{m}", at=T0)
            result = "ok"
        except OutOfStock:
            result = "sold_out"
        with lock:
            out.append(result)

    threads = [threading.Thread(target=buyer, args=(i, m)) for i, m in enumerate(members)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for led in ledgers:
        led.db.engine.dispose()


@pytest.mark.parametrize("kind", ["physical", "card_code"])
def test_fifty_members_race_for_the_last_ten_in_one_process(db_url: str, kind: str) -> None:
    led = _seed(db_url, kind)
    out: list[str] = []
    race(db_url, [f"m{i}" for i in range(N_MEMBERS)], out)
    assert out.count("ok") == N_UNITS and out.count("sold_out") == N_MEMBERS - N_UNITS
    _check(led, kind)
    led.db.engine.dispose()


def test_fifty_members_race_for_the_last_ten_across_two_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mall.db'}"
    led = _seed(url, "card_code")
    go = tmp_path / "go"
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from tests.storage.test_mall import race
        members = sys.argv[1].split(",")
        Path({str(tmp_path)!r}, "ready-" + sys.argv[2]).touch()
        while not Path({str(go)!r}).exists():
            time.sleep(0.005)
        out = []
        race({url!r}, members, out)
        print(out.count("ok"), out.count("sold_out"))
    """)
    halves = [",".join(f"m{i}" for i in range(N_MEMBERS) if i % 2 == p) for p in (0, 1)]
    procs = [subprocess.Popen([sys.executable, "-c", script, h, str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT) for n, h in enumerate(halves)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # both processes are loaded and waiting: they start together
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        results.append(tuple(int(x) for x in stdout.split()))
    assert sum(r[0] for r in results) == N_UNITS and sum(r[1] for r in results) == N_MEMBERS - N_UNITS
    assert all(r[0] + r[1] == N_MEMBERS // 2 for r in results)
    _check(led, "card_code")
    led.db.engine.dispose()


def test_revision_0003_burns_codes_old_refunds_put_back_and_logs_old_re_deliveries(mall: Mall) -> None:
    """A database written before 0003, where refunds put codes back by themselves: after the upgrade the code a
    refund freed and nobody has had since is burnt again; one already delivered again gets a back-filled return."""
    from alembic import command

    from storage import schema

    mall.import_codes("vip", ["C1", "C2", "C3"], T0)
    o1, _ = mall.redeem(member="a", sku="vip", key="k1", at=T0)
    mall.refund(order=o1.id, at=T0, move=OrderMove.REFUND, reason="测试")
    mall.recycle(order=o1.id, operator="op", at=T0)
    o2, _ = mall.redeem(member="b", sku="vip", key="k2", at=T0)
    mall.refund(order=o2.id, at=T0, move=OrderMove.REFUND, reason="测试")
    mall.redeem(member="a", sku="mug", key="k3", at=T0)
    assert o2.secret == "C1"
    engine = mall.db.engine
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if mall.db.sqlite:  # as schema.upgrade does: SQLite's batch mode rebuilds tables others point at
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                command.downgrade(schema.alembic_config(conn), "0002")
                # what the release's refund did: the code back in stock, the history gone with it
                conn.execute(text("UPDATE mall_codes SET order_id = NULL WHERE code = 'C1'"))
                conn.execute(text("UPDATE mall_items SET stock = stock + 1 WHERE sku = 'vip'"))
        finally:
            if mall.db.sqlite:
                raw.execute("PRAGMA foreign_keys=ON")
    schema.upgrade(engine)
    with engine.connect() as conn:
        held = conn.execute(text("SELECT order_id FROM mall_codes WHERE code = 'C1'")).scalar()
        returns = conn.execute(text("SELECT order_id, operator_id FROM mall_code_returns")).all()
        supplied = conn.execute(text("SELECT supplied FROM mall_items WHERE sku = 'mug'")).scalar()
    assert held == o2.id and [tuple(r) for r in returns] == [(o1.id, "")]  # o1's return is the back-filled one
    assert mall.item("vip").stock == 2 and supplied == 10  # type: ignore[union-attr]
    assert [(d["order_id"], d["code"]) for d in mall.deliveries("vip")] == [(o1.id, "C1"), (o2.id, "C1")]
    assert mall.ledger.audit() == []
    o4, _ = mall.redeem(member="b", sku="vip", key="k4", at=T0)
    assert o4.secret == "C2"
