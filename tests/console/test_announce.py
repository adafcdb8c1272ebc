"""The console's 公告 screen over real HTTP on SQLite and PostgreSQL: inside the bot process (a real Runtime, outbox
and runner; what the groups receive read off a recording transport after the outbox sends on its budget) and alone
with no bot to hand it to. Preview shows what the groups will read; 确认发送 queues once and logs once; a viewer, a
bad CSRF token, an empty or too long text and no group are refused with nothing queued."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import run_bot
from bot.clock import ManualClock
from bot.config import parse
from bot.events import Outgoing
from bot.outbox import Budget, Outbox
from bot.runner import LiveRunner
from console.security import hash_password
from handlers.lib.announcing import MAX_CHARS
from tests.console.conftest import OPERATOR, PASSWORD, VIEWER, Served, csrf_of, serve
from tests.factories import config, sh

NOW = sh("2026-12-02 09:30")
INTERVAL = 2.0


class Recorder:
    """A transport that keeps what it was asked to send: what the groups receive."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, out: Outgoing) -> None:
        self.sent.append(out)


@dataclass
class Bot(Served):
    outbox: Any = None
    transport: Any = None

    def delivered(self) -> list[Outgoing]:
        """Everything the outbox holds, sent on its budget (event time moved on as it requires)."""
        asyncio.run(self.outbox.flush())
        return list(self.transport.sent)

    def announcements(self) -> list[Any]:
        return self.services.oplog.page(action="announce", limit=100)


def settings_for(url: str, quiet: str = "") -> Any:
    return parse(config(schedule=[], storage={"url": url},
                        outbox={"interval_seconds": INTERVAL, "burst": 1, "quiet_hours": quiet}))


def accounts(services: Any) -> None:
    services.accounts.add(OPERATOR, hash_password(PASSWORD), "operator", NOW)
    services.accounts.add(VIEWER, hash_password(PASSWORD), "viewer", NOW)
    services.presence.see_room("g1", "产品交流群", NOW)
    services.presence.see_room("g2", "二群", NOW)


def in_bot(url: str, quiet: str = "") -> Iterator[Bot]:
    """The console as the bot process serves it: BotAnnouncer over a real Runtime, outbox and runner."""
    settings = settings_for(url, quiet)
    clock = ManualClock(NOW, settings.bot.tz)
    rt = run_bot.build(settings, clock)
    accounts(rt.services)
    transport = Recorder()
    outbox = Outbox(transport, Budget.from_settings(settings.outbox, settings.bot.tz))
    announcer = run_bot.BotAnnouncer(rt)
    announcer.attach(LiveRunner(rt.app, outbox, rt.schedule, clock), outbox)
    for base in serve(rt.services, settings, clock.now, announcer=announcer):
        yield Bot(base, rt.services, settings, [NOW], outbox=outbox, transport=transport)
    rt.ledger.engine.dispose()


@pytest.fixture
def bot(db_url: str) -> Iterator[Bot]:
    yield from in_bot(db_url)


def token_of(html: str) -> str:
    m = re.search(r'name="token" value="([^"]+)"', html)
    assert m, "the preview has no 确认发送 form"
    return m.group(1)


def preview(c: Any, text: str, *rooms: str) -> Any:
    page = c.get("/console/announce")
    form = {"csrf": csrf_of(page.text), "text": text, "to": "some" if rooms else "all", **{f"g:{r}": "on" for r in rooms}}
    return c.post("/console/announce/preview", data=form)


def test_preview_shows_what_the_groups_read_and_send_queues_once_on_the_budget(bot: Bot) -> None:
    c = bot.login()
    page = c.get("/console/announce")
    assert page.status_code == 200 and "产品交流群" in page.text and "二群" in page.text and "还没有发过公告" in page.text
    r = preview(c, "  今晚 8 点直播抽奖  ")
    assert r.status_code == 200, r.text
    shown = r.text.split('id="preview"')[1].split("</section>")[0]
    assert "📢 公告\n今晚 8 点直播抽奖" in shown  # announce/post, as the groups read it
    assert "发到全部 2 个群" in shown and "产品交流群、二群" in shown
    assert "约 5 秒内发完" in shown and "09:30:05 前" in shown  # 2 groups x 2 s, as the chat command says
    assert "免打扰" not in shown
    assert bot.outbox.pending() == 0 and not bot.announcements()  # a preview queues nothing
    form = {"csrf": csrf_of(r.text), "token": token_of(r.text)}
    sent = c.post("/console/announce/send", data=form)
    assert sent.status_code == 303
    again = c.post("/console/announce/send", data=form)  # the same form posted twice
    assert again.status_code == 303
    assert "这张表单已经提交过：没有重复发送" in c.get("/console/announce").text
    posts = bot.delivered()
    assert [(p.room, p.text) for p in posts] == [("g1", "📢 公告\n今晚 8 点直播抽奖"), ("g2", "📢 公告\n今晚 8 点直播抽奖")]
    assert all(p.reply_to is None and not p.mentions for p in posts)
    times = bot.outbox.send_times
    assert (times[1] - times[0]).total_seconds() >= INTERVAL  # the send budget spaces them
    [op] = bot.announcements()
    assert (op.actor_kind, op.actor, op.action, op.target) == ("console", OPERATOR, "announce", "*")
    assert op.detail == {"text": "今晚 8 点直播抽奖", "rooms": ["g1", "g2"]}
    listed = c.get("/console/announce").text.split('id="recent"')[1]
    assert "今晚 8 点直播抽奖" in listed and "全部群（2 个）" in listed and "后台" in listed


