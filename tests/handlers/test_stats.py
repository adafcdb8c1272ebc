"""统计 as an operator sees it: this week's figures privately, 本月 and 全部, and nothing at all for a member or in a group."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.conftest import ChatBot
from tests.factories import OWNER, config
from tests.helpers import award, checkin


def stats_config() -> dict[str, Any]:
    return config(schedule=[], rate_limit=0)


async def week(bot: ChatBot) -> None:
    """Bob and Carol check in on Monday 11-23 and Bob on Tuesday; Carol gets 加分 50; Dave only chats on Tuesday."""
    await checkin(bot, "bob", "2026-11-23 09:00")
    await checkin(bot, "carol", "2026-11-23 09:01")
    await award(bot, "carol", 50, "2026-11-23 10:00")
    await checkin(bot, "bob", "2026-11-24 09:00")
    bot.at("2026-11-24 09:30")
    assert await bot.say("大家好", as_="dave", name="Dave") == []


async def test_an_admin_gets_this_weeks_figures_privately(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(stats_config(), url=db_url)
    await week(bot)
    bot.at("2026-11-24 12:00")
    [r] = await bot.private("统计", as_=OWNER)
    assert r.to == OWNER and r.room is None
    text = r.text
    assert "运营数据 · 本周（2026-11-23 至 2026-11-24）" in text
    assert "成员 3 人，本周新入群 3、离开 0" in text  # bob, carol, dave; the admin is staff, not a member
    assert "活跃：本周 3 人，近 7 天 3，近 30 天 3" in text
    # 3 check-ins over the 7 days to 11-24: 11-23 had bob and carol in, 11-24 all three (the days before: none)
    assert "近 7 天签到率 60.0%" in text
    # points: 3 check-ins of 5 and the 加分 of 50, nothing before; closing is every balance
    assert "期初 0，获得 +65，收回 −0，兑换 −0，退款 +0，过期 −0，期末 65" in text
    assert bot.balance("bob") + bot.balance("carol") + bot.balance("dave") == 65
    assert "获得来源：管理员加分 50、签到 15" in text and "收支对不上" not in text
    assert "wxid" not in text  # no ids, not even the admin's


async def test_a_period_word_picks_the_month_or_all_time_and_an_unknown_one_is_explained(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(stats_config())
    await week(bot)
    bot.at("2026-12-01 08:00")  # a new week and a new month: both start empty
    [r] = await bot.private("统计", as_=OWNER)
    assert "本周（2026-11-30 至 2026-12-01）" in r.text and "本周新入群 0" in r.text
    assert "期初 65，获得 +0" in r.text and "期末 65" in r.text
    [r] = await bot.private("统计 全部", as_=OWNER)
    assert "全部（截至 2026-12-01）" in r.text and "新入群" not in r.text and "期初 0，获得 +65" in r.text
    [r] = await bot.private("统计 本月", as_=OWNER)
    assert "本月（2026-12-01 至 2026-12-01）" in r.text
    [r] = await bot.private("统计 昨天", as_=OWNER)
    assert "没有「昨天」这个时间段" in r.text and "运营数据" not in r.text
    [r] = await bot.private("统计全部", as_=OWNER)  # glued to its word, as 排行榜本群
    assert "全部（截至 2026-12-01）" in r.text
    assert await bot.private("统计一下", as_=OWNER) == []  # chat that starts with the keyword: no answer


async def test_a_member_is_refused_and_a_group_is_told_to_ask_privately(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(stats_config())
    await week(bot)
    [r] = await bot.private("统计", as_="bob", name="Bob")
    assert "只有管理员" in r.text and "运营数据" not in r.text
    [r] = await bot.say("统计", as_=OWNER, name="Owner")
    assert r.room == "g1" and "私聊" in r.text and "运营数据" not in r.text and "成员" not in r.text
    [r] = await bot.say("统计", as_="bob", name="Bob")
    assert "运营数据" not in r.text


async def test_the_weekly_report_reaches_every_admin_privately_with_its_picture_drawn_off_the_loop(  # type: ignore[no-untyped-def]
        make_chat, monkeypatch) -> None:
    import threading

    from PIL import Image

    from handlers.lib import stats_chart
    from handlers.lib.statement_card import find_font

    drawn_in: list[threading.Thread] = []
    real = stats_chart.draw

    def draw(data: dict[str, Any], font: str) -> Any:
        drawn_in.append(threading.current_thread())
        return real(data, font)

    monkeypatch.setattr(stats_chart, "draw", draw)
    data = config(schedule=[{"id": "weekly", "job": "weekly_report", "cron": "0 9 30 11 *"}], rate_limit=0)
    data["bot"]["admins"] = [OWNER, "wxid_second"]
    bot: ChatBot = make_chat(data)
    await week(bot)
    assert await bot.tick("2026-11-29 23:00") == []  # nothing before Monday's run
    r = await bot.tick("2026-11-30 09:01")
    assert sorted(o.to or "" for o in r) == sorted([OWNER, "wxid_second"]) and all(o.room is None for o in r)
    text = r[0].text
    assert "运营周报（2026-11-23 至 2026-11-29）" in text
    assert "成员 3 人，上周新入群 3、离开 0" in text
    # Monday: both members then in a group checked in (dave came on Tuesday); Tuesday 1 of 3
    assert "每日签到：11-23 100%、11-24 33%、11-25 0%" in text
    assert "签到率 15.0%" in text  # 3 check-ins over 2 + 6 x 3 member-days
    assert "期初 0，获得 +65" in text and "期末 65" in text
    if find_font() is None:
        assert r[0].image is None
        return
    assert r[0].image and r[0].image == r[1].image
    with Image.open(r[0].image) as img:
        assert img.format == "PNG" and img.size == (stats_chart.WIDTH, stats_chart.HEIGHT)
    assert drawn_in and all(t is not threading.main_thread() for t in drawn_in)


async def test_a_members_first_message_of_a_day_costs_one_statement_per_batch_and_later_ones_none(  # type: ignore[no-untyped-def]
        make_chat, db_url, monkeypatch) -> None:
    from storage import db as storage_db

    bot: ChatBot = make_chat(stats_config(), url=db_url)
    sent: list[str] = []
    original = storage_db.Statement.run

    def run(self: Any, conn: Any, /, **params: Any) -> Any:
        if self.sql.startswith("INSERT INTO member_days"):
            sent.append(self.sql)
        return original(self, conn, **params)

    monkeypatch.setattr(storage_db.Statement, "run", run)
    bot.at("2026-11-23 09:00")
    r = await bot.feed(*(bot.message("签到", as_=who, name=who.title()) for who in ("bob", "carol", "dave")),
                       bot.message("大家好", as_="erin", name="Erin"))
    assert len(r) == 3 and all("签到成功" in o.text for o in r)
    assert len(sent) == 1  # four members heard first today: one INSERT for the batch
    r = await bot.feed(bot.message("积分", as_="bob", name="Bob"), bot.message("大家好", as_="carol", name="Carol"))
    assert len(r) == 1 and "积分" in r[0].text
    assert len(sent) == 1  # already recorded today: nothing more
    bot.at("2026-11-24 09:00")
    assert await bot.say("早", as_="bob", name="Bob") == []
    assert len(sent) == 2  # a new day
    figures = bot.rt.services.figures
    report = figures.compute(start=date(2026, 11, 23), end=date(2026, 11, 25), staff=[OWNER])
    assert report.active == 4 and report.active_7d == 4  # erin only chatted, and counts
    assert [d.checkins for d in report.checkin_days] == [3, 0]
