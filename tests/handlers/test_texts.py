"""What members read is right and short (issue 12, item 6): each sub-item as a chat, on SQLite and PostgreSQL.

Members whose display name the transport never gave are made with empty names here (the chat helpers give
name = id by default): no id, not even a fragment of one, may reach a text members read.
"""

from __future__ import annotations

import itertools
from typing import Any

from loguru import logger

from bot.events import MemberJoined, Message, Person
from tests.conftest import ChatBot, Replies
from tests.factories import OWNER, config, sh
from tests.helpers import award, checkin, give, redeem

GHOST = "wxid_q7k2m9x4"  # a contact the transport never named
FRAGMENTS = ("wxid", "q7k2", "m9x4")
_ids = itertools.count(1)


async def nameless(bot: ChatBot, text: str, who: str = GHOST, room: str | None = "g1",
                   mentions: tuple[str, ...] = ()) -> Replies:
    """`who` says `text` with no display name (as a transport that has none to give sends it)."""
    ev = Message(id=f"n{next(_ids)}", at=bot.transport.clock.now(), sender=who, text=text, sender_name="",
                 room=room, room_name=room or "", mentions=mentions)
    return await bot.feed(ev)


def no_id(texts: list[str], who: str = GHOST) -> None:
    for t in texts:
        assert who not in t and not any(f in t for f in FRAGMENTS), t


# -- 1. names: the display name, else 这位朋友, never an id -------------------------------------------------


async def test_boards_and_level_ups_name_a_member_without_a_display_name_as_a_friend(make_chat: Any,
                                                                                      db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[], levels=[{"name": "青铜", "growth": 0}, {"name": "白银", "growth": 5}]),
                             url=db_url)
    r = await nameless(bot, "签到")
    assert "签到成功" in r[0].text
    assert "恭喜 这位朋友 升级为「白银」会员" in r[1].text and r[1].names == {GHOST: "这位朋友"}
    r = await checkin(bot, "alice", "2026-11-23 08:00", name="Alice", extra=1)
    assert "恭喜 Alice 升级为「白银」会员" in r[1].text
    board = (await bot.say("排行榜", as_="alice", name="Alice")).text.splitlines()
    assert board[1:3] == ["1. 这位朋友  5 分", "1. Alice  5 分 ← 你"]
    no_id([o.text for o in bot.transport.sent])
    assert bot.balance(GHOST) == 5


async def test_welcome_and_invite_note_name_a_nameless_newcomer_as_a_friend(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[], newcomer={"points": 10}, invite={"points": 20}), url=db_url)
    await checkin(bot, "alice", name="Alice")
    ev = MemberJoined(id="j-ghost", at=bot.transport.clock.now(), room="g1", members=(Person(GHOST, ""),),
                      inviter="alice", room_name="g1")
    r = await bot.feed(ev)
    welcome = next(o for o in r if o.room == "g1")
    note = next(o for o in r if o.to == "alice")
    assert "欢迎新朋友" in welcome.text and welcome.mentions == (GHOST,) and welcome.names == {GHOST: "这位朋友"}
    assert "感谢邀请！这位朋友 已入群，你获得 20 积分" in note.text
    assert [(e.kind, e.detail) for e in bot.entries("alice") if e.kind == "invite"] == [("invite", "邀请 这位朋友")]
    assert "邀请 这位朋友" in (await bot.private("明细", as_="alice")).text
    no_id([o.text for o in bot.transport.sent])
    assert bot.balance(GHOST) == 10


async def test_quiz_result_names_a_nameless_winner_as_a_friend(make_chat: Any, db_url: str) -> None:
    data = config(schedule=[{"id": "quiz", "job": "quiz", "cron": "0 20 * * *"}])
    data["quiz"] = {"winners": 2, "window_minutes": 30, "questions": [{"question": "一加一？", "answers": ["2"]}]}
    bot: ChatBot = make_chat(data, start="2026-11-23 19:00", url=db_url)
    assert "签到成功" in (await nameless(bot, "签到")).text
    assert "第 1 题" in (await bot.tick("2026-11-23 20:00")).text
    bot.at("2026-11-23 20:01")
    assert "第 1 位答对" in (await nameless(bot, "答 2")).text
    result = (await bot.tick("2026-11-23 20:30")).text
    assert "1. 这位朋友" in result
    no_id([o.text for o in bot.transport.sent])
    assert [(e.member, e.delta) for e in bot.entries() if e.kind == "quiz"] == [(GHOST, 5)]


