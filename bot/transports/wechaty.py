"""Real WeChat through a wechaty puppet service (gRPC): the only module that imports wechaty.

wechaty 0.10.7 (2022) needs care on Python 3.11 and later; every workaround lives here:
- Python 3.13 removed telnetlib, which it imports to probe a local port: a small shim stands in;
- its WechatyOptions has a mutable dataclass default that 3.11 rejects: PuppetOptions gets a hash;
- `import wechaty` makes ./.wechaty and a job.db: both go under the configured cache dir;
- its loggers print every message text at INFO on their own handlers: they go to loguru at WARNING;
- `Wechaty.start()` swallows every error and sleeps 60 s on a lost stream: we run the same steps
  ourselves so the supervisor sees what happened; without an endpoint it would ask an internet
  discovery service: we refuse to start instead;
- at login it probes 127.0.0.1:5000 and skips on_login if that port is busy: port 0;
- Room and Contact objects are cached per process and bound to the puppet that made them:
  the caches are cleared for every new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger

from bot.clock import Clock
from bot.events import Event, Group, MemberJoined, MemberLeft, Message, Outgoing, Person, Rooms
from bot.health import Health
from bot.supervisor import Backoff, FatalConnectionError, Supervisor

MAX_IMAGE_BYTES = 3 * 1024 * 1024  # a FileBox goes base64 in one gRPC call; bigger ones fail

_loaded: dict[str, Any] = {}


class SendFailed(Exception):
    """The transport could not deliver one message; the text says why (e.g. not the bot's friend)."""


def endpoint_and_token(settings: Any) -> tuple[str, str]:
    """[wechaty] endpoint/token, overridden by WECHATY_PUPPET_SERVICE_ENDPOINT / _TOKEN."""
    endpoint = os.environ.get("WECHATY_PUPPET_SERVICE_ENDPOINT") or getattr(settings, "endpoint", "") or ""
    token = os.environ.get("WECHATY_PUPPET_SERVICE_TOKEN") or getattr(settings, "token", "") or ""
    return str(endpoint).strip(), str(token).strip()


class WechatyUnavailable(RuntimeError):
    """The wechaty packages cannot be imported on this Python; the text says which version and what to do."""


def _telnetlib_shim() -> None:
    """Python 3.13 removed telnetlib; wechaty imports its Telnet only to see whether a local port answers."""
    import importlib.util
    import socket
    import types

    if importlib.util.find_spec("telnetlib") is not None:
        return

    class Telnet:
        def open(self, host: str, port: int = 0, timeout: float = 3) -> None:
            with socket.create_connection((host, port), timeout):  # OSError (socket.error) when nothing listens
                pass

    shim = types.ModuleType("telnetlib")
    shim.Telnet = Telnet  # type: ignore[attr-defined]
    sys.modules["telnetlib"] = shim


def load_wechaty(cache_dir: str = "data/wechaty") -> Any:
    """Import wechaty once, with the shims above; returns the `wechaty` module."""
    if "wechaty" in _loaded:
        return _loaded["wechaty"]
    _telnetlib_shim()
    os.environ.setdefault("WECHATY_LOG", "warn")
    cache = os.path.abspath(cache_dir)
    os.makedirs(cache, exist_ok=True)
    os.environ["CACHE_DIR"] = cache
    here = os.getcwd()
    os.chdir(cache)  # wechaty_puppet.config makes ./.wechaty at import, whatever CACHE_DIR says
    try:
        schemas = importlib.import_module("wechaty_puppet.schemas.puppet")
        if schemas.PuppetOptions.__hash__ is None:  # upstream issues 385 and 422
            schemas.PuppetOptions.__hash__ = object.__hash__
        mod = importlib.import_module("wechaty")
        importlib.import_module("wechaty_puppet_service")  # imported lazily by wechaty: its loggers too
    except ImportError as exc:
        version = ".".join(map(str, sys.version_info[:3]))
        raise WechatyUnavailable(f"the wechaty transport cannot run on Python {version} ({exc}); "
                                 "run the bot on Python 3.11, 3.12 or 3.13, with: pip install -r requirements.txt") from None
    finally:
        os.chdir(here)
    _forward_logging()
    _loaded["wechaty"] = mod
    return mod


def _forward_logging() -> None:
    """wechaty's loggers have their own stderr handlers and do not propagate: send them to loguru."""
    for name, lg in list(logging.root.manager.loggerDict.items()):
        if not isinstance(lg, logging.Logger) or lg.propagate:
            continue
        own = lg.handlers and all(type(h) in (logging.StreamHandler, logging.FileHandler) for h in lg.handlers)
        if own and any(getattr(h, "stream", None) in (sys.stderr, sys.stdout) or isinstance(h, logging.FileHandler)
                       for h in lg.handlers):
            lg.handlers = []
            lg.propagate = True
            lg.setLevel(logging.WARNING)  # INFO would log every message text
            logger.trace("wechaty logger {} forwarded", name)
    # it warns with the token in the text whenever both endpoint and token are set
    logging.getLogger("PuppetService").setLevel(logging.ERROR)


def _is_token_refused(exc: BaseException) -> str | None:
    status = getattr(exc, "status", None)
    name = getattr(status, "name", "")
    if name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        detail = getattr(exc, "message", None) or str(exc)
        return f"the puppet service refused the token ({detail})"
    return None


def _seconds(ts: float | int | None) -> float | None:
    """Puppets send seconds or milliseconds; None/0 means unknown."""
    if not ts:
        return None
    t = float(ts)
    return t / 1000 if t > 1e11 else t


class WechatyTransport:
    """Maps wechaty events into ours, sends Outgoing through the puppet, and reconnects when needed."""

    def __init__(
        self,
        settings: Any,
        submit: Callable[[Event], None],
        *,
        clock: Clock | None = None,
        puppet_factory: Callable[[], Any] | None = None,
        backoff: Backoff | None = None,
        seen_capacity: int = 10_000,
        self_alias: str = "",
        health: Health | None = None,
    ) -> None:
        self.health = health or Health("wechaty", clock=clock)  # told of login, logout and lost streams
        self.self_alias = self_alias  # bot.self_id in config: how the core recognises an @ of the bot
        self.settings = settings
        self.submit = submit
        self.clock = clock or Clock()
        self.puppet_factory = puppet_factory
        self.endpoint, self.token = endpoint_and_token(settings)
        self.mod = load_wechaty(getattr(settings, "cache_dir", "data/wechaty"))
        self.bot: Any = None
        self.self_id: str = ""
        self.logged_in = False
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_capacity = seen_capacity
        self._listing: asyncio.Future[None] | None = None  # the room list asked for at login
        self._ending: asyncio.Future[Any] | None = None  # the session a logout ends
        self.supervisor = Supervisor(
            self.connect,
            probe=self.probe,
            fatal=_is_token_refused,
            is_up=lambda: self.logged_in,
            backoff=backoff or Backoff(getattr(settings, "backoff_initial_seconds", 1.0),
                                       getattr(settings, "backoff_max_seconds", 60.0)),
            probe_every=getattr(settings, "probe_seconds", 30.0),
            probe_timeout=getattr(settings, "probe_timeout_seconds", 10.0),
            name=f"puppet service {self.endpoint or '(in process)'}",
        )

    # -- connection ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until stop(); FatalConnectionError when the token is refused."""
        if self.puppet_factory is None and not self.endpoint:
            raise FatalConnectionError(
                "no puppet service endpoint: set [wechaty] endpoint = \"host:port\" in config.toml or "
                "WECHATY_PUPPET_SERVICE_ENDPOINT (the bot never asks wechaty's internet discovery service)")
        try:
            await self.supervisor.run()
        except FatalConnectionError as exc:
            self.health.set("stopped", str(exc))
            raise
        self.health.set("stopped")

    def stop(self) -> None:
        self.supervisor.stop()

    def _options(self) -> Any:
        schemas = importlib.import_module("wechaty_puppet.schemas.puppet")
        puppet_options = schemas.PuppetOptions(token=self.token or None, end_point=self.endpoint or None)
        puppet = self.puppet_factory() if self.puppet_factory is not None else "wechaty-puppet-service"
        return self.mod.WechatyOptions(puppet=puppet, puppet_options=puppet_options, host="127.0.0.1", port=0,
                                       token=self.token or None, endpoint=self.endpoint or None)

    def _clear_caches(self) -> None:
        user = importlib.import_module("wechaty.user")
        helper = importlib.import_module("wechaty.utils.async_helper")
        for cls in (user.Room, user.Contact, user.Message):
            pool = getattr(cls, "_pool", None)
            if isinstance(pool, dict):
                pool.clear()
        # its message de-dup is per process and unbounded; ours (and the database's) replace it
        helper.SingleIdContainer._instance = None

    async def connect(self) -> None:
        """One session: returns (or raises) when the stream ends; the supervisor decides what next."""
        self._clear_caches()
        self.logged_in = False
        bot = _make_bot(self.mod, self._options(), self)
        await bot.init_puppet()
        await bot.init_puppet_event_bridge(bot.puppet)
        self.bot = bot
        logger.info("connecting to the puppet service {}", self.endpoint or "(in process)")
        try:
            # blocks while the event stream lives; connection and token errors surface here
            await bot.puppet.start()
        finally:
            self.logged_in = False
            self.bot = None
            if self.health.state == "connected":
                self.health.set("reconnecting", "the puppet service's event stream ended")
            with contextlib.suppress(Exception):
                await bot.puppet.stop()

    async def probe(self) -> None:
        bot = self.bot
        if bot is None:
            raise ConnectionError("not connected")
        await bot.puppet.ding("probe")

    # -- inbound ------------------------------------------------------------------------------

    def _first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._seen_capacity:
            self._seen.popitem(last=False)
        return True

    def _at(self, ts: float | int | None) -> datetime:
        now = self.clock.now()
        secs = _seconds(ts)
        if secs is None:
            return now
        at = datetime.fromtimestamp(secs, UTC)
        # a timestamp far from now is a puppet's mistake (units, clock), not news
        if now - timedelta(days=1) <= at <= now + timedelta(minutes=5):
            return at
        return now

    async def on_login(self, contact: Any) -> None:
        self.self_id = contact.contact_id
        self.logged_in = True
        logger.info("logged in as {}", self.self_id)
        self.health.set("connected")
        # the room list may take a while on a big account: it must not hold up the login event
        self._listing = asyncio.ensure_future(self.announce_rooms())

    async def on_logout(self, contact: Any) -> None:
        self.logged_in = False
        logger.error("the WeChat account {} was logged out: nothing is received or sent until it logs in again "
                     "(scan the QR code the puppet service shows)", getattr(contact, "contact_id", self.self_id))
        self.health.set("logged_out", "the WeChat account was logged out")
        # wechaty takes one login per Wechaty: the session ends, and the supervisor's next one sees the next login
        bot = self.bot
        if bot is not None:
            self._ending = asyncio.ensure_future(bot.puppet.stop())

    async def announce_rooms(self) -> None:
        """Tell the pipeline which groups the account is in, so scheduled posts reach quiet groups too."""
        bot = self.bot
        if bot is None:
            return
        try:
            rooms = await bot.Room.find_all()
            groups = tuple(Group(r.room_id, (r.payload.topic if r.payload else "") or "") for r in rooms)
        except Exception:
            logger.exception("could not list the groups at login: a group is served once someone speaks in it")
            return
        logger.info("in {} groups", len(groups))
        self.submit(Rooms(at=self.clock.now(), rooms=groups))

    async def on_message(self, msg: Any) -> None:
        try:
            ev = await self.map_message(msg)
        except Exception:  # a strange payload must not reach the SDK, which hides it
            logger.exception("could not read message {}", getattr(msg, "message_id", "?"))
            return
        if ev is not None and self._first_time(f"msg:{ev.id}"):
            self.submit(ev)

    async def map_message(self, msg: Any) -> Message | None:
        types = importlib.import_module("wechaty_puppet.schemas.types")
        payload = msg.payload
        sender = payload.from_id or ""
        if not sender or sender == self.self_id or sender == msg.puppet.self_id():
            return None  # the bot's own messages
        if payload.type != types.MessageType.MESSAGE_TYPE_TEXT:
            return None
        talker = msg.talker()
        await talker.ready()
        room = msg.room()
        room_name = ""
        if room is not None:
            await room.ready()
            room_name = room.payload.topic if room.payload else ""
        mentions = [m for m in (payload.mention_ids or []) if m]
        if room is not None and self.self_id and self.self_id not in mentions and await msg.mention_self():
            mentions.append(self.self_id)
        if self.self_alias:
            mentions = [self.self_alias if m == self.self_id else m for m in mentions]
        return Message(id=msg.message_id, at=self._at(payload.timestamp), sender=sender,
                       sender_name=talker.name or sender, text=payload.text or "",
                       room=room.room_id if room is not None else None, room_name=room_name,
                       mentions=tuple(mentions))

    def _membership_id(self, kind: str, room: str, members: list[str], date: Any) -> tuple[str, datetime]:
        at = self._at(date.timestamp() if isinstance(date, datetime) else date)
        # no id on these events, and the same join can arrive twice (a reconnect, a second puppet
        # event): room, members and time in whole seconds name it
        return f"{kind}:{room}:{','.join(sorted(members))}:{int(at.timestamp())}", at

    async def on_room_join(self, room: Any, invitees: list[Any], inviter: Any, date: Any) -> None:
        try:
            ids = [c.contact_id for c in invitees]
            key, at = self._membership_id("join", room.room_id, ids, date)
            by = getattr(inviter, "contact_id", None) or None
            if by in ids:
                by = None  # joined by QR code or link
            ev = MemberJoined(id=key, at=at, room=room.room_id,
                              members=tuple(Person(c.contact_id, c.name or "") for c in invitees),
                              inviter=by, room_name=room.payload.topic if room.payload else "")
        except Exception:
            logger.exception("could not read a room-join event")
            return
        if self._first_time(key):
            self.submit(ev)

    async def on_room_leave(self, room: Any, leavers: list[Any], remover: Any, date: Any) -> None:
        try:
            ids = [c.contact_id for c in leavers]
            key, at = self._membership_id("leave", room.room_id, ids, date)
            ev = MemberLeft(id=key, at=at, room=room.room_id,
                            members=tuple(Person(c.contact_id, c.name or "") for c in leavers),
                            room_name=room.payload.topic if room.payload else "")
        except Exception:
            logger.exception("could not read a room-leave event")
            return
        if self._first_time(key):
            self.submit(ev)

    # -- outbound -----------------------------------------------------------------------------

    async def send(self, out: Outgoing) -> None:
        """Deliver one message or raise SendFailed saying why."""
        bot = self.bot
        if bot is None or not self.logged_in:
            raise SendFailed("not connected to the puppet service")
        try:
            what: Any = out.text
            image = out.image
            if image and not (os.path.isfile(image) and os.path.getsize(image) <= MAX_IMAGE_BYTES):
                # the text is the image's text version: it still gets through (a failure here would send
                # the fallback, which says something else)
                logger.bind(room=out.room, member=out.to).warning(
                    "image {} is missing or over {} MB: sending its text instead", image, MAX_IMAGE_BYTES // 1024 // 1024)
                image = None
            if image:
                what = self.mod.FileBox.from_file(image)
            if out.room:
                room = bot.Room.load(out.room)
                await room.ready()
                if image:
                    await room.say(what)
                else:
                    await room.say(what, mention_ids=list(out.mentions) or None)
                return
            if not out.to:
                raise SendFailed("a message needs a room or a contact")
            contact = bot.Contact.load(out.to)
            await contact.ready()
            if contact.payload is not None and not contact.payload.friend and contact.contact_id != self.self_id:
                raise SendFailed(f"{out.to} is not the bot's friend: WeChat does not deliver private messages "
                                 "to a group member who is not a friend")
            await contact.say(what)
        except SendFailed:
            raise
        except Exception as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc


def _make_bot(mod: Any, options: Any, transport: WechatyTransport) -> Any:
    """A Wechaty whose event hooks call the transport (subclassed once, lazily: wechaty loads late)."""
    cls = _loaded.get("bot_class")
    if cls is None:

        class _Bot(mod.Wechaty):  # type: ignore[misc, name-defined]
            transport: WechatyTransport

            async def on_login(self, contact: Any) -> None:
                await self.transport.on_login(contact)

            async def on_logout(self, contact: Any) -> None:
                await self.transport.on_logout(contact)

            async def on_message(self, msg: Any) -> None:
                await self.transport.on_message(msg)

            async def on_room_join(self, room: Any, invitees: Any, inviter: Any, date: Any = None) -> None:
                await self.transport.on_room_join(room, invitees, inviter, date)

            async def on_room_leave(self, room: Any, leavers: Any, remover: Any, date: Any = None) -> None:
                await self.transport.on_room_leave(room, leavers, remover, date)

        cls = _loaded["bot_class"] = _Bot
    bot = cls(options)
    bot.transport = transport
    return bot
