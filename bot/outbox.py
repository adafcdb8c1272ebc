"""Outbound queue between the pipeline and a transport: keeps the account inside a send budget.

- A token bucket per account: `burst` messages at once, then one per `interval` seconds. WeChat
  publishes no limit; bursts of 60-120 have got accounts banned, ~20-40 a minute is reported safe.
- Replies go before posts (scheduled broadcasts, join notices). Among replies, every group (and every
  contact written to privately) has its own lane and the lanes take turns, one message a turn: when
  the budget is short, each group hears back within one round of the busy groups (groups x interval),
  however many replies another group piles up.
- Coalescing: a group's @-replies waiting for the budget form one pool that keeps absorbing the group's
  new @-replies until its turn comes; then it leaves as one message @-mentioning everyone, `reply_to`
  listing every id. A reply is never held for company while the budget has room (a lone reply in a
  quiet group is not delayed).
- Digest: when a group's pool is more than one message can carry (`max_mentions`, `max_chars`), the
  replies a handler marked as digestible (`Outgoing.digest`, e.g. a check-in's success) go out as one
  digest instead ("本轮 326 人签到成功 ..."), counted per kind, `reply_to` listing every message it
  answers; the group's other waiting @-replies follow in the same message, by name, as far as the caps
  allow. Each answered message id is in exactly one message. As every group gets one message a turn,
  a backlog across groups needs no rule of its own: a round takes (busy groups) x interval whatever each
  holds; only more busy groups than give_up / interval could make a reply wait too long, and no digest
  can shorten that.
- Quiet hours hold scheduled posts until they end.
- Nothing is dropped silently: a reply that cannot go out within `give_up` seconds is logged as
  not sent; a send the transport refuses is logged and reported to `on_failure`.

Time is whatever the caller says it is: `pump(until)` sends, at their own virtual send times,
everything the budget allows up to `until`. Replay drives it on event time; `run()` drives it on
a real clock. Bookkeeping is O(1) per reply (a heap push per message and per post): nothing scans the
queue on put or pump.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from loguru import logger

from bot.clock import Clock, quiet_end, quiet_window
from bot.events import Outgoing
from bot.transports import Transport

SEP = "\n"

# (a digest's template as Outgoing.digest names it, how many members it answers) -> that digest's line
DigestText = Callable[[str, int], str]


class _Renders(Protocol):
    def render(self, name: str, data: dict[str, Any]) -> str: ...


def digest_text(renderer: _Renders) -> DigestText:
    """Digest lines from the reply templates (bot.templating.Renderer): `count` is the members answered."""

    def text(template: str, count: int) -> str:
        return renderer.render(template, {"count": count})

    return text


@dataclass(frozen=True)
class Budget:
    """The knobs; bot.config's [outbox] section maps onto this."""

    interval: float = 1.5  # seconds per message, sustained, per account
    burst: int = 3  # messages that may go at once after a quiet spell
    coalesce: float = 3.0  # 0 turns coalescing (and so digests) off; a waiting pool has no time limit
    max_mentions: int = 50  # per coalesced message
    max_chars: int = 3000  # per coalesced message, @names included
    give_up: float = 600.0  # seconds a reply may wait before it is logged as not sent
    quiet: tuple[time, time] | None = None  # (start, end) local time: scheduled posts wait till end
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    unlimited: bool = False  # console: no account to protect

    @classmethod
    def from_settings(cls, s: Any, tz: ZoneInfo) -> Budget:
        quiet = quiet_window(getattr(s, "quiet_hours", ""))
        return cls(interval=s.interval_seconds, burst=s.burst, coalesce=s.coalesce_seconds,
                   max_mentions=s.coalesce_max_mentions, max_chars=s.max_chars, give_up=s.give_up_seconds,
                   quiet=quiet, tz=tz)


class _Drawing:
    """A picture being drawn in a worker thread since its message was queued (Outgoing.draw once started)."""

    def __init__(self, future: asyncio.Future[str | None]) -> None:
        self.future = future

    def __call__(self) -> str | None:  # an Outgoing.draw; only awaited here, never called
        raise RuntimeError("a drawing already started is awaited, not called")


