"""In-memory transport for tests: say things as members, get back exactly what the bot sent."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from bot.app import App
from bot.clock import ManualClock
from bot.events import Event, MemberJoined, MemberLeft, Message, Outgoing, Person, Tick
from bot.outbox import Budget, Outbox, digest_text
from bot.scheduler import Schedule


class NotDelivered(Exception):
    """A send the transport refused (a private message to a contact who is not the bot's friend)."""


class MemoryTransport:
    """Drives an App on a manual clock as replay does: jobs fire from event time, and every reply goes
    through the real outbox (send budget, coalescing, quiet hours, fallbacks) on event time.

    Each step (`feed` and what wraps it) lets the outbox send all it holds before it returns, and moves
    the clock on to the last send: the member has the answer before they say the next thing. Steps
    must follow each other in time (an earlier one is refused), so a replay of the same events sends
    the same messages at the same times.
    """

    def __init__(self, app: App, clock: ManualClock, schedule: Schedule | None = None,
                 budget: Budget | None = None) -> None:
        self.app = app
        self.clock = clock
        self.schedule = schedule
        self.outbox = Outbox(self, budget or Budget(tz=app.tz), digest=digest_text(app.renderer))
        self.sent: list[Outgoing] = []  # everything delivered, in send order, each `at` its send time
        self.refused: list[Outgoing] = []  # sends that failed (the outbox sent their fallback instead)
        # contacts who are not the bot's friends: a private message to them fails, as WeChat's does
        self.strangers: set[str] = set()
        self.events: list[Event] = []  # everything handled, due jobs excluded: what a replay would read
        self._ids = itertools.count(1)
        self._last: datetime | None = None
        self._floor: datetime | None = None  # no step may happen before this: the last event or send

    async def send(self, out: Outgoing) -> None:
        if out.to is not None and out.to in self.strangers:
            self.refused.append(out)
            raise NotDelivered(f"{out.to} is not the bot's friend")
        self.sent.append(out)

    async def feed(self, *events: Event) -> list[Outgoing]:
        """Handle events as one batch (group commit), due jobs first; return what was sent for them."""
        start = len(self.sent)
        batch: list[Event] = []
        for ev in events:
            if self._floor is not None and ev.at < self._floor:
                raise ValueError(f"event at {ev.at.isoformat()} is earlier than the step before it "
                                 f"({self._floor.isoformat()}): steps must follow each other in time, as replay "
                                 "reads them and as members get their answers")
            if self.schedule is not None:
                since = self._last or ev.at
                batch.extend(self.schedule.due_between(since, ev.at, include_start=self._last is None))
            self._last = ev.at if self._last is None else max(self._last, ev.at)
            batch.append(ev)
        self.events.extend(events)
        # as replay hands a batch's replies over: each after what the budget let out before it existed
        for out in await self.app.process(batch):
            await self.outbox.pump(out.at)
            self.outbox.put([out])
        if batch:
            await self.outbox.pump(max(ev.at for ev in batch))
        await self.outbox.flush()
        step = self.sent[start:]
        last = max((o.at for o in step), default=None)
        self._floor = max((x for x in (self._floor, self._last, last) if x is not None), default=None)
        if last is not None and last > self.clock.now():
            self.clock.set(last)
        return step

    def _at(self, at: datetime | None) -> datetime:
        if at is not None:
            self.clock.set(at)
        return self.clock.now()

    def message(self, text: str, *, as_: str, room: str | None = None, name: str | None = None,
                mentions: tuple[str, ...] = (), id: str | None = None, at: datetime | None = None,
                room_name: str = "") -> Message:
        return Message(id=id or f"m{next(self._ids)}", at=self._at(at), sender=as_, sender_name=name or as_,
                       text=text, room=room, room_name=room_name or (room or ""), mentions=mentions)

    async def say(self, text: str, *, as_: str, room: str | None = None, **kw: Any) -> list[Outgoing]:
        return await self.feed(self.message(text, as_=as_, room=room, **kw))

    async def join(self, room: str, *members: str, inviter: str | None = None, id: str | None = None,
                   at: datetime | None = None) -> list[Outgoing]:
        ev = MemberJoined(id=id or f"j{next(self._ids)}", at=self._at(at), room=room,
                          members=tuple(Person(m, m) for m in members), inviter=inviter, room_name=room)
        return await self.feed(ev)

    async def leave(self, room: str, *members: str, id: str | None = None, at: datetime | None = None) -> list[Outgoing]:
        ev = MemberLeft(id=id or f"l{next(self._ids)}", at=self._at(at), room=room,
                        members=tuple(Person(m, m) for m in members), room_name=room)
        return await self.feed(ev)

    async def tick(self, at: datetime) -> list[Outgoing]:
        return await self.feed(Tick(at=self._at(at)))

    def advance(self, **delta: float) -> datetime:
        self.clock.advance(timedelta(**delta))
        return self.clock.now()
