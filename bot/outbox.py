"""Outbound queue between the pipeline and a transport: keeps the account inside a send budget.

- A token bucket per account: `burst` messages at once, then one per `interval` seconds. WeChat
  publishes no limit; bursts of 60-120 have got accounts banned, ~20-40 a minute is reported safe.
- Replies go before posts (scheduled broadcasts, join notices).
- Coalescing: while a group reply waits for the budget, later @-replies in the same group within
  `coalesce` seconds of it join it: one message @-mentioning everyone, `reply_to` listing every id.
  A lone reply in a quiet group is not delayed.
- Quiet hours hold scheduled posts until they end.
- Nothing is dropped silently: a reply that cannot go out within `give_up` seconds is logged as
  not sent; a send the transport refuses is logged and reported to `on_failure`.

Time is whatever the caller says it is: `pump(until)` sends, at their own virtual send times,
everything the budget allows up to `until`. Replay drives it on event time; `run()` drives it on
a real clock.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from bot.clock import Clock
from bot.events import Outgoing
from bot.transports import Transport

SEP = "\n"


@dataclass(frozen=True)
class Budget:
    """The knobs; bot.config's [outbox] section maps onto this."""

    interval: float = 1.5  # seconds per message, sustained, per account
    burst: int = 3  # messages that may go at once after a quiet spell
    coalesce: float = 3.0  # seconds; 0 turns coalescing off
    max_mentions: int = 50  # per coalesced message
    max_chars: int = 3000  # per coalesced message, @names included
    give_up: float = 600.0  # seconds a reply may wait before it is logged as not sent
    quiet: tuple[time, time] | None = None  # (start, end) local time: scheduled posts wait till end
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    unlimited: bool = False  # console: no account to protect

    @classmethod
    def from_settings(cls, s: Any, tz: ZoneInfo) -> Budget:
        quiet = None
        if getattr(s, "quiet_hours", ""):
            a, b = s.quiet_hours.split("-")
            quiet = (time.fromisoformat(a.strip()), time.fromisoformat(b.strip()))
        return cls(interval=s.interval_seconds, burst=s.burst, coalesce=s.coalesce_seconds,
                   max_mentions=s.coalesce_max_mentions, max_chars=s.max_chars, give_up=s.give_up_seconds,
                   quiet=quiet, tz=tz)


@dataclass
class _Item:
    outs: list[Outgoing]
    first: datetime  # when the first of them was handed in
    ready: datetime  # not before this (quiet hours)
    reply: bool
    room: str | None = None
    chars: int = 0
    coalescable: bool = False
    sent: bool = False
    who: set[str] = field(default_factory=set)  # everyone it @-mentions


@dataclass(frozen=True)
class Failure:
    out: Outgoing
    reason: str