def _start_drawing(out: Outgoing) -> Outgoing:
    """`out` with its picture being drawn from now on, in a worker thread (no running loop: drawn when sent)."""
    if out.draw is None or isinstance(out.draw, _Drawing):
        return out
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return out
    return replace(out, draw=_Drawing(loop.run_in_executor(None, out.draw)))


async def _drawn(out: Outgoing) -> str | None:
    """The picture `out` carries, drawn off the event loop; None (the text goes alone) when drawing fails."""
    assert out.draw is not None
    try:
        if isinstance(out.draw, _Drawing):
            return await out.draw.future
        return await asyncio.to_thread(out.draw)
    except Exception:
        logger.bind(room=out.room, member=out.to).exception("drawing a picture failed: sending its text version")
        return None


class _Entry:
    """One reply waiting in its lane."""

    __slots__ = ("out", "ready", "seq", "size")

    def __init__(self, out: Outgoing, seq: int, ready: datetime) -> None:
        self.out = out
        self.seq = seq  # arrival order
        # not before this: the lane's replies leave in arrival order, so one dated earlier than the reply
        # before it is ready when that one is (readiness never decreases along a lane)
        self.ready = ready
        # what its answer adds to a merged message: merge() writes each distinct answer once, on one line
        # (its line breaks as " · "), after the names and "："
        self.size = len(out.text) + 2 * out.text.count("\n") + 2


class _Lane:
    """A group's (or a private contact's) pending replies: singles leave alone, the pool as one message."""

    __slots__ = ("chars", "digestible", "key", "last_ready", "mention_chars", "mentions", "plain", "queued", "room",
                 "singles", "texts", "version")

    def __init__(self, key: tuple[str, str], room: str | None) -> None:
        self.key = key
        self.room = room
        self.singles: deque[_Entry] = deque()  # private replies, images, replies @-mentioning nobody
        self.plain: deque[_Entry] = deque()  # the pool: @-replies no digest may answer
        self.digestible: deque[_Entry] = deque()  # the pool: @-replies a digest may answer
        self.mentions: dict[str, int] = {}  # the pool's @-mentions: how many of its replies name each
        self.mention_chars: dict[str, int] = {}  # what each adds to the merged message
        self.texts: dict[str, int] = {}  # the pool's distinct answers: how many of its replies give each
        self.chars = 0  # what the whole pool merged would be long, @names included (see _Entry.size)
        self.last_ready: datetime | None = None
        self.queued = False  # in the rotation
        self.version = 0  # bumped when its front changes: older heap entries for it are stale

    def pool(self) -> int:
        return len(self.plain) + len(self.digestible)

    def empty(self) -> bool:
        return not (self.singles or self.plain or self.digestible)

    def front(self) -> _Entry:
        """The oldest entry (lowest seq) of the three queues; the lane must not be empty."""
        heads = [q[0] for q in (self.singles, self.plain, self.digestible) if q]
        return min(heads, key=lambda e: e.seq)

    def entries(self) -> Iterator[_Entry]:
        yield from self.singles
        yield from self.plain
        yield from self.digestible


def _mention_chars(out: Outgoing, m: str) -> int:
    # once as "@name " in the message and once in the line naming who each answer is for
    return 2 * len(out.names.get(m, m)) + 3


@dataclass(frozen=True)
class Failure:
    out: Outgoing
    reason: str


