"""A local stand-in for WeCom's long-connection server (wss://openws.work.weixin.qq.com) on ws://127.0.0.1.

It plays what WeCom does, frame for frame as the official SDK expects: answers `aibot_subscribe` (errcode 0,
or a refusal for a wrong bot id/secret, then closes), `ping`, `aibot_respond_msg` and `aibot_send_msg`; pushes
`aibot_msg_callback` / `aibot_event_callback` frames; keeps one connection per bot, pushing the older one off
with a `disconnected_event`; can stop answering pings on one connection. Every frame received is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

REFUSED = 40058  # what this server answers a wrong secret with (any errcode but -1 / 45009 is a refusal)


@dataclass
class Received:
    conn: int  # which connection (1, 2, ...) sent it
    frame: dict[str, Any]

    @property
    def cmd(self) -> str:
        return str(self.frame.get("cmd", ""))

    @property
    def req_id(self) -> str:
        return str(self.frame.get("headers", {}).get("req_id", ""))

    @property
    def body(self) -> dict[str, Any]:
        return dict(self.frame.get("body") or {})


@dataclass
class WecomServer:
    bot_id: str = "aibot-1"
    secret: str = "s3cret"
    frames: list[Received] = field(default_factory=list)
    connections: int = 0
    deaf: set[int] = field(default_factory=set)  # connections whose pings go unanswered
    codes: dict[str, int] = field(default_factory=dict)  # cmd -> errcode to answer it with (default 0)
    backlog: list[dict[str, Any]] = field(default_factory=list)  # frames pushed right after the next subscribe's answer
    refusing: bool = False  # an outage: every new connection is closed at once (see drop)
    url: str = ""
    _current: tuple[int, ServerConnection] | None = None
    _server: Server | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> WecomServer:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def drop(self) -> None:
        """An outage: the subscribed connection is closed and new ones are closed as they open, until allow()."""
        self.refusing = True
        if self._current is not None:
            await self._current[1].close()

    def allow(self) -> None:
        self.refusing = False

    # -- what the bot sends -------------------------------------------------------------------

    def sent(self, cmd: str, conn: int | None = None) -> list[Received]:
        return [r for r in self.frames if r.cmd == cmd and (conn is None or r.conn == conn)]

    @property
    def subscribed(self) -> int:
        """The connection number that holds the bot now (0: none)."""
        return self._current[0] if self._current else 0

    async def until(self, cond: Any, what: str, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not cond():
            left = end - loop.time()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; frames: {[(r.conn, r.cmd) for r in self.frames]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.1))

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        n = self.connections
        self._changed.set()
        if self.refusing:
            await ws.close()
            return
        try:
            async for raw in ws:
                frame = json.loads(raw)
                got = Received(n, frame)
                self.frames.append(got)
                await self._answer(n, ws, got)
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            if self._current is not None and self._current[0] == n:
                self._current = None
            self._changed.set()

    async def _answer(self, n: int, ws: ServerConnection, got: Received) -> None:
        if got.cmd == "aibot_subscribe":
            body = got.body
            if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
                await ws.send(_ack(got.req_id, REFUSED, "invalid bot_id or secret"))
                await ws.close()
                return
            old = self._current
            self._current = (n, ws)
            await ws.send(_ack(got.req_id, 0))
            while self.backlog:  # in the same breath as the answer, as WeCom passes on what waited
                await ws.send(json.dumps(self.backlog.pop(0), ensure_ascii=False))
            if old is not None:  # one connection per bot: the older one is pushed off
                await self.push_event("disconnected_event", conn=old[1])
                await old[1].close()
            return
        if got.cmd == "ping":
            if n not in self.deaf:
                await ws.send(_ack(got.req_id, 0))
            return
        if got.cmd in ("aibot_respond_msg", "aibot_send_msg", "aibot_respond_welcome_msg"):
            code = self.codes.get(got.cmd, 0)
            await ws.send(_ack(got.req_id, code, "ok" if code == 0 else "refused by the test server"))

    # -- what WeCom pushes --------------------------------------------------------------------

    async def push(self, frame: dict[str, Any], conn: ServerConnection | None = None) -> None:
        target = conn or (self._current[1] if self._current else None)
        assert target is not None, "no subscribed connection to push to"
        await target.send(json.dumps(frame, ensure_ascii=False))

    async def push_raw(self, text: str) -> None:
        assert self._current is not None
        await self._current[1].send(text)

    async def message(self, text: str, *, userid: str, chatid: str | None = None, msgid: str | None = None,
                      msgtype: str = "text", extra: dict[str, Any] | None = None) -> tuple[str, str]:
        """A member's message: in group `chatid` (an @-message) or 1:1. Returns (msgid, req_id)."""
        i = next(self._ids)
        msgid = msgid or f"msg{i:04d}"
        req_id = f"cb{i:04d}"
        body: dict[str, Any] = {"msgid": msgid, "aibotid": self.bot_id, "chattype": "group" if chatid else "single",
                                "from": {"userid": userid}, "msgtype": msgtype}
        if chatid:
            body["chatid"] = chatid
        if msgtype == "text":
            body["text"] = {"content": text}
        body.update(extra or {})
        await self.push({"cmd": "aibot_msg_callback", "headers": {"req_id": req_id}, "body": body})
        return msgid, req_id

    async def push_event(self, eventtype: str, *, userid: str = "zhangsan", conn: ServerConnection | None = None) -> str:
        i = next(self._ids)
        req_id = f"ev{i:04d}"
        await self.push({"cmd": "aibot_event_callback", "headers": {"req_id": req_id},
                         "body": {"msgid": f"event{i:04d}", "aibotid": self.bot_id, "chattype": "single",
                                  "from": {"userid": userid}, "msgtype": "event",
                                  "event": {"eventtype": eventtype}}}, conn=conn)
        return req_id


def _ack(req_id: str, code: int, msg: str = "ok") -> str:
    return json.dumps({"headers": {"req_id": req_id}, "errcode": code, "errmsg": msg})


