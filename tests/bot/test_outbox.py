"""The outbox on event time: the send budget holds, bursts coalesce, replies go first, nothing vanishes silently."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loguru import logger

import run_bot
from bot.clock import ManualClock
from bot.config import parse
from bot.events import Outgoing
from bot.outbox import Budget, Failure, Outbox
from bot.transports.replay import replay
from tests.factories import SH, config, sh


class Recorder:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.sent: list[Outgoing] = []
        self.refuse = refuse or set()

    async def send(self, out: Outgoing) -> None:
        if out.to in self.refuse:
            raise RuntimeError(f"{out.to} is not the bot's friend")
        self.sent.append(out)


def checkin_reply(i: int, at: datetime, room: str = "g1") -> Outgoing:
    return Outgoing(at=at, text=f"签到成功！获得 5 积分\n当前积分：{5 + i % 3}", room=room, mentions=(f"wxid_{i}",),
                    reply_to=f"m{i}", names={f"wxid_{i}": f"成员{i}"})


def assert_within_budget(times: list[datetime], b: Budget) -> None:
    """In any stretch of time, at most burst + length/interval messages left."""
    for i in range(len(times)):
        for j in range(i, len(times)):
            span = (times[j] - times[i]).total_seconds()
            assert j - i + 1 <= b.burst + span / b.interval + 1e-6, (i, j, span)


async def feed(box: Outbox, outs: list[Outgoing]) -> None:
    """As replay does it: what the budget let out before each reply existed goes first."""
    for out in outs:
        await box.pump(out.at)
        box.put([out])
    await box.flush()


async def test_200_checkins_in_two_seconds_go_out_as_a_handful_mentioning_everyone() -> None:
    t0 = sh("2026-11-23 08:00")
    outs = [checkin_reply(i, t0 + timedelta(milliseconds=10 * i)) for i in range(200)]
    rec = Recorder()
    b = Budget(tz=SH)
    await feed(Outbox(rec, b), outs)
    assert 1 < len(rec.sent) <= 8
    mentioned = [m for o in rec.sent for m in o.mentions]
    assert sorted(mentioned) == sorted(f"wxid_{i}" for i in range(200))  # each one exactly once
    answered = [str(r) for o in rec.sent for r in (o.reply_to if isinstance(o.reply_to, tuple) else (o.reply_to,))]
    assert sorted(answered) == sorted(f"m{i}" for i in range(200))
    assert all(len(o.mentions) <= b.max_mentions for o in rec.sent)
    assert_within_budget([o.at for o in rec.sent], b)
    merged = [o for o in rec.sent if isinstance(o.reply_to, tuple)]
    # one line per distinct answer, after the names it answers
    assert merged[0].text.startswith("成员3、成员6、成员9")
    assert "：签到成功！获得 5 积分 · 当前积分：5\n" in merged[0].text


async def test_the_rate_holds_across_groups_and_a_lone_reply_is_not_delayed() -> None:
    t0 = sh("2026-11-23 08:00")
    rec = Recorder()
    b = Budget(interval=1.5, burst=3, tz=SH)
    box = Outbox(rec, b)
    # 60 groups each get one reply in the same second: nothing to merge, the budget spreads them
    await feed(box, [checkin_reply(i, t0, room=f"g{i}") for i in range(60)])
    assert len(rec.sent) == 60
    assert_within_budget([o.at for o in rec.sent], b)
    assert rec.sent[-1].at == t0 + timedelta(seconds=1.5 * 57)
    # much later, a single reply goes at its own time
    later = t0 + timedelta(minutes=10)
    await feed(box, [checkin_reply(999, later)])
    assert rec.sent[-1].at == later and rec.sent[-1].reply_to == "m999"


async def test_replies_go_before_posts() -> None:
    t0 = sh("2026-11-23 08:00")
    rec = Recorder()
    box = Outbox(rec, Budget(interval=2, burst=1, tz=SH))
    posts = [Outgoing(at=t0, text=f"早上好 {r}", room=r) for r in ("g1", "g2", "g3")]
    await feed(box, [*posts, checkin_reply(1, t0 + timedelta(seconds=1), room="g9")])
    assert [(o.room, o.reply_to, (o.at - t0).total_seconds()) for o in rec.sent] == [
        ("g1", None, 0), ("g9", "m1", 2), ("g2", None, 4), ("g3", None, 6)]


async def test_quiet_hours_hold_scheduled_posts_but_not_replies() -> None:
    rec = Recorder()
    box = Outbox(rec, Budget(quiet=(sh("2026-11-23 22:30").time(), sh("2026-11-23 07:30").time()), tz=SH))
    await feed(box, [Outgoing(at=sh("2026-11-23 23:00"), text="排行榜", room="g1", scheduled=True),
                     checkin_reply(1, sh("2026-11-23 23:05"))])
    assert [(o.reply_to, o.at) for o in rec.sent] == [("m1", sh("2026-11-23 23:05")),
                                                       (None, sh("2026-11-24 07:30"))]


async def test_what_cannot_go_in_time_is_logged_not_dropped_silently() -> None:
    lines = io.StringIO()
    sink = logger.add(lines, level="ERROR", format="{message}")
    try:
        rec = Recorder()
        box = Outbox(rec, Budget(interval=10, burst=1, give_up=15, tz=SH))
        t0 = sh("2026-11-23 08:00")
        await feed(box, [checkin_reply(i, t0, room=f"g{i}") for i in range(3)])
    finally:
        logger.remove(sink)
    assert [o.reply_to for o in rec.sent] == ["m0", "m1"]
    assert box.given_up == 1
    assert "not sent: waited 20s for the send budget" in lines.getvalue() and "签到成功" in lines.getvalue()


async def test_a_refused_send_is_reported_to_the_caller_and_the_rest_still_go() -> None:
    failures: list[Failure] = []
    rec = Recorder(refuse={"wxid_stranger"})
    box = Outbox(rec, Budget(tz=SH), on_failure=failures.append)
    t0 = sh("2026-11-23 08:00")
    await feed(box, [Outgoing(at=t0, text="卡密：1234", to="wxid_stranger", reply_to="m1"),
                     Outgoing(at=t0, text="卡密：5678", to="wxid_friend", reply_to="m2")])
    assert [f.out.to for f in failures] == ["wxid_stranger"] and "not the bot's friend" in failures[0].reason
    assert [o.to for o in rec.sent] == ["wxid_friend"]
    assert box.failed == 1 and box.sent == 1


async def test_replay_runs_the_outbox_on_event_time(tmp_path: Path) -> None:
    """200 members check in within 2 s through the real pipeline: every one is answered once, in a handful; the
    pool too big for one @-list goes as the check-in digest, what follows it as an @-list."""
    settings = parse(config(schedule=[]))
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(
        update={"url": f"sqlite:///{tmp_path / 'o.db'}"})})
    t0 = sh("2026-11-23 09:00")
    rt = run_bot.build(settings, ManualClock(t0, SH))
    events = [json.dumps({"type": "message", "id": f"m{i}", "at": (t0 + timedelta(milliseconds=10 * i)).isoformat(),
                          "room": "r1", "from": f"wxid_{i}", "name": f"成员{i}", "text": "签到"}, ensure_ascii=False)
              for i in range(200)]
    out: list[str] = []
    stats = await replay(rt.app, rt.schedule, events, out.append, batch_size=16, budget=Budget(tz=SH))
    lines = [json.loads(line) for line in out]
    assert stats.sent == len(lines) <= 8
    ids = [r for d in lines for r in (d["reply_to"] if isinstance(d["reply_to"], list) else [d["reply_to"]])]
    assert sorted(ids) == sorted(f"m{i}" for i in range(200))  # each answered, and once
    [digest] = [d for d in lines if d["text"].startswith("本轮")]
    assert digest["text"] == f"本轮 {len(digest['reply_to'])} 人签到成功 🎉 发「积分」查看自己的积分"
    assert digest["mentions"] == [] and len(digest["reply_to"]) > 50  # more than one @-list could carry
    # everyone else was @-mentioned with their own answer
    rest = [d for d in lines if d is not digest]
    assert sorted(m for d in rest for m in d["mentions"]) == sorted(
        f"wxid_{r[1:]}" for d in rest for r in (d["reply_to"] if isinstance(d["reply_to"], list) else [d["reply_to"]]))
    assert all("签到成功！获得 5 积分" in d["text"] for d in rest)
    assert isinstance(lines[-1]["reply_to"], list) and len(lines[-1]["reply_to"]) > 1
    b = Budget(tz=SH)
    assert_within_budget([datetime.fromisoformat(d["at"]) for d in lines], b)
    assert all(rt.ledger.member(f"wxid_{i}").points == 5 for i in range(200))
    assert rt.ledger.audit() == []
    rt.ledger.engine.dispose()


async def test_an_undeliverable_private_message_is_replaced_by_its_fallback() -> None:
    t0 = sh("2026-11-23 09:00")
    note = Outgoing(at=t0, text="私信发送失败：请先加我为好友，再私聊发送「我的订单」", room="g1", mentions=("alice",),
                    reply_to="m1", names={"alice": "Alice"})
    secret = Outgoing(at=t0, text="卡密：ABCD-1234", to="alice", reply_to="m1", fallback=note)
    rec = Recorder(refuse={"alice"})
    failures: list[Failure] = []
    box = Outbox(rec, Budget(tz=SH), on_failure=failures.append)
    await feed(box, [secret])
    assert [(o.room, o.to, o.text) for o in rec.sent] == [("g1", None, note.text)]
    assert "ABCD" not in rec.sent[0].text
    assert [f.out.to for f in failures] == ["alice"] and box.failed == 1


async def test_quiet_hours_hold_scheduled_posts_but_not_a_welcome() -> None:
    night = sh("2026-11-23 23:30")
    post = Outgoing(at=night, text="🏆 今日积分排行榜", room="g1", scheduled=True)
    welcome = Outgoing(at=night, text="欢迎新朋友", room="g1", mentions=("bob",))
    rec = Recorder()
    box = Outbox(rec, Budget(tz=SH, quiet=(datetime.strptime("23:00", "%H:%M").time(),
                                           datetime.strptime("08:00", "%H:%M").time())))
    await feed(box, [post, welcome])
    assert [(o.text, o.at.astimezone(SH).strftime("%d %H:%M")) for o in rec.sent] == [
        ("欢迎新朋友", "23 23:30"), ("🏆 今日积分排行榜", "24 08:00")]


# -- a burst bigger than the budget ------------------------------------------------------------------


def ids_of(d: dict[str, Any]) -> list[str]:
    rt = d["reply_to"]
    return list(rt) if isinstance(rt, list) else [] if rt is None else [rt]


def assert_no_minute_over_budget(times: list[datetime], b: Budget) -> None:
    """No 60-s window holds more messages than the bucket allows in one: its burst plus a minute's refill."""
    times = sorted(times)
    allowed = b.burst + 60 / b.interval
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - timedelta(seconds=60):
            j += 1
        assert i - j + 1 <= allowed + 1e-9, (t, i - j + 1, allowed)


