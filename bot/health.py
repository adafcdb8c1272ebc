"""How the live bot is doing, for systemd, a monitor and the admins: the transport's state, and alerts on an outage.

Transport-neutral: a live transport reports its state changes into `Health` (`set`), the runner counts events
(`seen`), and `Alerts` watches the states:

- an outage starts when the transport leaves `connected` (or never gets there after the start);
- it is alerted once, loudly in the log (CRITICAL) and on the optional `[health] webhook` (a WeCom group
  robot, send-only, independent of the transport), when the transport is logged out, pushed off or stopped
  by a refusal, or when it has not been connected for `alert_after` seconds;
- when the transport is connected again after an alerted outage, every admin gets a private message through
  the outbox saying how long it was down (and the webhook says it is back).

`routes(health)` serves `GET /healthz` as JSON: 200 while ok or degraded, 503 once the transport is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from loguru import logger

from bot.clock import Clock
from bot.events import Outgoing

State = Literal["starting", "connected", "reconnecting", "logged_out", "pushed_off", "stopped"]
STATES: tuple[State, ...] = ("starting", "connected", "reconnecting", "logged_out", "pushed_off", "stopped")
# states an operator must act on: alerted at once, not after alert_after
NEEDS_ACTION: frozenset[str] = frozenset({"logged_out", "pushed_off", "stopped"})
WEBHOOK_SECONDS = 10.0  # one webhook post waits this long at most

TRANSPORT_NAMES = {"wecom": "企业微信", "wechaty": "微信", "bridge": "HTTP 桥", "console": "终端"}


def _version() -> str:
    try:
        with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as fh:
            return str(tomllib.load(fh).get("project", {}).get("version", ""))
    except (OSError, tomllib.TOMLDecodeError):
        return ""


@dataclass(frozen=True)
class Change:
    """One state change: what it was, since when, what it is now and why."""

    before: State
    before_since: datetime
    state: State
    at: datetime
    why: str


class Health:
    """The transport's state and when it entered it, the last event's arrival, the outbox's depth.

    `set` is called by the transports on each change (a repeat of the state in force is ignored, so its
    `since` stays the start of the outage); `seen` by the runner's submit on every event (one attribute write).
    """

    def __init__(self, kind: str, *, clock: Clock | None = None, alert_after: float = 180.0,
                 depth: Callable[[], int] | None = None, counters: Callable[[], dict[str, int]] | None = None) -> None:
        self.kind = kind
        self.clock = clock or Clock()
        self.alert_after = alert_after
        self.depth = depth or (lambda: 0)
        self.counters = counters or (lambda: {})
        self.started_at = self.clock.now()
        self.state: State = "starting"
        self.since = self.started_at
        self.why = ""
        self.last_event: float | None = None  # time.time() of the last event the transport handed on
        self.version = _version()
        self.listeners: list[Callable[[Change], None]] = []

    def set(self, state: State, why: str = "") -> None:
        if state == self.state:
            return
        change = Change(self.state, self.since, state, self.clock.now(), why)
        self.state, self.since, self.why = state, change.at, why
        logger.info("health: transport {} is {}{}", self.kind, state, f" ({why})" if why else "")
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:  # a watcher must not break the transport reporting to it
                logger.exception("health: a listener failed on {}", state)

    def seen(self) -> None:
        self.last_event = time.time()

    def down_for(self, now: datetime | None = None) -> float:
        """Seconds since the transport was last connected (0 while it is)."""
        if self.state == "connected":
            return 0.0
        return max(0.0, ((now or self.clock.now()) - self.since).total_seconds())

    def status(self, now: datetime | None = None) -> Literal["ok", "degraded", "down"]:
        if self.state == "connected":
            return "ok"
        if self.state in NEEDS_ACTION or self.down_for(now) >= self.alert_after:
            return "down"
        return "degraded"

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.now()
        local = self.clock.local
        tz = self.clock.tz
        last = (datetime.fromtimestamp(self.last_event, tz).isoformat() if self.last_event is not None else None)
        return {
            "status": self.status(now),
            "transport": {"kind": self.kind, "state": self.state, "since": local(self.since).isoformat(),
                          "seconds": round((now - self.since).total_seconds(), 1),
                          **({"why": self.why} if self.why else {})},
            "last_event_at": last,
            "outbox_depth": self.depth(),
            "outbox": self.counters(),
            "started_at": local(self.started_at).isoformat(),
            "uptime_seconds": round((now - self.started_at).total_seconds(), 1),
            "alert_after_seconds": self.alert_after,
            "version": self.version,
        }


# -- what admins read ------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """12 分钟, 1 小时 5 分钟, 不到 1 分钟."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "不到 1 分钟"
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} 小时 {minutes} 分钟"
    return f"{hours} 小时" if hours else f"{minutes} 分钟"


