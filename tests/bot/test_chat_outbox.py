"""Chat tests send through the real outbox: the send budget, coalescing, quiet hours and fallbacks as a member meets them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ChatBot
from tests.factories import config, sh
from tests.helpers import checkin, replayed, sent_lines

FIRST_DAY = "签到成功！获得 5 积分"


async def morning_rush(bot: ChatBot) -> None:
    """Three members check in one after another at 09:00 (the burst), then four more within one second."""
    bot.at("2026-11-23 09:00")
    for who in ("alice", "bob", "carol"):
        r = await checkin(bot, who)
        assert r[0].at == sh("2026-11-23 09:00") and r[0].mentions == (who,)
    t = sh("2026-11-23 09:00")
    said = [bot.message("签到", as_=who, name=who.title(), at=t + timedelta(milliseconds=250 * i))
            for i, who in enumerate(("dave", "erin", "frank", "grace"))]
    [merged] = await bot.feed(*said)
    assert merged.room == "g1" and merged.mentions == ("dave", "erin", "frank", "grace")
    assert merged.reply_to == tuple(m.id for m in said)
    assert merged.text.startswith(FIRST_DAY) and merged.text.count(FIRST_DAY) == 1  # one answer, said once
    assert merged.at == t + timedelta(seconds=1.5)  # when the budget had room again


async def test_checkins_in_one_group_within_the_window_come_back_as_one_message(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[]), url=db_url)
    await morning_rush(bot)
    assert [bot.balance(m) for m in ("dave", "erin", "frank", "grace")] == [5, 5, 5, 5]
    # the member had the answer before saying the next thing: the clock is at its send time
    assert bot.transport.clock.now() == sh("2026-11-23 09:00:01.5")


async def test_different_answers_in_one_message_each_follow_their_names(make_chat: Any) -> None:
    bot: ChatBot = make_chat(config(schedule=[]))
    await checkin(bot, "dave", "2026-11-22 09:00")
    bot.at("2026-11-23 09:00")
    for who in ("alice", "bob", "carol"):
        await checkin(bot, who)
    t = bot.transport.clock.now()
    r = await bot.feed(bot.message("签到", as_="dave", name="Dave", at=t),
                       bot.message("签到", as_="erin", name="Erin", at=t + timedelta(seconds=0.5)),
                       bot.message("签到", as_="frank", name="Frank", at=t + timedelta(seconds=1)))
    [merged] = r
    lines = merged.text.splitlines()
    assert merged.mentions == ("dave", "erin", "frank") and len(lines) == 2
    assert lines[0].startswith("Dave：签到成功！获得 5 积分 · 连续签到 2 天 · 累计签到 2 天 · 当前积分：10")
    assert lines[1].startswith("Erin、Frank：签到成功！获得 5 积分 · 连续签到 1 天")


async def test_replies_that_do_not_meet_in_the_queue_are_not_merged(make_chat: Any) -> None:
    """Dave's reply leaves when the budget has room (1.5 s); Erin's comes after: a reply is never held for company."""
    bot: ChatBot = make_chat(config(schedule=[]))
    bot.at("2026-11-23 09:00")
    for who in ("alice", "bob", "carol"):
        await checkin(bot, who)
    t = sh("2026-11-23 09:00")
    r = await bot.feed(bot.message("签到", as_="dave", at=t), bot.message("签到", as_="erin", at=t + timedelta(seconds=4)))
    assert [(o.mentions, o.at) for o in r] == [(("dave",), t + timedelta(seconds=1.5)),
                                               (("erin",), t + timedelta(seconds=4))]
    assert all(o.text.startswith(FIRST_DAY) for o in r)


async def test_one_step_after_another_is_paced_by_the_send_budget(make_chat: Any) -> None:
    bot: ChatBot = make_chat(config(schedule=[]))
    bot.at("2026-11-23 09:00")
    times = []
    for i in range(6):
        r = await checkin(bot, f"m{i}")
        times.append((r[0].at - sh("2026-11-23 09:00")).total_seconds())
    assert times == [0, 0, 0, 1.5, 3.0, 4.5]  # a burst of 3, then one every 1.5 s


async def test_a_private_reply_to_a_stranger_fails_and_the_outbox_says_its_fallback(make_chat: Any) -> None:
    bot: ChatBot = make_chat(config(schedule=[], mall={"confirm_above": 1000, "items": [
        {"sku": "pen", "name": "签字笔", "kind": "link", "points": 5, "link": "https://example.com/pen"}]}))
    await checkin(bot, "bob", "2026-11-23 09:00")
    bot.transport.strangers.add("bob")
    r = await bot.say("兑换 1", as_="bob", name="Bob")
    assert [(o.room, o.to, o.mentions) for o in r] == [("g1", None, ("bob",)), ("g1", None, ("bob",))]
    assert "详情已私信" in r[0].text and "加我为好友" in r[1].text
    [refused] = bot.transport.refused  # the private message was tried, and WeChat refused it
    assert refused.to == "bob" and "example.com/pen" in refused.text
    assert bot.transport.outbox.failed == 1


async def test_a_post_due_in_quiet_hours_goes_out_when_they_end_written_as_of_then(make_chat: Any) -> None:
    data = config(schedule=[{"id": "late-board", "job": "leaderboard", "cron": "30 22 * * *"}])
    data["outbox"] = {"quiet_hours": "22:00-07:30"}
    bot: ChatBot = make_chat(data, start="2026-11-23 21:00")
    assert "签到成功" in (await checkin(bot, "alice", "2026-11-23 22:10"))[0].text  # a reply is not held
    assert await bot.tick("2026-11-23 22:31") == []  # due, but held: nothing is written yet
    await checkin(bot, "bob", "2026-11-24 07:00")  # checks in while the post waits
    [board] = await bot.tick("2026-11-24 07:31")
    assert (board.room, board.at) == ("g1", sh("2026-11-24 07:30")) and "积分排行榜" in board.text
    # the board is the one of 07:30: Bob's morning check-in counts
    assert "1. Alice  5 分" in board.text and "1. Bob  5 分" in board.text  # a tie shares the rank
    assert await bot.tick("2026-11-24 09:00") == []  # the slot ran once


async def test_the_morning_reminder_held_overnight_counts_the_morning_not_yesterday(make_chat: Any) -> None:
    data = config(schedule=[{"id": "dawn", "job": "checkin_reminder", "cron": "0 6 * * *"}])
    data["outbox"] = {"quiet_hours": "22:30-07:30"}
    bot: ChatBot = make_chat(data, start="2026-11-23 09:00")
    await checkin(bot, "alice", "2026-11-23 09:00")
    await checkin(bot, "bob", "2026-11-23 09:05")
    assert await bot.tick("2026-11-24 06:01") == []
    await checkin(bot, "carol", "2026-11-24 07:10")
    [reminder] = await bot.tick("2026-11-24 07:30")
    assert reminder.at == sh("2026-11-24 07:30")
    assert "今天已有 1 人签到" in reminder.text, reminder.text  # today's Carol, not yesterday's two


async def test_a_warmup_held_from_23h_says_the_hours_left_at_0730(make_chat: Any) -> None:
    data = config(schedule=[{"id": "campaign-posts", "job": "campaign", "cron": "0 * * * *"}])
    data["outbox"] = {"quiet_hours": "22:30-07:30"}
    data["campaigns"] = [{"id": "double-week", "name": "双倍积分周", "starts": "2026-11-25T23:00:00+08:00",
                          "ends": "2026-11-27T00:00:00+08:00", "warmup_hours": 24, "checkin": {"multiplier": 2}}]
    bot: ChatBot = make_chat(data, start="2026-11-24 20:00")
    await checkin(bot, "alice", "2026-11-24 20:00")  # the group is known
    assert await bot.tick("2026-11-24 23:05") == []  # 预热 is due at 23:00, inside quiet hours
    [warmup] = await bot.tick("2026-11-25 07:30")
    assert warmup.at == sh("2026-11-25 07:30") and "双倍积分周" in warmup.text
    assert "还有 16 小时" in warmup.text, warmup.text  # 07:30 -> 23:00 is 15.5 h, rounded up; not "24 小时"
    assert await bot.tick("2026-11-25 09:00") == []  # posted once in the group, whatever the hourly slots held


async def test_a_closing_post_due_at_midnight_is_not_sent_after_the_campaign_ended(make_chat: Any) -> None:
    data = config(schedule=[{"id": "campaign-posts", "job": "campaign", "cron": "0 0 * * *"}])
    data["campaigns"] = [{"id": "flash", "name": "闪电周末", "starts": "2026-11-22T00:00:00+08:00",
                          "ends": "2026-11-24T06:00:00+08:00", "checkin": {"multiplier": 2}}]
    bot: ChatBot = make_chat(data, start="2026-11-23 20:00")  # the default quiet hours: 22:30-07:30
    await checkin(bot, "alice", "2026-11-23 20:00")
    # 收尾 was due at midnight, quiet; when the quiet hours end the campaign is over, so nothing is said about it
    assert await bot.tick("2026-11-24 08:00") == []
    r = await bot.say("签到", as_="bob")
    assert "获得 5 积分" in r.text and "闪电周末" not in r.text


async def test_a_replay_of_the_chat_sends_the_same_messages_at_the_same_times(make_chat: Any, tmp_path: Path) -> None:
    bot: ChatBot = make_chat(config(), start="2026-11-23 07:00")
    assert await bot.tick("2026-11-23 08:30") == []  # the reminder knows no group yet
    await morning_rush(bot)
    r = await bot.tick("2026-11-23 21:30")
    assert [o.room for o in r] == ["g1"] and "积分排行榜" in r[0].text and r[0].at == sh("2026-11-23 21:00")
    r = await bot.tick("2026-11-24 08:30")
    assert [o.room for o in r] == ["g1"] and "今天还没有人签到" in r[0].text and r[0].at == sh("2026-11-24 08:00")
    await checkin(bot, "alice", "2026-11-24 09:00")
    r = await bot.tick("2026-11-24 21:00")
    assert [o.room for o in r] == ["g1"] and "1. Alice  10 分" in r[0].text
    assert bot.transport.sent and await replayed(bot, f"sqlite:///{tmp_path / 'replay.db'}") == sent_lines(bot)


async def test_a_rush_bigger_than_one_at_list_gets_the_checkin_digest_and_other_answers_by_name(make_chat: Any,
                                                                                               db_url: str) -> None:
    data = config(schedule=[])
    data["outbox"] = {"interval_seconds": 10, "burst": 1, "coalesce_max_mentions": 5}
    bot: ChatBot = make_chat(data, url=db_url)
    await checkin(bot, "alice", "2026-11-23 09:00")  # the bucket is empty now
    t = sh("2026-11-23 09:00:01")
    rush = [bot.message("签到", as_=f"m{i}", name=f"成员{i}", at=t + timedelta(milliseconds=200 * i)) for i in range(8)]
    again = bot.message("签到", as_="alice", name="Alice", at=t + timedelta(seconds=2))
    mine = bot.message("积分", as_="alice", name="Alice", at=t + timedelta(seconds=3))
    [digest] = await bot.feed(*rush, again, mine)
    lines = digest.text.splitlines()
    assert lines[0] == "本轮 8 人签到成功 🎉 发「积分」查看自己的积分"  # more than the 5 one @-list may carry
    assert lines[1].startswith("Alice：今天已经签到过啦") and lines[2].startswith("Alice：💰 当前积分：5")
    assert digest.mentions == ("alice",) and digest.room == "g1"  # answered by name, so @-mentioned
    assert digest.reply_to == tuple(m.id for m in (*rush, again, mine))
    assert digest.at == sh("2026-11-23 09:00:10")  # when the budget had room again
    assert [bot.balance(f"m{i}") for i in range(8)] == [5] * 8
    # once the rush is over, a check-in is answered on its own again
    assert (await checkin(bot, "bob", "2026-11-23 09:05"))[0].mentions == ("bob",)
