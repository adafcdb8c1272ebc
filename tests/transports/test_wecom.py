"""The WeCom AI-bot transport against a local stand-in for WeCom's long-connection server (tests/transports/wecom_server.py):
subscribe, callbacks in, answers on their req_id, posts with aibot_send_msg, reconnects, and the two ways it stops."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

import run_bot
from bot.clock import Clock
from bot.config import WecomSettings, parse
from bot.events import Event, JobDue, Message, Outgoing
from bot.outbox import Budget, Outbox
from bot.runner import LiveRunner
from bot.supervisor import Backoff, FatalConnectionError
from bot.transports.wecom import PushedOff, SecretRefused, WecomTransport, strip_mention
from tests.factories import OWNER, SH, config
from tests.transports.wecom_server import WecomServer

ROOT = Path(__file__).resolve().parents[2]
GROUP = "wrkGroup1"
RESPOND, SEND = "aibot_respond_msg", "aibot_send_msg"


def wecom_settings(server: WecomServer, **kw: Any) -> WecomSettings:
    # below the config's bounds (ping_seconds >= 1) so that a lost heartbeat is found within a test
    values = {"bot_id": server.bot_id, "secret": server.secret, "ws_url": server.url, "ping_seconds": 0.3,
              "ping_timeout_seconds": 3.0, "backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.2, **kw}
    return WecomSettings.model_construct(**values)


def content(r: Any) -> str:
    body = r.body
    assert body["msgtype"] == "markdown", body
    return str(body["markdown"]["content"])


@dataclass
class Live:
    server: WecomServer
    transport: WecomTransport
    runner: LiveRunner
    rt: run_bot.Runtime
    events: list[Event]

    def balance(self, member: str) -> int:
        m = self.rt.ledger.member(member)
        return m.points if m else 0


@pytest.fixture(autouse=True)
def _no_wecom_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("WECOM_BOT_ID", "WECOM_BOT_SECRET", "WECOM_WS_URL"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
async def server() -> AsyncIterator[WecomServer]:
    s = await WecomServer().start()
    yield s
    await s.stop()


@pytest.fixture
async def live(server: WecomServer, tmp_path: Path) -> AsyncIterator[Live]:
    # a schedule slot that never falls due by itself (29 February, 03:00): the test says when it runs
    data = config(schedule=[{"id": "morning", "job": "checkin_reminder", "cron": "0 3 29 2 *"}])
    data["bot"]["rooms"] = [GROUP]  # WeCom lists no groups: the configured ones are served from the start
    data["storage"] = {"url": f"sqlite:///{tmp_path / 'wecom.db'}"}
    settings = parse(data)
    clock = Clock(SH)
    rt = run_bot.build(settings, clock)
    events: list[Event] = []
    holder: list[LiveRunner] = []

    def submit(ev: Event) -> None:
        events.append(ev)
        holder[0].submit(ev)

    transport = WecomTransport(wecom_settings(server), submit, clock=clock, backoff=Backoff(0.05, 0.2),
                               bot_name=settings.bot.name, self_alias=settings.bot.self_id)
    rt.app.mention_hint = transport.mention_hint  # as run_bot._live does
    runner = LiveRunner(rt.app, Outbox(transport, Budget(unlimited=True, coalesce=0, tz=SH)), rt.schedule, clock)
    holder.append(runner)
    run_task = asyncio.create_task(runner.run(drain=1))
    conn = asyncio.create_task(transport.run())
    await server.until(lambda: server.subscribed and transport.up, "the subscription")
    yield Live(server, transport, runner, rt, events)
    transport.stop()
    await conn
    runner.stop()
    await run_task
    assert rt.ledger.audit() == []
    rt.ledger.engine.dispose()


async def test_it_subscribes_with_the_bot_id_and_secret(live: Live) -> None:
    [sub] = live.server.sent("aibot_subscribe")
    assert sub.body == {"bot_id": "aibot-1", "secret": "s3cret"}
    assert sub.req_id.startswith("aibot_subscribe_") and sub.conn == 1


async def test_a_group_checkin_is_answered_on_its_own_callback_with_the_members_points(live: Live) -> None:
    msgid, req_id = await live.server.message("@积分助手 签到", userid="zhangsan", chatid=GROUP)
    await live.server.until(lambda: live.server.sent(RESPOND), "the answer")
    [answer] = live.server.sent(RESPOND)
    assert answer.req_id == req_id  # WeCom shows it as the answer to that message
    text = content(answer)
    assert text.startswith("<@zhangsan> ") and "签到成功" in text
    assert live.balance("zhangsan") == 5 and f"当前积分：{live.balance('zhangsan')}" in text
    assert live.server.sent(SEND) == []
    [ev] = [e for e in live.events if isinstance(e, Message)]
    assert (ev.id, ev.sender, ev.room, ev.text) == (msgid, "zhangsan", GROUP, "签到")  # the @bot stripped


async def test_a_private_points_query_is_answered_privately(live: Live) -> None:
    await live.server.message("@积分助手 签到", userid="lisi", chatid=GROUP)
    await live.server.until(lambda: live.server.sent(RESPOND), "the check-in's answer")
    _msgid, req_id = await live.server.message("积分", userid="lisi")
    await live.server.until(lambda: len(live.server.sent(RESPOND)) == 2, "the private answer")
    answer = live.server.sent(RESPOND)[1]
    assert answer.req_id == req_id
    text = content(answer)
    assert "<@" not in text and f"当前积分：{live.balance('lisi')}" in text and live.balance("lisi") == 5


async def test_a_scheduled_post_goes_out_with_send_msg_and_tells_members_to_mention_the_bot(live: Live) -> None:
    live.runner.submit(JobDue("morning", "checkin_reminder", Clock(SH).now()))
    await live.server.until(lambda: live.server.sent(SEND), "the post")
    [post] = live.server.sent(SEND)
    assert post.body["chatid"] == GROUP and post.req_id.startswith("aibot_send_msg_")
    text = content(post)
    assert "今天签到了吗" in text and "「@积分助手 签到」" in text
    assert live.server.sent(RESPOND) == []


async def test_help_in_the_group_and_privately_says_to_mention_the_bot(live: Live) -> None:
    await live.server.message("@积分助手 帮助", userid="wangwu", chatid=GROUP)
    await live.server.message("帮助", userid="wangwu")
    await live.server.until(lambda: len(live.server.sent(RESPOND)) == 2, "both answers")
    group, private = (content(r) for r in live.server.sent(RESPOND))
    assert "「@积分助手 签到」" in group and "「@积分助手 积分」" in group and "「签到」" not in group
    assert "在群里发命令要先 @积分助手" in private and "「签到」" in private  # privately no @ is needed


async def test_an_admins_private_help_hints_only_the_group_only_commands(live: Live) -> None:
    await live.server.message("帮助", userid=OWNER)
    await live.server.until(lambda: live.server.sent(RESPOND), "the answer")
    text = content(live.server.sent(RESPOND)[0])
    assert "「@积分助手 加分 @某人" in text and "「撤销" in text and "「@积分助手 撤销" not in text
    assert "「积分」" in text


def test_ws_url_must_be_a_websocket_address() -> None:
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"wecom\.ws_url must be a WebSocket address"):
        parse(config(wecom={"ws_url": "https://openws.work.weixin.qq.com"}))
    assert parse(config(wecom={"ws_url": "ws://127.0.0.1:9000"})).wecom.ws_url == "ws://127.0.0.1:9000"


async def test_a_lost_heartbeat_reconnects_and_callbacks_keep_being_answered(live: Live) -> None:
    live.server.deaf.add(1)  # WeCom stops answering this connection's pings
    await live.server.until(lambda: live.server.subscribed == 2 and live.transport.up, "a new subscription")
    assert len(live.server.sent("ping", conn=1)) >= 1 and live.transport.supervisor.attempts >= 2
    _msgid, req_id = await live.server.message("@积分助手 签到", userid="zhaoliu", chatid=GROUP)
    await live.server.until(lambda: live.server.sent(RESPOND), "the answer after the reconnect")
    [answer] = live.server.sent(RESPOND)
    assert answer.conn == 2 and answer.req_id == req_id and "签到成功" in content(answer)


async def test_the_same_msgid_twice_has_one_effect(live: Live) -> None:
    await live.server.message("@积分助手 签到", userid="sunqi", chatid=GROUP, msgid="dup-1")
    await live.server.message("@积分助手 签到", userid="sunqi", chatid=GROUP, msgid="dup-1")
    # a later message answered means the two before it were handled
    _m, later = await live.server.message("积分", userid="sunqi")
    await live.server.until(lambda: any(r.req_id == later for r in live.server.sent(RESPOND)), "the later answer")
    checkins = [r for r in live.server.sent(RESPOND) if "签到成功" in content(r)]
    assert len(checkins) == 1 and live.server.sent(SEND) == []
    assert [e.kind for e in live.rt.ledger.entries("sunqi")] == ["checkin"] and live.balance("sunqi") == 5


async def test_the_same_msgid_after_a_restart_changes_nothing(live: Live) -> None:
    await live.server.message("@积分助手 签到", userid="zhouba", chatid=GROUP, msgid="dup-2")
    await live.server.until(lambda: live.server.sent(RESPOND), "the answer")
    # a new transport process knows nothing in memory: the database's claim on the msgid holds
    fresh: list[Event] = []
    other = WecomTransport(wecom_settings(live.server), fresh.append, bot_name="积分助手", self_alias="bot")
    other.on_message("cb-again", {"msgid": "dup-2", "chattype": "group", "chatid": GROUP, "from": {"userid": "zhouba"},
                                  "msgtype": "text", "text": {"content": "@积分助手 签到"}})
    assert len(fresh) == 1
    assert await live.runner.app.process(fresh) == []
    assert live.balance("zhouba") == 5


async def test_images_and_broken_frames_are_ignored_and_the_connection_lives_on(live: Live) -> None:
    await live.server.push_raw("{not json")
    await live.server.push({"cmd": "aibot_msg_callback", "headers": {"req_id": "x"}, "body": {"msgtype": "text"}})
    await live.server.push({"cmd": "aibot_msg_callback", "headers": {"req_id": "y"}, "body": "nonsense"})
    await live.server.message("", userid="wuj", msgtype="image", extra={"image": {"url": "https://x", "aeskey": "k"}})
    await live.server.push_event("enter_chat")
    _m, req_id = await live.server.message("积分", userid="wuj")
    await live.server.until(lambda: live.server.sent(RESPOND), "the answer")
    assert [r.req_id for r in live.server.sent(RESPOND)] == [req_id] and live.server.subscribed == 1
    assert [e.text for e in live.events if isinstance(e, Message)] == ["积分"]


async def test_a_second_message_for_one_callback_and_a_private_notice_go_as_new_messages(live: Live) -> None:
    msgid, req_id = await live.server.message("@积分助手 积分", userid="zhengshi", chatid=GROUP)
    await live.server.until(lambda: live.server.sent(RESPOND), "the answer")
    now = Clock(SH).now()
    # a level-up after an answer, and a private notice caused by a group message: same callback, other messages
    await live.transport.send(Outgoing(at=now, text="升级了", room=GROUP, mentions=("zhengshi",), reply_to=msgid))
    await live.transport.send(Outgoing(at=now, text="卡密 ABC", to="zhengshi", reply_to=msgid))
    assert len(live.server.sent(RESPOND)) == 1
    second, private = live.server.sent(SEND)
    assert second.body["chatid"] == GROUP and content(second) == "<@zhengshi> 升级了"
    assert private.body["chatid"] == "zhengshi" and content(private) == "卡密 ABC"
    assert live.server.sent(RESPOND)[0].req_id == req_id


async def test_an_answer_wecom_refuses_goes_out_as_a_new_message(live: Live) -> None:
    live.server.codes[RESPOND] = 40001
    await live.server.message("@积分助手 签到", userid="fengjiu", chatid=GROUP)
    await live.server.until(lambda: live.server.sent(SEND), "the message sent instead")
    [refused] = live.server.sent(RESPOND)
    [sent] = live.server.sent(SEND)
    assert content(refused) == content(sent) and sent.body["chatid"] == GROUP and "签到成功" in content(sent)


async def test_a_message_wecom_refuses_fails_the_send_saying_so(live: Live) -> None:
    from bot.transports.wecom import SendFailed

    live.server.codes[SEND] = 93000
    with pytest.raises(SendFailed, match="errcode 93000"):
        await live.transport.send(Outgoing(at=Clock(SH).now(), text="通知", to="someone"))


async def test_a_callback_pushed_with_the_subscriptions_answer_is_answered_on_its_req_id(server: WecomServer) -> None:
    server.backlog.append({"cmd": "aibot_msg_callback", "headers": {"req_id": "cb-early"},
                           "body": {"msgid": "early", "chattype": "single", "from": {"userid": "lisi"},
                                    "msgtype": "text", "text": {"content": "积分"}}})
    got: list[Event] = []
    t = WecomTransport(wecom_settings(server), got.append, backoff=Backoff(0.05, 0.2))
    task = asyncio.create_task(t.run())
    try:
        await server.until(lambda: got and t.up, "the early callback")
        await t.send(Outgoing(at=got[0].at, text="当前积分：0", to="lisi", reply_to="early"))
    finally:
        t.stop()
        await task
    [answer] = server.sent(RESPOND)
    assert answer.req_id == "cb-early" and server.sent(SEND) == []


async def test_a_refused_secret_stops_without_retrying(server: WecomServer) -> None:
    t = WecomTransport(wecom_settings(server, secret="wrong"), lambda ev: None, backoff=Backoff(0.05, 0.2))
    with pytest.raises(FatalConnectionError, match="refused bot id 'aibot-1'") as info:
        await asyncio.wait_for(t.run(), 20)
    assert isinstance(info.value.__cause__, SecretRefused)
    assert server.connections == 1 and t.supervisor.attempts == 1


async def test_pushed_off_by_a_second_connection_it_stops_and_does_not_fight(server: WecomServer) -> None:
    t = WecomTransport(wecom_settings(server), lambda ev: None, backoff=Backoff(0.05, 0.2))
    task = asyncio.create_task(t.run())
    await server.until(lambda: server.subscribed == 1 and t.up, "our subscription")
    async with ws_connect(server.url) as other:  # a second instance with the same bot id
        await other.send(json.dumps({"cmd": "aibot_subscribe", "headers": {"req_id": "aibot_subscribe_1_x"},
                                     "body": {"bot_id": server.bot_id, "secret": server.secret}}))
        with pytest.raises(FatalConnectionError, match="disconnected_event") as info:
            await asyncio.wait_for(task, 20)
        assert isinstance(info.value.__cause__, PushedOff)
        assert server.subscribed == 2 and server.connections == 2 and t.supervisor.attempts == 1


def test_the_at_bot_prefix_is_stripped_where_a_member_typed_it() -> None:
    assert strip_mention("@积分助手 签到", "积分助手") == "签到"
    assert strip_mention("@积分助手\u2005兑换 1", "积分助手") == "兑换 1"
    assert strip_mention("签到 @积分助手", "积分助手") == "签到"
    assert strip_mention("@积分助手签到", "积分助手") == "@积分助手签到"  # not a mention of this name: the App decides
    assert strip_mention("@小助手 签到", "积分助手") == "@小助手 签到"


# -- run_bot: what the operator sees ----------------------------------------------------------------


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[bot]\nadmins = ["owner"]\n[transport]\nkind = "wecom"\n[storage]\nurl = "sqlite:///{tmp_path / "b.db"}"\n'
                   '[checkin]\npoints = 5\n[newcomer]\npoints = 10\n', encoding="utf-8")
    return cfg


async def _run_bot(tmp_path: Path, env: dict[str, str], until: Any = None) -> tuple[int, str]:
    import os

    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run_bot.py"), "--config", str(_config(tmp_path)), cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("WECOM_")}, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    if until is not None:
        await until()
    _out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_run_bot_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    code, err = await _run_bot(tmp_path, {})
    assert code == 2 and "[wecom] bot_id and secret" in err and "WECOM_BOT_ID" in err


async def test_run_bot_exits_4_on_a_refused_secret_and_never_logs_it(server: WecomServer, tmp_path: Path) -> None:
    code, err = await _run_bot(tmp_path, {"WECOM_WS_URL": server.url, "WECOM_BOT_ID": server.bot_id,
                                          "WECOM_BOT_SECRET": "wrong-secret-xyz"})
    assert code == 4 and "cannot run on WeCom" in err and "refused bot id 'aibot-1'" in err, err
    assert "wrong-secret-xyz" not in err
    assert "[newcomer] is on, but WeCom's AI bot receives no join or leave events" in err
    assert len(server.sent("aibot_subscribe")) == 1


async def test_run_bot_answers_each_callback_apart_and_exits_7_when_another_instance_takes_the_bot(
        server: WecomServer, tmp_path: Path) -> None:
    callbacks: list[str] = []

    async def take_over() -> None:
        await server.until(lambda: server.subscribed == 1, "the bot's subscription", timeout=60)
        # more than the send budget's burst of 3 at once: elsewhere the waiting @-replies would merge into one
        for i in range(5):
            callbacks.append((await server.message("@积分助手 签到", userid=f"member{i}", chatid=GROUP))[1])
        await server.until(lambda: len(server.sent(RESPOND)) == 5, "five answers", timeout=60)
        async with ws_connect(server.url) as other:
            await other.send(json.dumps({"cmd": "aibot_subscribe", "headers": {"req_id": "aibot_subscribe_2_y"},
                                         "body": {"bot_id": server.bot_id, "secret": server.secret}}))
            await server.until(lambda: server.subscribed == 2, "the second subscription")

    code, err = await _run_bot(tmp_path, {"WECOM_WS_URL": server.url, "WECOM_BOT_ID": server.bot_id,
                                          "WECOM_BOT_SECRET": server.secret}, until=take_over)
    assert code == 7 and "another process subscribed with this bot id" in err, err
    answers = server.sent(RESPOND)
    assert [a.req_id for a in answers] == callbacks and server.sent(SEND) == []
    assert [content(a).split(" ", 1)[0] for a in answers] == [f"<@member{i}>" for i in range(5)]
    assert all("签到成功" in content(a) for a in answers)
    assert "WeCom pushed this bot off" in err and server.secret not in err
    assert len(server.sent("aibot_subscribe", conn=1)) == 1 and server.connections == 2
