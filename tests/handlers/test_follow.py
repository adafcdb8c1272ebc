"""关注 CODE: pays once per account; wrong codes say nothing useful and are capped per day."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ChatBot
from tests.factories import config, sh

ACCOUNTS = [{"id": "official", "name": "公众号", "code": "A1B2"}, {"id": "channels", "name": "视频号", "code": "V9X7"}]


def follow_config(**follow: Any) -> dict[str, Any]:
    return config(schedule=[], follow={"points": 15, "max_wrong_per_day": 5, "accounts": ACCOUNTS, **follow})


@pytest.fixture
def bot(make_chat: Any, db_url: str) -> ChatBot:
    return make_chat(follow_config(), url=db_url)  # type: ignore[no-any-return]


def follows(bot: ChatBot, member: str) -> list[tuple[str, int, str, str]]:
    return [(e.kind, e.delta, e.key, e.detail) for e in bot.entries(member)]


async def test_the_right_code_pays_once_per_account(bot: ChatBot) -> None:
    r = await bot.say("关注 A1B2", as_="alice")
    assert r[0].mentions == ("alice",)
    assert "感谢关注「公众号」" in r.text and "获得 15 积分" in r.text and "当前积分：15" in r.text
    again = await bot.say("关注 a1b2", as_="alice", at=sh("2026-11-30 10:00"))  # any case, any day: once
    assert "已经领过「公众号」" in again.text
    other = await bot.private("关注 v9x7", as_="alice")
    assert other[0].to == "alice" and "感谢关注「视频号」" in other.text and "当前积分：30" in other.text
    assert follows(bot, "alice") == [("follow", 15, "follow:official:alice", "公众号"),
                                     ("follow", 15, "follow:channels:alice", "视频号")]
    # each member claims for themself
    assert "获得 15 积分" in (await bot.say("关注 A1B2", as_="bob")).text
    assert bot.balance("bob") == 15


async def test_a_wrong_code_says_so_and_reveals_nothing(bot: ChatBot) -> None:
    r = await bot.say("关注 A1B3", as_="alice")
    assert "领取码不对" in r.text and "还可以再试 4 次" in r.text
    for secret in ("A1B2", "V9X7", "a1b2", "视频号", "official", "channels"):
        assert secret not in r.text
    assert bot.entries() == []


async def test_without_a_code_it_explains_how_and_counts_nothing(bot: ChatBot) -> None:
    r = await bot.say("关注", as_="alice")
    assert "自动回复里有领取码" in r.text and "关注 领取码" in r.text
    assert "A1B2" not in r.text
    assert bot.rt.services.conversations.counter("alice", "follow_wrong", sh("2026-11-23 08:00").date()) == 0


async def test_after_five_wrong_codes_a_day_every_try_is_refused_even_the_right_one(bot: ChatBot) -> None:
    day = sh("2026-11-23 08:00").date()
    for i in range(1, 6):
        r = await bot.say(f"关注 WRONG{i}", as_="alice", at=sh(f"2026-11-23 08:0{i}"))
        assert "领取码不对" in r.text
    assert "尝试次数已用完" in r.text
    sixth = await bot.say("关注 A1B2", as_="alice", at=sh("2026-11-23 09:00"))
    assert "次数太多" in sixth.text and "明天" in sixth.text and "感谢" not in sixth.text
    seventh = await bot.say("关注 NOPE", as_="alice", at=sh("2026-11-23 23:59"))
    assert "次数太多" in seventh.text
    assert bot.entries() == []
    # the refused tries are counted, though refused (a refusal that rolled back would not be)
    assert bot.rt.services.conversations.counter("alice", "follow_wrong", day) == 7
    # another member is not affected
    assert "获得 15 积分" in (await bot.say("关注 A1B2", as_="bob", at=sh("2026-11-23 23:59"))).text
    # a new local day starts afresh
    r = await bot.say("关注 A1B2", as_="alice", at=sh("2026-11-24 00:01"))
    assert "获得 15 积分" in r.text
    assert follows(bot, "alice") == [("follow", 15, "follow:official:alice", "公众号")]


async def test_the_daily_cap_is_configurable(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(follow_config(max_wrong_per_day=1), url=db_url)
    assert "尝试次数已用完" in (await bot.say("关注 X", as_="alice", at=sh("2026-11-23 08:00"))).text
    assert "次数太多" in (await bot.say("关注 A1B2", as_="alice", at=sh("2026-11-23 08:01"))).text
    assert bot.entries() == []


async def test_a_replayed_claim_changes_nothing(bot: ChatBot) -> None:
    first = await bot.say("关注 A1B2", as_="alice", id="wx-1")
    again = await bot.say("关注 A1B2", as_="alice", id="wx-1")
    wrong = await bot.say("关注 BAD", as_="alice", id="wx-2")
    wrong_again = await bot.say("关注 BAD", as_="alice", id="wx-2")
    assert "获得 15 积分" in first.text and again == []
    assert "还可以再试 4 次" in wrong.text and wrong_again == []
    assert bot.rt.services.conversations.counter("alice", "follow_wrong", sh("2026-11-23 08:00").date()) == 1
    assert len(bot.entries("alice")) == 1


async def test_a_campaign_raising_follow_points_is_recorded(make_chat: Any, db_url: str) -> None:
    data = follow_config()
    data["campaigns"] = [{"id": "launch", "name": "上线活动", "starts": "2026-11-20T00:00:00+08:00",
                          "ends": "2026-11-30T00:00:00+08:00", "follow": {"points": 40}}]
    bot: ChatBot = make_chat(data, url=db_url)
    assert "获得 40 积分" in (await bot.say("关注 A1B2", as_="alice")).text
    [entry] = bot.entries("alice")
    assert entry.campaign == "launch" and entry.delta == 40


async def test_follow_is_off_without_its_section(chat: ChatBot) -> None:
    assert (await chat.say("关注 A1B2", as_="alice")) == []
    assert chat.entries() == []
