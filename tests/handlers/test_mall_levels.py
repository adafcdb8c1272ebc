"""Levels in the mall: each member sees and pays their level's price; a min_level item is theirs only from that level."""

from __future__ import annotations

from typing import Any

import pytest

from storage.mall import Mall
from tests.conftest import ChatBot
from tests.factories import config, sh

LEVELS = [
    {"name": "青铜", "growth": 0},
    {"name": "白银", "growth": 100, "mall_discount": 0.95},
    {"name": "黄金", "growth": 1000, "mall_discount": 0.9},
]
ITEMS: list[dict[str, Any]] = [
    {"sku": "mug", "name": "品牌马克杯", "kind": "physical", "points": 300, "stock": 5},
    {"sku": "rp", "name": "10元红包", "kind": "red_packet", "points": 99},
    {"sku": "gold-box", "name": "黄金礼盒", "kind": "red_packet", "points": 500, "stock": 3, "min_level": "黄金"},
    {"sku": "course", "name": "录播课", "kind": "link", "points": 200, "cash": 9.9, "link": "https://example.com/c"},
    {"sku": "sticker", "name": "贴纸", "kind": "red_packet", "points": 1},
]


def level_mall(confirm_above: int = 1000) -> dict[str, Any]:
    data = config(schedule=[], mall={"confirm_above": confirm_above, "items": ITEMS})
    data["levels"] = LEVELS
    data["bot"]["rate_limit"] = 0
    return data


@pytest.fixture
def bot(make_chat: Any, db_url: str) -> ChatBot:
    b: ChatBot = make_chat(level_mall(), url=db_url)
    return b


def give(bot: ChatBot, member: str, points: int, key: str = "") -> None:
    """Points and as much growth (an award raises both)."""
    bot.rt.services.presence.see_member(member, member.title(), sh("2026-11-23 07:00"))
    bot.ledger.award(member=member, points=points, kind="admin_award", key=key or f"seed:{member}:{points}",
                     at=sh("2026-11-23 07:00"))


async def seed(bot: ChatBot, member: str, points: int, level: str, key: str = "") -> None:
    """`give`, then 等级: the member holds `level`; a level reached is congratulated once, here."""
    give(bot, member, points, key)
    r = await bot.say("等级", as_=member, name=member.title())
    assert f"会员等级：{level}" in r[0].text
    assert all(f"升级为「{level}」" in o.text for o in r[1:])


def stock(bot: ChatBot, sku: str) -> int | None:
    it = Mall(bot.ledger, bot.settings.bot.tz).item(sku)
    assert it is not None
    return it.stock


async def test_the_catalogue_shows_each_member_their_price_and_hides_what_is_above_their_level(bot: ChatBot) -> None:
    await seed(bot, "alice", 400, "白银")
    await seed(bot, "bob", 50, "青铜")
    t = (await bot.say("商城", as_="alice")).text
    assert "1. 品牌马克杯  285 积分（白银9.5折，原价 300）  剩 5 件" in t
    assert "2. 10元红包  94 积分（白银9.5折，原价 99）  库存充足" in t  # 94.05, rounded down
    assert "4. 录播课  190 积分（白银9.5折，原价 200） + 9.90 元  库存充足" in t  # cash is not discounted
    assert "5. 贴纸  1 积分  库存充足" in t  # never below one point; no discount named when none applies
    assert "黄金礼盒" not in t and "\n3. " not in t  # the others keep their config numbers
    t = (await bot.say("商城", as_="bob")).text
    assert "1. 品牌马克杯  300 积分  剩 5 件" in t and "折" not in t and "黄金礼盒" not in t
    t = (await bot.say("商品 1", as_="alice")).text
    assert "价格：285 积分（白银9.5折，原价 300）" in t and "专享" not in t
    t = (await bot.say("商品 3", as_="bob")).text
    assert t == "「黄金礼盒」是黄金及以上会员专享，你现在是青铜会员，发送「等级」查看如何升级"


