"""The console's 商城, 订单, 群 and 规则 screens over real HTTP (uvicorn + httpx) on SQLite and PostgreSQL: every
change refused to a viewer and without the CSRF token, bad input changing nothing, and the stock, orders, ledger and
operator log right after each change."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from bot.config import parse
from console.app import mask
from storage.vocabulary import OrderMove, OrderStatus
from tests.console.conftest import START, VIEWER, Served, csrf_of
from tests.factories import config

MUG = {"sku": "mug", "name": "马克杯", "kind": "physical", "points": 10, "stock": 5}
VIP = {"sku": "vip", "name": "会员卡密", "kind": "card_code", "points": 5}
ADDRESS = {"recipient": "张三", "phone": "13812345678", "address": "杭州市西湖区文三路 100 号"}


def items(*rows: dict[str, Any]) -> list[Any]:
    return parse(config(mall={"items": list(rows)})).mall.items  # type: ignore[union-attr]


def order(served: Served, member: str, key: str, *, address: bool = True) -> int:
    o, _ = served.services.mall.redeem(member=member, sku="mug", key=key, at=START)
    if address:
        served.services.mall.move(order=o.id, move=OrderMove.GIVE_ADDRESS, status=OrderStatus.PENDING, at=START,
                                  **ADDRESS)
    return int(o.id)


@pytest.fixture
def shop(served: Served) -> Served:
    served.services.mall.sync(items(MUG, VIP), START)
    return served


def ops(served: Served) -> list[tuple[str, str, str, str, str]]:
    return [(o.actor_kind, o.actor, o.action, o.target, o.reason) for o in served.services.oplog.page(limit=100)]


def status(served: Served, order_id: int) -> str:
    o = served.services.mall.order(order_id)
    assert o is not None
    return str(o.status)


def test_items_show_stock_and_sales_and_restock_listing_are_logged(shop: Served) -> None:
    order(shop, "m_zhang", "o1")
    c = shop.login()
    page = c.get("/console/mall")
    assert page.status_code == 200 and "马克杯" in page.text and "会员卡密" in page.text
    row = page.text.split('id="item-mug"')[1].split("</tr>")[0]
    assert ">4<" in row and ">1<" in row and "在售" in row and "10 积分" in row  # stock 4, sold 1
    token = csrf_of(page.text)
    # bad input: no reason, a zero count, a card-code item: nothing changes, nothing logged
    for form in ({"count": "3", "reason": ""}, {"count": "0", "reason": "到货"}, {"count": "x", "reason": "到货"}):
        r = c.post("/console/mall/mug/restock", data={**form, "csrf": token})
        assert r.status_code == 400
    r = c.post("/console/mall/vip/restock", data={"count": "3", "reason": "到货", "csrf": token})
    assert r.status_code == 400 and "上传卡密文件" in r.text
    assert shop.services.mall.item("mug").stock == 4 and ops(shop) == []
    r = c.post("/console/mall/mug/restock", data={"count": "3", "reason": "新到一箱", "csrf": token})
    assert r.status_code == 303
    assert "补货 3 件，现有库存 7" in c.get("/console/mall").text
    assert shop.services.mall.item("mug").stock == 7
    r = c.post("/console/mall/mug/listing", data={"op": "unlist", "reason": "缺货调整", "csrf": token})
    assert r.status_code == 303 and not shop.services.mall.item("mug").listed
    assert "已下架" in c.get("/console/mall").text.split('id="item-mug"')[1].split("</tr>")[0]
    assert ops(shop) == [("console", "alice", "unlisted", "sku:mug", "缺货调整"),
                         ("console", "alice", "restocked", "sku:mug", "新到一箱")]
    assert shop.services.oplog.page(limit=5)[1].detail == {"added": 3}
    assert c.post("/console/mall/nope/restock", data={"count": "1", "reason": "x", "csrf": token}).status_code == 404


def test_a_viewer_and_a_forged_token_change_nothing_in_the_mall_or_orders(shop: Served) -> None:
    o = order(shop, "m_zhang", "o1")
    v = shop.login(VIEWER)
    page = v.get("/console/orders")
    assert page.status_code == 200 and "13812345678" not in page.text and "文三路" not in page.text
    assert mask("13812345678") in page.text and mask(ADDRESS["address"]) in page.text  # masked
    token = csrf_of(page.text)
    posts = [("/console/mall/mug/restock", {"count": "3", "reason": "x"}), ("/console/mall/mug/listing", {"op": "unlist"}),
             (f"/console/orders/{o}/ship", {"tracking": "SF1"}), (f"/console/orders/{o}/refund", {"reason": "x"}),
             ("/console/orders/ship-bulk", {"lines": f"{o},SF1"})]
    for url, form in posts:
        assert v.post(url, data={**form, "csrf": token}).status_code == 403
    r = v.post("/console/mall/vip/codes", data={"csrf": token}, files={"codes": ("c.txt", b"A\nB\n")})
    assert r.status_code == 403
    assert v.get("/console/orders/courier.csv").status_code == 403
    c = shop.login()
    for url, form in posts:
        assert c.post(url, data={**form, "csrf": "forged"}).status_code == 403
    assert status(shop, o) == "pending" and shop.services.mall.item("mug").stock == 4
    assert shop.services.mall.item("vip").stock == 0 and ops(shop) == []


def finished(c: httpx.Client, location: str, seconds: float = 20) -> str:
    """The import job's page once the import ended (it runs in a worker thread)."""
    deadline = time.monotonic() + seconds
    while True:
        page = c.get(location, params={"part": "1"})
        assert page.status_code == 200, page.text
        if 'data-state="running"' not in page.text:
            return page.text
        assert time.monotonic() < deadline, "the import did not end"
        time.sleep(0.05)