def clock_time(at: datetime, now: datetime) -> str:
    """18:02, or 12月2日 18:02 when it was another day."""
    return at.strftime("%H:%M") if at.date() == now.date() else f"{at.month}月{at.day}日 {at:%H:%M}"


def alert_text(name: str, kind: str, state: str, since: datetime, now: datetime) -> str:
    where = TRANSPORT_NAMES.get(kind, kind)
    when = clock_time(since, now)
    if state == "logged_out":
        return (f"【{name}】微信已退出登录（{when}），机器人收不到也发不出消息。"
                "请在运行机器人的服务器上看日志，重新扫码登录。")
    if state == "pushed_off":
        return (f"【{name}】另一个程序用同一个机器人 BotID 连上了企业微信，这个机器人被挤下线，已停止（{when}）。"
                "同一个 BotID 只能运行一个机器人：停掉多余的那个，再启动要用的这个。")
    if state == "stopped":
        return (f"【{name}】{where}拒绝了机器人的连接，机器人已停止（{when}）。"
                "请检查配置里的凭据（企业微信 BotID 和 Secret，或 wechaty 的 token），改好后重新启动。")
    return (f"【{name}】机器人掉线 {duration((now - since).total_seconds())}（{when} 起），{where}连不上，"
            "仍在自动重连。请检查服务器的网络和连接服务；恢复后会私聊通知管理员。")


def recovered_text(name: str, since: datetime, now: datetime) -> str:
    return (f"【{name}】机器人掉线 {duration((now - since).total_seconds())}（{clock_time(since, now)} 至 "
            f"{clock_time(now, now)}），已恢复。掉线期间成员发的指令机器人可能没有收到，需要的话请提醒大家重发。")


def _log_alert(kind: str, state: str, seconds: float) -> None:
    where = TRANSPORT_NAMES.get(kind, kind)
    if state == "logged_out":
        logger.critical("健康检查：微信已退出登录，需要重新扫码登录 (health: the WeChat account was logged out; "
                        "log in again by scanning the QR code)")
    elif state == "pushed_off":
        logger.critical("健康检查：被另一个同 BotID 的实例挤下线，机器人停止；只运行一个实例 (health: pushed off by "
                        "another instance with this WeCom bot id; the bot stops, run only one instance)")
    elif state == "stopped":
        logger.critical("健康检查：{}拒绝连接，机器人停止；检查凭据后重启 (health: {} refused the connection; "
                        "check the credentials and start again)", where, kind)
    else:
        logger.critical("健康检查：{}已断开 {}，仍在重连；检查网络和连接服务 (health: the {} transport has not been "
                        "connected for {:.0f}s; still reconnecting, check the network and the service)",
                        where, duration(seconds), kind, seconds)


def redact(url: str) -> str:
    """A webhook address fit for the log: scheme, host and path, never its key."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # no user:password either
    return f"{parts.scheme}://{host}{parts.path}"


class Webhook:
    """A WeCom group robot's webhook: POST {"msgtype": "text", ...}; never raises, never logs the key."""

    def __init__(self, url: str, timeout: float = WEBHOOK_SECONDS) -> None:
        self.url = url
        self.timeout = timeout
        self.sent = 0
        self.failed = 0

    def _clean(self, text: str) -> str:
        text = text.replace(self.url, redact(self.url))
        query = urlsplit(self.url).query
        return text.replace(query, "key=…") if query else text

    async def post(self, content: str) -> bool:
        import httpx  # only when an alert goes out: the start does not pay for it

        try:
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=True) as client:
                res = await client.post(self.url, json={"msgtype": "text", "text": {"content": content}})
            body: Any = None
            with contextlib.suppress(ValueError):
                body = res.json()
            if res.status_code != 200 or (isinstance(body, dict) and body.get("errcode", 0) != 0):
                why = (f"HTTP {res.status_code}" if res.status_code != 200
                       else f"errcode {body.get('errcode')}: {body.get('errmsg', '')}")
                raise RuntimeError(f"the webhook refused the alert ({why})")
        except Exception as exc:  # an alert that cannot go out is logged; the bot carries on
            self.failed += 1
            logger.error("health: the alert webhook {} failed ({}: {}); check [health] webhook",
                         redact(self.url), type(exc).__name__, self._clean(str(exc)))
            return False
        self.sent += 1
        return True