class Outbox:
    def __init__(self, transport: Transport, budget: Budget | None = None, *,
                 on_failure: Callable[[Failure], Awaitable[None] | None] | None = None) -> None:
        self.transport = transport
        self.budget = budget or Budget()
        self.on_failure = on_failure
        self.sent = 0
        self.failed = 0
        self.given_up = 0
        self.send_times: list[datetime] = []  # kept for tests and the bench; trimmed
        self._replies: deque[_Item] = deque()
        self._posts: deque[_Item] = deque()
        self._open: dict[str, _Item] = {}  # room -> the unsent group reply later ones may join
        self._tokens = float(self.budget.burst)
        self._at: datetime | None = None  # time of the bucket's last update
        self._wake = asyncio.Event()

    # -- queueing -----------------------------------------------------------------------------

    def pending(self) -> int:
        return sum(len(i.outs) for i in self._replies) + sum(len(i.outs) for i in self._posts)

    def put(self, outs: Sequence[Outgoing]) -> None:
        for out in outs:
            self._put(out)
        self._wake.set()

    def _put(self, out: Outgoing) -> None:
        b = self.budget
        reply = out.reply_to is not None
        if not reply:
            ready = self._after_quiet(out) if out.scheduled else out.at  # a welcome is not held; a post is
            item = _Item([out], out.at, ready, False, out.room)
            # keep posts in order of readiness, so one held for quiet hours does not hold up the rest
            i = len(self._posts)
            while i > 0 and self._posts[i - 1].ready > ready:
                i -= 1
            self._posts.insert(i, item)
            return
        can_join = (b.coalesce > 0 and out.room is not None and bool(out.mentions) and out.image is None)
        if can_join:
            assert out.room is not None
            open_item = self._open.get(out.room)
            size = self._chars(out)
            if (open_item is not None and not open_item.sent and (out.at - open_item.first).total_seconds() <= b.coalesce
                    and len(open_item.who | set(out.mentions)) <= b.max_mentions
                    and open_item.chars + size <= b.max_chars):
                open_item.outs.append(out)
                open_item.chars += size
                open_item.who.update(out.mentions)
                return
            item = _Item([out], out.at, out.at, True, out.room, size, True, who=set(out.mentions))
            self._open[out.room] = item
            self._replies.append(item)
            return
        self._replies.append(_Item([out], out.at, out.at, True, out.room))

    def _chars(self, out: Outgoing) -> int:
        names = sum(len(out.names.get(m, m)) + 2 for m in out.mentions)
        return len(out.text) + names + 4

    def _after_quiet(self, out: Outgoing) -> datetime:
        q = self.budget.quiet
        if q is None:
            return out.at
        start, end = q
        local = out.at.astimezone(self.budget.tz)
        t = local.timetz().replace(tzinfo=None)
        inside = (start <= t < end) if start <= end else (t >= start or t < end)
        if not inside:
            return out.at
        until = local.replace(hour=end.hour, minute=end.minute, second=end.second, microsecond=0)
        if until <= local:
            until += timedelta(days=1)
        logger.bind(room=out.room).info("scheduled post held for quiet hours until {}", until.strftime("%H:%M"))
        return until

    # -- the budget -----------------------------------------------------------------------------

    def _tokens_at(self, now: datetime) -> float:
        if self._at is None or now <= self._at:
            return self._tokens
        return min(float(self.budget.burst), self._tokens + (now - self._at).total_seconds() / self.budget.interval)

    def _budget_time(self, now: datetime) -> datetime:
        """The earliest time >= now at which one message may go (looks only, changes nothing)."""
        if self.budget.unlimited:
            return now
        tokens = self._tokens_at(now)
        if tokens >= 1 - 1e-9:
            return now
        return now + timedelta(seconds=(1 - tokens) * self.budget.interval)

    def _spend(self, at: datetime) -> None:
        if self.budget.unlimited:
            return
        self._tokens = self._tokens_at(at) - 1
        self._at = at

    def next_time(self, now: datetime) -> datetime | None:
        """When pump() will next have something to send (None: nothing queued)."""
        heads = [q[0].ready for q in (self._replies, self._posts) if q]
        if not heads:
            return None
        start = max(now, min(heads))
        return self._budget_time(start)

    # -- sending --------------------------------------------------------------------------------

    async def pump(self, until: datetime, *, live: bool = False) -> int:
        """Send everything the budget allows up to `until`, each at its own send time; return how many.

        `live`: `until` is the real now, and nothing is sent at an earlier time. A reply to an old event (a
        connector's backlog, an inbox resumed after a crash) goes now, on today's budget; at its own old
        time each would find the bucket refilled, and a backlog would leave at once. Without a budget (the
        console, whose clock the operator moves) each still goes at its own time.
        """
        n = 0
        while True:
            heads = [q[0].ready for q in (self._replies, self._posts) if q]
            if not heads:
                return n
            start = min(heads)
            if self._at is not None and start < self._at:
                start = self._at
            if live and start < until and not self.budget.unlimited:
                start = until
            t = self._budget_time(start)
            if t > until:
                return n
            q = self._replies if self._replies and self._replies[0].ready <= t else self._posts
            item = q.popleft()
            item.sent = True
            if item.coalescable and item.room is not None and self._open.get(item.room) is item:
                del self._open[item.room]
            waited = (t - (item.first if item.reply else item.ready)).total_seconds()
            if waited > self.budget.give_up:
                self.given_up += len(item.outs)
                for out in item.outs:
                    logger.bind(room=out.room, member=out.to or ",".join(out.mentions)).error(
                        "not sent: waited {:.0f}s for the send budget (over {:.0f}s): {!r}", waited,
                        self.budget.give_up, out.text[:40])
                continue
            out = replace(merge(item.outs), at=t)
            self._spend(t)
            await self._send(out)
            n += 1

    async def _send(self, out: Outgoing) -> None:
        try:
            await self.transport.send(out)
        except Exception as exc:  # the transport says why; the caller's hook may fall back
            self.failed += 1
            logger.bind(room=out.room, member=out.to).error("send failed ({}): {!r}", exc, out.text[:40])
            if out.fallback is not None:
                logger.bind(room=out.fallback.room, member=out.to).info("sending the fallback instead")
                self.put([replace(out.fallback, at=out.at)])
            if self.on_failure is not None:
                res = self.on_failure(Failure(out, str(exc)))
                if asyncio.iscoroutine(res):
                    await res
            return
        self.sent += 1
        self.send_times.append(out.at)
        if len(self.send_times) > 10_000:
            del self.send_times[:5_000]

    async def deliver(self, outs: Sequence[Outgoing]) -> None:
        """Queue `outs`; the sender task (run) sends them."""
        self.put(outs)

    async def run(self, clock: Clock, stop: asyncio.Event) -> None:
        """Live: send as the budget allows on `clock` until stop is set."""
        while not stop.is_set():
            now = clock.now()
            await self.pump(now, live=True)
            nxt = self.next_time(clock.now())
            wait = 3600.0 if nxt is None else max(0.0, (nxt - clock.now()).total_seconds())
            self._wake.clear()
            waker = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waker, stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            waker.cancel()
            stopper.cancel()

    async def drain(self, clock: Clock, timeout: float) -> None:
        """At shutdown: keep sending on the budget for up to `timeout` seconds, then log what is left."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.pending() and loop.time() < end:
            await self.pump(clock.now(), live=True)
            nxt = self.next_time(clock.now())
            if nxt is None:
                break
            await asyncio.sleep(min(max(0.0, (nxt - clock.now()).total_seconds()), max(0.0, end - loop.time())))
        self.abandon("the bot is stopping")

    def abandon(self, why: str) -> None:
        for q in (self._replies, self._posts):
            while q:
                for out in q.popleft().outs:
                    self.given_up += 1
                    logger.bind(room=out.room, member=out.to).error("not sent ({}): {!r}", why, out.text[:40])
        self._open.clear()

    async def flush(self) -> None:
        """Replay's end: send everything left, moving event time on as the budget requires."""
        while self.pending():
            base = self._at or min(i.ready for q in (self._replies, self._posts) for i in q)
            nxt = self.next_time(base)
            before = self.pending()
            if nxt is None or (await self.pump(nxt) == 0 and self.pending() == before):
                self.abandon("the outbox could not schedule it")  # cannot happen; never loop forever
                return


