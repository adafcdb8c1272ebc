"""Bridge transport: the replay contract served live over HTTP on 127.0.0.1, for any connector.

A connector (a WeChatFerry or WeCom client, a custom gateway) drives the bot without touching its code:

    POST /events            one replay-format event per line (JSON lines); 202 {"accepted": n}
                            or 400 {"errors": ["line 2: ..."]} (nothing of a bad request is taken)
    GET  /out?after=N&wait=S  the bot's messages after number N, as replay output lines (JSON lines),
                            waiting up to S seconds (long-poll, at most 60) for the first one;
                            header X-Next-After: the number to pass next time
    GET  /health            200 "ok"

Every request needs `Authorization: Bearer <secret>`. Plain HTTP/1.1, one request per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from loguru import logger

from bot.events import Event, Outgoing
from bot.transports.jsonl import BadLine, format_out, read_events

MAX_BODY = 4 * 1024 * 1024


class BridgeError(Exception):
    pass


def secret(settings: Any) -> str:
    return os.environ.get("BOT_BRIDGE_SECRET") or getattr(settings, "secret", "") or ""


class BridgeTransport:
    def __init__(self, settings: Any, submit: Callable[[Event], None], *, tz: ZoneInfo, keep: int = 10_000) -> None:
        self.host = settings.host
        self.port = settings.port
        self.secret = secret(settings)
        if not self.secret:
            raise BridgeError("a shared secret is required ([bridge] secret or BOT_BRIDGE_SECRET)")
        self.submit = submit
        self.tz = tz
        self.lines: deque[tuple[int, str]] = deque(maxlen=keep)
        self.seq = 0
        self._new = asyncio.Condition()
        self._stop = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.bound_port: int | None = None

    async def send(self, out: Outgoing) -> None:
        self.seq += 1
        self.lines.append((self.seq, format_out(out, self.tz)))
        async with self._new:
            self._new.notify_all()

    def stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        try:
            self.server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            raise BridgeError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        self.bound_port = self.server.sockets[0].getsockname()[1]
        logger.info("bridge listening on http://{}:{}", self.host, self.bound_port)

    async def run(self) -> None:
        if self.server is None:
            await self.start()
        assert self.server is not None
        try:
            await self._stop.wait()
        finally:
            self.server.close()
            async with self._new:
                self._new.notify_all()
            await self.server.wait_closed()

    # -- HTTP -----------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body, headers = await self._request(reader)
        except Exception as exc:  # a bad client must not take the bridge down
            logger.warning("bridge: bad request ({})", exc)
            status, body, headers = 400, json.dumps({"error": "bad request"}), {}
        data = body.encode("utf-8")
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}", f"Content-Length: {len(data)}",
                "Content-Type: application/json; charset=utf-8", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, str, dict[str, str]]:
        line = (await reader.readline()).decode("latin-1").strip()
        method, target, _version = line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            h = (await reader.readline()).decode("latin-1")
            if h in ("\r\n", "\n", ""):
                break
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY:
            return 413, json.dumps({"error": "body too large"}), {}
        body = (await reader.readexactly(length)).decode("utf-8") if length else ""
        auth = headers.get("authorization", "")
        given = auth[7:] if auth.startswith("Bearer ") else ""
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return 401, json.dumps({"error": "missing or wrong secret (Authorization: Bearer ...)"}), {}
        url = urlsplit(target)
        query = parse_qs(url.query)
        if method == "GET" and url.path == "/health":
            return 200, json.dumps("ok"), {}
        if method == "POST" and url.path == "/events":
            return self._events(body)
        if method == "GET" and url.path == "/out":
            after = int(query.get("after", ["0"])[0])
            wait = min(60.0, float(query.get("wait", ["0"])[0]))
            return await self._out(after, wait)
        return 404, json.dumps({"error": f"no {method} {url.path}"}), {}

    def _events(self, body: str) -> tuple[int, str, dict[str, str]]:
        events: list[Event] = []
        errors: list[str] = []
        for item in read_events(body.splitlines()):
            if isinstance(item, BadLine):
                errors.append(f"line {item.lineno}: {item.reason}")
            else:
                events.append(item)
        if errors:
            return 400, json.dumps({"errors": errors}, ensure_ascii=False), {}
        for ev in events:
            self.submit(ev)
        return 202, json.dumps({"accepted": len(events)}), {}

    async def _out(self, after: int, wait: float) -> tuple[int, str, dict[str, str]]:
        def newer() -> list[tuple[int, str]]:
            return [(n, text) for n, text in self.lines if n > after]

        got = newer()
        if not got and wait > 0:
            async with self._new:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait_for(lambda: bool(newer()) or self._stop.is_set()), wait)
            got = newer()
        nxt = got[-1][0] if got else after
        return 200, "".join(text + "\n" for _n, text in got), {"X-Next-After": str(nxt)}


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            413: "Payload Too Large"}
