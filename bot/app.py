"""The pipeline: events in, one transaction per batch (group commit), replies out only after commit."""

from __future__ import annotations

import asyncio
import random
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol

from loguru import logger

from bot.clock import Clock, ManualClock
from bot.dispatch import REGISTRY, Context, Matcher, Registry, Reply, gate, normalize, strip_bot_mention
from bot.errors import UserError
from bot.events import Down, Event, JobDue, MemberJoined, MemberLeft, Message, Outgoing, Rooms, Tick, Up
from bot.templating import Renderer

# sent when errors/internal itself cannot be rendered
FALLBACK_APOLOGY = "抱歉，处理你的消息时出了点问题，已记录下来，请稍后再试。"

# A batch that lost a race (deadlock, serialization failure, lost connection) runs again this many times in
# all, after a jittered pause that grows each time, before its events are tried one by one.
BATCH_ATTEMPTS = 6
RETRY_PAUSE = 0.02  # seconds, doubled on each retry, times a random factor in [0.5, 1.5)


class Transient(Exception):
    """A database error that is no event's fault (storage said so): the whole batch is rolled back and rerun."""


class Store(Protocol):
    """What the runtime needs from storage; storage.store.Store provides it."""

    def transaction(self) -> Any: ...
    def savepoint(self) -> Any: ...
    def claim_event(self, event_id: str, at: Any) -> bool: ...
    def lock_members(self, members: Sequence[str]) -> None: ...
    def transient(self, exc: BaseException) -> bool: ...
    def see_member(self, member: str, name: str, at: Any) -> None: ...
    def see_room(self, room: str, name: str, at: Any) -> None: ...
    def see_in_room(self, room: str, member: str, at: Any) -> None: ...
    def left_room(self, room: str, member: str, at: Any) -> None: ...
    def rooms(self, only: Sequence[str] = ()) -> list[tuple[str, str]]: ...
    def mark_active(self, day: Any) -> None: ...
    def mark_members_active(self, days: Sequence[tuple[str, Any]]) -> None: ...
    def pending(self, chat: str, member: str, at: Any) -> Any: ...


@dataclass
class _Batch:
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    days: set[Any] = field(default_factory=set)
    counted: list[tuple[str, Any]] = field(default_factory=list)  # (member, at) added to the rate limit
    member_days: set[tuple[str, Any]] = field(default_factory=set)  # (member, local day) first heard in this batch