def test_card_codes_upload_counts_duplicates_in_the_file_and_already_stored(shop: Served) -> None:
    shop.services.mall.import_codes("vip", ["OLD1"], START)
    c = shop.login()
    token = csrf_of(c.get("/console/mall").text)
    body = "\ufeffNEW1\nNEW2\n\nNEW1\nOLD1\nNEW3\n".encode()
    r = c.post("/console/mall/vip/codes", data={"csrf": token}, files={"codes": ("codes.txt", body, "text/plain")})
    assert r.status_code == 303
    job = finished(c, r.headers["location"])
    assert "导入完成：导入 3 个，重复 2 个（已跳过）；现有 4 个未用卡密" in job
    assert "hx-get" not in job.split('id="import-job"')[1]  # the page stops asking once the import ended
    assert ">4<" in c.get("/console/mall").text.split('id="item-vip"')[1].split("</tr>")[0]
    assert shop.services.mall.item("vip").stock == 4
    assert ops(shop) == [("console", "alice", "import_codes", "sku:vip", "")]
    assert shop.services.oplog.page(limit=1)[0].detail == {"added": 3, "skipped": 2, "file": "codes.txt"}
    # not UTF-8: nothing imported, nothing logged; a physical item takes no codes
    r = c.post("/console/mall/vip/codes", data={"csrf": token}, files={"codes": ("x.txt", "卡密".encode("gbk"))})
    assert r.status_code == 400 and "UTF-8" in r.text
    r = c.post("/console/mall/mug/codes", data={"csrf": token}, files={"codes": ("x.txt", b"A\n")})
    assert r.status_code == 400
    r = c.post("/console/mall/vip/codes", data={"csrf": token}, files={"codes": ("blank.txt", b"\n \n")})
    assert r.status_code == 400 and "里没有卡密" in r.text
    assert shop.services.mall.item("vip").stock == 4 and len(ops(shop)) == 1
    assert c.get("/console/mall/imports/nope").status_code == 404