def test_chosen_groups_only(bot: Bot) -> None:
    c = bot.login()
    r = preview(c, "二群专属活动", "g2")
    assert r.status_code == 200 and "发到 1 个群" in r.text and "约 3 秒内发完" in r.text
    assert c.post("/console/announce/send", data={"csrf": csrf_of(r.text), "token": token_of(r.text)}).status_code == 303
    assert [(p.room, p.text) for p in bot.delivered()] == [("g2", "📢 公告\n二群专属活动")]
    [op] = bot.announcements()
    assert op.target == "g2" and op.detail["rooms"] == ["g2"]
    assert "二群专属活动" in c.get("/console/oplog").text  # the operator log shows it too


@pytest.mark.parametrize(("text", "rooms", "why"), [
    ("   ", (), "公告内容是空的"),
    ("长" * (MAX_CHARS + 1), (), f"公告最多 {MAX_CHARS} 个字，这条有 {MAX_CHARS + 1} 个字"),
    ("今晚直播", ("no-such-group",), "没有叫「no-such-group」的群"),
])
def test_bad_input_is_refused_with_nothing_queued(bot: Bot, text: str, rooms: tuple[str, ...], why: str) -> None:
    c = bot.login()
    r = preview(c, text, *rooms)
    assert r.status_code == 400 and why in r.text and 'name="token"' not in r.text, r.text
    assert bot.outbox.pending() == 0 and not bot.announcements()


def test_no_group_ticked_is_refused(bot: Bot) -> None:
    c = bot.login()
    page = c.get("/console/announce")
    r = c.post("/console/announce/preview", data={"csrf": csrf_of(page.text), "text": "今晚直播", "to": "some"})
    assert r.status_code == 400 and "请至少选一个群" in r.text and 'name="token"' not in r.text
    assert bot.outbox.pending() == 0 and not bot.announcements()


def test_exactly_max_chars_goes(bot: Bot) -> None:
    c = bot.login()
    r = preview(c, "满" * MAX_CHARS, "g1")
    assert r.status_code == 200
    assert c.post("/console/announce/send", data={"csrf": csrf_of(r.text), "token": token_of(r.text)}).status_code == 303
    assert len(bot.delivered()) == 1


def test_a_viewer_reads_the_list_but_cannot_preview_or_send(bot: Bot) -> None:
    ops = bot.login()
    r = preview(ops, "今晚直播")
    token = token_of(r.text)
    v = bot.login(VIEWER)
    page = v.get("/console/announce")
    assert page.status_code == 200 and "只读账号（viewer）只能查看公告记录" in page.text and "announce/preview" not in page.text
    csrf = csrf_of(page.text)
    refused = v.post("/console/announce/preview", data={"csrf": csrf, "text": "今晚直播", "to": "all"})
    assert refused.status_code == 403 and "只读账号" in refused.text
    refused = v.post("/console/announce/send", data={"csrf": csrf, "token": token})
    assert refused.status_code == 403
    assert bot.outbox.pending() == 0 and not bot.announcements()


def test_a_bad_csrf_token_sends_nothing(bot: Bot) -> None:
    c = bot.login()
    r = preview(c, "今晚直播")
    refused = c.post("/console/announce/send", data={"csrf": "forged" * 4, "token": token_of(r.text)})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert bot.outbox.pending() == 0 and not bot.announcements()
    # the draft is still good for the real form
    assert c.post("/console/announce/send", data={"csrf": csrf_of(r.text), "token": token_of(r.text)}).status_code == 303
    assert len(bot.announcements()) == 1


def test_an_unknown_or_other_users_token_sends_nothing(bot: Bot) -> None:
    c = bot.login()
    r = preview(c, "今晚直播")
    other = bot.services.accounts
    other.add("bob", hash_password(PASSWORD), "operator", NOW)
    b = bot.login("bob")
    csrf = csrf_of(b.get("/console/announce").text)
    for token in ("made-up-token-000000", token_of(r.text)):
        refused = b.post("/console/announce/send", data={"csrf": csrf, "token": token})
        assert refused.status_code == 400 and "预览已失效" in refused.text
    assert bot.outbox.pending() == 0 and not bot.announcements()


def test_the_preview_says_when_it_is_inside_quiet_hours(sqlite_url: str) -> None:
    for served in in_bot(sqlite_url, quiet="09:00-10:00"):
        r = preview(served.login(), "今晚直播")
        assert r.status_code == 200 and "现在是免打扰时段（09:00-10:00），确认后会立即发出" in r.text


def test_alone_with_no_bot_running_it_says_so_and_queues_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    settings = settings_for(url)
    services = run_bot._services(settings)
    accounts(services)
    for base in serve(services, settings, lambda: NOW, announcer=run_bot.HandoffAnnouncer(settings, wait=2)):
        c = Served(base, services, settings, [NOW]).login()
        r = preview(c, "今晚直播")
        assert r.status_code == 200 and "📢 公告\n今晚直播" in r.text and "后台单独运行" in r.text
        sent = c.post("/console/announce/send", data={"csrf": csrf_of(r.text), "token": token_of(r.text)})
        assert sent.status_code == 400 and "公告没有发出" in sent.text and "没有找到运行中的机器人" in sent.text
        assert "今晚直播" in sent.text  # the form again, to send once the bot runs
    assert not services.oplog.page(action="announce")
    assert not (tmp_path / f"{run_bot.ANNOUNCE_NAME}.request.json").exists()
    services.db.engine.dispose()
