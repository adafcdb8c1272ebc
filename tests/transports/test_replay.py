"""The replay contract's down/up pair: while the bot is down nothing fires and no day counts as online."""

from __future__ import annotations

import json
from typing import Any

import run_bot
from bot.clock import ManualClock
from bot.config import parse
from bot.outbox import Budget
from bot.transports.replay import ReplayStats, replay
from tests.factories import config, sh


def msg(i: int, at: str, text: str = "签到", who: str = "wxid_a") -> str:
    return json.dumps({"type": "message", "id": f"m{i}", "at": sh(at).isoformat(), "room": "r1", "room_name": "会员群",
                       "from": who, "name": "Alice", "text": text}, ensure_ascii=False)


def mark(kind: str, at: str) -> str:
    return json.dumps({"type": kind, "at": sh(at).isoformat()})


async def run(url: str, lines: list[str]) -> tuple[list[dict[str, Any]], ReplayStats, Any]:
    settings = parse(config())
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(update={"url": url})})
    rt = run_bot.build(settings, ManualClock(sh("2026-11-23 07:00"), settings.bot.tz))
    out: list[str] = []
    try:
        budget = Budget.from_settings(settings.outbox, settings.bot.tz)
        stats = await replay(rt.app, rt.schedule, lines, out.append, budget=budget)
        problems = rt.ledger.audit()
        checkins = rt.services.checkins.checkins("wxid_a")
    finally:
        rt.ledger.engine.dispose()
    assert problems == []
    return [json.loads(line) for line in out], stats, checkins


async def test_nothing_fires_while_down_and_the_days_do_not_break_a_streak(db_url: str) -> None:
    lines = [msg(1, "2026-11-23 07:30"), msg(2, "2026-11-24 07:30"), mark("down", "2026-11-24 12:00"),
             msg(9, "2026-11-25 09:00"),  # nobody could have seen it: the bot was down
             mark("up", "2026-11-27 07:00"), msg(3, "2026-11-27 07:30")]
    out, stats, checkins = await run(db_url, lines)
    posts = [o["at"] for o in out if o["reply_to"] is None]
    # the 08:00 reminder and 21:00 board run on the days the bot ran, none of the three days it was down
    assert posts == [sh("2026-11-23 08:00").isoformat(), sh("2026-11-23 21:00").isoformat(),
                     sh("2026-11-24 08:00").isoformat()]
    assert [o["reply_to"] for o in out if o["reply_to"]] == ["m1", "m2", "m3"]
    assert stats.jobs == 3 and stats.while_down == 1
    # 25 and 26 November count as offline: the streak goes on to 3 days and pays the 3-day bonus
    assert [(d.isoformat(), streak) for d, streak, _total, _points in checkins] == [
        ("2026-11-23", 1), ("2026-11-24", 2), ("2026-11-27", 3)]
    assert "连续签到 3 天" in out[-1]["text"]


async def test_without_down_a_gap_is_a_quiet_stretch_with_the_bot_running(db_url: str) -> None:
    out, stats, checkins = await run(db_url, [msg(1, "2026-11-23 07:30"), msg(2, "2026-11-24 07:30"),
                                              msg(3, "2026-11-27 07:30")])
    assert stats.jobs == 8  # 08:00 and 21:00 of the 23rd to the 26th, every one
    assert [streak for _d, streak, _t, _p in checkins] == [1, 2, 1]
    assert len([o for o in out if o["reply_to"] is None]) == 8


async def test_a_rooms_event_announces_the_groups_posts_reach(db_url: str) -> None:
    rooms = {"type": "rooms", "at": sh("2026-11-23 07:10").isoformat(),
             "rooms": [{"id": "r1", "name": "会员群"}, {"id": "r2", "name": "安静的群"}]}
    bad = {"type": "rooms", "at": sh("2026-11-23 07:20").isoformat(), "rooms": [{"name": "没有 id"}]}
    out, stats, _checkins = await run(db_url, [json.dumps(rooms, ensure_ascii=False), json.dumps(bad, ensure_ascii=False),
                                               msg(1, "2026-11-23 07:30"), mark("tick", "2026-11-23 08:30")])
    assert stats.bad_lines == 1
    # nobody ever spoke in r2: the 08:00 reminder reaches it all the same
    assert sorted(o["room"] for o in out if o["reply_to"] is None) == ["r1", "r2"]