class Outbox:
    def __init__(self, transport: Transport, budget: Budget | None = None, *,
                 on_failure: Callable[[Failure], Awaitable[None] | None] | None = None,
                 digest: DigestText | None = None) -> None:
        self.transport = transport
        self.budget = budget or Budget()
        self.on_failure = on_failure
        self.digest = digest  # None: no digests, an over-full pool leaves as several @-lists
        self.sent = 0
        self.failed = 0
        self.given_up = 0
        self.digests = 0  # digest messages sent
        self.digested = 0  # replies those digests answered
        self.send_times: list[datetime] = []  # kept for tests and the bench; trimmed
        self._pending = 0
        self._seq = itertools.count()
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._rotation: deque[_Lane] = deque()  # lanes with replies, in turn order
        self._fronts: list[tuple[datetime, int, int, _Lane]] = []  # (front ready, seq, version, lane), lazy
        self._posts: list[tuple[datetime, int, Outgoing]] = []  # (ready, seq, post): a heap
        self._tokens = float(self.budget.burst)
        self._at: datetime | None = None  # time of the bucket's last update
        self._wake = asyncio.Event()

    # -- queueing -----------------------------------------------------------------------------

    def pending(self) -> int:
        return self._pending

    def put(self, outs: Sequence[Outgoing]) -> None:
        for out in outs:
            self._put(out)
        self._wake.set()

    def _put(self, out: Outgoing) -> None:
        out = _start_drawing(out)  # drawn while it waits for its turn
        self._pending += 1
        seq = next(self._seq)
        if out.reply_to is None:
            ready = self._after_quiet(out) if out.scheduled else out.at  # a welcome is not held; a post is
            heapq.heappush(self._posts, (ready, seq, out))
            return
        key = ("room", out.room) if out.room is not None else ("to", out.to or "")
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(key, out.room)
        ready = out.at if lane.last_ready is None or out.at > lane.last_ready else lane.last_ready
        lane.last_ready = ready
        entry = _Entry(out, seq, ready)
        was_empty = lane.empty()
        if self.budget.coalesce > 0 and out.room is not None and out.mentions and out.image is None and out.draw is None:
            (lane.digestible if out.digest is not None else lane.plain).append(entry)
            self._pooled(lane, entry, +1)
        else:
            lane.singles.append(entry)
        if was_empty:
            self._front_changed(lane)
        if not lane.queued:
            lane.queued = True
            self._rotation.append(lane)

    def _pooled(self, lane: _Lane, e: _Entry, sign: int) -> None:
        """Count an entry into (+1) or out of (-1) its lane's pool: its @-mentions and its answer."""
        out = e.out
        mentions = lane.mentions
        for m in out.mentions if len(out.mentions) == 1 else dict.fromkeys(out.mentions):
            n = mentions.get(m, 0) + sign
            if n <= 0:
                del mentions[m]
                lane.chars -= lane.mention_chars.pop(m)
                continue
            if n == 1 and sign > 0:  # new to the pool: the name as first seen, taken back as such
                c = lane.mention_chars[m] = _mention_chars(out, m)
                lane.chars += c
            mentions[m] = n
        texts = lane.texts
        n = texts.get(out.text, 0) + sign
        if n <= 0:
            del texts[out.text]
            lane.chars -= e.size
        else:
            if n == 1 and sign > 0:
                lane.chars += e.size
            texts[out.text] = n

    def _front_changed(self, lane: _Lane) -> None:
        lane.version += 1
        if not lane.empty():
            f = lane.front()
            heapq.heappush(self._fronts, (f.ready, f.seq, lane.version, lane))

    def _reply_head(self) -> datetime | None:
        """When the earliest lane's front is ready (stale heap entries are dropped on the way)."""
        while self._fronts:
            ready, _seq, version, lane = self._fronts[0]
            if version == lane.version and not lane.empty():
                return ready
            heapq.heappop(self._fronts)
        return None

    def _earliest(self) -> tuple[datetime | None, datetime | None]:
        return self._reply_head(), (self._posts[0][0] if self._posts else None)

    def _after_quiet(self, out: Outgoing) -> datetime:
        until = quiet_end(out.at, self.budget.quiet, self.budget.tz)
        if until is None:
            return out.at
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
        heads = [h for h in self._earliest() if h is not None]
        if not heads:
            return None
        return self._budget_time(max(now, min(heads)))

    # -- choosing what goes ---------------------------------------------------------------------

    def _lane_at(self, t: datetime) -> _Lane | None:
        """The first lane in turn order whose front is ready at t, taken off the rotation."""
        for _ in range(len(self._rotation)):
            lane = self._rotation[0]
            if lane.empty():  # emptied by give-ups or abandon: leaves the rotation
                self._rotation.popleft()
                lane.queued = False
                self._lanes.pop(lane.key, None)
                continue
            if lane.front().ready <= t:
                self._rotation.popleft()
                lane.queued = False
                return lane
            self._rotation.rotate(-1)  # dated ahead (a source clock a little fast): its turn comes later
        return None

    def _stale(self, e: _Entry, t: datetime) -> bool:
        waited = (t - e.out.at).total_seconds()
        if waited <= self.budget.give_up:
            return False
        self.given_up += 1
        out = e.out
        logger.bind(room=out.room, member=out.to or ",".join(out.mentions)).error(
            "not sent: waited {:.0f}s for the send budget (over {:.0f}s): {!r}", waited, self.budget.give_up,
            out.text[:40])
        return True

    def _take(self, lane: _Lane, q: deque[_Entry]) -> _Entry:
        e = q.popleft()
        self._pending -= 1
        if q is not lane.singles:
            self._pooled(lane, e, -1)
        return e

    def _serve(self, lane: _Lane, t: datetime) -> Outgoing | None:
        """The lane's next message at t (None when all it would have said waited too long)."""
        front = lane.front()
        if lane.singles and front is lane.singles[0]:
            e = self._take(lane, lane.singles)
            return None if self._stale(e, t) else e.out
        b = self.budget
        if len(lane.mentions) <= b.max_mentions and lane.chars <= b.max_chars:
            return self._merged(self._pool_until(lane, t, capped=False))
        if self.digest is not None and len(lane.digestible) >= 2:
            out = self._digest(lane, t)
            if out is not None:
                return out
        return self._merged(self._pool_until(lane, t, capped=True))

    def _pool_until(self, lane: _Lane, t: datetime, *, capped: bool, plain_only: bool = False,
                    reserved: int = 0) -> list[Outgoing]:
        """Take the pool's ready entries in arrival order; with `capped`, only as many as one message carries
        besides `reserved` characters (a digest's lines; with none reserved the first is taken however long)."""
        b = self.budget
        taken: list[Outgoing] = []
        who: set[str] = set()
        texts: set[str] = set()
        chars = reserved
        while lane.plain or (lane.digestible and not plain_only):
            older = plain_only or not lane.digestible or (lane.plain and lane.plain[0].seq < lane.digestible[0].seq)
            q = lane.plain if older else lane.digestible
            e = q[0]
            if e.ready > t:
                break
            new = [m for m in dict.fromkeys(e.out.mentions) if m not in who]
            more = sum(_mention_chars(e.out, m) for m in new) + (0 if e.out.text in texts else e.size)
            if capped and (taken or reserved) and (len(who) + len(new) > b.max_mentions or chars + more > b.max_chars):
                break
            self._take(lane, q)
            if self._stale(e, t):
                continue
            who.update(new)
            texts.add(e.out.text)
            chars += more
            taken.append(e.out)
        return taken

    def _digest(self, lane: _Lane, t: datetime) -> Outgoing | None:
        """Every ready digestible reply of the lane answered by its digest's line, and in the same message as many
        of the lane's other @-replies as fit, each after its names; None (and nothing taken) if that fails."""
        q = lane.digestible
        taken: list[_Entry] = []
        while q and q[0].ready <= t:
            taken.append(self._take(lane, q))
        fresh = [e for e in taken if not self._stale(e, t)]
        kinds: dict[str, dict[str, None]] = {}  # digest template -> the members it answers, in order
        for e in fresh:
            members = kinds.setdefault(e.out.digest or "", {})
            for m in e.out.mentions:
                members.setdefault(m, None)
        try:
            text = SEP.join(self.digest(kind, len(members)) for kind, members in kinds.items()) \
                if len(fresh) >= 2 and self.digest is not None else ""
        except Exception:  # a broken digest template must not cost the answers: they go as @-lists
            logger.exception("the digest could not be written; the replies go out as @-lists")
            text = ""
        if not text:
            for e in reversed(fresh):  # back to the front of the pool, in their order
                q.appendleft(e)
                self._pending += 1
                self._pooled(lane, e, +1)
            return None
        self.digests += 1
        self.digested += len(fresh)
        # the group's other answers ride along: waiting for the next turn would cost them a whole round
        others = self._pool_until(lane, t, capped=True, plain_only=True, reserved=len(text) + 1)
        names: dict[str, str] = {}
        for o in others:
            names.update(o.names)
        ids = dict.fromkeys(r for o in [*(e.out for e in fresh), *others] for r in _ids(o))
        return Outgoing(at=t, text=SEP.join([text, *_answers(others)]), room=lane.room,
                        mentions=tuple(_mentions(others)), reply_to=tuple(ids), names=names)

    def _merged(self, outs: list[Outgoing]) -> Outgoing | None:
        return merge(outs) if outs else None

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
            reply, post = self._earliest()
            heads = [h for h in (reply, post) if h is not None]
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
            lane = self._lane_at(t) if reply is not None and reply <= t else None
            if lane is not None:
                out = self._serve(lane, t)
                self._front_changed(lane)
                if lane.empty():
                    self._lanes.pop(lane.key, None)
                else:
                    lane.queued = True
                    self._rotation.append(lane)  # its next message waits for every other lane's turn
            elif self._posts and self._posts[0][0] <= t:
                ready, _seq, post_out = heapq.heappop(self._posts)
                self._pending -= 1
                waited = (t - ready).total_seconds()
                out = post_out
                if waited > self.budget.give_up:
                    self.given_up += 1
                    logger.bind(room=out.room, member=out.to).error(
                        "not sent: waited {:.0f}s for the send budget (over {:.0f}s): {!r}", waited,
                        self.budget.give_up, out.text[:40])
                    out = None
            else:
                return n  # cannot happen: a lane ready at t is always in the rotation
            if out is None:
                continue
            out = replace(out, at=t)
            self._spend(t)
            await self._send(out)
            n += 1

    async def _send(self, out: Outgoing) -> None:
        if out.draw is not None:
            out = replace(out, image=await _drawn(out), draw=None)
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
        outs = [e.out for lane in self._lanes.values() for e in lane.entries()] + [p for _r, _s, p in self._posts]
        for out in outs:
            self.given_up += 1
            logger.bind(room=out.room, member=out.to).error("not sent ({}): {!r}", why, out.text[:40])
        self._lanes.clear()
        self._rotation.clear()
        self._fronts.clear()
        self._posts.clear()
        self._pending = 0

    async def flush(self) -> None:
        """Replay's end: send everything left, moving event time on as the budget requires."""
        while self._pending:
            heads = [h for h in self._earliest() if h is not None]
            if not heads:
                break
            nxt = self.next_time(self._at or min(heads))
            before = self._pending
            if nxt is None or (await self.pump(nxt) == 0 and self._pending == before):
                self.abandon("the outbox could not schedule it")  # cannot happen; never loop forever
                return
        if self._pending:
            self.abandon("the outbox lost track of it")  # cannot happen: counted but in no queue


