"""Check-in rules, pinned one by one through the chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import ChatBot
from tests.factories import config, sh


def kinds(bot: ChatBot, member: str) -> list[tuple[str, int]]:
    return [(e.kind, e.delta) for e in bot.entries(member)]


async def test_first_checkin_pays_base_points_and_mentions_the_member(chat: ChatBot) -> None:
    r = await chat.say("签到", as_="alice", name="Alice")
    assert len(r) == 1
    out = r[0]
    assert out.room == "g1" and out.mentions == ("alice",) and out.reply_to is not None
    assert "获得 5 积分" in out.text
    assert "连续签到 1 天" in out.text and "累计签到 1 天" in out.text
    assert "当前积分：5" in out.text
    assert kinds(chat, "alice") == [("checkin", 5)]
    assert chat.balance("alice") == 5 and chat.growth("alice") == 5


async def test_second_checkin_same_day_says_already_and_changes_nothing(chat: ChatBot) -> None:
    assert "获得 5 积分" in (await chat.say("签到", as_="alice")).text
    chat.at("2026-11-23 22:00")
    r = await chat.say("签到", as_="alice")
    assert "已经签到" in r.text
    assert "连续签到 1 天" in r.text and "当前积分：5" in r.text
    assert kinds(chat, "alice") == [("checkin", 5)]
    assert r[0].mentions == ("alice",)


async def test_local_midnight_in_shanghai_starts_a_new_day(chat: ChatBot) -> None:
    chat.at("2026-11-23 23:59")
    first = await chat.say("签到", as_="alice")
    chat.at("2026-11-24 00:01")
    second = await chat.say("签到", as_="alice")
    assert "获得 5 积分" in first.text
    assert "获得 5 积分" in second.text and "连续签到 2 天" in second.text
    assert chat.balance("alice") == 10


async def test_utc_midnight_is_not_a_boundary(chat: ChatBot) -> None:
    # 23:59 UTC on the 23rd and 00:01 UTC on the 24th are both 24 Nov in Shanghai (07:59, 08:01)
    chat.at(datetime(2026, 11, 23, 23, 59, tzinfo=UTC))
    first = await chat.say("签到", as_="alice")
    chat.at(datetime(2026, 11, 24, 0, 1, tzinfo=UTC))
    second = await chat.say("签到", as_="alice")
    assert "获得 5 积分" in first.text
    assert "已经签到" in second.text
    assert chat.balance("alice") == 5


async def test_a_missed_day_resets_the_streak(chat: ChatBot) -> None:
    for day in ("2026-11-23", "2026-11-24"):
        chat.at(f"{day} 09:00")
        assert "获得" in (await chat.say("签到", as_="alice")).text
    # the 25th was missed while the bot was running (bob chatted)
    assert (await chat.say("早", as_="bob", at=sh("2026-11-25 10:00"))) == []
    chat.at("2026-11-26 09:00")
    r = await chat.say("签到", as_="alice")
    assert "连续签到 1 天" in r.text and "累计签到 3 天" in r.text
    assert [c[1] for c in chat.rt.services.checkins.checkins("alice")] == [1, 2, 1]


async def test_a_day_the_bot_was_not_running_breaks_no_streak(chat: ChatBot) -> None:
    for day in ("2026-11-23", "2026-11-24"):
        chat.at(f"{day} 09:00")
        assert "获得" in (await chat.say("签到", as_="alice")).text
    # no event at all on the 25th and 26th: the bot was down
    chat.at("2026-11-27 09:00")
    r = await chat.say("签到", as_="alice")
    assert "连续签到 3 天" in r.text and "连续签到3天奖励 +10" in r.text
    # a day with any event (here a tick) is a day the bot ran: missing it breaks the streak
    assert (await chat.tick("2026-11-28 12:00")) == []
    chat.at("2026-11-29 09:00")
    assert "连续签到 1 天" in (await chat.say("签到", as_="alice")).text


async def test_bonuses_pay_on_exactly_the_configured_days(chat: ChatBot) -> None:
    earned = []
    for i in range(10):
        chat.at(sh("2026-11-23 09:00") + timedelta(days=i))
        r = await chat.say("签到", as_="alice")
        earned.append(int(r.text.split("获得 ")[1].split(" ")[0]))
    # day 3: +10 streak bonus; day 7: +30; day 10: +50 cumulative (the streak of 10 has no bonus)
    assert earned == [5, 5, 15, 5, 5, 5, 35, 5, 5, 55]
    assert chat.balance("alice") == sum(earned) == 140
    assert kinds(chat, "alice").count(("checkin_streak", 10)) == 1
    assert kinds(chat, "alice").count(("checkin_streak", 30)) == 1
    assert kinds(chat, "alice").count(("checkin_total", 50)) == 1


async def test_bonus_is_named_in_the_reply(chat: ChatBot) -> None:
    for day in (23, 24):
        chat.at(f"2026-11-{day} 09:00")
        r = await chat.say("签到", as_="alice")
        assert "再坚持" in r.text
    chat.at("2026-11-25 09:00")
    r = await chat.say("签到", as_="alice")
    assert "连续签到3天奖励 +10" in r.text and "获得 15 积分" in r.text


async def test_cumulative_bonus_counts_days_across_gaps(chat: ChatBot) -> None:
    days = ["2026-11-01", "2026-11-03", "2026-11-05", "2026-11-07", "2026-11-09",
            "2026-11-11", "2026-11-13", "2026-11-15", "2026-11-17", "2026-11-19"]
    last = None
    for d in days:
        chat.at(f"{d} 12:00")
        last = await chat.say("签到", as_="bob")
        assert "连续签到 1 天" in last.text
        assert (await chat.tick(sh(f"{d} 12:00") + timedelta(days=1))) == []  # the bot runs on the gap days
    assert last is not None and "累计签到10天奖励 +50" in last.text
    assert chat.balance("bob") == 10 * 5 + 50


async def test_one_checkin_a_day_across_groups(chat: ChatBot) -> None:
    a = await chat.say("签到", as_="alice", room="g1")
    b = await chat.say("签到", as_="alice", room="g2")
    assert "获得 5 积分" in a.text
    assert "已经签到" in b.text and b[0].room == "g2"
    assert kinds(chat, "alice") == [("checkin", 5)]


async def test_a_replayed_message_id_changes_nothing(chat: ChatBot) -> None:
    first = await chat.say("签到", as_="alice", id="wx-msg-1")
    again = await chat.say("签到", as_="alice", id="wx-msg-1")
    chat.at("2026-11-24 09:00")
    next_day = await chat.say("签到", as_="alice", id="wx-msg-1")
    assert "获得" in first.text
    assert again == [] and next_day == []
    assert kinds(chat, "alice") == [("checkin", 5)]


async def test_the_same_message_twice_in_one_batch_counts_once(chat: ChatBot) -> None:
    m = chat.transport.message("签到", as_="alice", room="g1", id="dup")
    r = await chat.feed(m, m)
    assert len(r) == 1 and "获得 5 积分" in r[0].text
    assert kinds(chat, "alice") == [("checkin", 5)]


async def test_garbage_is_ignored_and_changes_nothing(chat: ChatBot) -> None:
    garbage = ["", "   ", "签到啦", "我要签到", "签", "🤔", "\u0000\u2005", "x" * 5000, "签 到", "@Bob 签到",
               "<script>签到</script>", "{{ 7*7 }}", "签到签到"]
    for text in garbage:
        r = await chat.say(text, as_="alice", mentions=("bob",) if "@Bob" in text else ())
        assert r == [], text
    assert chat.entries() == []
    assert chat.balance("alice") == 0


async def test_full_width_spaces_punctuation_and_bot_mention_still_match(chat: ChatBot) -> None:
    variants = [("　签到！", ()), ("签到。", ()), (" 打卡~ ", ()), ("＠积分助手 签到", ()),
                ("@积分助手\u2005签到", ("bot",)), ("@积分助手 签到!!", ("bot",))]
    for i, (text, mentions) in enumerate(variants):
        chat.at(f"2026-11-{10 + i:02d} 09:00")
        r = await chat.say(text, as_="carol", mentions=mentions)
        assert "获得" in r.text, text
    assert len(chat.rt.services.checkins.checkins("carol")) == len(variants)


async def test_private_checkin_points_to_the_group_and_changes_nothing(chat: ChatBot) -> None:
    r = await chat.private("签到", as_="alice")
    assert r[0].to == "alice" and r[0].room is None
    assert "请在群里" in r.text
    assert chat.entries() == []


async def test_growth_does_not_fall_when_points_are_spent(chat: ChatBot) -> None:
    assert "获得 5 积分" in (await chat.say("签到", as_="alice")).text
    chat.ledger.spend(member="alice", points=3, kind="redeem", key="order:1", at=chat.transport.clock.now())
    r = await chat.private("积分", as_="alice")
    assert "当前积分：2" in r.text and "成长值：5" in r.text
    assert chat.growth("alice") == 5 and chat.balance("alice") == 2


async def test_configured_keywords_replace_the_defaults(make_chat) -> None:  # type: ignore[no-untyped-def]
    data = config()
    data["checkin"]["keywords"] = ["报到"]
    bot = make_chat(data)
    assert (await bot.say("签到", as_="alice")) == []
    r = await bot.say("报到", as_="alice")
    assert "获得 5 积分" in r.text


async def test_checkin_is_off_when_its_section_is_left_out(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot = make_chat(config(checkin=None, schedule=[]))
    assert (await bot.say("签到", as_="alice")) == []
    help_text = (await bot.say("帮助", as_="alice")).text
    assert "「签到」" not in help_text and "「积分」" in help_text
    assert bot.entries() == []


async def test_a_late_check_in_is_credited_to_its_own_day_as_if_it_had_come_in_order(db_url: str, make_chat) -> None:  # type: ignore[no-untyped-def]
    """Day 2's 签到 reaches the bot after day 3's was committed (another process, a connector's backlog): it is
    paid for day 2, the streak bonus the repaired run reached is paid once, and the member ends exactly where
    the same messages in order leave them."""
    times = ["2026-11-23 09:00", "2026-11-24 23:00", "2026-11-25 08:00"]
    in_order = make_chat(config(schedule=[]), start="2026-11-23 07:00", url=db_url if "sqlite" in db_url else None)
    for t in times:
        assert "签到成功" in (await in_order.say("签到", as_="alice", at=sh(t))).text

    # replies one by one (no merging), and a late message's answer still goes out (it is hours old)
    late = make_chat({**config(schedule=[]), "outbox": {"coalesce_seconds": 0, "give_up_seconds": 86400}},
                     start="2026-11-23 07:00", url=None if "sqlite" in db_url else db_url)
    assert "签到成功" in (await late.say("签到", as_="alice", at=sh(times[0]))).text
    await late.tick(sh("2026-11-24 08:00"))  # the bot ran on day 2: a gap there would break the streak
    d3, d2 = (late.message("签到", as_="alice", at=sh(t)) for t in (times[2], times[1]))
    r = await late.feed(d3, d2)
    by_id = {o.reply_to: o.text for o in r}
    assert "连续签到 1 天" in by_id[d3.id]  # day 2 is not there yet
    assert "签到成功！获得 15 积分" in by_id[d2.id] and "连续签到3天奖励 +10" in by_id[d2.id]
    assert "连续签到 2 天" in by_id[d2.id] and "累计签到 3 天" in by_id[d2.id]
    again = await late.say("签到", as_="alice", at=sh("2026-11-25 20:00"))  # today's second: refused as ever
    assert "今天已经签到过啦" in again.text and "连续签到 3 天" in again.text

    assert late.balance("alice") == in_order.balance("alice") == 25
    assert late.growth("alice") == in_order.growth("alice")
    for bot in (in_order, late):
        m = bot.ledger.member("alice")
        assert (m.checkin_streak, m.checkin_days, str(m.last_checkin)) == (3, 3, "2026-11-25")
    # both go on in step: day 7 of the run pays the 7-day bonus in each, once
    for d in ("2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"):
        a = await in_order.say("签到", as_="alice", at=sh(f"{d} 09:00"))
        b = await late.say("签到", as_="alice", at=sh(f"{d} 09:00"))
        assert a.text == b.text
    assert "连续签到7天奖励 +30" in b.text
    assert late.balance("alice") == in_order.balance("alice")
    assert ("checkin:2026-11-24:alice:checkin_streak:d3", 10) in [(e.key, e.delta) for e in late.entries("alice")]
