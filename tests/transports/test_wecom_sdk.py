"""Conformance: the official WeCom SDK (wecom-aibot-python-sdk 1.0.2, in .venv-wecom) and our transport against
the same local server. Our subscribe / ping / respond / send frames must match the SDK's (cmd, header and body
keys, req_id shapes), and we must read every message and event type the SDK's own types name.

The SDK cannot share the bot's environment (pyee>=11 against wechaty's pyee==8.2.2), so it runs in a process of
its own (tests/transports/wecom_sdk_probe.py). `.ci/run` builds .venv-wecom; without it this test is skipped,
or fails when REQUIRE_WECOM_SDK=1 (as in CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import WecomSettings
from bot.events import Event, Message, Outgoing
from bot.supervisor import Backoff
from bot.transports import wecom
from bot.transports.wecom import WecomTransport, message_text
from tests.transports.wecom_server import Received, WecomServer

ROOT = Path(__file__).resolve().parents[2]
SDK_PYTHON = ROOT / ".venv-wecom" / "bin" / "python"
PROBE = Path(__file__).with_name("wecom_sdk_probe.py")
GROUP = "wrkGroupSDK"


def _sdk_python() -> Path:
    problem = None
    if not SDK_PYTHON.exists():
        problem = f"{SDK_PYTHON} not found"
    else:
        import subprocess

        res = subprocess.run([str(SDK_PYTHON), "-c", "import aibot"], capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            problem = f"the SDK does not import in .venv-wecom: {res.stderr.strip()[-200:]}"
    if problem is None:
        return SDK_PYTHON
    why = (f"{problem}: build it with `python3 -m venv .venv-wecom && .venv-wecom/bin/pip install "
           "wecom-aibot-python-sdk==1.0.2 websockets` (.ci/run does)")
    if os.environ.get("REQUIRE_WECOM_SDK") == "1":
        pytest.fail(why)
    pytest.skip(why)


def shape(value: Any) -> Any:
    """The keys of a frame, all the way down, with the type of each leaf."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


def frame_shape(r: Received) -> Any:
    f = dict(r.frame)
    return {"cmd": f.get("cmd"), "keys": sorted(f), "headers": shape(f.get("headers")), "body": shape(f.get("body"))}


GENERATED = re.compile(r"^(?P<cmd>[a-z_]+)_\d{13}_[0-9a-f]{8}$")  # {cmd}_{ms}_{8 hex}, as aibot.utils makes them


async def _sdk_session(python: Path, server: WecomServer) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(str(python), str(PROBE), server.url, server.bot_id, server.secret,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await server.until(lambda: server.sent("ping", conn=1), "the SDK's first heartbeat", timeout=60)
        await server.message("@积分助手 签到", userid="zhangsan", chatid=GROUP)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    assert report["errors"] == [], report["errors"]
    return report


async def _our_session(server: WecomServer) -> list[Event]:
    got: list[Event] = []
    settings = WecomSettings.model_construct(bot_id=server.bot_id, secret=server.secret, ws_url=server.url,
                                             ping_seconds=0.3, ping_timeout_seconds=3.0)
    t = WecomTransport(settings, got.append, backoff=Backoff(0.05, 0.2))
    task = asyncio.create_task(t.run())
    try:
        await server.until(lambda: t.up and server.sent("ping", conn=2), "our subscription and heartbeat")
        msgid, _req = await server.message("@积分助手 签到", userid="zhangsan", chatid=GROUP)
        await server.until(lambda: got, "the callback")
        now = got[0].at
        await t.send(Outgoing(at=now, text="answer", room=GROUP, reply_to=msgid))
        await t.send(Outgoing(at=now, text="post", room=GROUP, scheduled=True))
    finally:
        t.stop()
        await task
    return got


async def test_our_frames_match_the_official_sdks_frames() -> None:
    python = _sdk_python()
    server = await WecomServer().start()
    try:
        report = await _sdk_session(python, server)
        got = await _our_session(server)
    finally:
        await server.stop()
    assert report["version"] == "1.0.2"
    assert server.connections == 2
    for cmd in (wecom.SUBSCRIBE, wecom.PING, wecom.RESPOND, wecom.SEND):
        sdk, ours = server.sent(cmd, conn=1), server.sent(cmd, conn=2)
        assert sdk and ours, cmd
        assert frame_shape(ours[0]) == frame_shape(sdk[0]), cmd
    sdk_cb, our_cb = [r for r in server.frames if r.cmd == wecom.RESPOND]
    # both answer the callback pushed on their connection, on that callback's req_id
    pushed = [f"cb{i:04d}" for i in (1, 2)]
    assert [sdk_cb.req_id, our_cb.req_id] == pushed
    for cmd in (wecom.SUBSCRIBE, wecom.PING, wecom.SEND):
        for r in server.sent(cmd):
            m = GENERATED.match(r.req_id)
            assert m is not None and m.group("cmd") == cmd, (r.conn, r.req_id)
    assert server.sent(wecom.SEND, conn=1)[0].body["chatid"] == server.sent(wecom.SEND, conn=2)[0].body["chatid"]
    [ev] = got
    assert isinstance(ev, Message) and ev.text == "签到" and ev.room == GROUP and ev.sender == "zhangsan"

    # the SDK's own names for the protocol are ours
    names = report["cmd"]
    assert (names["SUBSCRIBE"], names["HEARTBEAT"], names["RESPONSE"], names["SEND_MSG"], names["CALLBACK"],
            names["EVENT_CALLBACK"]) == (wecom.SUBSCRIBE, wecom.PING, wecom.RESPOND, wecom.SEND, wecom.MSG_CALLBACK,
                                         wecom.EVENT_CALLBACK)

    # every message type the SDK names is read without fuss: text-bearing ones give their text, the rest nothing
    samples: dict[str, dict[str, Any]] = {"text": {"text": {"content": "积分"}},
               "mixed": {"mixed": {"msg_item": [{"msgtype": "text", "text": {"content": "积分"}},
                                                {"msgtype": "image", "image": {"url": "u"}}]}},
               "voice": {"voice": {"content": "积分"}},
               "image": {"image": {"url": "u", "aeskey": "k"}}, "file": {"file": {"url": "u", "aeskey": "k"}}}
    assert sorted(report["message_types"]) == sorted(samples)
    for kind in report["message_types"]:
        text = message_text({"msgtype": kind, **samples[kind]})
        assert text == ("积分" if kind in ("text", "mixed", "voice") else None), kind

    # and every event type it names is taken without an answer or an event (none of them is a member's command)
    seen: list[Event] = []
    t = WecomTransport(WecomSettings.model_construct(bot_id="b", secret="s", ws_url="ws://127.0.0.1:9"), seen.append)
    for kind in report["event_types"]:
        t.on_frame({"cmd": wecom.EVENT_CALLBACK, "headers": {"req_id": f"ev-{kind}"},
                    "body": {"msgid": kind, "msgtype": "event", "event": {"eventtype": kind}}})
    assert seen == [] and set(report["event_types"]) >= {"enter_chat", "template_card_event"}