def test_a_large_code_file_is_imported_in_the_background_and_its_page_follows_it(shop: Served) -> None:
    """5,000 codes (ten chunks): the upload answers at once with the job's page, which shows the progress and then
    the counts; the codes, the stock and one operator-log row are what the file says."""
    c = shop.login()
    token = csrf_of(c.get("/console/mall").text)
    body = "code,batch\n" + "".join(f"VIP-{i:05d},b1\n" for i in range(5000)) + "VIP-00001,b2\n"
    r = c.post("/console/mall/vip/codes", data={"csrf": token}, files={"codes": ("big.csv", body.encode(), "text/csv")})
    assert r.status_code == 303
    first = c.get(r.headers["location"]).text
    assert 'max="5001"' in first and "导入卡密文件 <code>big.csv</code>，alice" in first
    job = finished(c, r.headers["location"])
    assert "导入 5000 个，重复 1 个" in job
    assert shop.services.mall.item("vip").stock == 5000
    assert shop.services.oplog.page(limit=1)[0].detail == {"added": 5000, "skipped": 1, "file": "big.csv"}
    assert len(ops(shop)) == 1


def test_order_actions_move_the_order_and_refund_returns_the_points(shop: Served) -> None:
    o1, o2 = order(shop, "m_zhang", "o1"), order(shop, "m_zhang", "o2")
    c = shop.login()
    page = c.get("/console/orders?status=pending")
    assert "13812345678" in page.text and "文三路 100 号" in page.text  # an operator sees the address to ship
    assert '待处理 <span class="tag">2</span>' in page.text
    token = csrf_of(page.text)
    r = c.post(f"/console/orders/{o1}/ship", data={"tracking": "SF100", "csrf": token, "back": "pending"})
    assert r.status_code == 303 and r.headers["location"] == "/console/orders?status=pending"
    assert status(shop, o1) == "shipped" and shop.services.mall.order(o1).tracking == "SF100"
    r = c.post(f"/console/orders/{o1}/ship", data={"tracking": "SF101", "csrf": token})
    assert r.status_code == 400 and "已发货" in r.text and shop.services.mall.order(o1).tracking == "SF100"
    assert c.post(f"/console/orders/{o1}/done", data={"csrf": token}).status_code == 303
    assert status(shop, o1) == "done"
    before = shop.services.ledger.member("m_zhang").points
    r = c.post(f"/console/orders/{o2}/refund", data={"reason": "", "csrf": token})
    assert r.status_code == 400 and status(shop, o2) == "pending"
    r = c.post(f"/console/orders/{o2}/refund", data={"reason": "缺货，抱歉", "csrf": token})
    assert r.status_code == 303 and status(shop, o2) == "refunded"
    assert shop.services.ledger.member("m_zhang").points == before + 10
    assert shop.services.mall.item("mug").stock == 4  # o2's unit is back, o1's left with the parcel
    assert c.post("/console/orders/999/done", data={"csrf": token}).status_code == 404
    assert [(a, t, why) for _k, _u, a, t, why in ops(shop)] == [
        ("order_refunded", f"order:{o2}", "缺货，抱歉"), ("order_done", f"order:{o1}", ""),
        ("order_shipped", f"order:{o1}", "")]


def test_bulk_ship_applies_nothing_when_a_line_is_bad_and_all_lines_when_none_is(shop: Served) -> None:
    o1, o2, o3 = order(shop, "m_zhang", "o1"), order(shop, "m_zhang", "o2"), order(shop, "m_li", "o3", address=False)
    c = shop.login()
    token = csrf_of(c.get("/console/orders").text)
    lines = f"单号,快递单号\n{o1},SF1\n{o2},\n{o1},SF9\n999,SF3\n{o3},SF4\nabc,SF5\n"
    r = c.post("/console/orders/ship-bulk", data={"lines": lines, "csrf": token})
    assert r.status_code == 400 and "全部没有发货" in r.text
    table = r.text.split('id="bad-lines"')[1].split("</table>")[0].split("<tbody>")[1]
    rows = [re.sub(r"<[^>]+>", " ", tr) for tr in table.split("</tr>") if "<td" in tr]
    wanted = ((3, "缺少快递单号"), (4, "和第 2 行重复"), (5, "没有单号 999"), (6, "待填收货信息"), (7, "单号应当是数字"))
    assert len(rows) == len(wanted)
    for row, (n, why) in zip(rows, wanted, strict=True):
        assert f"第 {n} 行" in row and why in row, row
    assert {status(shop, o) for o in (o1, o2)} == {"pending"} and ops(shop) == []
    # a file upload with the same format, every line good: all ship in one go, each logged
    r = c.post("/console/orders/ship-bulk", data={"lines": "", "csrf": token},
               files={"lines_file": ("ship.csv", f"\ufeff{o1},SF1\n{o2}，YT2\n".encode())})
    assert r.status_code == 303
    assert (shop.services.mall.order(o1).tracking, shop.services.mall.order(o2).tracking) == ("SF1", "YT2")
    assert {status(shop, o) for o in (o1, o2)} == {"shipped"}
    assert sorted(t for _k, _u, a, t, _r in ops(shop) if a == "order_shipped") == sorted([f"order:{o1}", f"order:{o2}"])
    assert "已发货 2 单" in c.get("/console/orders?status=shipped").text