async def test_redeeming_charges_the_discounted_price_and_a_refund_returns_exactly_that(bot: ChatBot) -> None:
    await seed(bot, "alice", 400, "白银")
    r = await bot.say("兑换 2", as_="alice")
    assert r[0].text == "🎉 兑换成功（单号 1），详情已私信"
    assert r[1].to == "alice" and "当前积分：306" in r[1].text and "10元红包（红包）｜94 积分" in r[1].text
    assert [e.delta for e in bot.entries("alice") if e.kind == "redeem"] == [-94]
    order = Mall(bot.ledger, bot.settings.bot.tz).order(1)
    assert order is not None and order.points == 94
    # alice reaches 黄金 before she cancels: the refund is what she paid, not today's price
    await seed(bot, "alice", 700, "黄金", key="more")
    r = await bot.say("取消订单 1", as_="alice")
    assert r.text == "订单 1（10元红包）已取消，退回 94 积分，当前积分：1100"
    assert [(e.kind, e.delta) for e in bot.entries("alice")] == [
        ("admin_award", 400), ("redeem", -94), ("admin_award", 700), ("refund", 94)]
    # now 黄金: 9折, and the 黄金 item is shown and sold at her price
    t = (await bot.say("商城", as_="alice")).text
    assert "3. 黄金礼盒  450 积分（黄金9折，原价 500）  剩 3 件" in t and "1. 品牌马克杯  270 积分（黄金9折，原价 300）" in t
    assert "🏅 黄金及以上会员专享" in (await bot.say("商品 3", as_="alice")).text
    r = await bot.say("兑换 黄金礼盒", as_="alice")
    assert "兑换成功（单号 2）" in r[0].text and "当前积分：650" in r[1].text
    assert stock(bot, "gold-box") == 2 and bot.balance("alice") == 650


async def test_a_member_below_the_items_level_is_refused_and_nothing_is_written(bot: ChatBot) -> None:
    await seed(bot, "bob", 800, "白银")  # points enough, level not
    before = bot.entries()
    for wanted in ("3", "黄金礼盒", "gold-box"):
        r = await bot.say(f"兑换 {wanted}", as_="bob")
        assert r.text == "「黄金礼盒」是黄金及以上会员专享，你现在是白银会员，发送「等级」查看如何升级", wanted
    assert bot.entries() == before and bot.balance("bob") == 800
    assert stock(bot, "gold-box") == 3 and Mall(bot.ledger, bot.settings.bot.tz).orders(member="bob") == []
    r = await bot.private("兑换 3", as_="carol")  # never earned anything: 青铜
    assert r.text == "「黄金礼盒」是黄金及以上会员专享，你现在是青铜会员，发送「等级」查看如何升级"


@pytest.mark.parametrize(("confirm_above", "asks"), [(290, False), (284, True)])
async def test_confirm_is_asked_by_the_price_the_member_pays(make_chat: Any, db_url: str, confirm_above: int,
                                                             asks: bool) -> None:
    bot: ChatBot = make_chat(level_mall(confirm_above=confirm_above), url=db_url)
    await seed(bot, "alice", 400, "白银")  # the mug (300) costs her 285
    r = await bot.say("兑换 1", as_="alice")
    if asks:
        assert r.text == "兑换「品牌马克杯」需要 285 积分（白银9.5折，原价 300）\n2 分钟内回复「确认」完成兑换，回复「取消」放弃"
        r = await bot.say("确认", as_="alice")
    assert "兑换成功（单号 1）" in r[0].text and "当前积分：115" in r[1].text
    assert [e.delta for e in bot.entries("alice") if e.kind == "redeem"] == [-285]


async def test_not_enough_points_names_the_members_price(bot: ChatBot) -> None:
    await seed(bot, "dave", 200, "白银")
    r = await bot.say("兑换 1", as_="dave")
    assert r.text == "积分不足：需要 285 积分，你有 200 积分"
    assert bot.balance("dave") == 200 and stock(bot, "mug") == 5
