"""The real Wechaty class driven through an in-process puppet: events in, @-replies and private replies out."""

from __future__ import annotations

import asyncio
import importlib
import time as _time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import run_bot
from bot.clock import Clock
from bot.config import parse
from bot.dispatch import Registry
from bot.events import Event, MemberJoined, MemberLeft, Message
from bot.outbox import Budget, Outbox
from bot.runner import LiveRunner
from bot.supervisor import Backoff
from bot.transports.wechaty import SendFailed, WechatyTransport, load_wechaty
from tests.factories import SH, config

BOT = "wxid_bot"


def make_puppet_class() -> Any:
    load_wechaty(str(Path(__file__).resolve().parents[2] / "data" / "wechaty-test"))
    wp = importlib.import_module("wechaty_puppet")
    from pyee import AsyncIOEventEmitter

    class FakePuppet(wp.Puppet):  # type: ignore[misc, name-defined]
        """A WeChat in memory: contacts, one room, and a record of what the bot sent."""

        def __init__(self) -> None:
            super().__init__(wp.PuppetOptions(), name="fake")
            self.emitter = AsyncIOEventEmitter()
            self.contacts = {BOT: "积分助手", "wxid_alice": "Alice", "wxid_bob": "Bob", "wxid_carol": "Carol"}
            self.friends = {"wxid_alice"}
            self.rooms = {"r1@chatroom": ["wxid_bot", "wxid_alice", "wxid_carol"]}
            self.messages: dict[str, Any] = {}
            self.sent: list[tuple[str, str, list[str]]] = []
            self.stopped = asyncio.Event()
            self.n = 0

        def on(self, event_name: str, caller: Any) -> None:
            self.emitter.on(event_name, caller)

        def listener_count(self, event_name: str) -> int:
            return len(self.emitter.listeners(event_name))

        async def start(self) -> None:
            self.stopped.clear()
            self.emitter.emit("login", wp.EventLoginPayload(contact_id=BOT))
            await self.stopped.wait()  # like the gRPC stream: returns when the connection ends

        async def stop(self) -> None:
            self.stopped.set()

        def self_id(self) -> str:
            return BOT

        async def ding(self, data: str | None = "") -> None:
            return None

        async def contact_payload(self, contact_id: str) -> Any:
            return wp.ContactPayload(id=contact_id, name=self.contacts.get(contact_id, contact_id),
                                     friend=contact_id in self.friends)

        async def contact_list(self) -> list[str]:
            return list(self.contacts)

        async def room_payload(self, room_id: str) -> Any:
            return wp.RoomPayload(id=room_id, topic="会员群", member_ids=list(self.rooms[room_id]))

        async def room_members(self, room_id: str) -> list[str]:
            return list(self.rooms[room_id])

        async def room_member_payload(self, room_id: str, contact_id: str) -> Any:
            return wp.RoomMemberPayload(id=contact_id, name=self.contacts.get(contact_id, contact_id))

        async def room_search(self, query: Any = None) -> list[str]:
            return list(self.rooms)

        async def room_list(self) -> list[str]:
            return list(self.rooms)

        async def message_payload(self, message_id: str) -> Any:
            return self.messages[message_id]

        async def message_send_text(self, conversation_id: str, message: str, mention_ids: Any = None) -> str:
            if conversation_id.startswith("wxid_") and conversation_id not in self.friends:
                raise RuntimeError("not a friend")
            self.sent.append((conversation_id, message, list(mention_ids or [])))
            return self._sent(conversation_id, message)

        async def message_send_file(self, conversation_id: str, file: Any) -> str:
            if conversation_id.startswith("wxid_") and conversation_id not in self.friends:
                raise RuntimeError("not a friend")
            self.sent.append((conversation_id, f"file:{file.name}", []))
            return self._sent(conversation_id, file.name)

        def _sent(self, conversation_id: str, text: str) -> str:
            """The message id of what the bot sent, its payload kept: the SDK loads it after sending."""
            self.n += 1
            mid = f"sent{self.n}"
            room = conversation_id if conversation_id.endswith("@chatroom") else ""
            self.messages[mid] = wp.MessagePayload(id=mid, type=wp.MessageType.MESSAGE_TYPE_TEXT, from_id=BOT, text=text,
                                                   room_id=room, to_id="" if room else conversation_id,
                                                   timestamp=_time.time() * 1000, mention_ids=[])
            return mid

        # -- the world acts ----------------------------------------------------------------------

        def say(self, sender: str, text: str, room: str | None = None, mid: str | None = None,
                mentions: tuple[str, ...] = (), kind: Any = None, ahead: float = 0) -> str:
            """`ahead`: seconds the puppet's clock is ahead of ours."""
            self.n += 1
            mid = mid or f"msg{self.n}"
            self.messages[mid] = wp.MessagePayload(
                id=mid, type=kind or wp.MessageType.MESSAGE_TYPE_TEXT, from_id=sender, text=text,
                room_id=room or "", to_id="" if room else BOT, timestamp=(_time.time() + ahead) * 1000,
                mention_ids=list(mentions))
            self.emitter.emit("message", wp.EventMessagePayload(message_id=mid))
            return mid

        def join(self, room: str, who: list[str], inviter: str, ts: float) -> None:
            self.rooms[room].extend(who)
            self.emitter.emit("room-join", wp.EventRoomJoinPayload(invited_ids=who, inviter_id=inviter,
                                                                   room_id=room, timestamp=ts))

        def leave(self, room: str, who: list[str], ts: float) -> None:
            for w in who:
                self.rooms[room].remove(w)
            self.emitter.emit("room-leave", wp.EventRoomLeavePayload(removed_ids=who, remover_id=who[0],
                                                                     room_id=room, timestamp=ts))

    return FakePuppet


