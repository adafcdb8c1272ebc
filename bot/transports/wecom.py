"""The official WeCom AI bot (企业微信智能机器人) over its long connection: the only module that speaks it.

The protocol is a handful of JSON text frames on one WebSocket, spoken here directly with `websockets`
(the official SDK, wecom-aibot-python-sdk, pins pyee>=11 against wechaty's pyee==8.2.2, and drags in aiohttp
and cryptography for file downloads we never do). tests/transports/test_wecom_sdk.py runs the SDK 1.0.2 against
the same test server and checks that our frames match its frames key for key.

- every frame: {"cmd", "headers": {"req_id"}, "body"}; an answer to one carries no cmd, the request's
  req_id, and errcode/errmsg (0 = ok);
- `aibot_subscribe` {bot_id, secret} right after connecting; a refusal is not retried (exit 4);
- `ping` every ping_seconds; no answer within ping_timeout_seconds means a deaf link: reconnect;
- `aibot_msg_callback`: a member's message (groups: only @-messages of internal groups); its req_id is
  how a reply answers it (`aibot_respond_msg`), once; everything else (posts, digests, private notices
  and a second message for the same callback) goes out with `aibot_send_msg` {chatid};
- `aibot_event_callback`: enter_chat, card clicks, feedback (nothing here answers them) and
  `disconnected_event`: another connection subscribed with our bot id and WeCom closed ours. That is
  logged loudly and not fought over: the bot stops (exit 7) instead of pushing the other one off.

Callbacks carry userids only (no names, no list of whom a text @-mentions), and no group names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from bot.clock import Clock
from bot.events import Event, Message, Outgoing
from bot.health import Health
from bot.supervisor import Backoff, FatalConnectionError, Supervisor

DEFAULT_WS_URL = "wss://openws.work.weixin.qq.com"

# commands, as the SDK's aibot.types.WsCmd names them
SUBSCRIBE = "aibot_subscribe"
PING = "ping"
RESPOND = "aibot_respond_msg"
SEND = "aibot_send_msg"
MSG_CALLBACK = "aibot_msg_callback"
EVENT_CALLBACK = "aibot_event_callback"
PUSHED_OFF = "disconnected_event"  # event.eventtype when a second connection took the bot over

# subscribe answers worth another try (system busy, too frequent); any other errcode refuses the credentials
TRANSIENT_CODES = frozenset({-1, 45009})
MAX_CONTENT_BYTES = 20_480  # a markdown message's content, in UTF-8 bytes
_SPACES = " \u2005\u00a0\u3000"


class SendFailed(Exception):
    """WeCom did not take one message; the text says why."""


class SecretRefused(Exception):
    """aibot_subscribe was answered with an errcode: the bot id or secret is wrong (retrying cannot fix it)."""


class PushedOff(Exception):
    """WeCom sent disconnected_event: another process subscribed with this bot id."""


def credentials(settings: Any) -> tuple[str, str, str]:
    """(bot_id, secret, ws_url) from [wecom], each overridden by WECOM_BOT_ID / WECOM_BOT_SECRET / WECOM_WS_URL."""
    bot_id = os.environ.get("WECOM_BOT_ID") or getattr(settings, "bot_id", "") or ""
    secret = os.environ.get("WECOM_BOT_SECRET") or getattr(settings, "secret", "") or ""
    url = os.environ.get("WECOM_WS_URL") or getattr(settings, "ws_url", "") or DEFAULT_WS_URL
    return str(bot_id).strip(), str(secret).strip(), str(url).strip()


def new_req_id(prefix: str) -> str:
    """`{cmd}_{ms}_{8 hex}`, the SDK's shape: WeCom echoes it on the answer."""
    return f"{prefix}_{int(time.time() * 1000)}_{os.urandom(4).hex()}"


def message_text(body: dict[str, Any]) -> str | None:
    """The text a callback carries (text, the text parts of mixed, a voice's transcript), None if none."""
    kind = body.get("msgtype")
    if kind == "text":
        content = (body.get("text") or {}).get("content")
        return content if isinstance(content, str) else None
    if kind == "mixed":
        items = (body.get("mixed") or {}).get("msg_item") or []
        parts = [str((i.get("text") or {}).get("content") or "") for i in items
                 if isinstance(i, dict) and i.get("msgtype") == "text"]
        return " ".join(p for p in parts if p) or None
    if kind == "voice":  # 1:1 only; WeCom transcribes it
        content = (body.get("voice") or {}).get("content")
        return content if isinstance(content, str) and content else None
    return None  # image, file: nothing a command can be


