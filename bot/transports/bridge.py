"""Bridge transport: the replay contract served live over HTTP on 127.0.0.1, for any connector.

A connector (a WeChatFerry or WeCom client, a custom gateway) drives the bot without touching its code:

    POST /events            one replay-format event per line (JSON lines); 202 {"accepted": n}
                            or 400 {"errors": ["line 2: ..."]} (nothing of a bad request is taken)
    GET  /out?after=N&wait=S  the bot's messages after number N, as replay output lines (JSON lines),
                            waiting up to S seconds (long-poll, at most 60) for the first one;
                            header X-Next-After: the number to pass next time
    GET  /health            200 "ok"

Every request needs `Authorization: Bearer <secret>`. Starlette routes on uvicorn (bot/web.py), HTTP/1.1
with keep-alive; a body over MAX_BODY is answered 413.

202 means kept: the accepted lines are committed to the inbox (storage) before the answer, handled from
there, and deleted once the batch that handled them committed; a start resumes whatever is left. Output
lines are stored with their numbers, so numbering goes on across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from loguru import logger
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.clock import Clock
from bot.events import Event, MemberJoined, Outgoing, as_received
from bot.health import Health
from bot.transports.jsonl import BadLine, format_out, read_events
from bot.web import KEEP_ALIVE_SECONDS, READ_SECONDS, WebError, WebServer, build_app

MAX_BODY = 4 * 1024 * 1024
MAX_WAIT = 60.0
MAX_MEMBERS = 1000  # per join event: a WeChat group holds at most 500
_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads pairs valid escapes, so any left is lone


class BridgeError(Exception):
    pass


class Stored(Protocol):
    """An inbox row: an accepted line, its receipt, when it arrived."""

    @property
    def id(self) -> int: ...
    @property
    def line(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...


class Journal(Protocol):
    """What the bridge keeps in the database (storage.store.Store provides it); each write commits on its own."""

    def accept(self, lines: Sequence[str], at: datetime) -> list[int]: ...
    def accepted(self) -> Sequence[Stored]: ...
    def handled(self, ids: Sequence[int]) -> None: ...
    def log_out(self, line: str, at: datetime) -> int: ...
    def logged_out(self, n: int) -> list[tuple[int, str]]: ...
    def last_out(self) -> int: ...
    def trim_out(self, keep: int) -> None: ...


class _TooLarge(Exception):
    pass


def secret(settings: Any) -> str:
    return os.environ.get("BOT_BRIDGE_SECRET") or getattr(settings, "secret", "") or ""


def _dump(obj: Any) -> str:
    """JSON that always encodes as UTF-8: readable Chinese, and lone surrogates escaped."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj)
    return text


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_dump(obj), status, headers, media_type="application/json; charset=utf-8")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from _strings(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))


def _refusal(ev: Event) -> str | None:
    """Why the bridge refuses an event the replay format accepts, or None."""
    if any(_SURROGATE.search(s) for s in _strings(ev)):
        return "a string holds a lone UTF-16 surrogate (such as \\ud800), which is not valid Unicode"
    if isinstance(ev, MemberJoined) and len(ev.members) > MAX_MEMBERS:
        return f"a join event names {len(ev.members)} members; at most {MAX_MEMBERS} per event"
    return None


def read_body(body: bytes) -> tuple[list[Event], list[str]]:
    """The events of a POST /events body, or the errors naming each bad line."""
    taken, errors = _read(body)
    return [ev for _line, ev in taken], errors


