"""周榜, 月榜 and 排行榜 (company-wide and 本群), the scheduled board and reminder, and the digest of posts due together.

The clock crosses a week (Monday 2026-12-28), a month and a year (2027-01-01, a Friday in that same week).
"""

from __future__ import annotations

from typing import Any

from bot.app import DIGEST_SEPARATOR
from tests.conftest import ChatBot
from tests.factories import config, sh
from tests.helpers import checkin, give


def rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1].isdigit() and ". " in line]


async def test_week_and_month_boards_count_points_earned_in_the_period_across_the_year_end(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(config(schedule=[]), url=db_url)
    await checkin(bot, "alice", "2026-12-27 09:00")  # Sunday: last week, this month
    await checkin(bot, "bob", "2026-12-28 09:00")  # Monday
    await checkin(bot, "carol", "2026-12-28 10:00")  # same points as bob, later
    give(bot, "wxid_owner", 5, at="2026-12-28 11:00")  # an admin (who earns nothing by checking in): never listed
    r = await bot.say("周榜", as_="dave", name="Dave")
    assert r.text.splitlines()[0] == "🏆 本周积分榜 TOP 10"
    assert rows(r.text) == ["1. Bob  5 分", "1. Carol  5 分"]  # a tie: who got there first is first
    assert "你本周还没有赚到积分" in r.text
    r = await bot.say("月榜", as_="alice", name="Alice")
    assert rows(r.text) == ["1. Alice  5 分 ← 你", "1. Bob  5 分", "1. Carol  5 分"]
    # spending lowers the balance, not what was earned
    bot.ledger.spend(member="alice", points=5, kind="test_spend", key="s1", at=sh("2026-12-29 08:00"))
    await checkin(bot, "alice", "2026-12-29 09:00")  # streak broken? no: 27th and 29th are two days apart
    r = await bot.say("月榜", as_="alice", name="Alice")
    assert rows(r.text)[0] == "1. Alice  10 分 ← 你"
    r = await bot.say("排行榜", as_="alice", name="Alice")
    assert rows(r.text) == ["1. Bob  5 分", "1. Carol  5 分", "1. Alice  5 分 ← 你"]
    # New Year's Day: a new month (and year), the same week
    await checkin(bot, "dave", "2027-01-01 09:00")
    r = await bot.say("月榜", as_="bob", name="Bob")
    assert rows(r.text) == ["1. Dave  5 分"] and "你本月还没有赚到积分" in r.text
    r = await bot.say("周榜", as_="bob", name="Bob")
    assert rows(r.text) == ["1. Bob  5 分 ← 你", "1. Carol  5 分", "1. Alice  5 分", "1. Dave  5 分"]
    # the next Monday starts an empty week
    bot.at("2027-01-04 08:00")
    r = await bot.say("周榜", as_="bob", name="Bob")
    assert "本周积分榜还没有人上榜" in r.text


async def test_this_group_only_and_members_who_left_every_group(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(config(schedule=[]), url=db_url)
    await checkin(bot, "alice", "2026-11-23 09:00", room="g1")
    await checkin(bot, "bob", "2026-11-23 09:05", room="g2")
    await checkin(bot, "bob", "2026-11-24 09:05", room="g2")
    await checkin(bot, "carol", "2026-11-24 09:10", room="g1")
    r = await bot.say("周榜 本群", as_="alice", name="Alice", room="g1")
    assert r.text.splitlines()[0] == "🏆 本群本周积分榜 TOP 10"
    assert rows(r.text) == ["1. Alice  5 分 ← 你", "1. Carol  5 分"]
    r = await bot.say("排行榜 本群", as_="bob", name="Bob", room="g2")
    assert rows(r.text) == ["1. Bob  10 分 ← 你"]
    r = await bot.say("月榜", as_="carol", name="Carol", room="g1")
    assert [x.split("  ")[0] for x in rows(r.text)] == ["1. Bob", "2. Alice", "2. Carol"]
    # bob leaves his only group: off every board, his points kept
    assert not await bot.leave("g2", "bob")
    for word in ("排行榜", "周榜", "月榜"):
        r = await bot.say(word, as_="carol", room="g1")
        assert "Bob" not in r.text, word
    assert bot.balance("bob") == 10
    r = await bot.private("周榜 本群", as_="alice", name="Alice")
    assert "请在群里" in r.text
    r = await bot.say("周榜 全国", as_="alice", name="Alice")
    assert "周榜 本群" in r.text


async def test_scheduled_week_board_and_reminder_go_out_as_one_digest_per_group(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    data: dict[str, Any] = config(schedule=[
        {"id": "morning", "job": "checkin_reminder", "cron": "0 8 * * *"},
        {"id": "monday-board", "job": "leaderboard", "cron": "0 8 * * mon", "period": "week"},
        {"id": "month-board", "job": "leaderboard", "cron": "0 21 1 * *", "period": "month"},
    ])
    bot: ChatBot = make_chat(data, start="2026-12-27 07:00", url=db_url)
    await checkin(bot, "alice", "2026-12-27 07:10", room="g1")
    await checkin(bot, "bob", "2026-12-27 07:20", room="g2")
    r = await bot.tick("2026-12-27 08:00")  # Sunday: the reminder only
    assert [o.room for o in r] == ["g1", "g2"]
    assert "今天已有 2 人签到" in r[0].text and DIGEST_SEPARATOR not in r[0].text
    await checkin(bot, "alice", "2026-12-28 07:50", room="g1")
    r = await bot.tick("2026-12-28 08:00")  # Monday: reminder and week board together, one message a group
    assert [o.room for o in r] == ["g1", "g2"]
    reminder, board = r[0].text.split(DIGEST_SEPARATOR)
    assert "今天已有 1 人签到" in reminder
    assert board.startswith("🏆 本周积分榜 TOP 10（本周一（12月28日）起）") and rows(board) == ["1. Alice  5 分"]
    assert r[1].text == r[0].text and all(o.scheduled and o.reply_to is None for o in r)
    r = await bot.tick("2027-01-01 08:30")  # a reminder each morning, nothing else
    assert len(r) == 8 and all(o.text.startswith("☀️ 早上好") for o in r)
    await checkin(bot, "carol", "2027-01-01 09:00", room="g1")
    r = await bot.tick("2027-01-01 21:00")  # the month board of the new month, nobody else due
    assert [o.room for o in r] == ["g1", "g2"] and r[1].text == r[0].text
    assert "🏆 本月积分榜 TOP 10（1月1日起）" in r[0].text and rows(r[0].text) == ["1. Carol  5 分"]
    assert all("今天还没有人签到" in o.text for o in (await bot.tick("2027-01-02 08:00")))


def test_period_is_only_for_the_leaderboard_job() -> None:
    import pytest

    from bot.config import ConfigError, parse

    with pytest.raises(ConfigError, match=r"schedule\[0\]\.period is for job"):
        parse(config(schedule=[{"id": "x", "job": "checkin_reminder", "cron": "0 8 * * *", "period": "week"}]))
    with pytest.raises(ConfigError, match=r"schedule\[0\]\.period must be one of"):
        parse(config(schedule=[{"id": "x", "job": "leaderboard", "cron": "0 8 * * *", "period": "day"}]))


async def test_a_database_from_before_the_boards_gets_its_period_sums_once(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    bot: ChatBot = make_chat(config(schedule=[]), url=url)
    await checkin(bot, "alice", "2026-11-30 09:00")
    await checkin(bot, "alice", "2026-12-01 09:00")
    with bot.ledger.engine.begin() as c:
        c.execute(text("DELETE FROM period_sums"))
    assert bot.rt.services.boards.backfill() == 3  # week of 11-30, November, December
    assert bot.rt.services.boards.backfill() == 0
    bot.at("2026-12-01 10:00")
    r = await bot.say("周榜", as_="alice", name="Alice")
    assert rows(r.text) == ["1. Alice  10 分 ← 你"]


async def test_boards_read_in_the_batch_that_moved_them_and_a_group_move_in_it_counts_once(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    """One batch (PostgreSQL holds its board moves until its end): a board asked for after check-ins of the
    same batch lists them, and a member first seen in a second group within it is counted there once."""
    bot: ChatBot = make_chat(config(schedule=[]), url=db_url)
    bot.at("2026-11-23 09:00")
    r = await bot.feed(bot.message("签到", as_="bob", name="Bob"), bot.message("签到", as_="carol", name="Carol"),
                       bot.message("排行榜 本群", as_="bob", name="Bob", room="g2"),
                       bot.message("周榜", as_="dave", name="Dave", room=None))
    board = [t for t in r.texts if "本周积分榜" in t]
    assert len(board) == 1 and rows(board[0]) == ["1. Bob  5 分", "1. Carol  5 分"]
    here = [t for t in r.texts if "本群积分排行榜" in t]
    # bob's check-in in g1 counts on g2's board from his first word there
    assert len(here) == 1 and rows(here[0]) == ["1. Bob  5 分 ← 你"]
    r = await bot.feed(bot.message("签到", as_="erin", name="Erin", room="g2"),
                       bot.message("排行榜 本群", as_="carol", name="Carol", room="g2"))
    here = [t for t in r.texts if "本群积分排行榜" in t]
    # two replies to g2 in one batch go as one message, a line each
    assert len(here) == 1 and "TOP 10 · 1. Bob  5 分 · 1. Carol  5 分 ← 你 · 1. Erin  5 分" in here[0]
    r = await bot.say("排行榜", as_="dave", name="Dave")
    assert rows(r.text) == ["1. Bob  5 分", "1. Carol  5 分", "1. Erin  5 分"]