async def test_a_burst_over_the_budget_is_answered_in_full_by_digests_within_a_round_of_the_groups(tmp_path: Path) -> None:
    """2,000 members check in within one minute over 20 groups on a budget of 10 messages a minute; 100 of them
    also ask 积分 and 100 say 签到 again. Every message is answered once, none is given up, the minute's budget
    holds, and each is answered within one round of the groups (20 x 6 s, + 10 %)."""
    groups, members, interval = 20, 2000, 6.0
    data = config(schedule=[], rate_limit=0)
    data["outbox"] = {"interval_seconds": interval, "burst": 2}
    settings = parse(data)
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(
        update={"url": f"sqlite:///{tmp_path / 'burst.db'}"})})
    t0 = sh("2026-11-23 09:00")
    said: list[tuple[datetime, dict[str, Any]]] = []
    for i in range(members):
        room, who = f"r{i % groups}", {"from": f"wxid_{i}", "name": f"成员{i}"}
        at = t0 + timedelta(seconds=60 * i / members)
        said.append((at, {"id": f"c{i}", "room": room, "text": "签到", **who}))
        if (i // groups) % 20 == 7:  # asks for their points a little later (5 in each group)
            said.append((at + timedelta(seconds=1), {"id": f"p{i}", "room": room, "text": "积分", **who}))
        if (i // groups) % 20 == 13:  # says 签到 again (5 in each group)
            said.append((at + timedelta(seconds=2), {"id": f"a{i}", "room": room, "text": "签到", **who}))
    said.sort(key=lambda x: x[0])
    events = [json.dumps({"type": "message", "at": at.isoformat(), **ev}, ensure_ascii=False) for at, ev in said]
    asked = {ev["id"]: (at, ev) for at, ev in said}
    rt = run_bot.build(settings, ManualClock(t0, SH))
    budget = Budget.from_settings(settings.outbox, settings.bot.tz)
    errors = io.StringIO()
    sink = logger.add(errors, level="ERROR", format="{message}")
    out: list[str] = []
    try:
        await replay(rt.app, rt.schedule, events, out.append, batch_size=256, budget=budget)
    finally:
        logger.remove(sink)
    lines = [json.loads(line) for line in out]

    answered = [r for d in lines for r in ids_of(d)]
    assert sorted(answered) == sorted(asked)  # every message in exactly one reply_to
    assert "not sent" not in errors.getvalue() and not any("抱歉" in d["text"] for d in lines)
    digests = [d for d in lines if d["text"].startswith("本轮")]
    assert digests, "the budget cannot carry 2,000 @-mentions: digests were expected"
    for d in digests:
        # the digest's line counts the check-ins it answers (every c-message is a member's first 签到 of the day,
        # a success); the group's other answers ride along below it as an @-list
        counted = [r for r in d["reply_to"] if r.startswith("c")]
        assert d["text"].split("\n")[0] == f"本轮 {len(counted)} 人签到成功 🎉 发「积分」查看自己的积分"
        assert len(counted) > 1
    for d in lines:
        # whoever a message answers by name is @-mentioned, with their own answer
        named = [r for r in ids_of(d) if d not in digests or not r.startswith("c")]
        assert sorted(d["mentions"]) == sorted({asked[r][1]["from"] for r in named})
        if d in digests:  # below the digest's line, each answer after its names
            assert all(asked[r][1]["name"] in d["text"] for r in named)
        assert {asked[r][1]["room"] for r in ids_of(d)} == {d["room"]}  # a group hears only its own answers
    again = [r for d in lines if "今天已经签到过啦" in d["text"] for r in ids_of(d) if r.startswith("a")]
    assert sorted(again) == sorted(i for i in asked if i.startswith("a"))
    mine = [r for d in lines if "当前积分" in d["text"] for r in ids_of(d) if r.startswith("p")]
    assert sorted(mine) == sorted(i for i in asked if i.startswith("p"))

    assert_no_minute_over_budget([datetime.fromisoformat(d["at"]) for d in lines], budget)
    assert len(lines) < members / 20  # digests, not thousands of messages
    bound = groups * interval * 1.1
    worst = max((datetime.fromisoformat(d["at"]) - asked[r][0]).total_seconds() for d in lines for r in ids_of(d))
    assert worst <= bound, (worst, bound)
    assert all(rt.ledger.member(f"wxid_{i}").points == 5 for i in range(members))
    assert rt.ledger.audit() == []
    rt.ledger.engine.dispose()


def reply(i: int, at: datetime, room: str = "g1", text: str = "签到成功！获得 5 积分", digest: str | None = None,
          who: str | None = None) -> Outgoing:
    m = who or f"wxid_{i}"
    return Outgoing(at=at, text=text, room=room, mentions=(m,), reply_to=f"m{i}", names={m: f"成员{i}"}, digest=digest)


def answered(sent: list[Outgoing]) -> list[str]:
    return [r for o in sent for r in (o.reply_to if isinstance(o.reply_to, tuple) else (o.reply_to,)) if r]


def digest_line(template: str, count: int) -> str:
    return {"checkin/digest": f"本轮 {count} 人签到成功", "quiz/digest": f"本轮 {count} 人答对"}[template]


async def test_a_waiting_reply_absorbs_its_groups_later_ones_until_it_leaves() -> None:
    """Not only those within coalesce_seconds: everything that came while it waited for the budget."""
    t0 = sh("2026-11-23 08:00")
    rec = Recorder()
    box = Outbox(rec, Budget(interval=20, burst=1, coalesce=3, tz=SH))
    await feed(box, [reply(0, t0), reply(1, t0 + timedelta(seconds=1)), reply(2, t0 + timedelta(seconds=9)),
                     reply(3, t0 + timedelta(seconds=19))])
    assert [(o.mentions, o.reply_to, o.at) for o in rec.sent] == [
        (("wxid_0",), "m0", t0), (("wxid_1", "wxid_2", "wxid_3"), ("m1", "m2", "m3"), t0 + timedelta(seconds=20))]
    # a lone reply is still not held for company when the budget has room
    later = t0 + timedelta(minutes=5)
    await feed(box, [reply(4, later)])
    assert (rec.sent[-1].reply_to, rec.sent[-1].at) == ("m4", later)


async def test_a_pool_over_the_caps_leaves_as_several_at_lists_in_arrival_order_when_nothing_is_digestible() -> None:
    t0 = sh("2026-11-23 08:00")
    rec = Recorder()
    b = Budget(interval=10, burst=1, max_mentions=3, tz=SH)
    box = Outbox(rec, b, digest=digest_line)
    await feed(box, [reply(i, t0 + timedelta(seconds=i / 10), text=f"当前积分：{i}") for i in range(8)])
    assert [o.reply_to for o in rec.sent] == ["m0", ("m1", "m2", "m3"), ("m4", "m5", "m6"), "m7"]
    assert not any(o.text.startswith("本轮") for o in rec.sent) and box.digests == 0
    # the length cap: every message, @names included, stays within max_chars
    rec2 = Recorder()
    b2 = Budget(interval=10, burst=1, max_chars=120, tz=SH)
    box2 = Outbox(rec2, b2, digest=digest_line)
    await feed(box2, [reply(i, t0 + timedelta(seconds=i / 10), text=f"当前积分：{i} · 连续签到 {i} 天 · 累计签到 {i} 天")
                      for i in range(12)])
    assert sorted(answered(rec2.sent)) == sorted(f"m{i}" for i in range(12))
    assert len(rec2.sent) > 3
    for o in rec2.sent:
        assert len(o.text) + sum(len(o.names.get(m, m)) + 2 for m in o.mentions) <= b2.max_chars, o.text


async def test_a_digest_answers_only_digestible_replies_and_only_when_one_message_cannot_carry_the_pool() -> None:
    t0 = sh("2026-11-23 08:00")
    b = Budget(interval=10, burst=1, max_mentions=5, tz=SH)
    # five waiting replies fit one @-list: no digest, even though all are digestible
    rec = Recorder()
    await feed(Outbox(rec, b, digest=digest_line), [reply(i, t0 + timedelta(seconds=i), digest="checkin/digest")
                                                    for i in range(6)])
    assert [o.reply_to for o in rec.sent] == ["m0", ("m1", "m2", "m3", "m4", "m5")]
    assert rec.sent[1].mentions == ("wxid_1", "wxid_2", "wxid_3", "wxid_4", "wxid_5")
    # nine check-ins, two quiz answers and three 积分 waiting: the digest counts each kind, the 积分 go by name
    rec = Recorder()
    box = Outbox(rec, b, digest=digest_line)
    outs = [reply(0, t0, digest="checkin/digest")]
    outs += [reply(i, t0 + timedelta(seconds=i / 10), digest="checkin/digest") for i in range(1, 10)]
    outs += [reply(i, t0 + timedelta(seconds=1 + i / 10), digest="quiz/digest") for i in range(10, 12)]
    outs += [reply(i, t0 + timedelta(seconds=2 + i / 10), text=f"当前积分：{i}") for i in range(12, 15)]
    await feed(box, outs)
    assert rec.sent[0].reply_to == "m0"
    [dig] = rec.sent[1:]
    assert dig.text.splitlines()[:2] == ["本轮 9 人签到成功", "本轮 2 人答对"]
    assert dig.text.splitlines()[2:] == [f"成员{i}：当前积分：{i}" for i in range(12, 15)]
    assert dig.mentions == ("wxid_12", "wxid_13", "wxid_14")  # only those answered by name are @-mentioned
    assert sorted(answered(rec.sent)) == sorted(f"m{i}" for i in range(15))
    assert (box.digests, box.digested) == (1, 11)
    # without a digest writer (or when it fails) the same pool leaves as @-lists, nothing lost
    for writer in (None, lambda template, count: 1 / 0):
        rec = Recorder()
        box = Outbox(rec, b, digest=writer)  # type: ignore[arg-type]
        await feed(box, outs)
        assert sorted(answered(rec.sent)) == sorted(f"m{i}" for i in range(15)) and box.digests == 0
        assert all(o.mentions and len(o.mentions) <= 5 for o in rec.sent)


async def test_groups_take_turns_so_a_busy_groups_backlog_does_not_hold_another_group() -> None:
    t0 = sh("2026-11-23 08:00")
    rec = Recorder()
    box = Outbox(rec, Budget(interval=10, burst=1, max_mentions=50, tz=SH), digest=digest_line)
    busy = [reply(i, t0 + timedelta(seconds=i / 100), text=f"当前积分：{i}") for i in range(120)]  # nothing digestible
    await feed(box, [*busy, reply(999, t0 + timedelta(seconds=2), room="g2")])
    assert [(o.room, len(o.mentions), (o.at - t0).total_seconds()) for o in rec.sent] == [
        ("g1", 1, 0), ("g1", 50, 10), ("g2", 1, 20), ("g1", 50, 30), ("g1", 19, 40)]


async def test_inside_a_pool_only_the_replies_that_waited_too_long_are_given_up() -> None:
    lines = io.StringIO()
    sink = logger.add(lines, level="ERROR", format="{message}")
    try:
        t0 = sh("2026-11-23 08:00")
        rec = Recorder()
        box = Outbox(rec, Budget(interval=100, burst=1, give_up=150, tz=SH), digest=digest_line)
        await feed(box, [reply(0, t0), reply(1, t0 + timedelta(seconds=1), room="g2"),
                         reply(2, t0 + timedelta(seconds=2), room="g3"), reply(3, t0 + timedelta(seconds=3)),
                         reply(4, t0 + timedelta(seconds=190))])
    finally:
        logger.remove(sink)
    # g2 at +100; at +200 g3's reply and m3 in g1's pool have waited over 150 s, m4 only 10 s: it goes alone
    assert [(o.room, o.reply_to, (o.at - t0).total_seconds()) for o in rec.sent] == [
        ("g1", "m0", 0), ("g2", "m1", 100), ("g1", "m4", 200)]
    assert box.given_up == 2 and box.pending() == 0
    assert lines.getvalue().count("not sent: waited") == 2 and "waited 197s" in lines.getvalue()


async def test_quiet_hours_still_hold_only_posts_and_a_burst_at_night_is_answered_at_once() -> None:
    rec = Recorder()
    box = Outbox(rec, Budget(interval=10, burst=1, max_mentions=3, tz=SH,
                             quiet=(sh("2026-11-23 22:30").time(), sh("2026-11-23 07:30").time())), digest=digest_line)
    night = sh("2026-11-23 23:00")
    posts = [Outgoing(at=night + timedelta(minutes=i), text=f"排行榜 {r}", room=r, scheduled=True)
             for i, r in enumerate(("g1", "g2"))]
    welcome = Outgoing(at=night + timedelta(minutes=5), text="欢迎新朋友", room="g1", mentions=("bob",))
    burst = [reply(i, night + timedelta(minutes=6, seconds=i / 10), digest="checkin/digest") for i in range(10)]
    await feed(box, [*posts, welcome, *burst])
    assert [(o.text.split("\n")[0], o.at.astimezone(SH).strftime("%d %H:%M:%S")) for o in rec.sent] == [
        ("欢迎新朋友", "23 23:05:00"), ("签到成功！获得 5 积分", "23 23:06:00"), ("本轮 9 人签到成功", "23 23:06:10"),
        ("排行榜 g1", "24 07:30:00"), ("排行榜 g2", "24 07:30:10")]
    assert box.pending() == 0


async def test_pending_counts_exactly_what_is_queued() -> None:
    t0 = sh("2026-11-23 08:00")
    rec = Recorder()
    box = Outbox(rec, Budget(interval=10, burst=1, max_mentions=2, tz=SH), digest=digest_line)
    outs = [reply(i, t0, room=f"g{i % 2}", digest="checkin/digest" if i % 3 else None) for i in range(9)]
    outs.append(Outgoing(at=t0, text="卡密：1234", to="wxid_0", reply_to="m99"))
    outs.append(Outgoing(at=t0, text="早上好", room="g1"))
    box.put(outs)
    assert box.pending() == 11
    await box.pump(t0 + timedelta(seconds=15))
    assert len(rec.sent) == 2 and box.pending() == 11 - sum(len(answered([o])) or 1 for o in rec.sent)
    await box.flush()
    assert box.pending() == 0 and sorted(answered(rec.sent)) == sorted([*(f"m{i}" for i in range(9)), "m99"])
    assert [o.text for o in rec.sent][-1] == "早上好"  # replies before posts


async def test_a_reply_dated_a_little_ahead_does_not_hold_another_groups_reply() -> None:
    """A source clock a few seconds fast (events.as_received believes up to 5 s): its group waits for that time,
    the others do not wait for it."""
    t0 = sh("2026-11-23 08:00")
    rec = Recorder()
    box = Outbox(rec, Budget(tz=SH), digest=digest_line)
    box.put([reply(1, t0 + timedelta(seconds=3), room="ahead"), reply(2, t0, room="g2")])
    assert await box.pump(t0, live=True) == 1 and [o.reply_to for o in rec.sent] == ["m2"]
    assert box.next_time(t0) == t0 + timedelta(seconds=3)
    assert await box.pump(t0 + timedelta(seconds=3), live=True) == 1
    assert [(o.reply_to, o.at) for o in rec.sent][1] == ("m1", t0 + timedelta(seconds=3)) and box.pending() == 0