def strip_mention(text: str, name: str) -> str:
    """Drop "@name" where a member typed it, first or last: in a group every message WeCom passes on @-mentions the bot."""
    t = text.strip(_SPACES)
    at = f"@{name}"
    if name and t.startswith(at) and (len(t) == len(at) or t[len(at)] in _SPACES):
        return t[len(at):].strip(_SPACES)
    if name and t.endswith(at) and len(t) > len(at) and t[-len(at) - 1] in _SPACES:
        return t[: -len(at)].strip(_SPACES)
    return t


def markdown(out: Outgoing) -> str:
    """The message as WeCom markdown: `<@userid>` renders as a mention of that member in a group."""
    text = out.text
    if out.room is not None and out.mentions:
        text = " ".join(f"<@{m}>" for m in out.mentions) + " " + text
    data = text.encode("utf-8")
    if len(data) > MAX_CONTENT_BYTES:
        text = data[: MAX_CONTENT_BYTES - 3].decode("utf-8", "ignore") + "…"
    return text


@dataclass
class Callback:
    """A member's message as WeCom delivered it: a reply in the same chat answers it on its req_id."""

    req_id: str
    room: str | None
    member: str
    session: int
    answered: bool = False


class WecomTransport:
    """Maps WeCom callbacks into our events, sends Outgoing as frames, and stays subscribed."""

    def __init__(
        self,
        settings: Any,
        submit: Callable[[Event], None],
        *,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        bot_name: str = "积分助手",
        self_alias: str = "bot",
        remember: int = 10_000,
        health: Health | None = None,
    ) -> None:
        self.settings = settings
        self.health = health or Health("wecom", clock=clock)  # told of every state change
        self.submit = submit
        self.clock = clock or Clock()
        self.bot_id, self.secret, self.url = credentials(settings)
        self.bot_name = bot_name
        self.self_alias = self_alias  # bot.self_id: how the core recognises an @ of the bot
        # members must @ the bot in a group: the App puts this before every command it quotes there
        self.mention_hint = f"@{bot_name} "
        self.timeout = float(getattr(settings, "ping_timeout_seconds", 10.0))
        self.up = False
        self.session = 0  # connections opened so far; a req_id is answered on its own connection only
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._callbacks: OrderedDict[str, Callback] = OrderedDict()  # msgid -> callback (also the de-dup)
        self._remember = remember
        self.supervisor = Supervisor(
            self.connect,
            probe=self.probe,
            fatal=_fatal,
            is_up=lambda: self.up,
            backoff=backoff or Backoff(getattr(settings, "backoff_initial_seconds", 1.0),
                                       getattr(settings, "backoff_max_seconds", 60.0)),
            probe_every=getattr(settings, "ping_seconds", 30.0),
            probe_timeout=self.timeout,
            name=f"WeCom long connection {self.url}",
        )

    # -- connection ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Stay subscribed until stop(); FatalConnectionError when the secret is refused or we were pushed off."""
        try:
            await self.supervisor.run()
        except FatalConnectionError as exc:
            if not isinstance(exc.__cause__, PushedOff):  # pushed off was said as it happened
                self.health.set("stopped", str(exc))
            raise
        self.health.set("stopped")

    def stop(self) -> None:
        self.supervisor.stop()

    async def connect(self) -> None:
        """One connection: subscribe, then read frames until it closes (returns) or fails (raises)."""
        self.up = False
        logger.info("connecting to WeCom {}", self.url)
        # pings are ours (WeCom answers `ping` frames), as in the SDK; HTTPS_PROXY is honoured (websockets 15+)
        async with ws_connect(self.url, ping_interval=None, open_timeout=self.timeout, close_timeout=5,
                              max_size=2**22) as ws:
            self._ws = ws
            # counted before subscribing: the reader may take a callback pushed right after the answer
            # before this coroutine resumes, and that callback belongs to this connection
            self.session += 1
            reader = asyncio.ensure_future(self._read(ws))
            try:
                ack = await self._request(ws, {"cmd": SUBSCRIBE, "headers": {"req_id": new_req_id(SUBSCRIBE)},
                                               "body": {"bot_id": self.bot_id, "secret": self.secret}}, reader)
                code = ack.get("errcode")
                if code != 0:
                    why = f"errcode {code}: {ack.get('errmsg', '')}"
                    if code in TRANSIENT_CODES:
                        raise ConnectionError(f"WeCom could not take the subscription now ({why})")
                    raise SecretRefused(f"WeCom refused bot id {self.bot_id!r} and its secret ({why})")
                self.up = True
                logger.info("subscribed to WeCom as bot {}", self.bot_id)
                self.health.set("connected")
                await reader  # until the connection ends; PushedOff raises from here
            finally:
                self.up = False
                if self.health.state == "connected":
                    self.health.set("reconnecting", "the connection to WeCom ended")
                self._ws = None
                if not reader.done():
                    reader.cancel()
                    with contextlib.suppress(BaseException):
                        await reader

    async def probe(self) -> None:
        """One ping; the supervisor reconnects when it is not answered in time."""
        ws = self._ws
        if ws is None:
            raise ConnectionError("not connected")
        ack = await self._request(ws, {"cmd": PING, "headers": {"req_id": new_req_id(PING)}})
        if ack.get("errcode") != 0:
            raise ConnectionError(f"ping answered errcode {ack.get('errcode')}: {ack.get('errmsg', '')}")

    async def _request(self, ws: ClientConnection, frame: dict[str, Any],
                       reader: asyncio.Future[None] | None = None) -> dict[str, Any]:
        """Send `frame` and wait for the answer carrying its req_id (TimeoutError, ConnectionError)."""
        rid = frame["headers"]["req_id"]
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            await ws.send(json.dumps(frame, ensure_ascii=False))
            waits: set[asyncio.Future[Any]] = {fut} if reader is None else {fut, reader}
            done, _ = await asyncio.wait(waits, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
            if fut in done:
                return fut.result()
            if reader is not None and reader in done:
                reader.result()  # raises what ended it
                raise ConnectionError("WeCom closed the connection before answering")
            raise TimeoutError(f"no answer to {frame['cmd']} within {self.timeout:g}s")
        except ConnectionClosed as exc:
            raise ConnectionError(f"connection closed ({exc})") from exc
        finally:
            self._pending.pop(rid, None)
            if fut.done() and not fut.cancelled():
                fut.exception()  # retrieved: a connection that ended under it is reported once, by the reader

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    logger.warning("WeCom sent a frame that is not JSON ({} bytes); ignored", len(raw))
                    continue
                if isinstance(frame, dict):
                    self.on_frame(frame)
        except ConnectionClosed as exc:
            raise ConnectionError(f"connection closed ({exc})") from exc
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    # -- inbound ------------------------------------------------------------------------------

    def on_frame(self, frame: dict[str, Any]) -> None:
        cmd = frame.get("cmd")
        headers = frame.get("headers")
        rid = str(headers.get("req_id") or "") if isinstance(headers, dict) else ""
        body = frame.get("body")
        if cmd == EVENT_CALLBACK and isinstance(body, dict) and _event_type(body) == PUSHED_OFF:
            logger.error("WeCom pushed this bot off: another process subscribed with bot id {}. Not reconnecting, "
                         "so the two do not take the connection from each other; stop the other one to run this one",
                         self.bot_id)
            self.health.set("pushed_off", "another process subscribed with this bot id")
            raise PushedOff("another process subscribed with this bot id and WeCom closed our connection "
                            "(disconnected_event); only one connection per bot is allowed")
        try:
            if cmd == MSG_CALLBACK:
                self.on_message(rid, body)
            elif cmd == EVENT_CALLBACK:
                logger.debug("WeCom event {} ignored", _event_type(body) if isinstance(body, dict) else "?")
            elif rid in self._pending:
                fut = self._pending[rid]
                if not fut.done():
                    fut.set_result(frame)
            else:
                logger.debug("WeCom frame {} with req_id {} matches nothing we asked; ignored", cmd, rid)
        except Exception:  # a strange payload must not end the connection
            logger.exception("could not read a WeCom {} frame", cmd)

    def on_message(self, req_id: str, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("msgid"):
            logger.warning("WeCom message callback without msgid; ignored")
            return
        msgid = str(body["msgid"])
        known = self._callbacks.get(msgid)
        if known is not None:
            # delivered again: one effect; an unanswered reply may still use the newer req_id
            if not known.answered:
                known.req_id, known.session = req_id, self.session
            logger.info("WeCom message {} delivered again; ignored", msgid)
            return
        sender = str((body.get("from") or {}).get("userid") or "")
        group = body.get("chattype") == "group"
        room = str(body.get("chatid") or "") if group else None
        if not sender or (group and not room):
            logger.warning("WeCom message {} names no sender or group; ignored", msgid)
            return
        self._callbacks[msgid] = Callback(req_id, room, sender, self.session)
        if len(self._callbacks) > self._remember:
            self._callbacks.popitem(last=False)
        text = message_text(body)
        if text is None:
            logger.bind(room=room, member=sender).debug("WeCom {} message ignored", body.get("msgtype"))
            return
        if group:
            text = strip_mention(text, self.bot_name)
        self.submit(Message(id=msgid, at=self._at(body.get("create_time")), sender=sender, sender_name=sender,
                            text=text, room=room, mentions=(self.self_alias,) if group else ()))

    def _at(self, ts: Any) -> datetime:
        now = self.clock.now()
        if not isinstance(ts, (int, float)) or isinstance(ts, bool) or ts <= 0:
            return now
        secs = ts / 1000 if ts > 1e11 else float(ts)
        at = datetime.fromtimestamp(secs, UTC)
        return at if now - timedelta(days=1) <= at <= now + timedelta(minutes=5) else now

    # -- outbound -----------------------------------------------------------------------------

    def answers(self, out: Outgoing) -> Callback | None:
        """The callback `out` answers on its req_id: the one it replies to, in the same chat, not answered yet."""
        ids = out.reply_to if isinstance(out.reply_to, tuple) else (out.reply_to,) if out.reply_to else ()
        if len(ids) != 1:
            return None  # a post, or several callbacks (one req_id cannot answer them all)
        cb = self._callbacks.get(ids[0])
        if cb is None or cb.answered or cb.session != self.session:
            return None
        if out.room is not None:
            return cb if cb.room == out.room else None
        return cb if cb.room is None and out.to == cb.member else None

    async def send(self, out: Outgoing) -> None:
        """Deliver one message or raise SendFailed saying why."""
        ws = self._ws
        if ws is None or not self.up:
            raise SendFailed("not connected to WeCom")
        if out.image:
            logger.bind(room=out.room, member=out.to).info("WeCom's AI bot sends no images: sending the text version")
        content = {"msgtype": "markdown", "markdown": {"content": markdown(out)}}
        cb = self.answers(out)
        if cb is not None:
            cb.answered = True
            ack = await self._ask(ws, {"cmd": RESPOND, "headers": {"req_id": cb.req_id}, "body": content})
            if ack.get("errcode") == 0:
                return
            # refused, so not shown: the same text as a message of its own reaches the chat all the same
            logger.bind(room=out.room, member=out.to).warning(
                "WeCom did not take the answer on its callback (errcode {}: {}); sending it as a new message",
                ack.get("errcode"), ack.get("errmsg", ""))
        chat = out.room or out.to
        if not chat:
            raise SendFailed("a message needs a group or a member")
        ack = await self._ask(ws, {"cmd": SEND, "headers": {"req_id": new_req_id(SEND)},
                                   "body": {"chatid": chat, **content}})
        if ack.get("errcode") != 0:
            raise SendFailed(f"WeCom refused the message (errcode {ack.get('errcode')}: {ack.get('errmsg', '')})")

    async def _ask(self, ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._request(ws, frame)
        except (ConnectionError, TimeoutError) as exc:
            raise SendFailed(str(exc)) from exc


def _event_type(body: dict[str, Any]) -> str:
    event = body.get("event")
    return str(event.get("eventtype") or "") if isinstance(event, dict) else ""


def _fatal(exc: BaseException) -> str | None:
    if isinstance(exc, (SecretRefused, PushedOff)):
        return str(exc)
    return None
