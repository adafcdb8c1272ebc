"""Campaigns: inside their window their overrides apply, and the entries they pay say so."""

from __future__ import annotations

from typing import Any

from tests.conftest import ChatBot
from tests.factories import config


def campaign_config() -> dict[str, Any]:
    data = config(schedule=[])
    data["campaigns"] = [{"id": "double-week", "name": "双倍积分周", "starts": "2026-11-24T00:00:00+08:00",
                          "ends": "2026-11-26T00:00:00+08:00", "checkin": {"multiplier": 2}}]
    return data


async def test_a_campaign_multiplies_checkin_inside_its_window_only(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(campaign_config(), url=db_url)
    got = []
    for day in ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"):
        bot.at(f"{day} 09:00")
        got.append((await bot.say("签到", as_="alice")).text)
    assert "获得 5 积分" in got[0] and "双倍积分周" not in got[0]
    assert "获得 10 积分" in got[1] and "🎉 「双倍积分周」活动进行中，签到积分 ×2" in got[1]
    # day 3 of the streak: base and streak bonus both doubled
    assert "获得 30 积分" in got[2] and "连续签到3天奖励 +20" in got[2]
    assert "获得 5 积分" in got[3] and "双倍积分周" not in got[3]
    assert [(e.delta, e.campaign) for e in bot.entries("alice")] == [
        (5, None), (10, "double-week"), (10, "double-week"), (20, "double-week"), (5, None)]
    assert bot.balance("alice") == 50


async def test_the_window_is_half_open_at_its_local_end(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(campaign_config(), url=db_url)
    bot.at("2026-11-25 23:59:59")
    assert "获得 10 积分" in (await bot.say("签到", as_="bob")).text
    bot.at("2026-11-26 00:00:00")
    assert "获得 5 积分" in (await bot.say("签到", as_="bob")).text