class Live:
    def __init__(self, puppet: Any, transport: WechatyTransport, runner: LiveRunner, events: list[Event]) -> None:
        self.puppet, self.transport, self.runner, self.events = puppet, transport, runner, events

    async def until(self, cond: Any, what: str) -> None:
        for _ in range(500):  # the pipeline runs on its own tasks: give them turns, not wall time
            if cond():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what}; sent: {self.puppet.sent}")


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    FakePuppet = make_puppet_class()
    puppet = FakePuppet()
    data = config(schedule=[])
    data["bot"]["self_id"] = BOT
    settings = parse(data)
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(
        update={"url": f"sqlite:///{tmp_path / 'w.db'}"})})
    clock = Clock(SH)
    registry = Registry()
    import handlers  # noqa: F401
    from bot.dispatch import REGISTRY

    registry = REGISTRY
    rt = run_bot.build(settings, clock, registry=registry)
    events: list[Event] = []
    holder: list[LiveRunner] = []

    def submit(ev: Event) -> None:
        events.append(ev)
        holder[0].submit(ev)

    transport = WechatyTransport(settings.wechaty, submit, clock=clock, puppet_factory=lambda: puppet,
                                 backoff=Backoff(0.01, 0.05), self_alias=BOT)
    runner = LiveRunner(rt.app, Outbox(transport, Budget(unlimited=True, tz=SH)), rt.schedule, clock)
    holder.append(runner)
    run_task = asyncio.create_task(runner.run(drain=1))
    conn = asyncio.create_task(transport.run())
    lv = Live(puppet, transport, runner, events)
    await lv.until(lambda: transport.logged_in, "login")
    yield lv
    transport.stop()
    await conn
    runner.stop()
    await run_task
    assert rt.ledger.audit() == []
    rt.ledger.engine.dispose()


async def test_a_room_checkin_gets_a_reply_that_really_mentions_the_member(live: Live) -> None:
    live.puppet.say("wxid_alice", "签到", room="r1@chatroom")
    await live.until(lambda: live.puppet.sent, "the reply")
    room, text, mentions = live.puppet.sent[0]
    assert room == "r1@chatroom" and mentions == ["wxid_alice"]
    assert text.startswith("@Alice ") and "签到成功" in text
    ev = next(e for e in live.events if isinstance(e, Message))  # the room list at login comes first
    assert ev.room == "r1@chatroom" and ev.sender_name == "Alice" and ev.room_name == "会员群"


