"""商城 / 商品 / 兑换 / 我的订单 / 取消订单 and the operators' commands, as chats; no secret ever reaches a group."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import ChatBot
from tests.factories import OWNER, config, sh
from tests.helpers import assert_redeemed, give, redeem

ITEMS: list[dict[str, Any]] = [
    {"sku": "mug", "name": "品牌马克杯", "kind": "physical", "points": 300, "stock": 2, "limit_per_member": 1},
    {"sku": "rp", "name": "10元红包", "kind": "red_packet", "points": 100},
    {"sku": "vip", "name": "会员卡密", "kind": "card_code", "points": 50},
    {"sku": "ebook", "name": "电子书", "kind": "link", "points": 40, "link": "https://example.com/secret-book"},
    {"sku": "cpn", "name": "满减券", "kind": "coupon", "points": 20,
     "coupon": {"code": "SAVE20-XYZ", "threshold": "满100减20", "valid_days": 30}},
    {"sku": "course", "name": "录播课", "kind": "link", "points": 60, "cash": 9.9, "link": "https://example.com/course"},
    {"sku": "xmas", "name": "圣诞礼包", "kind": "red_packet", "points": 10,
     "starts": "2026-12-24T00:00:00+08:00", "ends": "2026-12-26T00:00:00+08:00"},
]
SECRETS = ("CODE-AAA", "CODE-BBB", "secret-book", "SAVE20-XYZ", "example.com/course")


def mall_config(**mall: Any) -> dict[str, Any]:
    return config(schedule=[], mall={"confirm_above": 200, "items": ITEMS, **mall}, rate_limit=0)


@pytest.fixture
def bot(make_chat: Any, db_url: str) -> ChatBot:
    b: ChatBot = make_chat(mall_config(), url=db_url)
    from storage.mall import Mall

    Mall(b.ledger, b.settings.bot.tz).import_codes("vip", ["CODE-AAA", "CODE-BBB"], sh("2026-11-23 07:00"))
    return b


def no_secret_in_groups(bot: ChatBot) -> None:
    for o in bot.transport.sent:
        if o.room is not None:
            assert not any(s in o.text for s in SECRETS), o.text
            assert "13812345678" not in o.text and "人民路" not in o.text


async def test_catalogue_lists_what_is_on_sale_with_numbers_prices_and_stock(bot: ChatBot) -> None:
    r = await bot.say("商城", as_="alice")
    t = r.text
    assert "1. 品牌马克杯  300 积分  剩 2 件" in t and "3. 会员卡密  50 积分  剩 2 件" in t
    assert "6. 录播课  60 积分 + 9.90 元" in t and "10元红包  100 积分  库存充足" in t
    assert "圣诞礼包" not in t  # outside its window
    r = await bot.say("商品 1", as_="alice")
    assert "品牌马克杯（实物）" in r.text and "每人限兑 1 件" in r.text
    r = await bot.say("商品 4", as_="alice")
    assert "secret-book" not in r.text and "电子书（链接）" in r.text
    no_secret_in_groups(bot)


async def test_catalogue_pages(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(mall_config(page_size=3), url=db_url)
    first = (await bot.say("商城", as_="alice")).text
    assert "第 1/2 页" in first and "「商城 2」" in first and "4. 电子书" not in first
    second = (await bot.say("商城 2", as_="alice")).text
    assert "第 2/2 页" in second and "4. 电子书" in second and "下一页" not in second


@pytest.mark.parametrize("wanted", ["3", "vip", "VIP", "会员卡密"])
async def test_a_card_code_goes_privately_and_the_group_sees_only_success(bot: ChatBot, wanted: str) -> None:
    give(bot, "alice", 100)
    r = await bot.say(f"兑换 {wanted}", as_="alice")
    assert len(r) == 2
    group, private = r[0], r[1]
    assert group.room == "g1" and "兑换成功（单号 1），详情已私信" in group.text
    assert private.to == "alice" and "卡密：CODE-AAA" in private.text and "当前积分：50" in private.text
    assert [(e.kind, e.delta) for e in bot.entries("alice")][-1] == ("redeem", -50)
    no_secret_in_groups(bot)


async def test_link_and_coupon_are_delivered_privately(bot: ChatBot) -> None:
    give(bot, "alice", 100)
    r = await redeem(bot, "alice", "电子书")
    assert "链接：https://example.com/secret-book" in r[1].text and r[1].to == "alice"
    r = await bot.private("兑换 5", as_="alice")
    assert "券码：SAVE20-XYZ（满100减20），有效期至 2026-12-22" in r.text and r[0].to == "alice"
    no_secret_in_groups(bot)


async def test_a_non_friend_is_told_in_the_group_and_gets_it_from_my_orders(bot: ChatBot) -> None:
    give(bot, "bob", 100)
    bot.transport.strangers.add("bob")
    r = await bot.say("兑换 3", as_="bob")
    assert [o.room for o in r] == ["g1", "g1"]
    assert "详情已私信" in r[0].text and "加我为好友" in r[1].text and "我的订单" in r[1].text
    assert r[1].mentions == ("bob",)
    no_secret_in_groups(bot)
    bot.transport.strangers.discard("bob")  # bob added the bot
    r = await bot.private("我的订单", as_="bob")
    assert "卡密：CODE-AAA" in r.text and "已完成" in r.text


async def test_refusals(bot: ChatBot) -> None:
    give(bot, "alice", 400)
    assert "没有找到商品「99」" in (await bot.say("兑换 99", as_="alice")).text
    assert "还未开始兑换" in (await bot.say("兑换 7", as_="alice")).text
    give(bot, "poor", 10)
    assert "积分不足：需要 100 积分，你有 10 积分" in (await bot.say("兑换 2", as_="poor")).text
    # mug: above confirm_above, limit 1, stock 2
    assert "回复「确认」" in (await bot.say("兑换 1", as_="alice")).text
    assert_redeemed(await bot.say("确认", as_="alice"), "alice")
    assert "限兑 1 件" in (await bot.say("兑换 1", as_="alice")).text  # known before 确认: said at once
    give(bot, "bob", 1000)
    give(bot, "carol", 1000)
    assert "回复「确认」" in (await bot.say("兑换 1", as_="bob")).text
    assert "回复「确认」" in (await bot.say("兑换 1", as_="carol")).text
    assert_redeemed(await bot.say("确认", as_="bob"), "bob")
    assert "已兑完" in (await bot.say("确认", as_="carol")).text  # the last unit went while carol thought
    give(bot, "dave", 1000)
    for m in ("dave", "carol"):
        assert "卡密：CODE-" in (await redeem(bot, m, "3"))[1].text
    assert "「会员卡密」暂时缺货" in (await bot.say("兑换 3", as_="alice")).text  # codes come in batches
    assert "圣诞礼包」的兑换已结束" in (await bot.say("兑换 7", as_="alice", at=sh("2026-12-27 10:00"))).text
    assert bot.balance("poor") == 10 and bot.balance("carol") == 950


async def test_confirm_expires_after_two_minutes(bot: ChatBot) -> None:
    give(bot, "alice", 1000)
    assert "2 分钟内回复「确认」" in (await bot.say("兑换 1", as_="alice", at=sh("2026-11-23 10:00"))).text
    assert (await bot.say("好的好的", as_="alice", at=sh("2026-11-23 10:01"))) == []  # other talk is left alone
    assert (await bot.say("确认", as_="alice", at=sh("2026-11-23 10:02:01"))) == []
    assert bot.balance("alice") == 1000
    assert "回复「确认」" in (await bot.say("兑换 1", as_="alice")).text
    assert "已取消" in (await bot.say("取消", as_="alice")).text
    assert (await bot.say("确认", as_="alice")) == []
    assert bot.balance("alice") == 1000


async def test_physical_collects_the_address_privately_and_the_operator_ships(bot: ChatBot) -> None:
    give(bot, "alice", 1000)
    assert "回复「确认」" in (await bot.say("兑换 品牌马克杯", as_="alice")).text
    r = await bot.say("确认", as_="alice")
    assert "详情已私信" in r[0].text and r[1].to == "alice" and "请发送收件人姓名" in r[1].text
    assert "请发送收件人手机号" in (await bot.private("张三", as_="alice")).text
    assert "手机号好像不对" in (await bot.private("123", as_="alice")).text
    assert "详细收货地址" in (await bot.private("13812345678", as_="alice")).text
    assert "地址需要" in (await bot.private("上海", as_="alice")).text
    done = await bot.private("上海市黄浦区人民路 1 号", as_="alice")
    assert "收货信息已保存" in done.text and "待处理" in done.text
    r = await bot.say("待处理订单", as_="wxid_owner")
    assert "详情已私信" in r[0].text and r[1].to == "wxid_owner" and "人民路" in r[1].text
    r = await bot.say("发货 1 SF123456", as_="wxid_owner")
    assert "已标记发货" in r[0].text and r[1].to == "alice" and "快递单号：SF123456" in r[1].text
    assert "不能这样操作" in (await bot.say("取消订单 1", as_="alice")).text
    r = await bot.say("完成 1", as_="wxid_owner")
    assert "已完成" in r[0].text and r[1].to == "alice"
    no_secret_in_groups(bot)


async def test_cancel_during_the_address_refunds(bot: ChatBot) -> None:
    give(bot, "alice", 1000)
    assert "回复「确认」" in (await bot.private("兑换 1", as_="alice")).text
    assert "请发送收件人姓名" in (await bot.private("确认", as_="alice")).text
    r = await bot.private("取消", as_="alice")
    assert "订单 1（品牌马克杯）已取消，退回 300 积分，当前积分：1000" in r.text
    assert [e.kind for e in bot.entries("alice")] == ["admin_award", "redeem", "refund"]
    assert "剩 2 件" in (await bot.say("商城", as_="alice")).text


async def test_red_packet_waits_for_the_operator_and_members_can_cancel(bot: ChatBot) -> None:
    give(bot, "alice", 300)
    assert "管理员在微信中发给你" in (await redeem(bot, "alice", "2"))[1].text
    assert "单号 2" in (await redeem(bot, "alice", "2"))[1].text
    assert "已取消，退回 100 积分，当前积分：200" in (await bot.say("取消订单 2", as_="alice")).text
    assert "没有找到单号 2" in (await bot.say("取消订单 2", as_="bob")).text
    assert "没有找到单号 1" in (await bot.say("取消订单 1", as_="bob")).text
    r = await bot.say("完成 1", as_="wxid_owner")
    assert r[0].text == "订单 1 已完成，已通知会员" and r[1].to == "alice" and "已完成" in r[1].text
    assert "不能这样操作" in (await bot.say("取消订单 1", as_="alice")).text
    assert "只有管理员" in (await bot.say("完成 1", as_="alice")).text


async def test_cash_orders_wait_for_payment_or_expire(bot: ChatBot) -> None:
    give(bot, "alice", 200)
    r = await bot.private("兑换 6", as_="alice", at=sh("2026-11-23 10:00"))
    assert "请在 2026-11-24 10:00 前支付 9.90 元" in r.text and "example.com/course" not in r.text
    assert "单号 2" in (await bot.private("兑换 6", as_="alice", at=sh("2026-11-23 10:05"))).text
    r = await bot.say("收款 1", as_="wxid_owner", at=sh("2026-11-23 11:00"))
    assert "已确认订单 1 收款" in r[0].text and "链接：https://example.com/course" in r[1].text and r[1].to == "alice"
    assert "不能这样操作（已完成）" in (await bot.private("取消订单 1", as_="alice")).text
    # order 2 is never paid: the next mall command after its deadline refunds it
    r = await bot.private("我的订单", as_="alice", at=sh("2026-11-24 10:06"))
    assert "超时未付款，已取消" in r.text
    assert bot.balance("alice") == 140


async def test_the_expire_job_tells_the_member(bot: ChatBot) -> None:
    give(bot, "alice", 200)
    assert "请在 2026-11-24 10:00 前支付" in (await redeem(bot, "alice", "6", "2026-11-23 10:00"))[1].text
    from handlers.mall import expire_job

    ctx = bot.rt.app.context(at=sh("2026-11-24 10:01"))
    with bot.rt.services.ledger.db.transaction():
        replies = await expire_job(ctx)
    assert isinstance(replies, list) and len(replies) == 1 and replies[0].to == "alice" and replies[0].data["event"] == "expired"
    assert bot.balance("alice") == 200


async def test_operator_refund_listing_and_restock(bot: ChatBot) -> None:
    give(bot, "alice", 1000)
    assert "卡密：CODE-AAA" in (await redeem(bot, "alice", "3"))[1].text
    r = await bot.say("退款 1 卡密无效", as_="wxid_owner")
    assert "退回 50 积分（卡密无效）" in r[0].text and r[1].to == "alice" and "原因：卡密无效" in r[1].text
    assert "请写上退款理由" in (await bot.say("退款 1", as_="wxid_owner")).text
    r = await bot.say("下架 mug", as_="wxid_owner")
    assert "已下架" in r.text
    assert "已下架" in (await bot.say("兑换 1", as_="alice")).text
    assert "品牌马克杯" not in (await bot.say("商城", as_="alice")).text
    assert "已上架" in (await bot.say("上架 MUG", as_="wxid_owner")).text
    assert "现有库存 7 件" in (await bot.say("补货 mug 5", as_="wxid_owner")).text
    assert "import-codes" in (await bot.say("补货 vip 5", as_="wxid_owner")).text
    assert "不限库存" in (await bot.say("补货 rp 5", as_="wxid_owner")).text
    assert "没有找到商品" in (await bot.say("补货 nope 5", as_="wxid_owner")).text
    assert "数量需要" in (await bot.say("补货 mug -1", as_="wxid_owner")).text
    # the refunded code was shown to alice: burnt, the next buyer gets another
    assert "CODE-BBB" in (await redeem(bot, "alice", "3"))[1].text
    no_secret_in_groups(bot)


async def test_a_replayed_redemption_changes_nothing(bot: ChatBot) -> None:
    give(bot, "alice", 100)
    await redeem(bot, "alice", "2", id="wx-1")
    assert await bot.say("兑换 2", as_="alice", id="wx-1") == []
    assert bot.balance("alice") == 0


async def test_mall_is_off_without_its_section(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[]), url=db_url)
    assert (await bot.say("商城", as_="alice")) == []
    assert (await bot.say("兑换 1", as_="alice")) == []


# -- the money paths' edges: refunded codes, shipped parcels, refunded points under expiry --------------


def breach(bot: ChatBot, sql: str) -> list[str]:
    """Break the database by hand (what no verb would write) and return what audit says."""
    with bot.ledger.engine.begin() as c:
        c.execute(text(sql))
    return bot.ledger.audit()


async def test_a_refunded_card_code_is_never_sent_to_the_next_buyer_unless_recycled(bot: ChatBot) -> None:
    for m in ("carol", "dan", "erin"):
        give(bot, m, 100)
    assert "卡密：CODE-AAA" in (await redeem(bot, "carol", "3"))[1].text
    # the reason mentions 回收卡密: words in a reason are never a command
    r = await bot.say("退款 1 卡密无效 回收卡密", as_=OWNER)
    assert "退回 50 积分" in r[0].text and "已作废" in r[0].text and "「回收卡密 1」" in r[0].text
    assert r[1].to == "carol" and bot.balance("carol") == 100
    assert "剩 1 件" in (await bot.say("商城", as_="dan")).text
    dan = (await redeem(bot, "dan", "3"))[1].text
    assert "卡密：CODE-BBB" in dan and "CODE-AAA" not in dan
    assert "暂时缺货" in (await bot.say("兑换 3", as_="erin")).text
    assert "只有管理员" in (await bot.say("回收卡密 1", as_="dan")).text
    assert "还没有退款" in (await bot.say("回收卡密 2", as_=OWNER)).text
    assert "没有找到单号 99" in (await bot.say("回收卡密 99", as_=OWNER)).text
    assert bot.ledger.audit() == []
    # the operator checked the code still works and puts it back explicitly
    r = await bot.say("回收卡密 1", as_=OWNER)
    assert "订单 1 的卡密已放回库存" in r.text and "现有 1 个未用卡密" in r.text and "CODE-AAA" not in r.text
    assert "已回收过了" in (await bot.say("回收卡密 1", as_=OWNER)).text
    assert "卡密：CODE-AAA" in (await redeem(bot, "erin", "3"))[1].text
    # the history keeps both deliveries of CODE-AAA and who recycled it
    history = [(d["code"], d["order_id"], d["member_id"], d["operator_id"])
               for d in bot.rt.services.mall.deliveries("vip")]
    assert history == [("CODE-AAA", 1, "carol", OWNER), ("CODE-BBB", 2, "dan", None), ("CODE-AAA", 3, "erin", None)]
    r = await bot.private("我的订单", as_="carol")
    assert "已退款" in r.text
    assert bot.ledger.audit() == []
    no_secret_in_groups(bot)


async def test_audit_sees_a_burnt_code_back_in_stock_and_a_code_delivered_twice(bot: ChatBot) -> None:
    give(bot, "carol", 100)
    await redeem(bot, "carol", "3")
    r = await bot.say("退款 1 卡密无效", as_=OWNER)
    assert "已作废" in r[0].text and r[1].to == "carol"
    assert bot.ledger.audit() == []
    # what the old refund did: the code silently back in stock
    found = breach(bot, "UPDATE mall_codes SET order_id = NULL WHERE code = 'CODE-AAA'; ")
    assert any("delivered by order 1 and not recycled, yet is back in stock" in p for p in found), found
    assert any("stock 1 != unused codes 2" in p for p in found), found
    found = breach(bot, "UPDATE mall_items SET stock = 2 WHERE sku = 'vip'")
    assert any("codes never delivered or recycled since 1" in p for p in found), found
    # ... and then handed to the next buyer, with no 回收卡密 between
    give(bot, "dan", 100)
    await redeem(bot, "dan", "3")
    found = bot.ledger.audit()
    assert any("delivered to order 1 and again to order 2 without 回收卡密" in p for p in found), found
    # had an operator recycled it in between, the history would hold: a code of two orders, one after the other
    assert breach(bot, "INSERT INTO mall_code_returns (code_id, order_id, operator_id, at, note) SELECT code_id, 1, "
                       "'op', at, '' FROM mall_code_deliveries WHERE order_id = 2") == []


async def address_given(bot: ChatBot, who: str, order: int) -> None:
    """`who` redeems the mug (品牌马克杯, 确认 asked) as order `order` and gives the parcel address privately."""
    give(bot, who, 300)
    assert "回复「确认」" in (await bot.say("兑换 1", as_=who)).text
    assert_redeemed(await bot.say("确认", as_=who), who)
    for answer, asked in (("张三", "手机号"), ("13812345678", "详细收货地址"), ("上海市黄浦区人民路 1 号", "收货信息已保存")):
        assert asked in (await bot.private(answer, as_=who)).text
    assert bot.rt.services.mall.order(order).status == "pending"  # type: ignore[union-attr]


async def test_refunding_a_shipped_parcel_returns_points_not_stock(bot: ChatBot) -> None:
    await address_given(bot, "alice", 1)
    await address_given(bot, "bob", 2)
    r = await bot.say("发货 1 SF1", as_=OWNER)
    assert "已标记发货" in r[0].text and r[1].to == "alice"
    r = await bot.say("退款 1 快递丢件", as_=OWNER)
    assert "退回 300 积分" in r[0].text and "库存未放回" in r[0].text and "补货" in r[0].text
    assert r[1].to == "alice" and bot.balance("alice") == 300
    r = await bot.say("完成 2", as_=OWNER)
    assert "已完成" in r[0].text and r[1].to == "bob"
    r = await bot.say("退款 2 不想要了", as_=OWNER)
    assert "库存未放回" in r[0].text and r[1].to == "bob" and bot.balance("bob") == 300
    give(bot, "carol", 300)
    assert "已兑完" in (await bot.say("兑换 1", as_="carol")).text  # both parcels left the shelf
    assert bot.ledger.audit() == []
    # one back from the courier: the operator restocks it
    assert "现有库存 1 件" in (await bot.say("补货 mug 1", as_=OWNER)).text
    await address_given(bot, "carol", 3)
    r = await bot.say("退款 3 地址有误", as_=OWNER)  # not shipped yet: the unit goes back
    assert "已退款" in r[0].text and "库存未放回" not in r[0].text and r[1].to == "carol"
    assert "品牌马克杯  300 积分  剩 1 件" in (await bot.say("商城", as_="dan")).text
    assert bot.ledger.audit() == []
    found = breach(bot, "UPDATE mall_items SET stock = stock + 1 WHERE sku = 'mug'")  # a parcel "back" by itself
    assert any("mall item mug: stock 2 != supplied 3 less 2 units out" in p for p in found), found
    assert breach(bot, "UPDATE mall_items SET stock = stock - 1 WHERE sku = 'mug'") == []


async def test_refunded_points_outlive_the_next_expiry_run_and_the_member_is_told_until_when(make_chat: Any,
                                                                                             db_url: str) -> None:
    cfg = {**mall_config(), "expiry": {"policy": "rolling", "days": 30, "warn_days": 3}}
    bot: ChatBot = make_chat(cfg, url=db_url, start="2026-11-01 07:00")
    give(bot, "alice", 100, at="2026-11-01 08:00")  # good through Dec 1
    await redeem(bot, "alice", "10元红包", "2026-11-30 10:00")
    r = await bot.say("退款 1 红包发不出", as_=OWNER, at=sh("2026-12-01 12:00"))
    [told] = [o for o in r if o.to == "alice"]
    assert "退回 100 积分" in told.text and "退回的 100 积分可用到 12月8日" in told.text, told.text
    assert await bot.tick("2026-12-02 00:06") == []  # the lot it came from expired tonight; the refund did not
    assert bot.balance("alice") == 100
    [warn] = await bot.tick("2026-12-08 00:06")  # warned warn_days ahead, as any points
    assert warn.to == "alice" and "100 积分将于 12月8日 24 点到期" in warn.text
    assert bot.balance("alice") == 100
    assert await bot.tick("2026-12-09 00:06") == []
    assert bot.balance("alice") == 0
    assert bot.ledger.audit() == []
    # a member's own cancellation says it too
    give(bot, "bob", 100, at="2026-12-09 08:00")
    await redeem(bot, "bob", "10元红包", "2026-12-09 09:00")
    r = await bot.say("取消订单 2", as_="bob", at=sh("2026-12-09 10:00"))
    assert "已取消，退回 100 积分" in r.text and "可用到 1月8日" in r.text, r.text
