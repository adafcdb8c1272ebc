"""The console as real processes: `run_bot.py console` alone, and inside the bot with [console] enabled."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.console.conftest import csrf_of

ROOT = Path(__file__).resolve().parents[2]
LISTEN = re.compile(r"operator console on (?:the bridge.s port: )?http://([^:]+):(\d+)/console/")


@contextmanager
def process(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], list[str], int]]:
    """Start run_bot.py with `args`; yield it, the stderr lines so far (a list that grows) and the console's port."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_bot.py"), *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "LOG_LEVEL": "INFO", **(env or {})})
    lines: list[str] = []
    got: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            got.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        port = 0
        while not port:
            left = deadline - time.monotonic()
            assert left > 0 and proc.poll() is None, "the console did not start:\n" + "".join(lines)
            try:
                m = LISTEN.search(got.get(timeout=left))
            except queue.Empty:
                continue
            if m:
                port = int(m.group(2))
        yield proc, lines, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def add_user(cwd: Path, db: str) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "console-user", "add", "ops", "--role", "operator",
                        "--db", db], cwd=cwd, input="a-long-password\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def logs_in(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
        page = c.get("/console/login")
        assert page.status_code == 200 and "登录积分后台" in page.text
        r = c.post("/console/login", data={"csrf": csrf_of(page.text), "name": "ops", "password": "a-long-password"})
        assert r.status_code == 303
        members = c.get("/console/members")
        assert members.status_code == 200 and "ops（可修改）" in members.text


def test_console_alone_beside_the_database(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[bot]\nadmins = ["wxid_owner"]\n[console]\nport = 0\n', encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    add_user(tmp_path, db)
    with process("console", "--db", db, cwd=tmp_path) as (proc, lines, port):
        logs_in(port)
        assert not any("reachable from other machines" in ln for ln in lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0  # a clean stop


def test_a_console_on_every_address_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[console]\nport = 0\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    add_user(tmp_path, db)
    with process("console", "--host", "0.0.0.0", "--db", db, cwd=tmp_path) as (_proc, lines, port):
        assert any("WARNING" in ln and "reachable from other machines" in ln for ln in lines), "".join(lines)
        logs_in(port)


def test_the_bot_serves_the_console_when_enabled(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[transport]\nkind = "bridge"\n[bridge]\nport = 0\n[console]\nenabled = true\nport = 0\n', encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    add_user(tmp_path, db)
    with process("--db", db, cwd=tmp_path, env={"BOT_BRIDGE_SECRET": "s" * 32}) as (proc, lines, port):
        logs_in(port)
        assert proc.poll() is None  # the bot goes on running beside it
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, "".join(lines)


def test_on_the_bridges_port_the_console_is_mounted_on_the_bridges_app(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port free now (the bridge binds it a moment later)
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    (tmp_path / "config.toml").write_text(
        f'[transport]\nkind = "bridge"\n[bridge]\nport = {free}\n[console]\nenabled = true\nport = {free}\n',
        encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    add_user(tmp_path, db)
    secret = "s" * 32
    with process("--db", db, cwd=tmp_path, env={"BOT_BRIDGE_SECRET": secret}) as (proc, lines, port):
        assert port == free and any("on the bridge's port" in ln for ln in lines)
        logs_in(port)
        health = httpx.get(f"http://127.0.0.1:{port}/health", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert health.status_code == 200  # the bridge's routes beside the console's, on one server
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, "".join(lines)


def announce_through(port: int, text: str) -> httpx.Response:
    """Log in as ops on the console at `port`, preview `text` to every group and 确认发送: the send's response page."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, follow_redirects=True) as c:
        page = c.get("/console/login")
        c.post("/console/login", data={"csrf": csrf_of(page.text), "name": "ops", "password": "a-long-password"})
        page = c.get("/console/announce")
        r = c.post("/console/announce/preview", data={"csrf": csrf_of(page.text), "text": text, "to": "all"})
        assert r.status_code == 200 and "📢 公告" in r.text, r.text
        token = re.search(r'name="token" value="([^"]+)"', r.text)
        assert token
        return c.post("/console/announce/send", data={"csrf": csrf_of(r.text), "token": token.group(1)})


async def test_a_console_alone_hands_an_announcement_to_the_running_bot(tmp_path: Path) -> None:
    import asyncio
    import json

    from sqlalchemy import create_engine, text

    from tests.transports.test_bridge_restart import Bot

    (tmp_path / "config.toml").write_text('[bot]\nadmins = []\nrooms = ["r1"]\n[bridge]\nport = 0\n[console]\nport = 0\n'
                                          '[outbox]\ninterval_seconds = 0.1\nburst = 100\n', encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    add_user(tmp_path, db)
    bot = await Bot.start(tmp_path, db)
    try:
        with process("console", "--db", db, cwd=tmp_path) as (_proc, _lines, port):
            sent = await asyncio.to_thread(announce_through, port, "今晚 8 点直播抽奖")
            assert sent.status_code == 200 and "公告已进入发送队列：1 个群" in sent.text, sent.text
            async with bot.http() as c:
                r = await c.get("/out?after=0&wait=10")
                posts = [x for x in map(json.loads, r.text.splitlines()) if x["room"] == "r1"]
            assert [p["text"] for p in posts] == ["📢 公告\n今晚 8 点直播抽奖"], r.text
            assert await bot.stop() == 0
            refused = await asyncio.to_thread(announce_through, port, "第二条")
            assert refused.status_code == 400 and "公告没有发出" in refused.text and "运行中的机器人" in refused.text
    finally:
        await bot.kill()
    engine = create_engine(db)
    with engine.connect() as conn:
        ops = conn.execute(text("SELECT actor_kind, actor, action, target, detail FROM operator_log "
                                "WHERE action = 'announce'")).all()
    engine.dispose()
    assert [(o.actor_kind, o.actor, o.action, o.target) for o in ops] == [("console", "ops", "announce", "*")]
    assert json.loads(ops[0].detail) == {"text": "今晚 8 点直播抽奖", "rooms": ["r1"]}