class App:
    """Routes events to handlers; `process` runs a batch of events in one transaction."""

    def __init__(
        self,
        settings: Any,
        store: Store,
        services: Any,
        renderer: Renderer,
        clock: Clock,
        registry: Registry = REGISTRY,
        schedule_rooms: dict[str, Sequence[str]] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.services = services
        self.renderer = renderer
        self.clock = clock
        self.registry = registry
        self.matcher = Matcher(registry.commands, settings)
        self.tz = settings.bot.tz
        self.admins = frozenset(settings.bot.admins)
        self.allowed_rooms = frozenset(settings.bot.rooms)
        self.schedule_rooms = schedule_rooms or {}
        # (kind, id, name) already written: presence writes only when something is new
        self._known: set[tuple[str, str, str]] = set()
        self._days: set[Any] = set()  # local days already marked active
        # (member, local day) whose message is already recorded (storage's member_days), the latest days only
        self._member_days: set[tuple[str, Any]] = set()
        self._member_days_since: Any = None
        self._recent: dict[str, deque[Any]] = {}  # member -> times of their recent commands (rate limit)
        # what members must type before a command in a group, set by a transport that needs it (WeCom's
        # AI bot sees only @-messages there): every command a text quotes in 「」 gets it where it is needed
        self.mention_hint = ""

    # -- batches --------------------------------------------------------------------------------

    async def process(self, events: Sequence[Event]) -> list[Outgoing]:
        """Handle `events` in order inside one transaction; return what to send once it committed.

        A transient database error anywhere in the batch rolls all of it back and runs it again (a bounded
        number of times); nothing of a failed attempt stands, so nothing of it counts or is sent.
        """
        if not events:
            return []
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            batch = _Batch()
            try:
                with self.store.transaction():
                    # member rows in one global order first: batches on overlapping members queue, not deadlock
                    self.store.lock_members(self._members_of(events))
                    outs: list[Outgoing] = []
                    for ev in events:
                        outs.extend(await self._one(ev, batch))
                    # who was active: one statement for the batch (members first heard today, and whoever earned)
                    self.store.mark_members_active(sorted(batch.member_days))
            except Exception as exc:
                self._uncount(batch)  # nothing of the batch stands, so none of it counts against a member
                if attempt < BATCH_ATTEMPTS and (isinstance(exc, Transient) or self.store.transient(exc)):
                    pause = RETRY_PAUSE * 2 ** (attempt - 1) * (0.5 + random.random())
                    logger.warning("batch of {} events hit a transient database error ({}); retry {} of {} in {:.0f} ms",
                                   len(events), _cause(exc), attempt, BATCH_ATTEMPTS - 1, pause * 1000)
                    await asyncio.sleep(pause)
                    continue
                return await self._failed(events, exc)
            self._known |= batch.seen
            self._days |= batch.days
            self._remember_member_days(batch.member_days)
            if attempt > 1:
                logger.info("batch of {} events committed on attempt {}", len(events), attempt)
            return digest(outs)
        raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover

    async def _failed(self, events: Sequence[Event], exc: Exception) -> list[Outgoing]:
        if len(events) == 1:
            logger.opt(exception=exc).error("could not commit event {}; it was not applied", _describe(events[0]))
            return self._apology(events[0])
        # The commit (or something outside an event's savepoint) failed: nothing of the batch is
        # applied, so run each event alone and let the failure stay with the event that causes it.
        logger.opt(exception=exc).error("batch of {} events failed; retrying them one by one", len(events))
        outs: list[Outgoing] = []
        for ev in events:
            outs.extend(await self.process([ev]))
        return digest(outs)

    def _remember_member_days(self, days: set[tuple[str, Any]]) -> None:
        """Keep what a committed batch recorded; days older than the day before the newest are let go."""
        if not days:
            return
        self._member_days |= days
        newest = max(day for _member, day in days)
        since = newest - timedelta(days=1)
        if self._member_days_since is None or since > self._member_days_since:
            self._member_days_since = since
            self._member_days = {md for md in self._member_days if md[1] >= since}

    def _members_of(self, events: Sequence[Event]) -> list[str]:
        """The members whose rows the batch will lock: senders, @-mentioned ones, who joins or leaves, inviters."""
        out: set[str] = set()
        for ev in events:
            if isinstance(ev, Message):
                if ev.sender != self.settings.bot.self_id and (ev.room is None or self.serves(ev.room)):
                    out.add(ev.sender)
                    out.update(ev.mentions)
            elif isinstance(ev, (MemberJoined, MemberLeft)) and self.serves(ev.room):
                out.update(p.id for p in ev.members)
                if isinstance(ev, MemberJoined) and ev.inviter:
                    out.add(ev.inviter)
        return sorted(out)

    async def _one(self, ev: Event, batch: _Batch) -> list[Outgoing]:
        if isinstance(self.clock, ManualClock) and ev.at > self.clock.now():
            self.clock.set(ev.at)
        day = ev.at.astimezone(self.tz).date()
        if day not in self._days and day not in batch.days:
            # any event shows the bot was running that day; a day without one breaks no streak
            self.store.mark_active(day)
            batch.days.add(day)
        if isinstance(ev, Message):
            return await self._message(ev, batch)
        if isinstance(ev, JobDue):
            return await self._job(ev)
        if isinstance(ev, (MemberJoined, MemberLeft)):
            return await self._membership(ev, batch)
        if isinstance(ev, Rooms):  # the groups the bot is in: posts reach them before anyone spoke there
            for g in ev.rooms:
                if self.serves(g.id):
                    self._see(batch, "room", g.id, g.name, ev.at)
            return []
        if isinstance(ev, (Tick, Down, Up)):  # the bot ran at that moment: the day counts, nothing else
            return []
        logger.warning("unknown event ignored: {!r}", ev)
        return []

    def _apology(self, ev: Event) -> list[Outgoing]:
        if not isinstance(ev, Message):
            return []
        try:
            text = self.renderer.render("errors/internal", {"name": ev.sender_name, "keyword": "", "now": ev.at})
        except Exception:  # the apology must not fail: a broken errors/internal falls back to this text
            logger.exception("template errors/internal failed; sent the built-in apology")
            text = FALLBACK_APOLOGY
        return [Outgoing(at=ev.at, text=text, room=ev.room, to=None if ev.room else ev.sender,
                         mentions=(ev.sender,) if ev.room else (), reply_to=ev.id,
                         names={ev.sender: ev.sender_name})]

    # -- presence ------------------------------------------------------------------------------

    def _see(self, batch: _Batch, kind: str, ident: str, name: str, at: Any, room: str = "") -> None:
        key = (kind, ident, name if kind != "in" else room)
        if key in self._known or key in batch.seen:
            return
        if kind == "member":
            self.store.see_member(ident, name, at)
        elif kind == "room":
            self.store.see_room(ident, name, at)
            logger.info("group {} ({})", ident, name or "no name yet")  # the id bot.rooms takes
        else:
            self.store.see_in_room(room, ident, at)
        batch.seen.add(key)

    def serves(self, room: str) -> bool:
        return not self.allowed_rooms or room in self.allowed_rooms

    # -- events --------------------------------------------------------------------------------

    def context(self, ev: Message | None = None, at: Any = None, **kw: Any) -> Context:
        at = ev.at if ev is not None else at
        settings, campaigns = self.settings.at(at) if hasattr(self.settings, "at") else (self.settings, {})
        ctx = Context(now=at, day=at.astimezone(self.tz).date(), settings=settings, services=self.services,
                      matcher=self.matcher, registry=self.registry, campaigns=campaigns, **kw)
        if ev is not None:
            ctx.sender, ctx.sender_name, ctx.room, ctx.room_name = ev.sender, ev.sender_name, ev.room, ev.room_name
            ctx.event_id, ctx.mentions, ctx.text = ev.id, ev.mentions, ev.text
            ctx.is_admin = ev.sender in self.admins
        ctx.mention_hint = self.mention_hint
        return ctx

    def _over_limit(self, ev: Message, batch: _Batch) -> bool:
        """More than bot.rate_limit commands from one member within a minute (admins are not limited)."""
        limit = self.settings.bot.rate_limit
        if not limit or ev.sender in self.admins:
            return False
        recent = self._recent.setdefault(ev.sender, deque())
        while recent and (ev.at - recent[0]).total_seconds() >= 60:
            recent.popleft()
        if len(recent) >= limit:
            return True
        recent.append(ev.at)
        batch.counted.append((ev.sender, ev.at))
        return False

    def _uncount(self, batch: _Batch) -> None:
        for member, at in batch.counted:
            recent = self._recent.get(member)
            if recent is not None and at in recent:
                recent.remove(at)
        batch.counted.clear()

    async def _message(self, ev: Message, batch: _Batch) -> list[Outgoing]:
        bot = self.settings.bot
        if ev.sender == bot.self_id or (ev.room is not None and not self.serves(ev.room)):
            return []
        text = strip_bot_mention(normalize(ev.text), bot.name, bot.self_id, ev.mentions)
        found = self.matcher.match(text)
        log = logger.bind(room=ev.room, member=ev.sender)
        # presence (who is in which group) is written only when new; a failure here fails the batch,
        # which is then retried event by event
        self._see(batch, "member", ev.sender, ev.sender_name, ev.at)
        heard = (ev.sender, ev.at.astimezone(self.tz).date())  # who is active: any message to the bot counts
        if heard not in self._member_days:
            batch.member_days.add(heard)
        if ev.room is not None:
            self._see(batch, "room", ev.room, ev.room_name, ev.at)
            self._see(batch, "in", ev.sender, "", ev.at, room=ev.room)
        if found is None:
            return await self._conversation(ev, text, batch)
        cmd, keyword, args, glued = found
        ctx = self.context(ev, keyword=self.matcher.display.get(cmd.keyword, keyword), glued=glued)

        async def run() -> Any:
            gate(cmd, ctx)
            return await cmd.func(ctx, args)

        outs = await self._guarded(ev, ctx, run, batch)
        log.debug("{} -> {} replies", keyword, len(outs))
        return outs

    async def _guarded(self, ev: Message, ctx: Context, call: Any, batch: _Batch) -> list[Outgoing]:
        """Run a handler for message `ev` in one savepoint together with the message's claim.

        A replayed message is dropped before it counts against the member's rate limit; one over the limit
        is claimed and answered with silence. A refusal (UserError) undoes whatever the handler wrote and
        answers with its text, the message claimed again so a replay stays silent. Any other
        exception costs the member one apology and the batch nothing.
        """
        key = f"msg:{ev.id}"
        try:
            try:
                with self.store.savepoint():
                    if not self.store.claim_event(key, ev.at):
                        logger.bind(room=ev.room, member=ev.sender).info("message {} seen before; ignored", ev.id)
                        return []
                    if self._over_limit(ev, batch):
                        logger.bind(room=ev.room, member=ev.sender).info("rate limit: {} ignored", ctx.keyword)
                        return []
                    outs = self._render(await call(), ctx, reply_to=ev.id)
                    return outs + await self._after(ctx, reply_to=ev.id)
            except UserError as err:
                with self.store.savepoint():
                    self.store.claim_event(key, ev.at)
                    return self._render(Reply(err.template, {"keyword": ctx.keyword, **err.data}), ctx, reply_to=ev.id)
        except Exception as exc:
            if self.store.transient(exc):  # no fault of the message: the batch runs again
                raise Transient(_cause(exc)) from exc
            step = self.registry.refusal_for(exc)
            if step is not None:  # a refusal a feature answers (the handler's writes are undone)
                return await self._refused(ev, ctx, step, exc)
            logger.bind(room=ev.room, member=ev.sender).exception(
                "{!r} from {} in {} failed", ctx.keyword, ev.sender, ev.room or "private")
            return self._apology(ev)

    async def _refused(self, ev: Message, ctx: Context, step: Any, exc: Exception) -> list[Outgoing]:
        key = f"msg:{ev.id}"
        try:
            with self.store.savepoint():
                self.store.claim_event(key, ev.at)
                return self._render(await step(ctx, exc), ctx, reply_to=ev.id)
        except Exception as again:
            if self.store.transient(again):
                raise Transient(_cause(again)) from again
            logger.bind(room=ev.room, member=ev.sender).exception("answering {!r} failed", ctx.keyword)
            return self._apology(ev)

    async def _conversation(self, ev: Message, text: str, batch: _Batch) -> list[Outgoing]:
        """A message that is no command may answer a conversation in progress (a profile question...)."""
        if not self.registry.conversations:
            return []
        state = self.store.pending(ev.room or "", ev.sender, ev.at)
        if state is None or state.kind not in self.registry.conversations:
            return []
        ctx = self.context(ev, keyword=state.kind)
        step = self.registry.conversations[state.kind]

        async def run() -> Any:
            return await step(ctx, text, state)

        return await self._guarded(ev, ctx, run, batch)

    async def _membership(self, ev: MemberJoined | MemberLeft, batch: _Batch) -> list[Outgoing]:
        if not self.serves(ev.room):
            return []
        joined = isinstance(ev, MemberJoined)
        listeners = self.registry.on_join if joined else self.registry.on_leave
        outs: list[Outgoing] = []
        try:
            with self.store.savepoint():
                if not self.store.claim_event(f"{'join' if joined else 'leave'}:{ev.id}", ev.at):
                    return []
                self._see(batch, "room", ev.room, ev.room_name, ev.at)
                for p in ev.members:
                    self._see(batch, "member", p.id, p.name, ev.at)
                if isinstance(ev, MemberJoined) and ev.inviter:
                    self._see(batch, "member", ev.inviter, "", ev.at)
                ctx = self.context(at=ev.at, room=ev.room, room_name=ev.room_name, event_id=ev.id)
                if not joined:
                    self._move_members(ev, batch, joined)
                # listeners of a join run before it is recorded, so they can tell who is new
                for listener in listeners:
                    outs.extend(self._render(await listener(ctx, ev), ctx, reply_to=None))
                if joined:
                    self._move_members(ev, batch, joined)
                outs.extend(await self._after(ctx, reply_to=None))
        except Exception as exc:
            if self.store.transient(exc):
                raise Transient(_cause(exc)) from exc
            logger.bind(room=ev.room).exception("{} event {} failed", "join" if joined else "leave", ev.id)
            return []
        return outs

    def _move_members(self, ev: MemberJoined | MemberLeft, batch: _Batch, joined: bool) -> None:
        for p in ev.members:
            if joined:
                self.store.see_in_room(ev.room, p.id, ev.at)
            else:
                self.store.left_room(ev.room, p.id, ev.at)
            batch.seen.discard(("in", p.id, ev.room))
            self._known.discard(("in", p.id, ev.room))

    async def _job(self, ev: JobDue) -> list[Outgoing]:
        func = self.registry.jobs.get(ev.job)
        if func is None:
            logger.error("schedule {} names unknown job {}", ev.job_id, ev.job)
            return []
        try:
            with self.store.savepoint():
                if not self.store.claim_event(f"job:{ev.job_id}:{ev.due.isoformat()}", ev.due):
                    return []
                only = self.schedule_rooms.get(ev.job_id, ()) or tuple(self.allowed_rooms)
                ctx = self.context(at=ev.at, event_id=ev.job_id,
                                   rooms=tuple(room for room, _name in self.store.rooms(only)))
                outs = self._render(await func(ctx), ctx, reply_to=None, job_id=ev.job_id)
                outs.extend(await self._after(ctx, reply_to=None))
        except Exception as exc:
            if self.store.transient(exc):
                raise Transient(_cause(exc)) from exc
            logger.exception("scheduled job {} due {} failed", ev.job_id, ev.due)
            return []
        if outs:  # a run that posts nothing (no group due, nothing to say) is not news
            held = "" if ev.run_at is None else f" (held for quiet hours until {ev.run_at.astimezone(self.tz):%H:%M})"
            logger.info("job {} due {} posted {} messages{}", ev.job_id, ev.due.isoformat(), len(outs), held)
        return outs

    async def _after(self, ctx: Context, reply_to: str | None) -> list[Outgoing]:
        outs: list[Outgoing] = []
        for hook in self.registry.after:
            outs.extend(self._render(await hook(ctx), ctx, reply_to=reply_to))
        return outs

    # -- replies -------------------------------------------------------------------------------

    def _render(self, result: Any, ctx: Context, reply_to: str | None, job_id: str | None = None) -> list[Outgoing]:
        if result is None:
            return []
        replies = [result] if isinstance(result, Reply) else list(result)
        outs: list[Outgoing] = []
        for r in replies:
            fallback = None
            if r.fallback is not None:
                [fallback] = self._render(replace(r.fallback, private=False, to=None, room=None), ctx, reply_to,
                                          job_id) if ctx.room else self._render(r.fallback, ctx, reply_to, job_id)
            data = {"name": ctx.sender_name, "keyword": ctx.keyword, "now": ctx.now.astimezone(self.tz), **r.data}
            image, draw = (None, r.image) if callable(r.image) else (r.image, None)
            text = self.renderer.render(r.template, data)
            if r.broadcast:
                only = self.schedule_rooms.get(job_id or "", ()) or tuple(self.allowed_rooms)
                for room_id, _name in self.store.rooms(only):
                    outs.append(Outgoing(at=ctx.now, text=self.hinted(text, group=True), room=room_id, reply_to=None,
                                         image=image, draw=draw, scheduled=job_id is not None))
            elif r.private or r.to or (ctx.room is None and r.room is None):
                outs.append(Outgoing(at=ctx.now, text=self.hinted(text, group=False), to=r.to or ctx.sender,
                                     reply_to=reply_to, image=image, draw=draw, fallback=fallback))
            else:
                room = r.room or ctx.room
                if r.mentions:
                    mentions, names = tuple(r.mentions), dict(r.names)
                else:
                    mentions = (ctx.sender,) if r.mention and ctx.sender and room == ctx.room else ()
                    names = {ctx.sender: ctx.sender_name} if mentions else {}
                outs.append(Outgoing(at=ctx.now, text=self.hinted(text, group=True), room=room, mentions=mentions,
                                     reply_to=reply_to, image=image, draw=draw, names=names, fallback=fallback,
                                     digest=r.digest,
                                     scheduled=job_id is not None and reply_to is None))  # a job's post to one group
        return outs

    def hinted(self, text: str, *, group: bool) -> str:
        """`text` with the mention hint before each command it quotes (「签到」 -> 「@积分助手 签到」) where typing
        it needs one: in a group, any command but a private-only one; in a private chat, group-only commands."""
        hint = self.mention_hint
        if not hint or "「" not in text:
            return text

        def one(m: re.Match[str]) -> str:
            inner = m.group(1)
            found = None if inner.startswith("@") else self.matcher.match(normalize(inner))
            if found is None:
                return m.group(0)
            where = found.command.where
            if where == "private" or (not group and where != "group"):
                return m.group(0)
            return f"「{hint}{inner}」"

        return _QUOTED.sub(one, text)


_QUOTED = re.compile(r"「([^「」\n]+)」")
DIGEST_SEPARATOR = "\n\n— — — — —\n\n"


def digest(outs: list[Outgoing]) -> list[Outgoing]:
    """Scheduled posts due at the same time for one group become one message, in schedule order."""
    merged: list[Outgoing] = []
    first: dict[tuple[str, Any], int] = {}
    for o in outs:
        if o.scheduled and o.room is not None and o.to is None and not o.mentions and o.image is None and o.draw is None:
            key = (o.room, o.at)
            if key in first:
                i = first[key]
                merged[i] = replace(merged[i], text=merged[i].text + DIGEST_SEPARATOR + o.text)
                continue
            first[key] = len(merged)
        merged.append(o)
    return merged


def _cause(exc: BaseException) -> str:
    """The first line of the database's own message (no parameters: they may hold personal fields)."""
    inner: BaseException = exc
    while isinstance(inner, Transient) and inner.__cause__ is not None:
        inner = inner.__cause__
    orig = getattr(inner, "orig", None) or inner
    first = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {first[0] if first else ''}"


def _describe(ev: Event) -> str:
    return f"{type(ev).__name__} {getattr(ev, 'id', '') or getattr(ev, 'job_id', '')} at {ev.at.isoformat()}"
