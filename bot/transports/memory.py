"""In-memory transport for tests: say things as members, get back exactly what the bot sent."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from bot.app import App
from bot.clock import ManualClock
from bot.events import Event, MemberJoined, MemberLeft, Message, Outgoing, Person, Tick
from bot.scheduler import Schedule


class MemoryTransport:
    """Drives an App on a manual clock; scheduled jobs fire from event time, as in replay."""

    def __init__(self, app: App, clock: ManualClock, schedule: Schedule | None = None) -> None:
        self.app = app
        self.clock = clock
        self.schedule = schedule
        self.sent: list[Outgoing] = []
        # contacts who are not the bot's friends: a private message to them fails, its fallback goes instead
        self.strangers: set[str] = set()
        self._ids = itertools.count(1)
        self._last: datetime | None = None

    async def send(self, out: Outgoing) -> None:
        self.sent.append(out)

    async def feed(self, *events: Event) -> list[Outgoing]:
        """Handle events as one batch (group commit), with due jobs first; return what was sent."""
        batch: list[Event] = []
        for ev in events:
            if self.schedule is not None:
                start = self._last or ev.at
                batch.extend(self.schedule.due_between(start, ev.at, include_start=self._last is None))
            self._last = ev.at if self._last is None else max(self._last, ev.at)
            batch.append(ev)
        outs: list[Outgoing] = []
        for o in await self.app.process(batch):
            delivered = self._deliverable(o)
            if delivered is not None:
                outs.append(delivered)
        self.sent.extend(outs)
        return outs

    def _deliverable(self, out: Outgoing) -> Outgoing | None:
        if out.to is not None and out.to in self.strangers:
            return out.fallback  # None: nothing reaches anyone, as with a real failed send
        return out

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