def test_the_courier_export_has_addresses_for_operators_and_is_logged(shop: Served) -> None:
    o1 = order(shop, "m_zhang", "o1")
    order(shop, "m_li", "o2", address=False)
    c = shop.login()
    r = c.get("/console/orders/courier.csv")
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:8] == ["单号", "下单时间", "成员 ID", "昵称", "商品", "收件人", "电话", "地址"]
    assert [row[0] for row in rows[1:]] == [str(o1)]
    assert rows[1][5:8] == ["张三", "13812345678", "杭州市西湖区文三路 100 号"]
    assert ops(shop) == [("console", "alice", "export_orders", "", "")]
    assert shop.services.oplog.page(limit=1)[0].detail["orders"] == 1
    # the export with its 快递单号 column filled in goes back as a bulk 发货 (rows left blank stay unshipped)
    o3 = order(shop, "m_li", "o3")
    filled = r.content.decode("utf-8-sig").replace(f"{o1},", f"{o1},", 1).splitlines()
    filled = [filled[0], filled[1] + "SF-77", f"{o3},x,m_li,李四,马克杯,张三,1,a,"]
    token = csrf_of(c.get("/console/orders").text)
    r = c.post("/console/orders/ship-bulk", data={"csrf": token},
               files={"lines_file": ("courier.csv", ("\ufeff" + "\n".join(filled)).encode())})
    assert r.status_code == 303
    assert (status(shop, o1), shop.services.mall.order(o1).tracking, status(shop, o3)) == ("shipped", "SF-77", "pending")


def test_groups_show_members_and_who_checked_in_lately(shop: Served) -> None:
    svc = shop.services
    svc.presence.see_room("g2", "新人群", START)
    svc.presence.see_in_room("g1", "m_li", START)
    svc.presence.see_in_room("g2", "m_li", START)
    # 张三 checked in from g1 yesterday, 李四 from g2 long ago (outside the 7 days), and from g1 today
    svc.checkins.check_in(member="m_zhang", day=date(2026, 12, 1), at=START, room="g1", rewards=lambda s, t: [])
    svc.checkins.check_in(member="m_li", day=date(2026, 11, 1), at=START - timedelta(days=30), room="g2",
                          rewards=lambda s, t: [])
    svc.checkins.check_in(member="m_li", day=date(2026, 12, 2), at=shop.clock[0], room="g1", rewards=lambda s, t: [])
    c = shop.login()
    page = c.get("/console/groups")
    assert page.status_code == 200 and "产品交流群" in page.text and "新人群" in page.text
    g1 = page.text.split("产品交流群")[1].split("</tr>")[0]
    # g1: 李四 today, 张三 yesterday: 1 today (50 %), 2 check-ins over 7 days; g2: 李四's is a month old
    assert 'class="num members">2<' in g1 and 'class="num today">1<' in g1 and ">50%<" in g1
    assert 'class="num week">0.3<' in g1
    g2 = page.text.split("新人群")[1].split("</tr>")[0]
    assert 'class="num members">1<' in g2 and 'class="num today">0<' in g2 and 'class="num week">0.0<' in g2
    members = c.get("/console/groups/g1")
    assert members.status_code == 200 and "张三" in members.text and "李四" in members.text
    assert c.get("/console/groups/nope").status_code == 404


