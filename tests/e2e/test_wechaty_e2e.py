"""End to end over gRPC: the npm wechaty puppet service with a mock WeChat, and run_bot.py as a real process."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
TOKEN = "e2e-secret-token"
CONFIG = """
[bot]
self_id = "wxid_bot"
[transport]
kind = "wechaty"
[wechaty]
backoff_initial_seconds = 0.2
backoff_max_seconds = 1
probe_seconds = 2
[checkin]
points = 5
"""


def _why_skip() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed: the npm puppet service cannot run (install Node.js 20 and npm)"
    if not (NODE_DIR / "node_modules" / "wechaty-puppet-service").is_dir():
        # `npm ci` refuses this lock on npm 11 (optional @swc builds it leaves out); install keeps the pins
        return f"npm packages missing: run `npm install --no-audit --no-fund` in {NODE_DIR} (.ci/run does)"
    return None


needs_node = pytest.mark.skipif(_why_skip() is not None, reason=_why_skip() or "")


class Proc:
    """A child process whose output lines are read on threads (a test only ever waits on a queue)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.p = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.err_lines: list[str] = []
        for stream, q in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()

    @staticmethod
    def _pump(stream: Any, q: queue.Queue[str]) -> None:
        for line in stream:
            q.put(line.rstrip("\n"))

    def expect(self, q: queue.Queue[str], pred: Any, what: str, timeout: float = 60) -> str:
        import time

        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout}s; stderr so far:\n" + "\n".join(self.err_lines[-30:]))
            try:
                line = q.get(timeout=left)
            except queue.Empty:
                continue
            if q is self.err:
                self.err_lines.append(line)
            if pred(line):
                return line

    def stderr_has(self, text: str, timeout: float = 60) -> str:
        return self.expect(self.err, lambda line: text in line, repr(text), timeout)

    def send(self, obj: dict[str, Any]) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.p.stdin.flush()

    def stop(self) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(port: int) -> Proc:
    env = {**os.environ, "PORT": str(port), "TOKEN": TOKEN}
    svc = Proc(["node", "mock_service.mjs"], NODE_DIR, env)
    svc.expect(svc.out, lambda line: '"listening"' in line, "puppet service listening")
    return svc


def start_bot(tmp: Path, port: int, token: str = TOKEN) -> Proc:
    (tmp / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("TOKEN", "token", "ENDPOINT", "endpoint")}
    env.update(WECHATY_PUPPET_SERVICE_ENDPOINT=f"127.0.0.1:{port}", WECHATY_PUPPET_SERVICE_TOKEN=token,
               LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    return Proc([sys.executable, str(ROOT / "run_bot.py"), "--db", f"sqlite:///{tmp / 'e2e.db'}"], tmp, env)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    made: list[Proc] = []
    yield made
    for p in reversed(made):
        p.stop()


def sent_to(svc: Proc, room: str) -> dict[str, Any]:
    line = svc.expect(svc.out, lambda line: '"sent"' in line and room in line, f"a message sent to {room}")
    return dict(json.loads(line))


@needs_node
def test_a_member_checks_in_through_grpc_and_the_reply_comes_back(tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    svc = start_service(port)
    procs.append(svc)
    bot = start_bot(tmp_path, port)
    procs.append(bot)
    bot.stderr_has("logged in as wxid_bot")
    svc.send({"cmd": "say", "from": "wxid_alice", "room": "r1@chatroom", "text": "签到"})
    got = sent_to(svc, "r1@chatroom")
    assert got["mentions"] == ["wxid_alice"]
    assert got["text"].startswith("@alice") and "签到成功！获得 5 积分" in got["text"]
    svc.send({"cmd": "say", "from": "wxid_alice", "text": "积分"})  # privately
    got = sent_to(svc, "wxid_alice")
    assert "当前积分：5" in got["text"]
    assert bot.stop() == 0
    assert not any("Traceback" in line for line in bot.err_lines)
    assert not any("签到" in line and "INFO" in line for line in bot.err_lines)  # no message text at INFO


@needs_node
def test_a_refused_token_exits_non_zero_and_says_so(tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    procs.append(start_service(port))
    bot = start_bot(tmp_path, port, token="not-the-token")
    procs.append(bot)
    line = bot.stderr_has("refused the token")
    assert "WECHATY_PUPPET_SERVICE_TOKEN" in line or "token" in line
    assert bot.p.wait(30) == 4


@needs_node
def test_endpoint_down_at_start_then_up_the_bot_connects_by_itself(tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    bot = start_bot(tmp_path, port)
    procs.append(bot)
    bot.stderr_has("reconnect attempt 2")  # it keeps trying, with a line per attempt
    svc = start_service(port)
    procs.append(svc)
    bot.stderr_has("logged in as wxid_bot")
    svc.send({"cmd": "say", "from": "wxid_carol", "room": "r1@chatroom", "text": "打卡"})
    assert sent_to(svc, "r1@chatroom")["mentions"] == ["wxid_carol"]


def test_without_an_endpoint_the_bot_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHATY_PUPPET_SERVICE")}
    res = subprocess.run([sys.executable, str(ROOT / "run_bot.py")], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2
    assert "WECHATY_PUPPET_SERVICE_ENDPOINT" in res.stderr and "never asks" in res.stderr


@needs_node
def test_at_login_the_bot_learns_the_groups_it_is_in(tmp_path: Path, procs: list[Proc]) -> None:
    """Scheduled posts reach a group nobody has spoken in: the room list at login announces it."""
    import sqlite3

    port = free_port()
    procs.append(start_service(port))
    bot = start_bot(tmp_path, port)
    procs.append(bot)
    bot.stderr_has("logged in as wxid_bot")
    bot.stderr_has("in 1 groups")
    import time

    deadline = time.monotonic() + 20
    rows: list[Any] = []
    while time.monotonic() < deadline and not rows:  # the rooms event is committed with the next batch
        with sqlite3.connect(tmp_path / "e2e.db") as conn:
            rows = conn.execute("SELECT id, name FROM rooms").fetchall()
        time.sleep(0.2)
    assert rows == [("r1@chatroom", "会员群")]
    assert bot.stop() == 0