async def test_admin_replies_in_a_group_name_members_as_the_at_wrote_them_else_as_a_friend(chat: ChatBot) -> None:
    await nameless(chat, "大家好")
    r = await chat.say("加分 @小王\u2005 10 帮忙搬桌子", as_=OWNER, mentions=(GHOST,))
    assert "· 小王 当前积分：10" in r.text and r[0].names == {GHOST: "小王"}
    # a client that wrote no @name for the mention: nobody to name but 这位朋友
    r = await chat.say("扣分 20 迟到", as_=OWNER, mentions=(GHOST,))
    assert "· 这位朋友 只有 10 分" in r.text
    no_id([o.text for o in chat.transport.sent])
    assert chat.balance(GHOST) == 10


# -- 2. reasons keep their full-width punctuation ---------------------------------------------------------


async def test_reasons_are_kept_as_typed(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[], rate_limit=0, mall={"confirm_above": 1000, "items": [
        {"sku": "rp", "name": "10元红包", "kind": "red_packet", "points": 10}]}), url=db_url)
    await checkin(bot, "bob", name="Bob")
    r = await bot.say("加分 @Bob\u2005 50 输错了，撤回（下次注意）", as_=OWNER, mentions=("bob",))
    assert "理由：输错了，撤回（下次注意）" in r.text
    award_entry = next(e for e in bot.entries("bob") if e.kind == "admin_award")
    assert award_entry.detail == "输错了，撤回（下次注意）"
    r = await bot.private(f"撤销 #{award_entry.id} 多打了一个零，抱歉", as_=OWNER)
    assert "理由：多打了一个零，抱歉" in r[0].text and r[1].to == "bob" and "理由：多打了一个零，抱歉" in r[1].text
    assert [e.detail for e in bot.entries("bob") if e.kind == "reversal"] == ["多打了一个零，抱歉"]
    give(bot, "bob", 20, name="Bob")
    await redeem(bot, "bob", "rp")
    r = await bot.say("退款 1 红包没发出去，已核实", as_=OWNER)
    assert "（红包没发出去，已核实）" in r[0].text and "原因：红包没发出去，已核实" in r[1].text
    assert bot.rt.services.mall.order(1).note == "红包没发出去，已核实"  # type: ignore[union-attr]
    assert bot.balance("bob") == 5 + 20  # the check-in and the seed: the award undone, the red packet refunded


# -- 3. the statement never says 100% ----------------------------------------------------------------------


async def test_the_top_member_reads_first_place_not_100_percent(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[], rate_limit=0, statement={"card": False}), url=db_url)
    for who in ("alice", "bob", "carol"):
        await checkin(bot, who)
    await award(bot, "alice", 100)
    await award(bot, "bob", 50)
    top = (await bot.private("我的账单", as_="alice")).text
    assert "🏆 你的积分排名第 1" in top and "100%" not in top
    assert "🏆 你的积分超过了 50% 的成员" in (await bot.private("我的账单", as_="bob")).text
    assert bot.balance("alice") == 105


# -- 4. 本周 / 本月, not a date ------------------------------------------------------------------------------


async def test_a_member_with_nothing_this_month_reads_this_month(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[]), start="2026-12-03 09:00", url=db_url)
    await checkin(bot, "alice")
    r = await bot.say("月榜", as_="bob")
    assert "你本月还没有赚到积分" in r.text and "12月1日" not in r.text
    assert "你本周还没有赚到积分" in (await bot.say("周榜", as_="bob")).text
    assert bot.entries("bob") == []


# -- 5. no bracket inside brackets in 明细 -------------------------------------------------------------------


async def test_history_has_no_bracket_inside_brackets(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[], rate_limit=0, mall={"confirm_above": 1000, "items": [
        {"sku": "cpn", "name": "满100减20券", "kind": "coupon", "points": 20,
         "coupon": {"code": "SAVE", "threshold": "满100减20"}}]}), url=db_url)
    give(bot, "alice", 50)
    await redeem(bot, "alice", "1")
    assert "奖励 5 积分" in (await bot.say("加分 @Alice 5 好（很好）", as_=OWNER, mentions=("alice",))).text
    lines = (await bot.say("明细", as_="alice")).text.splitlines()
    assert any(line.endswith("兑换 满100减20券（单号 1） -20，余 30") for line in lines), lines
    assert any(line.endswith("管理员加分：好（很好） +5，余 35") for line in lines), lines
    for line in lines:
        depth = 0
        for ch in line:
            depth += {"（": 1, "(": 1, "）": -1, ")": -1}.get(ch, 0)
            assert depth <= 1, line  # never a bracket inside brackets
    assert bot.balance("alice") == 35


# -- 6. task tiers read naturally ---------------------------------------------------------------------------