def test_rules_show_the_settings_and_the_next_runs_and_the_audit_runs_for_a_viewer(served_rules: Served) -> None:
    v = served_rules.login(VIEWER)
    page = v.get("/console/rules")
    assert page.status_code == 200 and "每日签到" in page.text and "连续 3 天 +10" in page.text
    text = " ".join(page.text.split())
    for shown in ("双倍积分周", "2026-12-01 00:00 至 2026-12-08 00:00", "签到：倍数 2", "满 7 得 10、满 30 得 60",
                  "成长值 500 起；签到 × 1.2；商城 9.5 折", "获得后按天数过期", "24 小时"):
        assert shown in text, shown
    # the clock reads 2026-12-02 09:30 (a Wednesday): the next reminders and the Sunday board
    sched = text.split('id="schedule"')[1]
    assert "签到提醒" in sched and "2026-12-03 08:00；2026-12-04 08:00；2026-12-05 08:00" in sched
    assert "排行榜（本周）" in sched and "2026-12-06 20:00" in sched
    # an entry of the expiry's standing job, which no [[schedule]] names
    assert "积分过期" in sched and "2026-12-03 00:05" in sched
    # a broken invariant shows as a problem (and is mended before the fixture's own audit)
    with served_rules.services.db.transaction() as conn:
        conn.exec_driver_sql("UPDATE members SET points = points + 7 WHERE id = 'm_li'")
    r = v.post("/console/rules/audit", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200 and "核对发现" in r.text and "m_li" in r.text
    with served_rules.services.db.transaction() as conn:
        conn.exec_driver_sql("UPDATE members SET points = points - 7 WHERE id = 'm_li'")
    r = v.post("/console/rules/audit", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200 and "核对无误" in r.text and "核对发现" not in r.text
    assert v.post("/console/rules/audit", data={"csrf": "forged"}).status_code == 403
    # one audit at a time: while one runs (the lock held), a second is told to wait
    from console.places import AUDITING

    with AUDITING:
        r = v.post("/console/rules/audit", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 429 and "正在进行" in r.text


def test_a_cash_order_is_paid_then_done_and_a_red_packet_is_never_shipped(served: Served) -> None:
    red = {"sku": "red", "name": "现金红包", "kind": "red_packet", "points": 10, "cash": 5}
    served.services.mall.sync(items(MUG, red), START)
    o, _ = served.services.mall.redeem(member="m_zhang", sku="red", key="r1", at=START)
    assert o.status == "unpaid"
    c = served.login()
    page = c.get("/console/orders?status=unpaid")
    assert f'action="/console/orders/{o.id}/paid"' in page.text and "现金红包" in page.text
    token = csrf_of(page.text)
    assert c.post(f"/console/orders/{o.id}/done", data={"csrf": token}).status_code == 400  # unpaid: not yet
    assert c.post(f"/console/orders/{o.id}/bogus", data={"csrf": token}).status_code == 404
    assert c.post("/console/mall/mug/listing", data={"op": "hide", "csrf": token}).status_code == 400
    assert status(served, o.id) == "unpaid" and ops(served) == [] and served.services.mall.item("mug").listed
    assert c.post(f"/console/orders/{o.id}/paid", data={"csrf": token}).status_code == 303
    paid = served.services.mall.order(o.id)
    assert paid.status == "pending" and paid.paid_at is not None and paid.pay_by is None
    r = c.post(f"/console/orders/{o.id}/ship", data={"tracking": "SF1", "csrf": token})
    assert r.status_code == 400 and "不是实物订单" in r.text and status(served, o.id) == "pending"
    assert c.post(f"/console/orders/{o.id}/done", data={"csrf": token}).status_code == 303
    assert status(served, o.id) == "done"
    assert [a for _k, _u, a, _t, _r in ops(served)] == ["order_done", "order_paid"]
