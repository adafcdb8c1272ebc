"""积分, 排行榜 and 帮助 as members and admins see them."""

from __future__ import annotations

from tests.conftest import ChatBot
from tests.helpers import checkin_days, give


async def test_points_shows_balance_growth_streak_days_and_rank(chat: ChatBot) -> None:
    await checkin_days(chat, {"alice": 3, "bob": 1})  # alice: 5 + 5 + 15
    chat.at("2026-11-03 20:00")
    r = await chat.say("积分", as_="bob")
    assert r[0].mentions == ("bob",)
    assert "当前积分：5" in r.text and "成长值：5" in r.text
    assert "当前排名：第 2 名" in r.text
    r = await chat.private("积分", as_="alice")
    assert r[0].to == "alice"
    for part in ("当前积分：25", "成长值：25", "连续签到 3 天", "累计签到 3 天", "（今日已签到）", "第 1 名"):
        assert part in r.text, part


async def test_points_shows_a_broken_streak_as_zero(chat: ChatBot) -> None:
    await checkin_days(chat, {"alice": 2})
    chat.at("2026-11-04 09:00")  # the 3rd was missed
    r = await chat.say("积分", as_="alice")
    assert "连续签到 0 天" in r.text and "累计签到 2 天" in r.text and "今日已签到" not in r.text


async def test_points_for_a_newcomer_without_points(chat: ChatBot) -> None:
    r = await chat.say("积分", as_="dave")
    assert "当前积分：0" in r.text and "暂无排名" in r.text
    assert chat.entries() == []


async def test_leaderboard_ranks_by_balance_and_leaves_admins_out(chat: ChatBot) -> None:
    give(chat, "wxid_owner", 75)  # staff earn nothing by checking in (bot.staff_earn); an admin's balance all the same
    await checkin_days(chat, {"alice": 3, "bob": 1, "carol": 1})
    r = await chat.say("排行榜", as_="dave")
    lines = r.text.splitlines()
    assert lines[0].startswith("🏆 积分排行榜")
    assert lines[1] == "1. Alice  25 分"
    # equal balances share a rank; who reached it first stays first
    assert lines[2] == "2. Bob  5 分" and lines[3] == "2. Carol  5 分"
    assert "Wxid_Owner" not in r.text and "wxid_owner" not in r.text
    assert "你还没有积分" in r.text
    admin = await chat.say("积分", as_="wxid_owner")
    assert "管理员不参与排名" in admin.text and "当前积分：75" in admin.text


async def test_leaderboard_shows_ten_and_marks_the_asker(chat: ChatBot) -> None:
    await checkin_days(chat, {f"m{i:02d}": i + 1 for i in range(12)}, start="2026-10-01")
    r = await chat.say("排行榜", as_="m05", name="M05")
    rows = [line for line in r.text.splitlines() if line[:1].isdigit() and ". " in line]
    assert len(rows) == 10
    assert rows[0].startswith("1. M11")
    assert any(row.endswith("← 你") and "M05" in row for row in rows)
    r = await chat.say("排行榜", as_="m00")
    assert "你目前第 12 名" in r.text


async def test_empty_leaderboard_invites_the_first_checkin(chat: ChatBot) -> None:
    r = await chat.say("积分榜", as_="alice")
    assert "还没有人上榜" in r.text


async def test_help_lists_every_command_with_its_docstring_privately(chat: ChatBot) -> None:
    r = await chat.private("帮助", as_="alice")
    for line in ("「签到」每日签到领积分", "「积分」查看我的积分", "「排行榜 或 排行榜 本群」查看积分排行榜", "查看常用命令"):
        assert line in r.text, line
    assert r.text.index("签到") < r.text.index("「积分」") < r.text.index("「排行榜") < r.text.index("常用命令")


