"""补签: fills the most recent missed day for points, reconnects the streak, within monthly limits."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import update

from storage.tables import CHECKINS
from tests.conftest import ChatBot
from tests.factories import config, sh
from tests.helpers import checkin, replayed, sent_lines


def makeup_config(**makeup: Any) -> dict[str, Any]:
    data = config(schedule=[])
    data["checkin"]["makeup"] = {"cost": 20, "max_per_month": 2, "within_days": 3, **makeup}
    return data


async def busy_day(bot: ChatBot, when: str) -> None:
    """Someone chats: the bot was running that day, so a missing check-in is a missed day."""
    assert (await bot.say("大家好", as_="zoe", at=sh(when))) == []


async def test_makeup_fills_the_missed_day_and_reconnects_the_streak(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(makeup_config(), url=db_url)
    for day in ("2026-11-20", "2026-11-21", "2026-11-22"):
        await checkin(bot, "alice", f"{day} 09:00")  # 5, 5, 15 = 25
    await busy_day(bot, "2026-11-23 12:00")  # alice missed the 23rd
    assert "连续签到 1 天" in (await checkin(bot, "alice", "2026-11-24 09:00")).text  # 30
    r = await bot.say("补签", as_="alice")
    assert "已补上 11月23日" in r.text and "花费 20 积分" in r.text
    assert "连续签到 5 天" in r.text and "累计签到 5 天" in r.text and "当前积分：10" in r.text
    assert "本月已补签 1/2 次" in r.text
    makeup_lines = [(e.kind, e.delta, e.key) for e in bot.entries("alice") if e.kind == "makeup"]
    assert makeup_lines == [("makeup", -20, "makeup:alice:2026-11-23")]
    # the streak goes on from the repaired run
    assert "连续签到 6 天" in (await checkin(bot, "alice", "2026-11-25 09:00")).text


async def test_makeup_refusals_change_nothing(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(makeup_config(), url=db_url)
    await checkin(bot, "alice", "2026-11-20 09:00")
    await checkin(bot, "alice", "2026-11-21 09:00")
    # nothing missed yet
    r = await bot.say("补签", as_="alice")
    assert "不需要补签" in r.text
    # a missed day, but only 10 points
    await busy_day(bot, "2026-11-22 12:00")
    bot.at("2026-11-23 09:00")
    r = await bot.say("补签", as_="alice")
    assert "补签需要 20 积分" in r.text and "你目前有 10 积分" in r.text
    assert [e.kind for e in bot.entries("alice")] == ["checkin", "checkin"]
    assert len(bot.rt.services.checkins.checkins("alice")) == 2


async def test_a_day_the_bot_was_down_needs_no_makeup(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(makeup_config(), url=db_url)
    await checkin(bot, "alice", "2026-11-20 09:00")
    bot.at("2026-11-22 09:00")  # no event at all on the 21st
    r = await bot.say("补签", as_="alice")
    assert "不需要补签" in r.text


async def test_only_days_within_the_window_can_be_filled(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(makeup_config(within_days=2, cost=5), url=db_url)
    for d in range(10, 16):
        await checkin(bot, "bob", f"2026-11-{d} 09:00")
    await busy_day(bot, "2026-11-16 12:00")  # missed, but 3 days before the 19th
    for d in (17, 18):
        await checkin(bot, "bob", f"2026-11-{d} 09:00")
    bot.at("2026-11-19 08:00")
    r = await bot.say("补签", as_="bob")
    assert "最近 2 天没有漏签" in r.text


async def test_the_monthly_limit_counts_makeups_of_this_month(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(makeup_config(max_per_month=1, cost=5, within_days=5), url=db_url)
    for d in range(1, 8):
        await checkin(bot, "carol", f"2026-11-{d:02d} 09:00")
    await busy_day(bot, "2026-11-08 12:00")
    await busy_day(bot, "2026-11-09 12:00")
    bot.at("2026-11-10 09:00")
    assert "已补上 11月9日" in (await bot.say("补签", as_="carol")).text
    r = await bot.say("补签", as_="carol")
    assert "本月补签次数已用完（1/1）" in r.text
    # a new month gives a new allowance (the 30th was missed)
    for d in range(27, 30):
        await checkin(bot, "carol", f"2026-11-{d} 09:00")
    await busy_day(bot, "2026-11-30 12:00")
    bot.at("2026-12-01 09:00")
    assert "已补上 11月30日" in (await bot.say("补签", as_="carol")).text


async def test_makeup_is_off_without_its_section(chat: ChatBot) -> None:
    assert (await chat.say("补签", as_="alice")) == []


async def test_a_makeup_that_completes_a_cumulative_bonus_pays_it(make_chat, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = makeup_config(cost=5)
    data["checkin"]["consecutive"] = [{"days": 3, "bonus": 10}]
    data["checkin"]["cumulative"] = [{"days": 5, "bonus": 50}]
    bot: ChatBot = make_chat(data, url=db_url)
    await checkin(bot, "alice", "2026-11-01 09:00")
    await checkin(bot, "alice", "2026-11-02 09:00")
    await busy_day(bot, "2026-11-03 12:00")  # missed
    await checkin(bot, "alice", "2026-11-04 09:00")
    await checkin(bot, "alice", "2026-11-05 09:00")  # 4 x 5 = 20
    r = await bot.say("补签", as_="alice")
    assert "已补上 11月3日" in r.text and "累计签到 5 天" in r.text and "连续签到 5 天" in r.text
    # the total reached 5 and the repaired run passed 3, which no check-in of it had paid
    assert "累计签到5天奖励 +50" in r.text and "连续签到3天奖励 +10" in r.text
    assert "当前积分：75" in r.text  # 20 - 5 + 60
    bonus = [(e.kind, e.delta, e.key) for e in bot.entries("alice") if e.kind != "checkin"]
    assert bonus == [("makeup", -5, "makeup:alice:2026-11-03"),
                     ("checkin_streak", 10, "makeup:alice:2026-11-03:checkin_streak:3"),
                     ("checkin_total", 50, "makeup:alice:2026-11-03:checkin_total:5")]
    assert bot.growth("alice") == 80
    # the next check-in pays no bonus of this run again
    r = await checkin(bot, "alice", "2026-11-06 09:00")
    assert "连续签到 6 天" in r.text and "🎁" not in r.text and bot.balance("alice") == 80
    # a replay of the same messages pays the same, once
    assert await replayed(bot, f"sqlite:///{tmp_path / 'replay.db'}") == sent_lines(bot)


async def test_a_repaired_run_pays_the_streak_bonus_it_jumps_past_once(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    data = makeup_config(cost=5, within_days=7)
    data["checkin"]["consecutive"] = [{"days": 3, "bonus": 10}, {"days": 7, "bonus": 30}]
    data["checkin"]["cumulative"] = []
    bot: ChatBot = make_chat(data, url=db_url)
    await checkin(bot, "bob", "2026-11-01 09:00")
    await checkin(bot, "bob", "2026-11-02 09:00")
    await busy_day(bot, "2026-11-03 12:00")  # missed
    for d in range(4, 9):
        await checkin(bot, "bob", f"2026-11-{d:02d} 09:00")  # the 6th reaches 3 in a row: +10
    assert bot.balance("bob") == 45
    r = await bot.say("补签", as_="bob")
    # 1st to 8th: 8 days in a row; the 3-day bonus of this run was paid on the 6th, the 7-day one never
    assert "连续签到 8 天" in r.text and "连续签到7天奖励 +30" in r.text and "连续签到3天奖励" not in r.text
    assert "当前积分：70" in r.text
    assert [e.key for e in bot.entries("bob") if e.kind == "checkin_streak"] == [
        "checkin:2026-11-06:bob:checkin_streak:1", "makeup:bob:2026-11-03:checkin_streak:7"]
    r = await checkin(bot, "bob", "2026-11-09 09:00")
    assert "连续签到 9 天" in r.text and "🎁" not in r.text
    assert "不需要补签" in (await bot.say("补签", as_="bob")).text


async def test_audit_reports_a_makeup_bonus_without_its_makeup(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    data = makeup_config(cost=5)
    data["checkin"]["consecutive"] = []
    data["checkin"]["cumulative"] = [{"days": 3, "bonus": 50}]
    bot: ChatBot = make_chat(data, url=db_url)
    await checkin(bot, "alice", "2026-11-01 09:00")
    await busy_day(bot, "2026-11-02 12:00")
    await checkin(bot, "alice", "2026-11-03 09:00")
    assert "累计签到3天奖励 +50" in (await bot.say("补签", as_="alice")).text
    assert bot.ledger.audit() == []
    # by hand: the makeup row is no longer a makeup
    C = CHECKINS
    with bot.rt.services.db.transaction() as conn:
        conn.execute(update(C).where(C.c.member_id == "alice", C.c.makeup.is_(True)).values(makeup=False))
    # (and the day now holds a check-in the figures' day counts never saw)
    problem, counts = bot.ledger.audit()
    assert "makeup bonus makeup:alice:2026-11-02:checkin_total:3 without its makeup check-in" in problem
    assert counts == "checkin_counts 2026-11-02: missing, 1 check-ins that day"
    with bot.rt.services.db.transaction() as conn:
        conn.execute(update(C).where(C.c.member_id == "alice", C.c.day == date(2026, 11, 2)).values(makeup=True))