async def test_a_message_dated_ahead_is_taken_as_of_its_arrival_and_holds_no_reply(live: Live) -> None:
    live.puppet.say("wxid_alice", "签到", room="r1@chatroom", ahead=90)  # within what the transport believes
    live.puppet.say("wxid_bob", "签到", room="r1@chatroom")

    def mentioned() -> set[str]:
        return {who for _room, _text, mentions in live.puppet.sent for who in mentions}

    await live.until(lambda: mentioned() == {"wxid_alice", "wxid_bob"}, "both answers (one message, or two)")
    assert all("签到成功" in text for _room, text, _m in live.puppet.sent)
    [entry] = [e for e in live.runner.app.services.ledger.entries("wxid_alice") if e.kind == "checkin"]
    assert entry.at <= Clock().now()


async def test_a_private_message_gets_a_private_reply(live: Live) -> None:
    live.puppet.say("wxid_alice", "积分")
    await live.until(lambda: live.puppet.sent, "the reply")
    assert live.puppet.sent[0][0] == "wxid_alice" and "当前积分" in live.puppet.sent[0][1]


async def test_own_and_non_text_messages_are_ignored_and_repeats_answered_once(live: Live) -> None:
    wp = importlib.import_module("wechaty_puppet")
    live.puppet.say(BOT, "签到", room="r1@chatroom")
    live.puppet.say("wxid_alice", "签到", room="r1@chatroom", kind=wp.MessageType.MESSAGE_TYPE_IMAGE)
    mid = live.puppet.say("wxid_carol", "签到", room="r1@chatroom")
    live.puppet.emitter.emit("message", wp.EventMessagePayload(message_id=mid))  # the SDK sees it twice
    # a later message answered means the ones before it were handled: none of them may have been answered
    # (a private one, so that its reply cannot join carol's)
    live.puppet.say("wxid_alice", "积分")
    await live.until(lambda: any(s[0] == "wxid_alice" for s in live.puppet.sent), "the later reply")
    assert [(s[0], s[2]) for s in live.puppet.sent] == [("r1@chatroom", ["wxid_carol"]), ("wxid_alice", [])]
    assert [e.sender for e in live.events if isinstance(e, Message)] == ["wxid_carol", "wxid_alice"]


async def test_join_with_inviter_and_leave_reach_the_handlers_once(live: Live) -> None:
    now = _time.time()
    live.puppet.join("r1@chatroom", ["wxid_bob"], "wxid_alice", now * 1000)  # milliseconds
    await live.until(lambda: any(isinstance(e, MemberJoined) for e in live.events), "the join")
    # the same join again in seconds, as another puppet event would carry it: the same key, ignored
    live.puppet.join("r1@chatroom", ["wxid_bob"], "wxid_alice", int(now))
    live.puppet.leave("r1@chatroom", ["wxid_bob"], now + 60)
    await live.until(lambda: any(isinstance(e, MemberLeft) for e in live.events), "the leave")
    joins = [e for e in live.events if isinstance(e, MemberJoined)]
    assert len(joins) == 1 and joins[0].inviter == "wxid_alice" and joins[0].members[0].id == "wxid_bob"
    assert joins[0].members[0].name == "Bob"
    await live.until(lambda: live.transport.bot is not None, "still connected")
    rooms = dict(live.runner.app.store.rooms())
    assert "r1@chatroom" in rooms


async def test_a_handler_exception_does_not_stop_the_bot(live: Live) -> None:
    from bot.dispatch import REGISTRY

    cmd = next(c for c in REGISTRY.commands if c.keyword == "积分")
    original = cmd.func

    async def broken(ctx: Any, args: str) -> Any:
        raise RuntimeError("boom")

    cmd.func = broken
    try:
        live.puppet.say("wxid_alice", "积分")
        await live.until(lambda: live.puppet.sent, "the apology")
    finally:
        cmd.func = original
    live.puppet.say("wxid_carol", "签到", room="r1@chatroom")
    await live.until(lambda: len(live.puppet.sent) == 2, "the next reply")
    assert "签到成功" in live.puppet.sent[1][1]


