"""Scheduled posts: the mall's highlights (新品 / 即将售罄 / 热门兑换) and campaign phases (预热 / 正式 / 收尾), fired
from event time by the schedule, once each, in the groups their entry names, merged with posts due alongside."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from bot.app import DIGEST_SEPARATOR
from tests.conftest import ChatBot
from tests.factories import config, sh
from tests.helpers import checkin, give, redeem

# -- mall_highlights ------------------------------------------------------------------------------

ITEMS: list[dict[str, Any]] = [
    {"sku": "mug", "name": "品牌马克杯", "kind": "red_packet", "points": 30, "stock": 4, "starts": "2026-11-01T00:00:00+08:00"},
    {"sku": "rp", "name": "10元红包", "kind": "red_packet", "points": 100},  # no window: new from its first sync
    {"sku": "ebook", "name": "电子书", "kind": "link", "points": 40, "link": "https://example.com/b",
     "starts": "2026-11-20T00:00:00+08:00"},
    {"sku": "gold", "name": "黄金礼盒", "kind": "red_packet", "points": 50, "min_level": "黄金"},  # never advertised
    {"sku": "old", "name": "老物件", "kind": "red_packet", "points": 10, "starts": "2026-10-01T00:00:00+08:00"},
    {"sku": "gone", "name": "绝版徽章", "kind": "red_packet", "points": 20, "stock": 0,
     "starts": "2026-11-22T00:00:00+08:00"},  # sold out: not on sale
    {"sku": "xmas", "name": "圣诞礼包", "kind": "red_packet", "points": 10, "stock": 2,
     "starts": "2026-12-24T00:00:00+08:00"},  # not yet
]
LEVELS = [{"name": "青铜", "growth": 0}, {"name": "黄金", "growth": 1000, "mall_discount": 0.9}]


def highlights_config(items: list[dict[str, Any]] = ITEMS, rooms: tuple[str, ...] = ("g1",)) -> dict[str, Any]:
    return config(schedule=[{"id": "mall-monday", "job": "mall_highlights", "cron": "0 12 * * mon", "rooms": list(rooms)}],
                  mall={"confirm_above": 1000, "items": items}, levels=LEVELS, rate_limit=0)


async def buy(bot: ChatBot, who: str, item: str, times: int = 1) -> None:
    give(bot, who, 200 * times, key=f"seed:{who}:{item}:{times}", at="2026-11-23 09:00")
    for _ in range(times):
        r = await redeem(bot, who, item, room="g2")
        assert "兑换成功，当前积分" in r[1].text


async def test_highlights_list_new_almost_sold_out_and_most_redeemed_in_the_entrys_groups(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(highlights_config(), start="2026-11-23 07:30", url=db_url)
    for who, room in (("alice", "g1"), ("bob", "g2"), ("carol", "g2"), ("dave", "g2")):
        await checkin(bot, who, "2026-11-23 09:00", room=room)
    bot.at("2026-11-23 10:00")
    await buy(bot, "alice", "10元红包")
    await buy(bot, "bob", "10元红包")
    await buy(bot, "carol", "品牌马克杯")
    await buy(bot, "dave", "老物件")
    r = await bot.tick("2026-11-23 12:00")
    assert [o.room for o in r] == ["g1"] and r[0].scheduled and r[0].reply_to is None and r[0].at == sh("2026-11-23 12:00")
    assert r[0].text == (
        "🛍 积分商城好物推荐\n"
        "\n🆕 新品上架\n2. 10元红包  100 积分\n3. 电子书  40 积分\n"
        "\n⏳ 即将售罄\n1. 品牌马克杯  仅剩 3 件\n"
        "\n🔥 热门兑换\n2. 10元红包  已兑 2 件\n1. 品牌马克杯  已兑 1 件\n5. 老物件  已兑 1 件\n"
        "\n发送「兑换 编号」兑换，「商城」查看全部商品（会员等级越高，价格越优惠）")
    # a week on: nothing is new any more; the mug sells out and drops out of both lists; a refund takes a sale back
    bot.at("2026-11-24 10:00")
    await buy(bot, "bob", "品牌马克杯", times=3)
    r = await bot.say("取消订单 4", as_="dave", room="g2")  # dave's 老物件
    assert "已取消，退回 10 积分" in r.text
    r = await bot.tick("2026-11-30 12:00")
    assert [o.room for o in r] == ["g1"]
    assert r[0].text == ("🛍 积分商城好物推荐\n\n🔥 热门兑换\n2. 10元红包  已兑 2 件\n"
                         "\n发送「兑换 编号」兑换，「商城」查看全部商品（会员等级越高，价格越优惠）")


async def test_highlights_post_nothing_when_nothing_qualifies(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    items = [it for it in ITEMS if it["sku"] in ("old", "gold", "gone", "xmas")]  # old, unsold, for a level, out, later
    bot: ChatBot = make_chat(highlights_config(items, rooms=()), start="2026-11-23 07:30", url=db_url)
    await checkin(bot, "alice", "2026-11-23 09:00", room="g1")
    assert await bot.tick("2026-11-23 12:00") == []
    # on 12-24 the Christmas pack goes on sale: new, and only 2 left
    r = await bot.tick("2026-12-28 12:00")
    assert [o.room for o in r] == ["g1"]
    assert "🆕 新品上架\n4. 圣诞礼包  10 积分\n" in r[0].text and "⏳ 即将售罄\n4. 圣诞礼包  仅剩 2 件\n" in r[0].text
    assert "热门兑换" not in r[0].text and "黄金礼盒" not in r[0].text


async def test_highlights_without_the_mall_post_nothing(make_chat) -> None:  # type: ignore[no-untyped-def]
    data = highlights_config()
    del data["mall"]
    bot: ChatBot = make_chat(data, start="2026-11-23 07:30")
    await checkin(bot, "alice", "2026-11-23 09:00", room="g1")
    assert await bot.tick("2026-11-23 12:00") == []


async def test_a_database_from_before_first_seen_gets_the_column_and_its_items_are_not_new(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    items = [it for it in ITEMS if it["sku"] == "rp"]
    before: ChatBot = make_chat(highlights_config(items, rooms=()), start="2026-11-20 07:30", url=db_url)
    await checkin(before, "alice", "2026-11-20 09:00", room="g1")
    with before.ledger.engine.begin() as c:
        c.execute(text("ALTER TABLE mall_items DROP COLUMN first_seen"))
        # such a database was written before schema versions, and before revision 0002's ledger.reverses
        c.execute(text("DROP INDEX uq_ledger_reverses"))  # revision 0005's, on that column
        c.execute(text("ALTER TABLE ledger DROP COLUMN reverses"))
        # ... and before revision 0003's card code history, stock supplies and restocked refunds
        for table in ("mall_code_returns", "mall_code_deliveries"):
            c.execute(text(f"DROP TABLE {table}"))
        c.execute(text("ALTER TABLE mall_items DROP COLUMN supplied"))
        c.execute(text("ALTER TABLE mall_orders DROP COLUMN restocked"))
        c.execute(text("DROP TABLE alembic_version"))
    before.ledger.engine.dispose()
    # the upgraded bot: the red packet was there before (not new), the sticker arrives now (new)
    sticker = {"sku": "sticker", "name": "贴纸", "kind": "red_packet", "points": 5}
    bot: ChatBot = make_chat(highlights_config([*items, sticker], rooms=()), start="2026-11-23 07:30", url=db_url)
    r = await bot.tick("2026-11-23 12:00")
    assert [o.room for o in r] == ["g1"]
    assert "🆕 新品上架\n2. 贴纸  5 积分\n" in r[0].text and "10元红包" not in r[0].text


# -- campaign -----------------------------------------------------------------------------------

CAMPAIGN: dict[str, Any] = {
    "id": "double-days", "name": "双倍积分日", "description": "签到加倍，邀请加码",
    "starts": "2026-11-24T08:00:00+08:00", "ends": "2026-11-26T20:00:00+08:00", "closing_hours": 6,
    "checkin": {"multiplier": 2}, "invite": {"points": 30}, "newcomer": {"welcome": False},
}
PERKS = "活动期间：签到积分 ×2，邀请每人 30 积分，新人礼规则调整：welcome = 关闭"


def campaign_config(*schedule: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = config(schedule=list(schedule) or [{"id": "hourly", "job": "campaign", "cron": "0 * * * *"}],
                  invite={"points": 20}, newcomer={"points": 10})
    data["campaigns"] = [{**CAMPAIGN, **changes}]
    return data


def posts(replies: Any) -> list[tuple[str, str, str]]:
    """(local time, group, first line) of each scheduled post."""
    return [(o.at.astimezone(sh("2026-11-23 00:00").tzinfo).strftime("%m-%d %H:%M"), o.room, o.text.splitlines()[0])
            for o in replies if o.scheduled]


async def test_each_phase_is_posted_once_across_hourly_runs_and_a_restart(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(campaign_config(), start="2026-11-23 07:30", url=db_url)
    await checkin(bot, "alice", "2026-11-23 07:40", room="g1")
    await checkin(bot, "bob", "2026-11-23 07:45", room="g2")
    r = await bot.tick("2026-11-24 10:00")  # every hourly run from 08:00 on, each at its own time
    warmup, start = "📣 活动预告：「双倍积分日」", "🎉 「双倍积分日」活动开始了！持续到 11月26日 20:00"
    assert posts(r) == [("11-23 08:00", "g1", warmup), ("11-23 08:00", "g2", warmup),
                        ("11-24 08:00", "g1", start), ("11-24 08:00", "g2", start)]
    assert r[0].text == ("📣 活动预告：「双倍积分日」\n11月24日 08:00 开始（还有 24 小时），11月26日 20:00 结束\n"
                         f"签到加倍，邀请加码\n{PERKS}\n敬请期待！")
    assert r[2].text == f"🎉 「双倍积分日」活动开始了！持续到 11月26日 20:00\n签到加倍，邀请加码\n{PERKS}\n快来参加吧！"
    # a restart (a new process on the same database) runs on hourly: 正式 is not posted again
    again: ChatBot = make_chat(campaign_config(), start="2026-11-24 10:30", url=db_url)
    assert await again.tick("2026-11-24 10:30") == []  # the schedule counts from its first event
    r = await again.tick("2026-11-27 12:00")
    assert posts(r) == [("11-26 14:00", "g1", "⏰ 「双倍积分日」还剩 6 小时结束（11月26日 20:00）"),
                        ("11-26 14:00", "g2", "⏰ 「双倍积分日」还剩 6 小时结束（11月26日 20:00）")]
    last_chance = PERKS.replace("活动期间", "最后的机会")
    assert r[0].text == f"⏰ 「双倍积分日」还剩 6 小时结束（11月26日 20:00）\n签到加倍，邀请加码\n{last_chance}\n抓紧时间参加吧！"
    assert await again.tick("2026-11-28 12:00") == []


async def test_a_phase_whose_window_passed_without_a_run_is_skipped(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    # runs at 09:00 and 20:00 only; the bot was down for the whole 预热 window; 收尾 (10:00-12:00) falls between runs
    data = campaign_config({"id": "twice-daily", "job": "campaign", "cron": "0 9,20 * * *", "rooms": ["g1"]},
                           ends="2026-11-25T12:00:00+08:00", closing_hours=2, description="")
    bot: ChatBot = make_chat(data, start="2026-11-24 08:30", url=db_url)
    await checkin(bot, "alice", "2026-11-24 08:40", room="g1")
    await checkin(bot, "bob", "2026-11-24 08:45", room="g2")
    r = await bot.tick("2026-11-26 21:00")
    assert posts(r) == [("11-24 09:00", "g1", "🎉 「双倍积分日」活动开始了！持续到 11月25日 12:00")]
    assert "预告" not in r[0].text and "还剩" not in r[0].text


async def test_phase_posts_and_another_post_due_at_the_same_minute_go_out_as_one_digest(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    data = campaign_config({"id": "morning", "job": "checkin_reminder", "cron": "0 8 * * *"},
                           {"id": "hourly", "job": "campaign", "cron": "0 * * * *", "rooms": ["g1"]})
    bot: ChatBot = make_chat(data, start="2026-11-23 07:30", url=db_url)
    await checkin(bot, "alice", "2026-11-23 07:40", room="g1")
    await checkin(bot, "bob", "2026-11-23 07:45", room="g2")
    r = await bot.tick("2026-11-23 08:00")
    assert [o.room for o in r] == ["g1", "g2"]  # the campaign entry serves g1 only
    reminder, warmup = r[0].text.split(DIGEST_SEPARATOR)
    assert reminder.startswith("☀️ 早上好") and warmup.startswith("📣 活动预告：「双倍积分日」")
    assert r[1].text.startswith("☀️ 早上好") and DIGEST_SEPARATOR not in r[1].text
    r = await bot.tick("2026-11-24 08:00")  # the hourly runs between post nothing; the start joins the reminder
    assert [o.room for o in r] == ["g1", "g2"]
    reminder, start = r[0].text.split(DIGEST_SEPARATOR)
    assert reminder.startswith("☀️ 早上好") and start.startswith("🎉 「双倍积分日」活动开始了！")
