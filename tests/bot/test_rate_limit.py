"""One member may trigger at most bot.rate_limit commands a minute; beyond that the bot stays silent."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import ChatBot, Replies
from tests.factories import config, sh


def answered(r: Replies) -> list[str]:
    """The ids of the messages the replies answer: a reply held back by the send budget takes the later
    ones of the same group into it, so messages and replies are not one to one."""
    return [i for o in r for i in (o.reply_to if isinstance(o.reply_to, tuple) else (o.reply_to,)) if i]


async def test_the_eleventh_command_within_a_minute_is_ignored(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(config(schedule=[]))
    start = sh("2026-11-23 09:00")
    # one a second, all in one step: the answers go out as the send budget lets them
    said = [bot.message("积分", as_="spammer", at=start + timedelta(seconds=i)) for i in range(12)]
    r = await bot.feed(*said)
    assert answered(r) == [m.id for m in said[:10]]
    assert all(o.mentions == ("spammer",) and o.text.count("当前积分：0") == 1 for o in r)
    # others are not affected, and chatter that is no command never counts
    assert "当前积分：0" in (await bot.say("积分", as_="alice", at=start + timedelta(seconds=13))).text
    assert (await bot.say("哈哈", as_="spammer", at=start + timedelta(seconds=14))) == []
    # a minute after the first command the member is heard again
    r = await bot.say("签到", as_="spammer", at=start + timedelta(seconds=61))
    assert "获得 5 积分" in r.text


async def test_admins_are_not_limited_and_zero_turns_it_off(make_chat) -> None:  # type: ignore[no-untyped-def]
    start = sh("2026-11-23 09:00")
    admin: ChatBot = make_chat(config(schedule=[]))
    said = [admin.message("积分", as_="wxid_owner", at=start + timedelta(seconds=i)) for i in range(15)]
    assert answered(await admin.feed(*said)) == [m.id for m in said]
    free: ChatBot = make_chat(config(schedule=[], rate_limit=0))
    said = [free.message("积分", as_="alice", at=start + timedelta(seconds=i)) for i in range(15)]
    r = await free.feed(*said)
    assert answered(r) == [m.id for m in said] and all("当前积分：0" in o.text for o in r)


async def test_duplicate_deliveries_of_one_message_count_once(db_url: str, make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(config(schedule=[]), url=db_url)
    start = sh("2026-11-23 09:00")
    first = bot.message("积分", as_="alice", at=start, id="dup")
    # the transport delivered the same message twelve times (reconnects, a replayed file)
    copies = [first, *(bot.message("积分", as_="alice", at=start + timedelta(seconds=i), id="dup") for i in range(1, 12))]
    r = await bot.feed(*copies)
    assert answered(r) == ["dup"]
    r = await bot.feed(*(bot.message("积分", as_="alice", at=start + timedelta(seconds=20), id="dup") for _ in range(3)))
    assert r == []
    # the member's next real command is answered: only the one new message counted
    r = await bot.say("签到", as_="alice", at=start + timedelta(seconds=30))
    assert "获得 5 积分" in r.text
