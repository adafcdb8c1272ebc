"""Scheduled posts reach every group the bot serves, not only those it has heard in: the transport announces
its groups (a rooms event), configured bot.rooms are served from the start, and a campaign's phase is
claimed per group, when it was posted there."""

from __future__ import annotations

from typing import Any

from bot.events import Group, Rooms
from storage import keys
from tests.conftest import ChatBot
from tests.factories import config, sh


def campaign_config(**bot: Any) -> dict[str, Any]:
    data = config(schedule=[{"id": "campaign-posts", "job": "campaign", "cron": "0 * * * *"}])
    data["bot"].update(bot)
    data["campaigns"] = [{"id": "double", "name": "双倍积分周", "starts": "2026-11-24T00:00:00+08:00",
                          "ends": "2026-11-30T00:00:00+08:00", "warmup_hours": 0, "closing_hours": 0,
                          "checkin": {"multiplier": 2}}]
    return data


def posted(replies: Any) -> list[str | None]:
    return sorted(o.room for o in replies if "活动开始了" in o.text)


async def test_a_bot_started_mid_campaign_posts_to_groups_announced_later(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(campaign_config(), start="2026-11-25 10:30", url=db_url)
    assert await bot.tick("2026-11-25 11:00") == []  # no group known yet: nothing posted, nothing claimed
    r = await bot.feed(Rooms(at=sh("2026-11-25 11:30"), rooms=(Group("g1", "会员一群"), Group("g2", "会员二群"))))
    assert r == []
    r = await bot.tick("2026-11-25 12:00")
    assert posted(r) == ["g1", "g2"] and all(o.scheduled and o.reply_to is None for o in r)
    assert "「双倍积分周」活动开始了" in r.texts[0]
    assert await bot.tick("2026-11-25 13:00") == []  # once per group
    # a quiet group first heard mid-campaign reads the phase in force at the next run, the others do not again
    assert await bot.say("大家好", as_="alice", room="g3") == []
    r = await bot.tick("2026-11-25 14:00")
    assert posted(r) == ["g3"]
    claims = [k for k in ("g1", "g2", "g3") if bot.rt.services.presence.claimed_at(keys.campaign_phase_in("double", "start", k))]
    assert claims == ["g1", "g2", "g3"]


async def test_configured_groups_are_served_before_anyone_speaks(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(campaign_config(rooms=["g1", "g2"]), start="2026-11-25 10:30", url=db_url)
    r = await bot.tick("2026-11-25 11:00")
    assert posted(r) == ["g1", "g2"]
    # a group the bot is in but does not serve is named in a rooms event: still not served
    await bot.feed(Rooms(at=sh("2026-11-25 11:10"), rooms=(Group("g1", "会员一群"), Group("other", "别的群"))))
    assert await bot.tick("2026-11-25 12:00") == []


async def test_a_phase_posted_before_per_group_claims_is_not_posted_again(make_chat: Any, db_url: str) -> None:
    """A database of the earlier release holds one claim per schedule entry: the groups known when it was
    made had the post; a group first known after it gets it."""
    bot: ChatBot = make_chat(campaign_config(), start="2026-11-24 07:00", url=db_url)
    assert await bot.say("大家好", as_="alice", room="g1") == []
    presence = bot.rt.services.presence
    assert presence.claim_event(keys.campaign_phase("double", "start", "campaign-posts"), sh("2026-11-24 08:00"))
    bot.at("2026-11-24 09:00")
    assert await bot.say("大家好", as_="bob", room="g2") == []
    r = await bot.tick("2026-11-24 10:00")
    assert posted(r) == ["g2"]
