"""Tier tasks and 任务, pinned through the chat on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import ChatBot
from tests.factories import config, sh
from tests.helpers import checkin

INVITES = {"id": "inv", "name": "邀请达人", "metric": "invites", "tiers": [{"at": 2, "points": 10}, {"at": 3, "points": 30}]}
DAYS = {"id": "days", "name": "签到之星", "metric": "checkin_days", "tiers": [{"at": 2, "points": 8}, {"at": 4, "points": 40}]}
STREAK = {"id": "streak", "name": "连签王", "metric": "checkin_streak", "tiers": [{"at": 3, "points": 15}]}


def task_config(*tasks: dict[str, Any], **invite: Any) -> dict[str, Any]:
    return config(schedule=[], invite={"points": 20, "revoke_within_days": 7, **invite}, tasks=list(tasks))


def task_rows(bot: ChatBot, member: str = "alice") -> list[tuple[str, int, str]]:
    return [(e.kind, e.delta, e.key) for e in bot.entries(member) if e.kind.startswith("task")]


async def test_reaching_an_invite_tier_pays_it_once_with_the_invite_note(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(task_config(INVITES), url=db_url)
    r = await bot.join("g1", "bob", inviter="alice")
    assert "任务" not in r.text
    r = await bot.join("g1", "carol", inviter="alice")
    assert r[0].to == "alice" and "任务「邀请达人」达成 2 人，奖励 10 积分" in r.text and "当前积分：50" in r.text
    r = await bot.join("g1", "dave", "erin", inviter="alice")
    assert "任务「邀请达人」达成 3 人，奖励 30 积分" in r.text and "2 人" not in r.text
    assert task_rows(bot) == [("task", 10, "task:alice:inv:2:1"), ("task", 30, "task:alice:inv:3:1")]
    assert bot.balance("alice") == 4 * 20 + 10 + 30


async def test_a_clawback_below_a_tier_paid_in_the_window_reverses_it_and_it_pays_again(make_chat: Any,
                                                                                          db_url: str) -> None:
    bot: ChatBot = make_chat(task_config(INVITES), url=db_url)
    bot.at("2026-11-23 09:00")
    assert "获得" in (await bot.join("g1", "bob", "carol", inviter="alice")).text  # 40 + tier 2 (10)
    bot.at("2026-11-25 09:00")
    r = await bot.leave("g1", "carol")
    assert r[0].to == "alice"
    assert "carol 入群不满 7 天就退群了" in r.text
    assert "任务「邀请达人」2 人档的奖励也一并扣回" in r.text
    assert "共扣回 30 积分，当前积分：20" in r.text
    assert task_rows(bot) == [("task", 10, "task:alice:inv:2:1"), ("task_revoke", -10, "task:alice:inv:2:1:revoke")]
    # reached again: a new generation pays
    bot.at("2026-11-26 09:00")
    r = await bot.join("g2", "dave", inviter="alice")
    assert "任务「邀请达人」达成 2 人，奖励 10 积分" in r.text
    assert task_rows(bot)[-1] == ("task", 10, "task:alice:inv:2:2")
    assert bot.balance("alice") == 40 + 10


async def test_a_tier_paid_before_the_window_stands_when_the_count_drops(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(task_config(INVITES), url=db_url)
    bot.at("2026-11-01 09:00")
    assert "达成 2 人" in (await bot.join("g1", "bob", "carol", inviter="alice")).text
    bot.at("2026-11-07 09:00")
    assert "达成 3 人" in (await bot.join("g1", "dave", inviter="alice")).text
    bot.at("2026-11-07 10:00")
    r = await bot.leave("g1", "bob")  # bob's invite is reversed; 2 remain, tier 3 (paid an hour ago) goes
    assert "3 人档" in r.text and "2 人档" not in r.text
    bot.at("2026-11-10 09:00")
    r = await bot.leave("g1", "dave")  # 1 remains, but tier 2 was paid 9 days ago: it stands
    assert "dave" in r.text and "任务" not in r.text
    assert task_rows(bot) == [("task", 10, "task:alice:inv:2:1"), ("task", 30, "task:alice:inv:3:1"),
                              ("task_revoke", -30, "task:alice:inv:3:1:revoke")]
    # back to 2 invites: tier 2 is still standing, so nothing pays twice
    r = await bot.join("g1", "erin", inviter="alice")
    assert "任务" not in r.text
    assert [k for _, _, k in task_rows(bot)].count("task:alice:inv:2:1") == 1


async def test_revoke_within_zero_days_reverses_tiers_whenever_paid(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(task_config(INVITES, revoke_within_days=0), url=db_url)
    bot.at("2026-01-01 09:00")
    assert "达成 2 人" in (await bot.join("g1", "bob", "carol", inviter="alice")).text
    bot.at("2026-11-23 09:00")
    assert "2 人档" in (await bot.leave("g1", "bob")).text
    assert task_rows(bot)[-1] == ("task_revoke", -10, "task:alice:inv:2:1:revoke")


async def test_checkin_days_tiers_are_paid_with_the_checkin_reply(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(task_config(DAYS), url=db_url)
    await checkin(bot, "alice", "2026-11-01 09:00")
    r = await checkin(bot, "alice", "2026-11-03 09:00")  # a gap: total days still count; one message answers it
    assert r[0].room == "g1" and r[0].mentions == ("alice",)
    assert "任务「签到之星」达成 2 天，奖励 8 积分" in r.text and "当前积分：18" in r.text  # the balance after both
    assert task_rows(bot) == [("task", 8, "task:alice:days:2:1")]
    await checkin(bot, "alice", "2026-11-04 09:00")
    r = await checkin(bot, "alice", "2026-11-05 09:00")
    assert "达成 4 天，奖励 40 积分" in r.text
    await checkin(bot, "alice", "2026-11-06 09:00")
    assert task_rows(bot) == [("task", 8, "task:alice:days:2:1"), ("task", 40, "task:alice:days:4:1")]


async def test_a_streak_tier_pays_once_even_when_the_streak_is_rebuilt(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(task_config(STREAK), url=db_url)
    for day in (1, 2):
        await checkin(bot, "alice", f"2026-11-0{day} 09:00")
    r = await checkin(bot, "alice", "2026-11-03 09:00")
    assert "任务「连签王」达成 3 天，奖励 15 积分" in r.text
    assert (await bot.tick(sh("2026-11-04 12:00"))) == []  # the bot ran on the 4th: the streak breaks
    for day in (5, 6, 7):
        await checkin(bot, "alice", f"2026-11-0{day} 09:00")
    assert task_rows(bot) == [("task", 15, "task:alice:streak:3:1")]


async def test_tasks_command_lists_every_task_with_progress_and_next_tier(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(task_config(INVITES, DAYS, STREAK), url=db_url)
    bot.at("2026-10-31 09:00")
    r = await bot.say("任务", as_="alice")
    assert r[0].mentions == ("alice",)
    text = r.text
    assert "邀请达人：已邀请 0 人，再邀请 2 人得 10 积分" in text
    assert "签到之星：累计签到 0 天，再签到 2 天得 8 积分" in text
    assert "连签王：连续签到 0 天，再连续签到 3 天得 15 积分" in text
    assert "档" not in text
    paid = {1: "任务「签到之星」达成 2 天", 2: "任务「连签王」达成 3 天", 3: "任务「签到之星」达成 4 天"}
    for i in range(4):
        r = await checkin(bot, "alice", sh("2026-11-01 09:00") + timedelta(days=i))
        assert [line.split("，")[0] for line in r.text.splitlines() if "🏆" in line] == (
            [f"🏆 {paid[i]}"] if i in paid else [])
    assert "达成" in (await bot.join("g1", "bob", "carol", "dave", inviter="alice")).text
    assert (await bot.tick(sh("2026-11-05 12:00"))) == []  # the bot ran on the 5th, alice did not check in
    bot.at("2026-11-06 09:00")
    r = await bot.private("任务", as_="alice")
    assert r[0].to == "alice"
    assert "邀请达人：已邀请 3 人，已全部完成 ✅" in r.text
    assert "签到之星：累计签到 4 天，已全部完成 ✅" in r.text
    assert "连签王：连续签到 0 天，已全部完成 ✅" in r.text  # the streak is shown as it stands today


async def test_tasks_command_pays_a_tier_reached_before_the_task_existed(make_chat: Any, db_url: str) -> None:
    first: ChatBot = make_chat(task_config(), url=db_url)
    for day in (1, 2):
        await checkin(first, "alice", f"2026-11-0{day} 09:00")
    later: ChatBot = make_chat(task_config(DAYS), start="2026-11-02 10:00", url=db_url)
    r = await later.say("任务", as_="alice", id="later-1")  # ids of its own: the first bot used m1, m2
    assert "任务「签到之星」达成 2 天，奖励 8 积分已到账" in r.text
    assert "签到之星：累计签到 2 天，再签到 2 天得 40 积分" in r.text
    assert task_rows(later) == [("task", 8, "task:alice:days:2:1")]
    assert "已到账" not in (await later.say("任务", as_="alice", id="later-2")).text


async def test_tasks_command_without_tasks_says_so(chat: ChatBot) -> None:
    r = await chat.say("任务", as_="alice")
    assert "暂时没有任务" in r.text
    assert chat.entries() == []
