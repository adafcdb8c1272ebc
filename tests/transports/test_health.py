"""Health and alerts, end to end: run_bot's live loop on the WeCom transport against the local WeCom server,
/healthz over its real uvicorn server, and a local HTTP server standing in for the WeCom group robot's webhook."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.client import connect as ws_connect

import run_bot
from bot.clock import Clock
from bot.config import ConfigError, parse
from bot.health import Alerts, Health, Webhook, duration, routes
from bot.web import WebServer, build_app
from tests.factories import OWNER, SH, config
from tests.transports.wecom_server import WecomServer

ROOT = Path(__file__).resolve().parents[2]
GROUP = "wrkGroup1"
KEY = "hook-key-5f3a9c"  # the webhook's key: it must never show in a log or a message
SEND = "aibot_send_msg"


@dataclass
class Hook:
    """Plays qyapi.weixin.qq.com/cgi-bin/webhook/send: records each post, answers errcode 0 (or `code`)."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    code: int = 0
    status: int = 200
    server: WebServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.bound_port}/cgi-bin/webhook/send?key={KEY}"

    def texts(self) -> list[str]:
        return [p["text"]["content"] for p in self.posts]

    async def _send(self, request: Request) -> JSONResponse:
        self.keys.append(request.query_params.get("key", ""))
        self.posts.append(json.loads(await request.body()))
        return JSONResponse({"errcode": self.code, "errmsg": "ok" if self.code == 0 else "invalid"},
                            status_code=self.status)


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = Hook()
    h.server = WebServer(build_app([Route("/cgi-bin/webhook/send", h._send, methods=["POST"])]), "127.0.0.1", 0)
    await h.server.start()
    task = asyncio.create_task(h.server.serve())
    await h.server.wait_started()
    yield h
    h.server.stop()
    await task