def _read(body: bytes) -> tuple[list[tuple[str, Event]], list[str]]:
    """Each good line of a body with its event, and the errors naming each bad line."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = body[:exc.start].count(b"\n") + 1
        return [], [f"line {lineno}: not UTF-8 (byte {exc.start + 1} of the body)"]
    taken: list[tuple[str, Event]] = []
    errors: list[str] = []
    # lines end at \n only: str.splitlines() would also cut at U+2028/U+2029, valid inside a JSON string
    for n, line in enumerate(text.split("\n"), 1):
        for item in read_events([line]):
            if isinstance(item, BadLine):
                errors.append(f"line {n}: {item.reason}")
            elif why := _refusal(item):
                errors.append(f"line {n}: {why}")
            else:
                taken.append((line, item))
    return taken, errors


class BridgeTransport:
    def __init__(self, settings: Any, submit: Callable[[Event, int], None], journal: Journal, *, tz: ZoneInfo,
                 clock: Clock | None = None, keep: int = 10_000, parts: Iterable[Sequence[BaseRoute]] = (),
                 keep_alive: int = KEEP_ALIVE_SECONDS, read_seconds: float = READ_SECONDS,
                 health: Health | None = None) -> None:
        """`submit(event, receipt)` hands an accepted event to the pipeline, which passes the receipt to
        settle() once the batch that handled it committed. `parts`: more routes for the same web app."""
        self.host = settings.host
        self.port = settings.port
        self.secret = secret(settings)
        if not self.secret:
            raise BridgeError("a shared secret is required ([bridge] secret or BOT_BRIDGE_SECRET)")
        self.submit = submit
        self.journal = journal
        self.tz = tz
        self.clock = clock or Clock(tz)
        self.health = health or Health("bridge", clock=self.clock)  # connected while it listens
        self.keep = keep
        self.lines: deque[tuple[int, str]] = deque(journal.logged_out(keep), maxlen=keep)
        self.seq = journal.last_out()
        self._trimmed = self.seq
        self._resumed: set[int] = set()  # receipts of events accepted before this start, not handled yet
        self._resumed_at_start = False
        self._bell = asyncio.Event()  # rung (and replaced) on every new line and on stop
        self._stopping = False
        self.polling = 0  # long-polls waiting now
        self.app = build_app(self.routes(), *parts)
        self.web = WebServer(self.app, self.host, self.port, keep_alive=keep_alive, read_seconds=read_seconds)
        self.bound_port: int | None = None

    def routes(self) -> list[BaseRoute]:
        return [Route("/events", self._guarded(self._events), methods=["POST"]),
                Route("/out", self._guarded(self._out), methods=["GET"]),
                Route("/health", self._guarded(self._health), methods=["GET"])]

    async def send(self, out: Outgoing) -> None:
        line = format_out(out, self.tz)
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a name stored long ago?): escaped, or /out could not encode it
            line = json.dumps(json.loads(line))
        self.seq = self.journal.log_out(line, out.at)  # raises when it cannot be kept: the outbox logs it as not sent
        self.lines.append((self.seq, line))
        if self.seq - self._trimmed >= 1000:  # now and then, not on every send
            self.journal.trim_out(self.keep)
            self._trimmed = self.seq
        self._ring()

    def settle(self, receipts: Sequence[int]) -> None:
        """The events `receipts` were handled and committed: out of the inbox."""
        self.journal.handled(receipts)
        if self._resumed:
            self._resumed.difference_update(receipts)
            if not self._resumed:
                logger.info("bridge: every event accepted before this start is handled")

    def resume(self) -> int:
        """Hand the pipeline what the inbox still holds (accepted before a crash or a stop); how many."""
        if self._resumed_at_start:
            return 0
        self._resumed_at_start = True
        rows = list(self.journal.accepted())
        unreadable: list[int] = []
        for row in rows:
            got = list(read_events([row.line]))
            ev = got[0] if got else None
            if ev is None or isinstance(ev, BadLine):  # accepted by an older release's rules
                logger.error("bridge: inbox event {} can no longer be read; dropped: {!r}", row.id, row.line[:200])
                unreadable.append(row.id)
                continue
            self._resumed.add(row.id)
            self.submit(as_received(ev, row.received_at), row.id)
        if unreadable:
            self.journal.handled(unreadable)
        if self._resumed:
            logger.info("bridge: {} events accepted before this start are waiting; handling them first",
                        len(self._resumed))
        return len(self._resumed)

    def _ring(self) -> None:
        self._bell.set()
        self._bell = asyncio.Event()

    def stop(self) -> None:
        self._stopping = True
        self._ring()  # long-polls answer now rather than hold the shutdown
        self.web.stop()

    async def start(self) -> None:
        try:
            await self.web.start()
        except WebError as exc:
            raise BridgeError(str(exc)) from None
        self.resume()  # before any new request, so the old events keep their place
        self.bound_port = self.web.bound_port
        logger.info("bridge listening on http://{}:{}", self.host, self.bound_port)
        self.health.set("connected", "listening")

    async def run(self) -> None:
        if self.bound_port is None:
            await self.start()
        try:
            await self.web.serve()
        finally:
            self.health.set("stopped")

    # -- HTTP -----------------------------------------------------------------------------------

    def _guarded(self, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def guarded(request: Request) -> Response:
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > MAX_BODY:
                return _json(413, {"error": "body too large"}, {"Connection": "close"})
            auth = request.headers.get("authorization", "")
            given = auth[7:] if auth.startswith("Bearer ") else ""
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                return _json(401, {"error": "missing or wrong secret (Authorization: Bearer ...)"})
            try:
                response: Response = await handler(request)
            except _TooLarge:
                return _json(413, {"error": "body too large"}, {"Connection": "close"})
            return response

        return guarded

    async def _body(self, request: Request) -> bytes:
        """The whole body, chunked or not, refused once it passes MAX_BODY."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def _health(self, request: Request) -> Response:
        return _json(200, "ok")

    async def _events(self, request: Request) -> Response:
        try:
            body = await self._body(request)
        except ClientDisconnect:  # gone (or timed out) mid-body: nothing taken, nobody to answer
            return Response(status_code=400)
        taken, errors = _read(body)
        if errors:
            return _json(400, {"errors": errors})
        received = self.clock.now()
        try:
            receipts = self.journal.accept([line for line, _ev in taken], received)
        except Exception:  # the database said no: nothing was kept, so nothing is accepted
            logger.exception("bridge: could not keep {} events; answered 503", len(taken))
            return _json(503, {"error": "could not store the events; nothing was taken, send them again"})
        for (_line, ev), receipt in zip(taken, receipts, strict=True):
            self.submit(as_received(ev, received), receipt)
        return _json(202, {"accepted": len(taken)})

    async def _out(self, request: Request) -> Response:
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            return _json(400, {"errors": ['"after" must be a whole number']})
        try:
            wait = float(request.query_params.get("wait", "0"))
        except ValueError:
            return _json(400, {"errors": ['"wait" must be a number of seconds']})
        wait = min(MAX_WAIT, wait) if not math.isnan(wait) else 0.0
        if after > self.seq:  # a position from another life of the bot (a lost out log): the next line on
            logger.info("bridge: a reader asked for lines after {}, the last is {}; it gets the new ones", after,
                        self.seq)
            after = self.seq

        def newer() -> list[tuple[int, str]]:
            return [(n, text) for n, text in self.lines if n > after]

        got = newer()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not got and not self._stopping and (left := deadline - loop.time()) > 0:
            self.polling += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._bell.wait(), left)
            finally:
                self.polling -= 1
            got = newer()
        nxt = got[-1][0] if got else after
        return Response("".join(text + "\n" for _n, text in got), 200, {"X-Next-After": str(nxt)},
                        media_type="application/json; charset=utf-8")
