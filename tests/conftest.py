"""Fixtures: the whole app on an in-memory transport, a fresh database and a fixed clock."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import run_bot
from bot.clock import ManualClock
from bot.config import parse
from bot.events import Message, Outgoing
from bot.outbox import Budget
from bot.transports.memory import MemoryTransport
from tests.factories import config, sh

PG_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test fails if it tries to reach anything but this machine."""
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise RuntimeError(f"test tried to reach the network: {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


class Sent:
    """One message the bot sent, as a test sees it: reading any of its fields counts as checking it."""

    __slots__ = ("_out", "read")

    def __init__(self, out: Outgoing) -> None:
        self._out = out
        self.read = False

    def _field(self, name: str) -> Any:
        self.read = True
        return getattr(self._out, name)

    @property
    def out(self) -> Outgoing:
        """The message itself (counts as reading it)."""
        self.read = True
        return self._out

    @property
    def at(self) -> datetime:
        return self._field("at")  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        return self._field("text")  # type: ignore[no-any-return]

    @property
    def room(self) -> str | None:
        return self._field("room")  # type: ignore[no-any-return]

    @property
    def to(self) -> str | None:
        return self._field("to")  # type: ignore[no-any-return]

    @property
    def mentions(self) -> tuple[str, ...]:
        return self._field("mentions")  # type: ignore[no-any-return]

    @property
    def reply_to(self) -> str | tuple[str, ...] | None:
        return self._field("reply_to")  # type: ignore[no-any-return]

    @property
    def image(self) -> str | None:
        return self._field("image")  # type: ignore[no-any-return]

    @property
    def names(self) -> dict[str, str]:
        return self._field("names")  # type: ignore[no-any-return]

    @property
    def fallback(self) -> Outgoing | None:
        return self._field("fallback")  # type: ignore[no-any-return]

    @property
    def scheduled(self) -> bool:
        return self._field("scheduled")  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        self.read = True
        return self._out == (other._out if isinstance(other, Sent) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._out)


class Replies(list[Sent]):
    """What the bot sent for one step. A message counts as checked only once a test read its text or another
    of its fields (counting them does not); teardown fails on any message nobody checked."""

    def __init__(self, outs: list[Outgoing]) -> None:
        super().__init__(Sent(o) for o in outs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, list):
            return NotImplemented
        for s in self:
            s.read = True
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=False))

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]

    @property
    def text(self) -> str:
        """The one reply's text (fails unless exactly one message was sent)."""
        assert len(self) == 1, f"expected one reply, got {len(self)}: {self.unread()}"
        return self[0].text

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self]

    def unread(self) -> list[str]:
        """The texts of the messages nobody checked (reading them here does not count)."""
        return [s._out.text for s in self if not s.read]


class ChatBot:
    """The app as members see it: say things, read replies, look at the ledger."""

    def __init__(self, rt: run_bot.Runtime, transport: MemoryTransport) -> None:
        self.rt = rt
        self.transport = transport
        self.ledger = rt.ledger
        self.settings = rt.settings
        self._steps: list[Replies] = []

    def _wrap(self, outs: list[Outgoing]) -> Replies:
        r = Replies(outs)
        self._steps.append(r)
        return r

    async def say(self, text: str, *, as_: str, room: str | None = "g1", **kw: Any) -> Replies:
        return self._wrap(await self.transport.say(text, as_=as_, room=room, **kw))

    async def private(self, text: str, *, as_: str, **kw: Any) -> Replies:
        return self._wrap(await self.transport.say(text, as_=as_, room=None, **kw))

    def message(self, text: str, *, as_: str, room: str | None = "g1", **kw: Any) -> Message:
        """A message to hand to feed() with others: members talking faster than the bot may answer."""
        return self.transport.message(text, as_=as_, room=room, **kw)

    async def feed(self, *events: Any) -> Replies:
        """Several events in one step (one group commit), each at its own time; what was sent for them."""
        return self._wrap(await self.transport.feed(*events))

    async def join(self, room: str, *members: str, **kw: Any) -> Replies:
        return self._wrap(await self.transport.join(room, *members, **kw))

    async def leave(self, room: str, *members: str, **kw: Any) -> Replies:
        return self._wrap(await self.transport.leave(room, *members, **kw))

    async def tick(self, at: datetime | str) -> Replies:
        return self._wrap(await self.transport.tick(sh(at) if isinstance(at, str) else at))

    def at(self, when: datetime | str) -> None:
        self.transport.clock.set(sh(when) if isinstance(when, str) else when)

    def balance(self, member: str) -> int:
        m = self.ledger.member(member)
        return m.points if m else 0

    def growth(self, member: str) -> int:
        m = self.ledger.member(member)
        return m.growth if m else 0

    def entries(self, member: str | None = None) -> list[Any]:
        return list(self.ledger.entries(member))

    def unasserted(self) -> list[list[str]]:
        return [left for s in self._steps if (left := s.unread())]


def build_chat(data: dict[str, Any], url: str, start: datetime) -> ChatBot:
    settings = parse(data)
    clock = ManualClock(start, settings.bot.tz)
    rt = run_bot.build(settings.model_copy(update={"storage": settings.storage.model_copy(update={"url": url})}),
                       clock)
    # the outbox as configured, as replay and the live runner build it
    budget = Budget.from_settings(rt.settings.outbox, rt.settings.bot.tz)
    return ChatBot(rt, MemoryTransport(rt.app, clock, rt.schedule, budget))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'points.db'}"


def _pg_reachable() -> str | None:
    try:
        eng = create_engine(PG_URL)
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure to connect means: not reachable
        return str(exc).splitlines()[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on this machine's PostgreSQL; skipped, with the reason, when it is not reachable."""
    why = _pg_reachable()
    if why is not None:
        if os.environ.get("REQUIRE_PG"):
            pytest.fail(f"PostgreSQL required (REQUIRE_PG set) but not reachable at {PG_URL}: {why}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({why}): this test ran on SQLite only")
    with pg_schema() as url:
        yield url


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped with everything in it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'points.db'}"
    return str(request.getfixturevalue("pg_url"))


def _finish(bot: ChatBot) -> None:
    leftover = bot.unasserted()
    problems = bot.ledger.audit()
    bot.ledger.engine.dispose()
    assert not leftover, f"replies nobody asserted: {leftover}"
    assert not problems, f"audit failed: {problems}"


@pytest.fixture
async def chat(db_url: str) -> AsyncIterator[ChatBot]:
    """The bot with the test config (no scheduled posts) on a fresh database (SQLite file, and PostgreSQL
    schema), clock at 2026-11-23 07:30 Shanghai."""
    bot = build_chat(config(schedule=[]), db_url, sh("2026-11-23 07:30"))
    yield bot
    _finish(bot)


@pytest.fixture
def make_chat(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """Build a bot from a custom config: make_chat(config(...), start="2026-11-23 07:30", url=None).

    Each bot is checked (audit, unasserted replies) when the test ends, before any database fixture
    it was given (a PostgreSQL schema) is torn down.
    """
    count = iter(range(1000))

    def make(data: dict[str, Any] | None = None, start: str = "2026-11-23 07:30", url: str | None = None) -> ChatBot:
        bot = build_chat(data or config(), url or f"sqlite:///{tmp_path / f'points{next(count)}.db'}", sh(start))
        request.node.addfinalizer(lambda: _finish(bot))
        return bot

    return make
