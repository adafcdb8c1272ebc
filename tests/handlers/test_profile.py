"""完善资料 / 我的资料 / 取消: a private conversation that validates each answer and pays once."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import pytest

from handlers.profile import Invalid, clean_birthday, clean_phone
from tests.conftest import ChatBot
from tests.factories import config, sh

PHONE = "13812345678"


def profile_config(**profile: Any) -> dict[str, Any]:
    # rate limit off: these chats send many messages within a minute
    return config(schedule=[], profile={"points": 20, "fields": ["phone", "birthday", "city"], "expire_minutes": 30,
                                        **profile}, rate_limit=0)


@pytest.fixture
def bot(make_chat: Any, db_url: str) -> ChatBot:
    return make_chat(profile_config(), url=db_url)  # type: ignore[no-any-return]


def lines(bot: ChatBot, member: str) -> list[tuple[str, int, str]]:
    return [(e.kind, e.delta, e.key) for e in bot.entries(member)]


async def begin(bot: ChatBot, member: str) -> str:
    """完善资料 privately; returns the first question."""
    r = await bot.private("完善资料", as_=member)
    assert r[0].to == member and "请发送" in r.text
    return r.text


async def begin_in_group(bot: ChatBot, member: str) -> None:
    """完善资料 in the group: a note there, the first question privately."""
    r = await bot.say("完善资料", as_=member)
    assert [(o.room, o.to) for o in r] == [("g1", None), (None, member)]
    assert "私信" in r[0].text and "请发送你的手机号" in r[1].text


async def stop(bot: ChatBot, member: str) -> None:
    assert "已取消" in (await bot.private("取消", as_=member)).text


async def fill(bot: ChatBot, member: str, *answers: str) -> str:
    """Answer the questions privately; returns the last reply."""
    last = ""
    for a in answers:
        last = (await bot.private(a, as_=member)).text
    return last


async def test_in_a_group_it_moves_to_private_asks_each_field_and_pays_once(bot: ChatBot) -> None:
    r = await bot.say("完善资料", as_="alice", name="Alice")
    assert len(r) == 2
    group, private = r[0], r[1]
    assert group.room == "g1" and group.mentions == ("alice",) and "私信" in group.text
    assert private.room is None and private.to == "alice"
    assert "共 3 项" in private.text and "20 积分" in private.text and "手机号" in private.text
    assert "取消" in private.text and "30 分钟" in private.text

    r = await bot.private(PHONE, as_="alice")
    assert r[0].to == "alice" and "手机号已保存" in r.text and "生日" in r.text
    r = await bot.private("1990-05-20", as_="alice")
    assert "生日已保存" in r.text and "城市" in r.text
    r = await bot.private("上海", as_="alice")
    assert r[0].to == "alice"
    assert "资料已完善，获得 20 积分" in r.text and "当前积分：20" in r.text
    assert f"手机号：{PHONE}" in r.text and "生日：1990-05-20" in r.text and "所在城市：上海" in r.text
    assert lines(bot, "alice") == [("profile", 20, "profile:alice")]
    assert bot.entries("alice")[0].detail == "完善资料"
    # the conversation is over: a further private message is just chat
    assert (await bot.private("你好", as_="alice")) == []


async def test_a_complete_profile_can_be_updated_but_never_pays_again(bot: ChatBot) -> None:
    await begin(bot, "alice")  # asked privately: one reply, in private
    assert "资料已完善" in await fill(bot, "alice", PHONE, "1990-05-20", "上海")
    r = await bot.private("完善资料", as_="alice")
    assert r[0].to == "alice" and "已经完善过" in r.text and "不再发放积分" in r.text and "手机号" in r.text
    last = await fill(bot, "alice", "13900001111", "1991-01-02", "杭州")
    assert "资料已更新" in last and "获得" not in last and "所在城市：杭州" in last
    assert lines(bot, "alice") == [("profile", 20, "profile:alice")]
    assert bot.balance("alice") == 20


@pytest.mark.parametrize("bad", ["12345678901", "1381234567", "138123456789", "23812345678", "abc", "12812345678"])
async def test_a_bad_phone_number_is_asked_again(bot: ChatBot, bad: str) -> None:
    await begin(bot, "alice")
    r = await bot.private(bad, as_="alice")
    assert "手机号好像不对" in r.text and "请发送你的手机号" in r.text
    r = await bot.private("+86 138-1234-5678", as_="alice")  # spaces, dashes and +86 are fine
    assert "手机号已保存" in r.text
    assert bot.entries() == []
    await stop(bot, "alice")
    mine = await bot.private("我的资料", as_="alice")
    assert f"手机号：{PHONE}" in mine.text


@pytest.mark.parametrize(("answer", "says"), [
    ("2026-11-24", "今天之前"),  # tomorrow
    ("2030-01-01", "今天之前"),
    ("2026-11-23", "今天之前"),  # today is not in the past
    ("2023-02-29", "日历上没有这一天"),  # not a leap year
    ("1990-13-01", "日历上没有这一天"),
    ("1990-04-31", "日历上没有这一天"),
    ("5月20日", "没看懂这个日期"),
    ("生日是九零年", "没看懂这个日期"),
    ("1850-01-01", "年份太早"),
])
async def test_a_birthday_must_be_a_real_date_in_the_past(bot: ChatBot, answer: str, says: str) -> None:
    await begin(bot, "alice")
    assert "手机号已保存" in (await bot.private(PHONE, as_="alice")).text
    r = await bot.private(answer, as_="alice")
    assert says in r.text and "请发送你的生日" in r.text
    assert "生日已保存" in (await bot.private("1990年5月20日", as_="alice")).text
    await stop(bot, "alice")
    assert "生日：1990-05-20" in (await bot.private("我的资料", as_="alice")).text


@pytest.mark.parametrize("spelling", ["1990-5-20", "1990/5/20", "1990.05.20", "19900520", "1990年05月20日",
                                      "１９９０－０５－２０"])
def test_date_spellings(spelling: str) -> None:
    text = unicodedata.normalize("NFKC", spelling)  # as the dispatcher hands answers over
    assert clean_birthday(text, date(2026, 11, 23)) == "1990-05-20"


def test_a_leap_day_is_a_real_date() -> None:
    assert clean_birthday("2000-02-29", date(2026, 11, 23)) == "2000-02-29"
    with pytest.raises(Invalid, match="date_impossible"):
        clean_birthday("1900-02-29", date(2026, 11, 23))
    with pytest.raises(Invalid, match="date_future"):
        clean_birthday("2026-11-23", date(2026, 11, 23))
    assert clean_birthday("2026-11-22", date(2026, 11, 23)) == "2026-11-22"


@pytest.mark.parametrize(("typed", "kept"), [("13812345678", PHONE), ("138 1234 5678", PHONE),
                                              ("+8613812345678", PHONE), ("8613812345678", PHONE),
                                              ("19912345678", "19912345678")])
def test_phone_spellings(typed: str, kept: str) -> None:
    assert clean_phone(typed) == kept


async def test_an_empty_or_overlong_city_is_asked_again(bot: ChatBot) -> None:
    await begin(bot, "alice")
    await fill(bot, "alice", PHONE, "1990-05-20")
    for empty in ("   ", "。", "\u3000"):
        r = await bot.private(empty, as_="alice")
        assert "城市不能为空" in r.text
    r = await bot.private("上" * 31, as_="alice")
    assert "城市名太长" in r.text
    assert bot.entries() == []
    assert "获得 20 积分" in (await bot.private("  北京 ", as_="alice")).text
    assert "所在城市：北京" in (await bot.private("我的资料", as_="alice")).text


async def test_cancel_stops_the_conversation_and_keeps_what_was_answered(bot: ChatBot) -> None:
    await begin(bot, "alice")
    assert "手机号已保存" in (await bot.private(PHONE, as_="alice")).text
    r = await bot.private("取消", as_="alice")
    assert "已取消完善资料" in r.text and "保存" in r.text
    assert (await bot.private("1990-05-20", as_="alice")) == []  # no longer asked: ignored
    r = await bot.private("取消", as_="alice")
    assert "当前没有进行中的操作" in r.text
    # the next 完善资料 asks only what is missing
    r = await bot.private("完善资料", as_="alice")
    assert "共 2 项" in r.text and "请发送你的生日" in r.text
    assert "获得 20 积分" in await fill(bot, "alice", "1990-05-20", "上海")
    assert lines(bot, "alice") == [("profile", 20, "profile:alice")]


async def test_cancel_clears_only_the_chat_it_is_sent_in(bot: ChatBot) -> None:
    await begin_in_group(bot, "alice")
    # the conversation is private; 取消 in the group has nothing to stop there (and, being everyday
    # group talk, gets no answer)
    assert (await bot.say("取消", as_="alice")) == []
    assert (await bot.say("取消 明天的会", as_="bob")) == []
    assert "手机号已保存" in (await bot.private(PHONE, as_="alice")).text


async def test_cancel_clears_any_kind_of_conversation(bot: ChatBot) -> None:
    bot.rt.services.conversations.set_pending("g1", "alice", "address", "street", {}, sh("2026-11-23 09:00"))
    r = await bot.say("取消", as_="alice")
    assert r.text == "已取消 👌" and r[0].room == "g1"
    assert bot.rt.services.conversations.pending("g1", "alice", sh("2026-11-23 07:31")) is None


async def test_answers_in_a_group_are_not_taken(bot: ChatBot) -> None:
    await begin_in_group(bot, "alice")
    assert (await bot.say(PHONE, as_="alice")) == []  # a phone number in the group is never read
    await begin_in_group(bot, "alice")  # still at the first question
    assert "手机号已保存" in (await bot.private("13900001111", as_="alice")).text
    await stop(bot, "alice")
    mine = (await bot.private("我的资料", as_="alice")).text
    assert "手机号：13900001111" in mine and PHONE not in mine


async def test_a_conversation_left_alone_expires(bot: ChatBot) -> None:
    assert "请发送你的手机号" in (await bot.private("完善资料", as_="alice", at=sh("2026-11-23 10:00"))).text
    # each answer restarts the clock, a wrong one too
    assert "手机号好像不对" in (await bot.private("123", as_="alice", at=sh("2026-11-23 10:29"))).text
    assert "手机号已保存" in (await bot.private(PHONE, as_="alice", at=sh("2026-11-23 10:58"))).text
    # 30 minutes of silence: the conversation is gone and the answer is ignored
    assert (await bot.private("1990-05-20", as_="alice", at=sh("2026-11-23 11:28"))) == []
    assert bot.rt.services.conversations.pending("", "alice", sh("2026-11-23 11:28")) is None
    assert "当前没有进行中的操作" in (await bot.private("取消", as_="alice")).text
    mine = await bot.private("我的资料", as_="alice")
    assert "生日：未填写" in mine.text and f"手机号：{PHONE}" in mine.text
    assert bot.entries() == []


async def test_my_profile_is_shown_only_to_its_owner_and_only_privately(bot: ChatBot) -> None:
    await begin(bot, "alice")
    await fill(bot, "alice", PHONE, "1990-05-20", "上海")
    r = await bot.say("我的资料", as_="alice")
    assert len(r) == 2
    group, private = r[0], r[1]
    assert group.room == "g1" and PHONE not in group.text and "上海" not in group.text and "私信" in group.text
    assert private.to == "alice" and private.room is None
    assert f"手机号：{PHONE}" in private.text and "仅你可见" in private.text
    # someone else asking sees their own (empty) profile, never alice's
    r = await bot.private("我的资料", as_="bob")
    assert r[0].to == "bob" and PHONE not in r.text and "还没有填写资料" in r.text
    r = await bot.say("我的资料", as_="bob")
    assert all(PHONE not in t for t in r.texts)
    # nothing sent into a group during all this carried the data
    assert all(PHONE not in o.text for o in bot.transport.sent if o.room is not None)


async def test_a_replayed_answer_changes_nothing(bot: ChatBot) -> None:
    await begin(bot, "alice")
    await fill(bot, "alice", PHONE, "1990-05-20")
    first = await bot.private("上海", as_="alice", id="wx-last")
    again = await bot.private("上海", as_="alice", id="wx-last")
    assert "获得 20 积分" in first.text and again == []
    assert lines(bot, "alice") == [("profile", 20, "profile:alice")]


async def test_only_the_configured_fields_are_asked(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(profile_config(fields=["city"], points=8), url=db_url)
    r = await bot.private("完善资料", as_="alice")
    assert "共 1 项" in r.text and "城市" in r.text
    r = await bot.private("深圳", as_="alice")
    assert "获得 8 积分" in r.text and "手机号" not in r.text
    assert lines(bot, "alice") == [("profile", 8, "profile:alice")]


async def test_a_campaign_raising_profile_points_is_recorded(make_chat: Any, db_url: str) -> None:
    data = profile_config(fields=["city"])
    data["campaigns"] = [{"id": "autumn", "name": "秋季活动", "starts": "2026-11-01T00:00:00+08:00",
                          "ends": "2026-12-01T00:00:00+08:00", "profile": {"points": 50}}]
    bot: ChatBot = make_chat(data, url=db_url)
    await begin(bot, "alice")
    assert "获得 50 积分" in (await bot.private("深圳", as_="alice")).text
    [entry] = bot.entries("alice")
    assert entry.delta == 50 and entry.campaign == "autumn"


async def test_profile_is_off_without_its_section(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[]), url=db_url)
    assert (await bot.private("完善资料", as_="alice")) == []
    assert (await bot.private("我的资料", as_="alice")) == []
    assert "当前没有进行中的操作" in (await bot.private("取消", as_="alice")).text
