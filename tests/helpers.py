"""Steps many chat tests share (check in, award points), and a replay of what a chat test fed the bot."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import run_bot
from bot.clock import ManualClock
from bot.events import Event, MemberJoined, MemberLeft, Message, Tick
from bot.outbox import Budget
from bot.transports.jsonl import format_out
from bot.transports.replay import replay
from tests.conftest import ChatBot, Replies
from tests.factories import OWNER, sh


def _when(bot: ChatBot, when: str | datetime | None) -> None:
    if when is not None:
        bot.at(when)


async def checkin(bot: ChatBot, who: str, when: str | datetime | None = None, *, room: str | None = "g1",
                  name: str | None = None, extra: int | None = 0) -> Replies:
    """`who` (named `name`, else who.title()) says 签到 in `room` (at `when`, Shanghai time): asserts the first
    reply is the check-in's success and that `extra` more replies came (None: any number). Returns them all;
    the extra ones (a level-up, a task) are left for the test to check."""
    _when(bot, when)
    r = await bot.say("签到", as_=who, room=room, name=name or who.title())
    assert r and "签到成功" in r[0].text, r.texts
    assert extra is None or len(r) == 1 + extra, f"expected {extra} more replies: {r.texts}"
    return r


async def checkin_days(bot: ChatBot, days: dict[str, int], start: str = "2026-11-01", *, at: str = "09:00") -> None:
    """Each member checks in on their number of `days` in a row from `start`, in time order (day by day, in
    the dict's order within a day), each answered with the success alone (a streak bonus is part of it)."""
    for i in range(max(days.values(), default=0)):
        bot.at(sh(f"{start} {at}") + timedelta(days=i))  # the day's first; the rest follow as answers allow
        for who, n in days.items():
            if i < n:
                await checkin(bot, who)


async def award(bot: ChatBot, who: str, points: int, when: str | datetime | None = None, *,
                reason: str = "活动优秀", room: str = "g1", extra: int | None = 0) -> Replies:
    """The admin says 加分 @who in `room` (at `when`): asserts the award was announced there, first, and that
    `extra` more replies came (None: any number; a level-up is one). Returns them all."""
    _when(bot, when)
    r = await bot.say(f"加分 @{who.title()} {points} {reason}", as_=OWNER, room=room, mentions=(who,))
    assert r and f"奖励 {points} 积分" in r[0].text and r[0].room == room, r.texts
    assert extra is None or len(r) == 1 + extra, f"expected {extra} more replies: {r.texts}"
    return r


def assert_redeemed(r: Replies, who: str, room: str = "g1") -> Replies:
    """The answer to a redemption made in `room`: the group is told it succeeded, and something (the details,
    or the first delivery question) goes to `who` privately."""
    assert [(o.room, o.to) for o in r] == [(room, None), (None, who)] and "兑换成功" in r[0].text, r.texts
    return r


async def redeem(bot: ChatBot, who: str, item: str, when: str | datetime | None = None, *, room: str = "g1",
                 name: str | None = None, **kw: Any) -> Replies:
    """`who` says 兑换 `item` in `room` (at `when`; `kw` as for bot.say) and it went through at once (no 确认
    asked): see assert_redeemed. Returns both replies."""
    _when(bot, when)
    return assert_redeemed(await bot.say(f"兑换 {item}", as_=who, room=room, name=name or who.title(), **kw), who, room)


def give(bot: ChatBot, who: str, points: int, *, key: str = "", name: str | None = None,
         at: str | datetime = "2026-11-23 07:00") -> None:
    """Points (and as much growth) straight into the ledger, as an admin award: a scenario's starting balance.
    `who` is known by `name` (else who.title()), as after checkin()."""
    when = sh(at) if isinstance(at, str) else at
    bot.rt.services.presence.see_member(who, name or who.title(), when)
    bot.ledger.award(member=who, points=points, kind="admin_award", key=key or f"seed:{who}:{points}", at=when)


# -- a replay of a chat test's events --------------------------------------------------------------


def event_line(ev: Event) -> str:
    """An event as the replay transport reads it (one JSON line)."""
    d: dict[str, Any] = {"at": ev.at.isoformat()}
    if isinstance(ev, Message):
        d |= {"type": "message", "id": ev.id, "from": ev.sender, "name": ev.sender_name, "text": ev.text,
              "room": ev.room, "room_name": ev.room_name, "mentions": list(ev.mentions)}
        if ev.room is None:
            del d["room"]
    elif isinstance(ev, (MemberJoined, MemberLeft)):
        d |= {"type": "join" if isinstance(ev, MemberJoined) else "leave", "id": ev.id, "room": ev.room,
              "room_name": ev.room_name, "members": [{"id": p.id, "name": p.name} for p in ev.members]}
        if isinstance(ev, MemberJoined):
            d["inviter"] = ev.inviter
    elif isinstance(ev, Tick):
        d["type"] = "tick"
    else:
        raise TypeError(f"replay reads no {type(ev).__name__}")
    return json.dumps(d, ensure_ascii=False)


def sent_lines(bot: ChatBot) -> list[str]:
    """Everything the chat test's bot sent, as replay writes it."""
    return [format_out(o, bot.settings.bot.tz) for o in bot.transport.sent]


async def replayed(bot: ChatBot, url: str) -> list[str]:
    """Replay every event the chat test fed `bot` into a fresh database at `url`, with the same config;
    return the lines it wrote (compare with sent_lines(bot))."""
    settings = bot.settings.model_copy(update={"storage": bot.settings.storage.model_copy(update={"url": url})})
    events = bot.transport.events
    rt = run_bot.build(settings, ManualClock(events[0].at, settings.bot.tz))
    lines: list[str] = []
    try:
        await replay(rt.app, rt.schedule, [event_line(ev) for ev in events], lines.append,
                     batch_size=settings.storage.batch_size, budget=Budget.from_settings(settings.outbox, settings.bot.tz))
    finally:
        rt.ledger.engine.dispose()
    return [line.rstrip("\n") for line in lines]