async def test_tasks_say_what_the_next_tier_takes_and_pays(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[], invite={"points": 20}, tasks=[
        {"id": "inv", "name": "邀请达人", "metric": "invites", "tiers": [{"at": 3, "points": 10}]}]), url=db_url)
    await checkin(bot, "alice")
    assert "感谢邀请" in (await bot.join("g1", "bob", inviter="alice")).text
    r = await bot.say("任务", as_="alice")
    assert "邀请达人：已邀请 1 人，再邀请 2 人得 10 积分" in r.text and "档" not in r.text
    assert bot.balance("alice") == 25


# -- 7. one message answers one 签到 (or 补签) ----------------------------------------------------------------


async def test_a_task_tier_reached_by_a_checkin_or_makeup_is_in_its_reply(make_chat: Any, db_url: str) -> None:
    data = config(schedule=[], rate_limit=0, tasks=[
        {"id": "days", "name": "签到之星", "metric": "checkin_days", "tiers": [{"at": 2, "points": 8},
                                                                           {"at": 3, "points": 30}]}])
    data["checkin"]["makeup"] = {"cost": 5, "max_per_month": 2, "within_days": 3}
    bot: ChatBot = make_chat(data, url=db_url)
    await checkin(bot, "alice", "2026-11-20 09:00")
    assert (await bot.say("大家好", as_="zoe", at=sh("2026-11-21 12:00"))) == []  # the bot ran: alice missed it
    r = await checkin(bot, "alice", "2026-11-22 09:00")  # one message: the tier is in it
    assert "🏆 任务「签到之星」达成 2 天，奖励 8 积分" in r.text and "当前积分：18" in r.text
    r = await bot.say("补签", as_="alice")
    assert len(r) == 1 and "已补上 11月21日" in r.text
    # 18 - 5 for the makeup + 10 for the repaired 3-day streak + 30 for the tier
    assert "🏆 任务「签到之星」达成 3 天，奖励 30 积分" in r.text and "当前积分：53" in r.text
    assert bot.balance("alice") == 53


# -- 8. 商城 past its last page ------------------------------------------------------------------------------


async def test_a_page_past_the_last_says_how_many_pages_there_are(make_chat: Any, db_url: str) -> None:
    items = [{"sku": f"i{n}", "name": f"商品{n}号", "kind": "red_packet", "points": 10} for n in range(1, 6)]
    bot: ChatBot = make_chat(config(schedule=[], rate_limit=0, mall={"page_size": 3, "items": items}), url=db_url)
    r = await bot.say("商城 9", as_="alice")
    assert r.text.startswith("商城只有 2 页，这是最后一页") and "第 2/2 页" in r.text and "5. 商品5号" in r.text
    assert "商城只有" not in (await bot.say("商城 2", as_="alice")).text
    one: ChatBot = make_chat(config(schedule=[], mall={"items": items[:2]}))
    r = await one.say("商城 2", as_="alice")
    assert r.text.startswith("商城只有 1 页，下面就是全部商品") and "1. 商品1号" in r.text
    assert bot.entries() == []


# -- 9. a unique part of a name finds the item ----------------------------------------------------------------


async def test_a_unique_part_of_a_name_finds_the_item_and_a_shared_one_lists_them(make_chat: Any, db_url: str) -> None:
    items = [{"sku": "mug", "name": "品牌马克杯", "kind": "red_packet", "points": 30},
             {"sku": "cup", "name": "Logo 保温杯", "kind": "red_packet", "points": 40},
             {"sku": "xmas", "name": "圣诞礼包", "kind": "red_packet", "points": 10,
              "starts": "2026-12-24T00:00:00+08:00"}]
    bot: ChatBot = make_chat(config(schedule=[], rate_limit=0, mall={"confirm_above": 1000, "items": items}),
                             url=db_url)
    give(bot, "alice", 100)
    assert "1. 品牌马克杯" in (await bot.say("商品 马克杯", as_="alice")).text
    assert "2. Logo 保温杯" in (await bot.say("商品 ｌｏｇｏ保温", as_="alice")).text  # width, case, spaces aside
    r = await bot.say("兑换 杯", as_="alice")
    assert "「杯」对应好几件商品：1. 品牌马克杯；2. Logo 保温杯" in r.text and "「兑换 编号」兑换" in r.text
    assert bot.entries("alice")[-1].kind == "admin_award"  # nothing bought
    assert "「圣诞礼包」还未开始兑换" in (await bot.say("兑换 礼包", as_="alice")).text
    await redeem(bot, "alice", "马克杯")
    assert [(e.kind, e.delta) for e in bot.entries("alice")][-1] == ("redeem", -30)
    assert "没有找到商品「茶叶」" in (await bot.say("兑换 茶叶", as_="alice")).text
    assert bot.balance("alice") == 70