class Alerts:
    """Turns state changes into one alert per outage and a recovery notice; see the module's docstring."""

    def __init__(self, health: Health, *, name: str = "积分助手", admins: Sequence[str] = (),
                 webhook: Webhook | None = None, put: Callable[[Sequence[Outgoing]], None] | None = None) -> None:
        self.health = health
        self.name = name
        self.admins = tuple(admins)
        self.webhook = webhook
        self.put = put  # the outbox's put: the private recovery notices
        self.alerted: set[str] = set()  # this outage's alerts: "lost" (still reconnecting), "action" (act now)
        self.outages = 0
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._began = health.started_at  # when the outage in hand began (the start counts as one until connected)
        health.listeners.append(self.changed)
        self._arm(health.since)

    def changed(self, change: Change) -> None:
        if change.state == "connected":
            self._disarm()
            if self.alerted:
                self._recovered(self._began, change.at)
            self.alerted.clear()
            return
        if change.state == "stopped" and not change.why:
            self._disarm()  # the operator stopped it: no outage
            return
        if change.before == "connected":
            self.outages += 1
            self._began = change.at
        if change.state in NEEDS_ACTION:
            self._disarm()
            self._alert("action", change.state, change.at)
        else:
            self._arm(self._began)

    def _arm(self, since: datetime) -> None:
        self._disarm()
        if self.health.state in ("connected", *NEEDS_ACTION):
            return
        with contextlib.suppress(RuntimeError):  # no running loop (a health built outside one)
            loop = asyncio.get_running_loop()
            left = max(0.0, self.health.alert_after - (self.health.clock.now() - since).total_seconds())
            self._timer = loop.call_later(left, self._due, since)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _due(self, since: datetime) -> None:
        self._timer = None
        if self.health.state != "connected" and self.health.state not in NEEDS_ACTION:
            self._alert("lost", self.health.state, since)

    def _alert(self, what: str, state: str, since: datetime) -> None:
        if what in self.alerted:
            return
        self.alerted.add(what)
        now = self.health.clock.now()
        _log_alert(self.health.kind, state, (now - since).total_seconds())
        if self.webhook is not None:
            local = self.health.clock.local
            text = alert_text(self.name, self.health.kind, state, local(since), local(now))
            self._spawn(self.webhook.post(text))

    def _recovered(self, since: datetime, now: datetime) -> None:
        text = recovered_text(self.name, self.health.clock.local(since), self.health.clock.local(now))
        logger.warning("健康检查：连接已恢复，掉线 {} (health: the {} transport is back after {:.0f}s)",
                       duration((now - since).total_seconds()), self.health.kind, (now - since).total_seconds())
        if self.put is not None and self.admins:
            self.put([Outgoing(at=now, text=text, to=admin) for admin in self.admins])
        if self.webhook is not None:
            self._spawn(self.webhook.post(text))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, timeout: float = WEBHOOK_SECONDS + 1) -> None:
        """At exit: the alerts on their way get up to `timeout` seconds (a pushed-off bot alerts, then exits)."""
        self._disarm()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()


def routes(health: Health) -> list[Any]:
    """`GET /healthz` for bot.web.build_app: the snapshot as JSON, 503 once the transport is down."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def healthz(request: Request) -> JSONResponse:
        snap = health.snapshot()
        return JSONResponse(snap, status_code=503 if snap["status"] == "down" else 200,
                            headers={"Cache-Control": "no-store"})

    return [Route("/healthz", healthz, methods=["GET"])]

