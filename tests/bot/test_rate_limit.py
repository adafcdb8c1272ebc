"""One member may trigger at most bot.rate_limit commands a minute; beyond that the bot stays silent."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import ChatBot
from tests.factories import config, sh


async def test_the_eleventh_command_within_a_minute_is_ignored(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(config(schedule=[]))
    start = sh("2026-11-23 09:00")
    answered = 0
    for i in range(12):
        r = await bot.say("积分", as_="spammer", at=start + timedelta(seconds=i))
        answered += len(r)
    assert answered == 10
    # others are not affected, and chatter that is no command never counts
    assert "当前积分：0" in (await bot.say("积分", as_="alice", at=start + timedelta(seconds=13))).text
    assert (await bot.say("哈哈", as_="spammer", at=start + timedelta(seconds=14))) == []
    # a minute after the first command the member is heard again
    r = await bot.say("签到", as_="spammer", at=start + timedelta(seconds=61))
    assert "获得 5 积分" in r.text


async def test_admins_are_not_limited_and_zero_turns_it_off(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(config(schedule=[]))
    start = sh("2026-11-23 09:00")
    replies = [await bot.say("积分", as_="wxid_owner", at=start + timedelta(seconds=i)) for i in range(15)]
    assert sum(len(r) for r in replies) == 15
    data = config(schedule=[])
    data["bot"]["rate_limit"] = 0
    free: ChatBot = make_chat(data)
    replies = [await free.say("积分", as_="alice", at=start + timedelta(seconds=i)) for i in range(15)]
    assert sum(len(r) for r in replies) == 15