# -- 10. 补签 never fills a day before the member was first seen ------------------------------------------------


async def test_makeup_does_not_fill_a_day_before_the_member_was_first_seen(make_chat: Any, db_url: str) -> None:
    data = config(schedule=[], rate_limit=0)
    data["checkin"]["makeup"] = {"cost": 5, "max_per_month": 5, "within_days": 5}
    bot: ChatBot = make_chat(data, start="2026-11-20 08:00", url=db_url)
    assert (await bot.say("大家好", as_="zoe", at=sh("2026-11-20 12:00"))) == []  # the bot ran on the 20th
    await checkin(bot, "alice", "2026-11-21 09:00")  # alice's first message ever
    assert (await bot.say("大家好", as_="zoe", at=sh("2026-11-22 12:00"))) == []  # she missed the 22nd
    await checkin(bot, "alice", "2026-11-23 09:00")
    assert "已补上 11月22日" in (await bot.say("补签", as_="alice")).text
    r = await bot.say("补签", as_="alice")  # the 20th was before the bot knew her: not hers to fill
    assert "没有漏签" in r.text
    assert [e.key for e in bot.entries("alice") if e.kind == "makeup"] == ["makeup:alice:2026-11-22"]
    assert bot.balance("alice") == 5 + 5 - 5 + 10  # two check-ins, the makeup, the repaired 3-day streak


# -- 11. the parcel flow offers the phone 完善资料 holds -----------------------------------------------------------


async def test_the_parcel_flow_offers_the_profile_phone_privately(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[], rate_limit=0, profile={"points": 0, "fields": ["phone"]},
                                    mall={"confirm_above": 1000, "items": [
                                        {"sku": "mug", "name": "品牌马克杯", "kind": "physical", "points": 30}]}),
                             url=db_url)
    assert "请发送你的手机号" in (await bot.private("完善资料", as_="alice")).text
    assert "资料已完善" in (await bot.private("13812345678", as_="alice")).text
    give(bot, "alice", 100)
    give(bot, "bob", 100)
    await redeem(bot, "alice", "1")
    r = await bot.private("张三", as_="alice")
    assert r[0].to == "alice" and "收件人手机号用你资料里的 138****5678 吗？回复「是」就用它" in r.text
    assert "详细收货地址" in (await bot.private("是", as_="alice")).text
    done = await bot.private("上海市黄浦区人民路 1 号", as_="alice")
    assert "收件人：张三 13812345678" in done.text
    assert bot.rt.services.mall.order(1).phone == "13812345678"  # type: ignore[union-attr]
    # another number is taken as given; a member without a profile is asked as before
    await redeem(bot, "bob", "1")
    assert "请发送收件人手机号（中国大陆 11 位手机号）" in (await bot.private("李四", as_="bob")).text
    assert "这个手机号好像不对" in (await bot.private("是", as_="bob")).text
    for o in bot.transport.sent:
        if o.room is not None:
            assert "5678" not in o.text and "138" not in o.text, o.text
    assert bot.balance("alice") == 70


# -- 12. card codes not imported -------------------------------------------------------------------------------


async def test_a_card_code_item_without_codes_reads_out_of_stock_and_the_operator_is_told(make_chat: Any,
                                                                                         db_url: str) -> None:
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        bot: ChatBot = make_chat(config(schedule=[], rate_limit=0, mall={"items": [
            {"sku": "vip", "name": "会员卡密", "kind": "card_code", "points": 50}]}), url=db_url)
    finally:
        logger.remove(sink)
    assert any("import-codes vip FILE" in w for w in warnings), warnings  # at start, in the log
    give(bot, "alice", 100)
    assert "1. 会员卡密  50 积分  暂时缺货" in (await bot.say("商城", as_="alice")).text
    assert "暂时缺货" in (await bot.say("商品 1", as_="alice")).text
    r = await bot.say("兑换 1", as_="alice")
    assert "「会员卡密」暂时缺货" in r.text and "已兑完" not in r.text
    r = await bot.private("商城", as_=OWNER)
    assert "卡密未导入" in r.text and "python run_bot.py import-codes vip 文件" in r.text
    r = await bot.say("商城", as_=OWNER)  # in the group: the list there, the command line privately
    assert [(o.room, o.to) for o in r] == [("g1", None), (None, OWNER)]
    assert "import-codes" not in r[0].text and "import-codes vip" in r[1].text
    assert bot.balance("alice") == 100 and [e.kind for e in bot.entries("alice")] == ["admin_award"]