async def test_a_private_message_to_a_stranger_fails_loudly(live: Live) -> None:
    from bot.clock import Clock as C
    from bot.events import Outgoing

    with pytest.raises(SendFailed, match="not the bot's friend"):
        await live.transport.send(Outgoing(at=C().now(), text="卡密", to="wxid_carol"))


async def test_an_image_goes_as_a_file_and_a_missing_one_as_its_text(live: Live, tmp_path: Path) -> None:
    from bot.clock import Clock as C
    from bot.events import Outgoing

    card = tmp_path / "statement-card.png"
    card.write_bytes(b"\x89PNG\r\n\x1a\n")
    await live.transport.send(Outgoing(at=C().now(), text="账单", to="wxid_alice", image=str(card)))
    await live.transport.send(Outgoing(at=C().now(), text="账单的文字版", to="wxid_alice", image=str(tmp_path / "gone.png")))
    assert live.puppet.sent == [("wxid_alice", "file:statement-card.png", []), ("wxid_alice", "账单的文字版", [])]
    with pytest.raises(SendFailed, match="not the bot's friend"):
        await live.transport.send(Outgoing(at=C().now(), text="账单", to="wxid_carol", image=str(card)))


async def test_after_the_stream_ends_it_reconnects_and_events_keep_flowing(live: Live) -> None:
    await live.puppet.stop()  # the gateway restarted: the stream ended without an event
    await live.until(lambda: live.transport.supervisor.attempts >= 2 and live.transport.logged_in, "reconnect")
    live.puppet.say("wxid_alice", "签到", room="r1@chatroom")
    await live.until(lambda: live.puppet.sent, "a reply after the reconnect")
    assert live.puppet.sent[0][2] == ["wxid_alice"]


async def test_at_login_the_room_list_is_announced(live: Live) -> None:
    from bot.events import Rooms

    await live.until(lambda: any(isinstance(e, Rooms) for e in live.events), "the room list")
    [rooms] = [e for e in live.events if isinstance(e, Rooms)]
    assert [(g.id, g.name) for g in rooms.rooms] == [("r1@chatroom", "会员群")]


def test_a_python_wechaty_cannot_run_on_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import sys

    from bot.transports import wechaty as transport

    monkeypatch.setattr(transport, "_loaded", {})
    monkeypatch.setitem(sys.modules, "wechaty", None)  # what a missing or broken package looks like to import
    with pytest.raises(transport.WechatyUnavailable) as err:
        transport.load_wechaty(str(tmp_path / "cache"))
    version = ".".join(map(str, sys.version_info[:3]))
    assert f"Python {version}" in str(err.value) and "3.11, 3.12 or 3.13" in str(err.value)


async def test_a_logout_is_down_at_once_and_the_next_login_tells_the_admin_privately(live: Live) -> None:
    from bot.health import Alerts

    wp = importlib.import_module("wechaty_puppet")
    health = live.transport.health
    assert health.kind == "wechaty" and health.state == "connected" and health.status() == "ok"
    alerts = Alerts(health, admins=["wxid_alice"], put=live.runner.outbox.put)  # an admin who is the bot's friend
    live.puppet.emitter.emit("logout", wp.EventLogoutPayload(contact_id=BOT, data="scan again"))
    await live.until(lambda: health.state == "logged_out", "the logout")
    assert health.status() == "down" and alerts.alerted == {"action"} and not live.transport.logged_in
    live.puppet.emitter.emit("login", wp.EventLoginPayload(contact_id=BOT))  # scanned again
    await live.until(lambda: live.puppet.sent, "the admin's notice")
    [(to, text, _mentions)] = live.puppet.sent
    assert to == "wxid_alice" and "机器人掉线" in text and "已恢复" in text, text
    assert health.state == "connected" and health.status() == "ok" and alerts.alerted == set()