@pytest.fixture
async def wecom() -> AsyncIterator[WecomServer]:
    s = await WecomServer().start()
    yield s
    await s.stop()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("WECOM_BOT_ID", "WECOM_BOT_SECRET", "WECOM_WS_URL", "BOT_HEALTH_WEBHOOK"):
        monkeypatch.delenv(k, raising=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(cond: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll `cond` (sync or async) until it is truthy, with a deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        got = cond()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def content(r: Any) -> str:
    return str(r.body["markdown"]["content"])


@dataclass
class Live:
    wecom: WecomServer
    hook: Hook
    port: int
    transport: Any
    logs: list[Any]

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        async with httpx.AsyncClient(timeout=5) as client:
            res = await client.get(f"http://127.0.0.1:{self.port}/healthz")
        return res.status_code, res.json()


@pytest.fixture
async def live(wecom: WecomServer, hook: Hook, tmp_path: Path) -> AsyncIterator[Live]:
    """run_bot._live on the WeCom transport, as `python run_bot.py` wires it, with [health] on."""
    from bot.transports.wecom import WecomTransport

    port = free_port()
    data = config(wecom={"bot_id": wecom.bot_id, "secret": wecom.secret, "ws_url": wecom.url, "ping_seconds": 1.0,
                         "ping_timeout_seconds": 1.0, "backoff_initial_seconds": 0.1, "backoff_max_seconds": 1.0},
                  health={"port": port, "alert_after": 2.0, "webhook": hook.url})
    data["transport"] = {"kind": "wecom"}
    data["bot"]["rooms"] = [GROUP]
    data["storage"] = {"url": f"sqlite:///{tmp_path / 'health.db'}"}
    settings = parse(data)
    made: list[Any] = []
    logs: list[Any] = []
    sink = logger.add(lambda m: logs.append(m.record), level="INFO")

    def make(submit: Any, clock: Any, _store: Any, health: Any, _parts: Any) -> Any:
        made.append(WecomTransport(settings.wecom, submit, clock=clock, bot_name=settings.bot.name,
                                   self_alias=settings.bot.self_id, health=health))
        return made[0]

    task = asyncio.create_task(run_bot._live(settings, make, kind="wecom"))
    await wecom.until(lambda: wecom.subscribed and made and made[0].up, "the subscription")
    lv = Live(wecom, hook, port, made[0], logs)
    try:
        yield lv
    finally:
        made[0].stop()
        await asyncio.wait_for(task, 60)
        logger.remove(sink)


async def test_healthz_says_ok_while_connected_and_down_503_after_an_outage_longer_than_alert_after(live: Live) -> None:
    code, body = await until(lambda: _ok(live), "/healthz to answer ok")
    assert code == 200 and body["transport"]["kind"] == "wecom" and body["transport"]["state"] == "connected"
    assert body["last_event_at"] is None and body["outbox_depth"] == 0 and body["alert_after_seconds"] == 2.0
    _msgid, _req = await live.wecom.message("@积分助手 签到", userid="zhangsan", chatid=GROUP)
    await live.wecom.until(lambda: live.wecom.sent("aibot_respond_msg"), "the check-in's answer")
    code, body = await live.healthz()
    assert body["last_event_at"] is not None and body["outbox"]["sent"] == 1

    await live.wecom.drop()  # WeCom goes away and refuses every reconnect
    code, body = await until(lambda: _not_connected(live), "/healthz to see the outage")
    assert (code, body["status"], body["transport"]["state"]) == (200, "degraded", "reconnecting")
    code, body = await until(lambda: _down(live), "/healthz to say down", timeout=30)
    assert code == 503 and body["transport"]["state"] == "reconnecting" and body["transport"]["seconds"] >= 2.0


async def _ok(live: Live) -> tuple[int, dict[str, Any]] | None:
    code, body = await live.healthz()
    return (code, body) if body["status"] == "ok" else None


async def _not_connected(live: Live) -> tuple[int, dict[str, Any]] | None:
    code, body = await live.healthz()
    return (code, body) if body["transport"]["state"] != "connected" else None


async def _down(live: Live) -> tuple[int, dict[str, Any]] | None:
    code, body = await live.healthz()
    return (code, body) if body["status"] == "down" else None


async def test_an_outage_alerts_once_on_the_webhook_and_the_admin_hears_it_is_over_privately(live: Live) -> None:
    await live.wecom.drop()
    await until(lambda: live.hook.posts, "the webhook's alert", timeout=30)
    [alert] = live.hook.texts()
    assert "机器人掉线" in alert and "企业微信连不上" in alert and "仍在自动重连" in alert, alert
    assert live.hook.keys == [KEY] and KEY not in alert and live.wecom.secret not in alert
    # more reconnect attempts fail: still the one alert
    tries = live.wecom.connections
    await live.wecom.until(lambda: live.wecom.connections >= tries + 3, "three more refused reconnects", timeout=30)
    assert len(live.hook.posts) == 1
    code, body = await live.healthz()
    assert code == 503 and body["status"] == "down"
    [loud] = [r for r in live.logs if r["level"].name == "CRITICAL"]
    assert "健康检查" in loud["message"] and "still reconnecting" in loud["message"]

    live.wecom.allow()  # WeCom is back
    await live.wecom.until(lambda: live.wecom.sent(SEND), "the admin's private notice", timeout=30)
    [notice] = live.wecom.sent(SEND)
    assert notice.body["chatid"] == OWNER  # privately, to the admin's userid
    text = content(notice)
    assert text.startswith("【积分助手】机器人掉线 ") and "已恢复" in text and " 至 " in text, text
    await until(lambda: len(live.hook.posts) == 2, "the webhook's all-clear")
    assert "已恢复" in live.hook.texts()[1] and len([r for r in live.logs if r["level"].name == "CRITICAL"]) == 1
    code, body = await live.healthz()
    assert code == 200 and body["status"] == "ok"

    # a short blip below alert_after: no alert, no notice
    live.wecom.deaf.add(live.wecom.subscribed)
    n = live.wecom.subscribed
    await live.wecom.until(lambda: live.wecom.subscribed > n and live.transport.up, "the reconnect after a blip")
    assert len(live.hook.posts) == 2 and len(live.wecom.sent(SEND)) == 1


# -- pushed off: alert, then exit 7 ---------------------------------------------------------------


async def test_run_bot_pushed_off_alerts_on_the_webhook_then_exits_7(wecom: WecomServer, hook: Hook,
                                                                      tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[bot]\nadmins = ["owner"]\n[transport]\nkind = "wecom"\n[storage]\nurl = "sqlite:///{tmp_path / "b.db"}"\n'
                   f'[checkin]\npoints = 5\n[health]\nport = {port}\nwebhook = "{hook.url}"\n', encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WECOM_")},
           "WECOM_WS_URL": wecom.url, "WECOM_BOT_ID": wecom.bot_id, "WECOM_BOT_SECRET": wecom.secret}
    proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "run_bot.py"), "--config", str(cfg),
                                                cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        await wecom.until(lambda: wecom.subscribed == 1, "the bot's subscription", timeout=60)

        async def healthz() -> tuple[int, dict[str, Any]] | None:
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    res = await client.get(f"http://127.0.0.1:{port}/healthz")
            except httpx.TransportError:
                return None
            return (res.status_code, res.json()) if res.json()["status"] == "ok" else None

        code, body = await until(healthz, "/healthz of the running bot", timeout=30)
        assert code == 200 and body["transport"]["state"] == "connected"
        async with ws_connect(wecom.url) as other:  # a second instance with the same bot id
            await other.send(json.dumps({"cmd": "aibot_subscribe", "headers": {"req_id": "aibot_subscribe_2_y"},
                                         "body": {"bot_id": wecom.bot_id, "secret": wecom.secret}}))
            _out, err_b = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err = err_b.decode()
    assert proc.returncode == 7, err
    [alert] = hook.texts()
    assert "挤下线" in alert and "只能运行一个机器人" in alert and KEY not in alert, alert
    assert "CRITICAL" in err and "pushed off by another instance" in err
    assert KEY not in err and wecom.secret not in err


# -- the parts ----------------------------------------------------------------------------------


async def test_a_webhook_that_fails_is_logged_without_its_key_and_nothing_breaks(hook: Hook) -> None:
    logs: list[str] = []
    sink = logger.add(lambda m: logs.append(str(m)), level="ERROR")
    try:
        hook.code = 93000  # WeCom: invalid webhook url
        assert await Webhook(hook.url).post("一条告警") is False
        hook.code, hook.status = 0, 500
        assert await Webhook(hook.url).post("一条告警") is False
        dead = f"http://127.0.0.1:{free_port()}/cgi-bin/webhook/send?key={KEY}"  # nothing listens there
        assert await Webhook(dead, timeout=2).post("一条告警") is False
    finally:
        logger.remove(sink)
    assert len(hook.posts) == 2 and len(logs) == 3
    assert all("alert webhook http://127.0.0.1:" in m and "/cgi-bin/webhook/send" in m for m in logs), logs
    assert "errcode 93000" in logs[0] and "HTTP 500" in logs[1]
    assert not any(KEY in m for m in logs), logs


async def test_a_transport_that_never_connects_alerts_after_alert_after_and_healthz_says_down(hook: Hook) -> None:
    clock = Clock(SH)
    health = Health("wecom", clock=clock, alert_after=1.0)
    alerts = Alerts(health, admins=[OWNER], webhook=Webhook(hook.url), put=lambda outs: None)
    server = WebServer(build_app(routes(health)), "127.0.0.1", 0)
    serving = asyncio.create_task(server.serve())
    await server.wait_started()
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            first = await client.get(f"http://127.0.0.1:{server.bound_port}/healthz")
            assert first.status_code == 200 and first.json()["status"] == "degraded"
            assert first.json()["transport"]["state"] == "starting"
            await until(lambda: hook.posts, "the alert")
            res = await client.get(f"http://127.0.0.1:{server.bound_port}/healthz")
        assert res.status_code == 503 and res.json()["status"] == "down"
        assert "机器人掉线" in hook.texts()[0]
        health.set("stopped")  # the operator stops it: nothing more is said
        await alerts.close()
        assert len(hook.posts) == 1
    finally:
        server.stop()
        await serving


def test_a_refused_connection_and_a_logout_need_the_operator_at_once() -> None:
    health = Health("wechaty", alert_after=180)
    alerts = Alerts(health)
    health.set("connected")
    health.set("logged_out", "the WeChat account was logged out")
    assert health.status() == "down" and alerts.alerted == {"action"} and alerts.outages == 1
    health.set("connected")
    assert health.status() == "ok" and alerts.alerted == set()
    health.set("stopped", "token refused")
    assert health.status() == "down" and alerts.alerted == {"action"}


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (20, 60, 12 * 60 + 59, 3600, 3900)] == [
        "不到 1 分钟", "1 分钟", "12 分钟", "1 小时", "1 小时 5 分钟"]


def test_bad_health_settings_are_refused_saying_what_to_write() -> None:
    with pytest.raises(ConfigError, match=r"health\.port must be an integer >= 0 and <= 65535, got 70000"):
        parse(config(health={"port": 70000}))
    with pytest.raises(ConfigError, match=r"health\.webhook must be an http\(s\) address") as info:
        parse(config(health={"webhook": f"qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"}))
    assert KEY not in str(info.value)  # the address carries the key: not echoed
    with pytest.raises(ConfigError, match=r"health\.alert_after must be a number of seconds >= 1"):
        parse(config(health={"alert_after": 0}))
    ok = parse(config(health={"port": 9100, "webhook": f" https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY} "}))
    assert ok.health.port == 9100 and ok.health.webhook.startswith("https://") and ok.health.host == "127.0.0.1"
    assert parse(config()).health.port == 0  # off unless asked for
