"""互动问答: a scheduled question, one counted answer per member, the first N right paid, the result at window close."""

from __future__ import annotations

from typing import Any

from tests.conftest import ChatBot
from tests.factories import config


def quiz_config(cron: str = "0 20 * * *") -> dict[str, Any]:
    data = config(schedule=[{"id": "evening-quiz", "job": "quiz", "cron": cron}])
    data["quiz"] = {"winners": 2, "window_minutes": 30, "questions": [
        {"question": "公司成立于哪一年？", "answers": ["2015", "2015年"], "points": 5},
        {"question": "吉祥物叫什么？", "answers": ["Ａbc"], "points": 8},
    ]}
    return data


async def ans(bot: ChatBot, who: str, text: str, room: str = "g1") -> str:
    return (await bot.say(text, as_=who, name=who.title(), room=room)).text


async def test_first_right_answers_win_one_answer_each_result_at_close(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(quiz_config(), start="2026-12-31 19:00", url=db_url)
    for who, room in (("alice", "g1"), ("bob", "g1"), ("carol", "g2"), ("dave", "g2")):
        assert "获得" in await ans(bot, who, "签到", room)
    bot.at("2026-12-31 19:59")
    assert "没有进行中的问答" in await ans(bot, "alice", "答 2015")
    r = await bot.tick("2026-12-31 20:00")
    assert [o.room for o in r] == ["g1", "g2"] and all(o.scheduled for o in r)
    assert "第 1 题" in r[0].text and "公司成立于哪一年？" in r[0].text and "20:30 截止" in r[0].text
    bot.at("2026-12-31 20:01")
    assert "回答错误" in await ans(bot, "bob", "答 2016")
    assert "已经回答过" in await ans(bot, "bob", "答 2015")  # only the first answer counts
    assert "第 1 位答对" in await ans(bot, "carol", "答 2015年", room="g2")
    assert "第 2 位答对" in await ans(bot, "alice", "答  2015 ")
    assert "前 2 名已满" in await ans(bot, "dave", "答 2015", room="g2")
    assert "已经回答过" in await ans(bot, "alice", "答 2015")
    assert "管理员不参与" in await ans(bot, "wxid_owner", "答 2015")
    assert "请写上你的答案" in await ans(bot, "dave", "答", room="g2")
    assert [(e.member, e.delta) for e in bot.entries() if e.kind == "quiz"] == [("carol", 5), ("alice", 5)]
    # the window closes at 20:30 sharp: the result goes out before an answer at that time is read
    bot.at("2026-12-31 20:30")
    r = await bot.say("答 2015", as_="erin", name="Erin")
    assert [o.room for o in r[:2]] == ["g1", "g2"] and r[0].reply_to is None
    result = r[0].text
    assert "第 1 题已结束" in result and "正确答案：2015" in result
    assert "1. Carol" in result and "2. Alice" in result and "共 5 人作答，4 人答对" not in result
    assert "共 4 人作答，3 人答对" in result
    assert "没有进行中的问答" in r[2].text
    # next evening, across the new year: the second question, answers compared by width and case
    r = await bot.tick("2027-01-01 20:00")
    assert [o.room for o in r] == ["g1", "g2"] and all("第 2 题" in o.text and "吉祥物" in o.text for o in r)
    bot.at("2027-01-01 20:10")
    assert "获得 8 积分" in await ans(bot, "bob", "答 ABC")
    r = await bot.tick("2027-01-01 21:00")
    assert [o.room for o in r] == ["g1", "g2"] and all("1. Bob" in o.text for o in r)
    assert bot.balance("bob") == 13


async def test_a_replayed_answer_changes_nothing_and_no_winner_result(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(quiz_config(), start="2026-11-23 19:00")
    assert "获得" in await ans(bot, "alice", "签到")
    assert "第 1 题" in (await bot.tick("2026-11-23 20:00")).text
    bot.at("2026-11-23 20:05")
    first = await bot.say("答 1999", as_="alice", name="Alice", id="q1")
    assert "回答错误" in first.text
    assert not await bot.say("答 2015", as_="alice", name="Alice", id="q1")  # the same message again
    r = await bot.tick("2026-11-23 20:30")
    assert "这次没有人答对" in r.text and "共 1 人作答，0 人答对" in r.text


def test_a_quiz_schedule_needs_questions() -> None:
    import pytest

    from bot.config import ConfigError, parse

    with pytest.raises(ConfigError, match=r"schedule\[0\] asks quiz questions"):
        parse(config(schedule=[{"id": "q", "job": "quiz", "cron": "0 20 * * *"}]))