def _ids(out: Outgoing) -> tuple[str, ...]:
    rt = out.reply_to
    return tuple(r for r in (rt if isinstance(rt, tuple) else (rt,)) if r is not None)


def _mentions(outs: Sequence[Outgoing]) -> list[str]:
    seen: dict[str, None] = {}
    for o in outs:
        for m in o.mentions:
            seen.setdefault(m, None)
    return list(seen)


def _answers(outs: Sequence[Outgoing]) -> list[str]:
    """One line per distinct answer, after the names it answers (a reply's own lines joined by " · ")."""
    by_text: dict[str, list[str]] = {}
    for o in outs:
        text = " · ".join(line.strip() for line in o.text.splitlines() if line.strip())
        who = by_text.setdefault(text, [])
        for m in o.mentions:
            n = o.names.get(m, m)
            if n not in who:
                who.append(n)
    return [f"{'、'.join(who)}：{t}" for t, who in by_text.items()]


def merge(outs: Sequence[Outgoing]) -> Outgoing:
    """Several group replies as one message: everyone @-mentioned once, each answer after its names."""
    if len(outs) == 1:
        return outs[0]
    first = outs[0]
    names: dict[str, str] = {}
    for o in outs:
        names.update(o.names)
    lines = _answers(outs)
    text = first.text if len(lines) == 1 else SEP.join(lines)
    ids = dict.fromkeys(r for o in outs for r in _ids(o))
    return Outgoing(at=first.at, text=text, room=first.room, mentions=tuple(_mentions(outs)),
                    reply_to=tuple(ids), names=names)
