"""Rules change without a restart: a real bridge bot, `python run_bot.py reload`, a check-in paying the new rule;
a broken file or one changing what needs a restart is refused (exit 2) and the running rules stay."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.clock import Clock
from tests.transports.test_bridge import ROOT, SECRET
from tests.transports.test_bridge_restart import Bot

CONFIG = ('[bot]\nadmins = []\n[checkin]\npoints = {points}\n[bridge]\nport = 0\n'
          '[outbox]\ninterval_seconds = 0.1\nburst = 100\n')


def write_config(folder: Path, points: object, extra: str = "") -> None:
    (folder / "config.toml").write_text(CONFIG.format(points=points) + extra, encoding="utf-8")


def command(folder: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOT_BRIDGE_SECRET": SECRET}
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args, "--db", url], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def reload(folder: Path, url: str) -> subprocess.CompletedProcess[str]:
    return command(folder, url, "reload")


def paid(url: str, member: str) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return [int(r[0]) for r in c.execute(text(
                "SELECT delta FROM ledger WHERE member_id = :m AND kind = 'checkin' ORDER BY id"), {"m": member})]
    finally:
        engine.dispose()


async def check_in(bot: Bot, member: str, after: int) -> tuple[str, int]:
    """`member` says 签到 in r1 through the bridge: the reply's text, and the out position after it."""
    line = json.dumps({"type": "message", "id": f"m-{member}", "at": Clock().now().isoformat(), "room": "r1",
                       "from": member, "name": member.title(), "text": "签到"}, ensure_ascii=False)
    async with bot.http() as c:
        r = await c.post("/events", content=line + "\n")
        assert r.status_code == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = await c.get(f"/out?after={after}&wait=10")
            lines = [json.loads(x) for x in r.text.splitlines()]
            mine = [x for x in lines if member in x.get("mentions", [])]
            if mine:
                return mine[0]["text"], int(r.headers["x-next-after"])
            after = int(r.headers["x-next-after"])
    raise AssertionError(f"no reply to {member}'s check-in")


@pytest.fixture
async def bots(tmp_path: Path) -> AsyncIterator[list[Bot]]:
    running: list[Bot] = []
    yield running
    for bot in running:
        await bot.kill()


async def test_reload_applies_a_new_rule_and_refuses_a_broken_file(tmp_path: Path, bots: list[Bot]) -> None:
    url = f"sqlite:///{tmp_path / 'points.db'}"
    write_config(tmp_path, 5)
    bot = await Bot.start(tmp_path, url)
    bots.append(bot)
    assert json.loads((tmp_path / "bot.pid").read_text())["pid"] == bot.proc.pid
    reply, pos = await check_in(bot, "wxid_a", 0)
    assert "签到成功" in reply and await asyncio.to_thread(paid, url, "wxid_a") == [5]

    write_config(tmp_path, 7)
    done = await asyncio.to_thread(reload, tmp_path, url)
    assert done.returncode == 0 and "配置已重新加载" in done.stdout, (done.stdout, done.stderr)
    await bot.wait_for("已重新加载")
    reply, pos = await check_in(bot, "wxid_b", pos)
    assert "签到成功！获得 7 积分" in reply
    assert await asyncio.to_thread(paid, url, "wxid_b") == [7]

    write_config(tmp_path, '"五"')  # refused: the message names the key, the running rules stay
    done = await asyncio.to_thread(reload, tmp_path, url)
    assert done.returncode == 2 and "被拒绝" in done.stderr and "checkin.points" in done.stderr, done.stderr
    await bot.wait_for("继续使用原来的规则")
    reply, pos = await check_in(bot, "wxid_c", pos)
    assert await asyncio.to_thread(paid, url, "wxid_c") == [7]

    write_config(tmp_path, 9, '[health]\nport = 18099\n')  # needs a restart: refused by name, nothing applied
    done = await asyncio.to_thread(reload, tmp_path, url)
    assert done.returncode == 2 and "[health]" in done.stderr and "重启" in done.stderr, done.stderr
    reply, pos = await check_in(bot, "wxid_d", pos)
    assert await asyncio.to_thread(paid, url, "wxid_d") == [7]

    # 公告 from the command line, through the running bot's outbox
    done = await asyncio.to_thread(command, tmp_path, url, "announce", "--room", "nowhere", "--yes", "今晚直播")
    assert done.returncode == 2 and "没有叫「nowhere」的群" in done.stderr, done.stderr
    done = await asyncio.to_thread(command, tmp_path, url, "announce", "--yes", "今晚 8 点直播抽奖")
    assert done.returncode == 0 and "1 个群" in done.stdout, (done.stdout, done.stderr)
    async with bot.http() as c:
        deadline = time.monotonic() + 60
        posts: list[dict[str, Any]] = []
        while not posts and time.monotonic() < deadline:
            r = await c.get(f"/out?after={pos}&wait=10")
            posts = [x for x in map(json.loads, r.text.splitlines()) if x["room"] == "r1" and "今晚 8 点直播抽奖" in x["text"]]
            pos = int(r.headers["x-next-after"])
    assert posts and posts[0]["mentions"] == [] and posts[0]["reply_to"] is None, posts
    # every reload (applied or refused) and the announcement are in the operator log, by the OS user who asked
    import getpass

    engine = create_engine(url)
    with engine.connect() as conn:
        ops = conn.execute(text("SELECT actor_kind, actor, action, detail FROM operator_log ORDER BY id")).all()
    engine.dispose()
    me = getpass.getuser()
    assert [(o.actor_kind, o.actor, o.action) for o in ops] == [("cli", me, "reload")] * 3 + [("cli", me, "announce")]
    details = [o.detail if isinstance(o.detail, dict) else json.loads(o.detail) for o in ops]
    assert [d["ok"] for d in details[:3]] == [True, False, False] and "checkin.points" in details[1]["message"]
    assert details[3]["text"] == "今晚 8 点直播抽奖" and details[3]["rooms"] == ["r1"]

    assert await bot.stop() == 0
    assert not (tmp_path / "bot.pid").exists()
    done = await asyncio.to_thread(reload, tmp_path, url)
    assert done.returncode == 1 and "没有找到运行中的机器人" in done.stderr, done.stderr