def _mentions(outs: Sequence[Outgoing]) -> list[str]:
    seen: dict[str, None] = {}
    for o in outs:
        for m in o.mentions:
            seen.setdefault(m, None)
    return list(seen)


def merge(outs: Sequence[Outgoing]) -> Outgoing:
    """Several group replies as one message: everyone @-mentioned once, each answer after its names."""
    if len(outs) == 1:
        return outs[0]
    first = outs[0]
    names: dict[str, str] = {}
    for o in outs:
        names.update(o.names)
    # one line per distinct answer, after the names it answers (a reply's own lines joined by " · ")
    by_text: dict[str, list[str]] = {}
    for o in outs:
        text = " · ".join(line.strip() for line in o.text.splitlines() if line.strip())
        who = by_text.setdefault(text, [])
        for m in o.mentions:
            n = o.names.get(m, m)
            if n not in who:
                who.append(n)
    one = len(by_text) == 1
    text = first.text if one else SEP.join(f"{'、'.join(who)}：{t}" for t, who in by_text.items())
    ids: list[str] = []
    for o in outs:
        rt = o.reply_to
        for r in (rt if isinstance(rt, tuple) else (rt,)):
            if r is not None and r not in ids:
                ids.append(r)
    return Outgoing(at=first.at, text=text, room=first.room, mentions=tuple(_mentions(outs)),
                    reply_to=tuple(ids), names=names)
