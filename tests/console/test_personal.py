"""A member's personal data on request: exported as JSON or erased from the member's page, each with a reason and
an operator-log row; the ledger's numbers stay; an order that still needs its address blocks erasing."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from bot.config import parse
from storage.vocabulary import OrderMove, OrderStatus
from tests.console.conftest import START, VIEWER, Served, csrf_of
from tests.factories import config

MUG = {"sku": "mug", "name": "马克杯", "kind": "physical", "points": 30, "stock": 5}


def shipped_order(served: Served, member: str = "m_zhang") -> int:
    """An order of 张三's with its parcel details, shipped; and one more waiting to ship when asked."""
    mall = served.services.mall
    mall.sync(parse(config(mall={"items": [MUG]})).mall.items, START)  # type: ignore[union-attr]
    order, _ = mall.redeem(member=member, sku="mug", key="o1", at=START)
    mall.move(order=order.id, move=OrderMove.GIVE_ADDRESS, status=OrderStatus.PENDING, at=START,
              recipient="张三", phone="13812345678", address="杭州市西湖区文三路 1 号")
    mall.move(order=order.id, move=OrderMove.SHIP, status=OrderStatus.SHIPPED, at=START, tracking="SF100")
    return order.id


def balances(served: Served) -> dict[str, int]:
    return {m.id: m.points for m in served.services.ledger.members()}


def oplog(served: Served) -> list[Any]:
    with served.services.db.engine.connect() as c:
        return c.execute(text("SELECT actor_kind, actor, action, target, reason FROM operator_log ORDER BY id")).all()


def test_an_operator_exports_a_members_personal_data_with_a_reason_and_it_is_logged(served: Served) -> None:
    order = shipped_order(served)
    c = served.login()
    page = c.get("/console/members/m_zhang")
    assert "导出个人数据" in page.text
    refused = c.post("/console/members/m_zhang/export", data={"csrf": csrf_of(page.text), "reason": " "})
    assert refused.status_code == 400 and "导出个人数据需要写明理由" in refused.text and oplog(served) == []
    r = c.post("/console/members/m_zhang/export", data={"csrf": csrf_of(page.text), "reason": "成员本人申请"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert r.headers["cache-control"] == "no-store"
    data = json.loads(r.text)
    assert data["member"] == "m_zhang" and data["name"] == "张三" and data["exported_by"] == "alice"
    assert data["profile"] == {"city": "杭州", "phone": "13812345678"}
    assert [(o["id"], o["address"], o["tracking"]) for o in data["orders"]] == [(order, "杭州市西湖区文三路 1 号", "SF100")]
    assert [tuple(r) for r in oplog(served)] == [("console", "alice", "export_personal", "m_zhang", "成员本人申请")]


def test_erasing_needs_a_reason_and_the_id_typed_and_keeps_every_point(served: Served) -> None:
    order = shipped_order(served)
    before = balances(served)
    c = served.login()
    page = c.get("/console/members/m_zhang")
    csrf = csrf_of(page.text)
    wrong = c.post("/console/members/m_zhang/erase", data={"csrf": csrf, "reason": "成员申请", "confirm": "m_li"})
    assert wrong.status_code == 400 and "请在确认框里输入成员 ID「m_zhang」" in wrong.text
    assert served.services.profiles.get("m_zhang") is not None and oplog(served) == []
    r = c.post("/console/members/m_zhang/erase", data={"csrf": csrf, "reason": "成员申请注销资料", "confirm": "m_zhang"})
    assert r.status_code == 303
    shown = c.get(r.headers["location"])
    assert "已删除 m_zhang 的个人数据：资料 2 项，1 个订单的收货信息；积分和账本不变" in shown.text
    assert served.services.profiles.get("m_zhang") is None
    o = served.services.mall.order(order)
    assert o is not None and (o.recipient, o.phone, o.address, o.tracking, o.status) == ("", "", "", "SF100", "shipped")
    assert balances(served) == before and served.services.ledger.audit() == []
    assert [tuple(r)[2:] for r in oplog(served)] == [("erase_personal", "m_zhang", "成员申请注销资料")]
    again = json.loads(c.post("/console/members/m_zhang/export",
                              data={"csrf": csrf_of(shown.text), "reason": "核对已删除"}).text)
    assert again["profile"] == {} and again["orders"] == [] and again["name"] == "张三"


def test_an_order_still_to_ship_blocks_erasing_and_changes_nothing(served: Served) -> None:
    shipped_order(served)
    waiting, _ = served.services.mall.redeem(member="m_zhang", sku="mug", key="o2", at=START)
    served.services.mall.move(order=waiting.id, move=OrderMove.GIVE_ADDRESS, status=OrderStatus.PENDING, at=START,
                              recipient="张三", phone="13812345678", address="杭州")
    c = served.login()
    page = c.get("/console/members/m_zhang")
    r = c.post("/console/members/m_zhang/erase", data={"csrf": csrf_of(page.text), "reason": "成员申请",
                                                       "confirm": "m_zhang"})
    assert r.status_code == 409 and f"单号 {waiting.id} 还没发货，需要收货信息" in r.text
    o = served.services.mall.order(waiting.id)
    assert o is not None and o.address == "杭州" and served.services.profiles.get("m_zhang") is not None
    assert oplog(served) == []


def test_a_viewer_neither_sees_nor_may_use_the_personal_data_forms(served: Served) -> None:
    shipped_order(served)
    c = served.login(VIEWER)
    page = c.get("/console/members/m_zhang")
    assert "导出个人数据" not in page.text and "删除个人数据" not in page.text
    for action in ("export", "erase"):
        r = c.post(f"/console/members/m_zhang/{action}", data={"csrf": csrf_of(page.text), "reason": "看看",
                                                                "confirm": "m_zhang"})
        assert r.status_code == 403 and "只读账号" in r.text
    assert served.services.profiles.get("m_zhang") is not None and oplog(served) == []


def test_an_operator_freezes_and_unfreezes_a_member_with_a_reason_and_it_is_logged(served: Served) -> None:
    c = served.login()
    page = c.get("/console/members/m_li")
    bad = c.post("/console/members/m_li/freeze", data={"csrf": csrf_of(page.text), "op": "freeze", "reason": ""})
    assert bad.status_code == 400 and "冻结或解冻需要写明理由" in bad.text
    assert served.services.freezes.frozen() == []
    r = c.post("/console/members/m_li/freeze", data={"csrf": csrf_of(page.text), "op": "freeze", "reason": "刷签到"})
    assert r.status_code == 303
    shown = c.get(r.headers["location"]).text
    assert "已冻结 m_li" in shown and 'id="frozen"' in shown and "由 alice（后台），理由「刷签到」" in shown
    assert served.services.freezes.frozen() == ["m_li"]
    r = c.post("/console/members/m_li/freeze", data={"csrf": csrf_of(shown), "op": "unfreeze", "reason": "核实误判"})
    assert r.status_code == 303 and served.services.freezes.frozen() == []
    assert [tuple(o)[:4] for o in oplog(served)] == [("console", "alice", "freeze", "m_li"),
                                                     ("console", "alice", "unfreeze", "m_li")]
    viewer = served.login(VIEWER)
    refused = viewer.post("/console/members/m_li/freeze", data={"csrf": csrf_of(viewer.get("/console/members/m_li").text),
                                                                 "op": "freeze", "reason": "看看"})
    assert refused.status_code == 403 and served.services.freezes.frozen() == []
