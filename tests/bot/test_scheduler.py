"""Scheduled posts: due times from cron in the configured zone, fired from event time, once per slot."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from loguru import logger

from bot.clock import ManualClock
from bot.config import parse
from bot.events import JobDue
from bot.scheduler import Schedule
from tests.conftest import ChatBot
from tests.factories import SH, config, sh


def schedule() -> Schedule:
    s = parse(config())
    return Schedule(s.schedule, s.bot.tz)


def test_due_between_lists_runs_in_time_order_in_local_time() -> None:
    runs = schedule().due_between(sh("2026-11-23 07:00"), sh("2026-11-25 09:00"))
    assert [(r.job_id, r.due) for r in runs] == [
        ("morning-reminder", sh("2026-11-23 08:00")),
        ("evening-leaderboard", sh("2026-11-23 21:00")),
        ("morning-reminder", sh("2026-11-24 08:00")),
        ("evening-leaderboard", sh("2026-11-24 21:00")),
        ("morning-reminder", sh("2026-11-25 08:00")),
    ]


def test_due_between_excludes_the_start_unless_asked() -> None:
    s = schedule()
    assert s.due_between(sh("2026-11-23 08:00"), sh("2026-11-23 09:00")) == []
    assert [r.due for r in s.due_between(sh("2026-11-23 08:00"), sh("2026-11-23 08:00"), include_start=True)] == [
        sh("2026-11-23 08:00")
    ]
    assert s.due_between(sh("2026-11-23 09:00"), sh("2026-11-23 08:00")) == []


async def test_reminder_goes_to_every_group_the_bot_serves(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(start="2026-11-23 07:00")
    assert (await bot.say("hello", as_="alice", room="g1")) == []
    assert (await bot.say("早", as_="bob", room="g2")) == []
    r = await bot.tick("2026-11-23 08:30")
    assert [(o.room, o.at, o.reply_to) for o in r] == [("g1", sh("2026-11-23 08:00"), None),
                                                       ("g2", sh("2026-11-23 08:00"), None)]
    assert all("发送「签到」即可领取 5 积分" in o.text for o in r)


async def test_jobs_fire_before_the_event_that_passes_their_due_time(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(start="2026-11-23 07:00")
    assert "获得" in (await bot.say("签到", as_="alice")).text
    bot.at("2026-11-23 21:00:05")
    r = await bot.say("积分", as_="alice")
    assert [o.reply_to for o in r] == [None, None, r[2].reply_to]
    assert "早上好" in r[0].text and "积分排行榜" in r[1].text and "1. alice  5 分" in r[1].text
    assert "当前积分：5" in r[2].text


async def test_a_slot_posts_once_even_when_time_is_replayed(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first: ChatBot = make_chat(start="2026-11-23 07:00", url=url)
    assert (await first.say("hi", as_="alice")) == []
    assert "早上好" in (await first.tick("2026-11-23 08:01")).text
    # a second process on the same database (or a restart) going over the same time posts nothing
    second: ChatBot = make_chat(start="2026-11-23 07:00", url=url)
    assert (await second.tick("2026-11-23 07:59")) == []
    assert (await second.tick("2026-11-23 08:01")) == []
    r = await second.tick("2026-11-24 08:01")  # the evening board and the next morning
    assert "积分排行榜" in r[0].text and "早上好" in r[1].text and len(r) == 2


async def test_schedule_rooms_limit_where_a_job_posts(make_chat) -> None:  # type: ignore[no-untyped-def]
    data = config()
    data["schedule"] = [{"id": "vip-board", "job": "leaderboard", "cron": "0 21 * * *", "rooms": ["vip"]}]
    bot: ChatBot = make_chat(data, start="2026-11-23 07:00")
    for room in ("g1", "vip"):
        assert (await bot.say("hi", as_="alice", room=room)) == []
    r = await bot.tick("2026-11-23 21:00")
    assert [o.room for o in r] == ["vip"]
    assert "还没有人上榜" in r.text


async def test_live_loop_enqueues_due_runs_and_skips_stale_ones() -> None:
    clock = ManualClock(sh("2026-11-23 07:59:59"), SH)
    got: list[JobDue] = []
    enqueued, skipped = asyncio.Event(), asyncio.Event()

    def enqueue(run: JobDue) -> None:
        got.append(run)
        enqueued.set()

    sink = logger.add(lambda m: skipped.set(), level="WARNING", filter=lambda r: "skipped" in r["message"])
    stop = asyncio.Event()
    wake = asyncio.Event()
    task = asyncio.create_task(schedule().run_live(clock, enqueue, grace=timedelta(minutes=10), poll=0.01,
                                                   stop=stop, wake=wake))
    try:
        clock.set(sh("2026-11-23 08:00:01"))
        wake.set()
        await asyncio.wait_for(enqueued.wait(), timeout=10)
        clock.set(sh("2026-11-24 07:00"))  # a long stall: the 21:00 run is hours late and is skipped
        wake.set()
        await asyncio.wait_for(skipped.wait(), timeout=10)
    finally:
        stop.set()
        await task
        logger.remove(sink)
    assert [(r.job_id, r.due) for r in got] == [("morning-reminder", sh("2026-11-23 08:00"))]


def held_schedule(cron: str, quiet: str = "22:30-07:30", job: str = "leaderboard") -> Schedule:
    from bot.clock import quiet_window

    s = parse(config(schedule=[{"id": "e", "job": job, "cron": cron}]))
    return Schedule(s.schedule, s.bot.tz, quiet=quiet_window(quiet), deferred={"leaderboard"})


def test_a_posting_job_due_in_quiet_hours_runs_when_they_end_keeping_its_slot() -> None:
    s = held_schedule("0 23 * * *")
    assert s.due_between(sh("2026-11-23 22:00"), sh("2026-11-24 07:29")) == []
    [run] = s.due_between(sh("2026-11-24 07:29"), sh("2026-11-24 07:30"))
    assert (run.due, run.run_at, run.at) == (sh("2026-11-23 23:00"), sh("2026-11-24 07:30"), sh("2026-11-24 07:30"))
    assert s.due_between(sh("2026-11-24 07:30"), sh("2026-11-24 22:59")) == []  # once per slot
    assert s.next_due(sh("2026-11-23 22:00")) == sh("2026-11-24 07:30")
    # asked event by event (replay), the memo gives the same runs as one wide question
    times = [sh("2026-11-23 20:00") + timedelta(minutes=17 * i) for i in range(300)]
    stepped = [r for a, b in itertools.pairwise(times) for r in s.due_between(a, b)]
    assert stepped == s.due_between(times[0], times[-1]) and len(stepped) == 4


def test_runs_outside_quiet_hours_and_jobs_that_do_not_post_keep_their_time() -> None:
    s = held_schedule("0 21 * * *")
    [run] = s.due_between(sh("2026-11-23 20:00"), sh("2026-11-23 21:00"))
    assert (run.due, run.run_at) == (sh("2026-11-23 21:00"), None)
    s = held_schedule("0 23 * * *", job="checkin_reminder")  # not in `deferred` here
    [run] = s.due_between(sh("2026-11-23 22:00"), sh("2026-11-23 23:00"))
    assert (run.due, run.run_at) == (sh("2026-11-23 23:00"), None)
    # a window that does not wrap midnight holds only inside it; its end is outside
    s = held_schedule("*/30 * * * *", quiet="12:00-13:00")
    runs = s.due_between(sh("2026-11-23 11:45"), sh("2026-11-23 13:30"))
    assert [(r.due, r.at) for r in runs] == [(sh("2026-11-23 12:00"), sh("2026-11-23 13:00")),
                                             (sh("2026-11-23 12:30"), sh("2026-11-23 13:00")),
                                             (sh("2026-11-23 13:00"), sh("2026-11-23 13:00")),
                                             (sh("2026-11-23 13:30"), sh("2026-11-23 13:30"))]


def test_a_quiz_inside_quiet_hours_is_warned_about_at_start() -> None:
    from run_bot import check_jobs

    data = config(schedule=[{"id": "night-quiz", "job": "quiz", "cron": "0 23 * * *"}])
    data["quiz"] = {"questions": [{"question": "1+1=?", "answers": ["2"]}]}
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(str(m)), level="WARNING")
    try:
        check_jobs(parse(data))
    finally:
        logger.remove(sink)
    assert any("schedule[0]（quiz）在 23:00 运行，处于免打扰时段 22:30-07:30" in m and "07:30" in m for m in seen), seen
