"""Every amount a text promises is what the rules pay when they apply: the morning reminder, the welcome,
the check-in reply and its "再坚持 N 天" line agree with the ledger, inside a campaign, after it and with levels."""

from __future__ import annotations

from typing import Any

from tests.conftest import ChatBot
from tests.factories import config

LEVELS = [{"name": "青铜", "growth": 0}, {"name": "白银", "growth": 15, "checkin_multiplier": 1.2}]


def promise_config(levels: bool = True, reminder: bool = True) -> dict[str, Any]:
    data = config(schedule=[{"id": "morning", "job": "checkin_reminder", "cron": "0 8 * * *"}] if reminder else [],
                  newcomer={"points": 0, "welcome": True}, rate_limit=0)
    data["checkin"]["consecutive"] = [{"days": 3, "bonus": 30}]
    data["checkin"]["cumulative"] = []
    data["campaigns"] = [{"id": "double", "name": "双倍积分周", "starts": "2026-11-24T00:00:00+08:00",
                          "ends": "2026-11-26T00:00:00+08:00", "checkin": {"multiplier": 2}}]
    if levels:
        data["levels"] = LEVELS
    return data


def paid(bot: ChatBot, member: str, day: str) -> int:
    return sum(e.delta for e in bot.entries(member) if e.at.isoformat().startswith(day))


async def test_reminder_and_welcome_state_the_campaign_rate_as_temporary(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(promise_config(), start="2026-11-23 07:00", url=db_url)
    assert await bot.say("大家好", as_="carol") == []  # the bot now knows group g1
    outside = (await bot.tick("2026-11-23 08:00")).text
    assert "即可领取 5 积分，会员等级另有加成" in outside and "活动" not in outside
    inside = (await bot.tick("2026-11-24 08:00")).text
    assert "即可领取 10 积分（「双倍积分周」活动期间，平时 5 积分），会员等级另有加成" in inside
    assert "连续签到还有额外奖励：3天+60" in inside
    welcome = (await bot.join("g1", "newbie")).text
    assert "每天发「签到」得 10 积分（「双倍积分周」活动期间，平时 5 积分）" in welcome
    r = await bot.say("签到", as_="alice")
    assert "获得 10 积分" in r.text and paid(bot, "alice", "2026-11-24") == 10


async def test_the_next_bonus_line_is_what_the_day_it_falls_on_pays(make_chat: Any, db_url: str) -> None:
    """On the campaign's last day the streak bonus of tomorrow is promised at tomorrow's rate (no campaign),
    times the level the member holds (白银 x1.2 from 15 growth): 30 x 1.2 = 36, not 60 or 30."""
    bot: ChatBot = make_chat(promise_config(reminder=False), start="2026-11-24 07:00", url=db_url)
    bot.at("2026-11-24 09:00")
    first = (await bot.say("签到", as_="alice")).text
    # tomorrow is still in the campaign, day 3 is not: 30 at the base rate, at 青铜 (10 growth, under 15)
    assert "获得 10 积分" in first and "再坚持 2 天可得「连续签到3天奖励」30 积分" in first
    bot.at("2026-11-25 09:00")
    second, level_up = (await bot.say("签到", as_="alice")).texts
    assert "升级为「白银」会员" in level_up
    assert "获得 10 积分" in second  # 5 x 2: 青铜 is held before this check-in (10 growth)
    assert "再坚持 1 天可得「连续签到3天奖励」36 积分" in second
    bot.at("2026-11-26 09:00")
    third = (await bot.say("签到", as_="alice")).text
    assert "🎁 连续签到3天奖励 +36" in third
    assert paid(bot, "alice", "2026-11-26") == 6 + 36  # base 5 x 1.2, bonus 30 x 1.2: as promised


async def test_the_next_bonus_inside_a_campaign_is_promised_doubled(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(promise_config(levels=False, reminder=False), start="2026-11-23 07:00", url=db_url)
    bot.at("2026-11-23 09:00")
    assert "再坚持 2 天可得「连续签到3天奖励」60 积分" in (await bot.say("签到", as_="bob")).text  # day 3 = 11-25: doubled
    bot.at("2026-11-24 09:00")
    assert "再坚持 1 天可得「连续签到3天奖励」60 积分" in (await bot.say("签到", as_="bob")).text
    bot.at("2026-11-25 09:00")
    assert "🎁 连续签到3天奖励 +60" in (await bot.say("签到", as_="bob")).text
    assert paid(bot, "bob", "2026-11-25") == 10 + 60
