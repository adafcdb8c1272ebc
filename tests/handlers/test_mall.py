"""商城 / 商品 / 兑换 / 我的订单 / 取消订单 and the operators' commands, as chats; no secret ever reaches a group."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ChatBot
from tests.factories import config, sh
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
    assert "已兑完" in (await bot.say("兑换 3", as_="alice")).text
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
    # the refunded code goes back and is the next one given
    assert "CODE-AAA" in (await redeem(bot, "alice", "3"))[1].text
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
