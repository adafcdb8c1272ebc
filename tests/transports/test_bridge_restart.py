"""The bridge across restarts: what it answered 202 for survives kill -9, and its output numbers go on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

import run_bot
from bot.clock import Clock
from bot.config import parse
from bot.events import Event, Outgoing
from bot.outbox import Budget, Outbox
from bot.runner import LiveRunner
from bot.transports.bridge import BridgeTransport
from tests.factories import SH, config, sh
from tests.transports.test_bridge import AUTH, ROOT, SECRET, settings

N = 2000


def checkin(i: int) -> str:
    return json.dumps({"type": "message", "id": f"m{i}", "at": Clock().now().isoformat(), "room": "r1",
                       "from": f"wxid_{i}", "name": f"会员{i}", "text": "签到"}, ensure_ascii=False)


class Bot:
    """`run_bot.py --transport bridge` as a process of its own, and its log as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.port = 0

    @classmethod
    async def start(cls, cwd: Path, url: str) -> Bot:
        env = {**os.environ, "BOT_BRIDGE_SECRET": SECRET, "LOG_LEVEL": "INFO"}
        proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "run_bot.py"), "--transport", "bridge",
                                                    "--db", url, cwd=cwd, env=env, stderr=asyncio.subprocess.PIPE)
        bot = cls(proc)
        line = await bot.wait_for("bridge listening on http://127.0.0.1:")
        bot.port = int(line.rsplit(":", 1)[1])
        return bot

    async def wait_for(self, needle: str, seconds: float = 120) -> str:
        """The first log line from now on that holds `needle` (the process must write it within `seconds`)."""
        assert self.proc.stderr is not None
        while True:
            line = (await asyncio.wait_for(self.proc.stderr.readline(), seconds)).decode()
            assert line, f"run_bot.py ended before it logged {needle!r}"
            if needle in line:
                return line.strip()

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", headers=AUTH, timeout=60)

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> int:
        """SIGTERM, reading its log meanwhile so that a full pipe cannot hold it; its exit code."""
        assert self.proc.stderr is not None
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.proc.stderr.read(), 60)
        return await asyncio.wait_for(self.proc.wait(), 60)


@pytest.fixture
async def bots(tmp_path: Path) -> AsyncIterator[list[Bot]]:
    (tmp_path / "config.toml").write_text('[bot]\nadmins = []\n[checkin]\npoints = 5\n[bridge]\nport = 0\n'
                                          '[outbox]\ninterval_seconds = 0.1\nburst = 100\n', encoding="utf-8")
    running: list[Bot] = []
    yield running
    for bot in running:
        await bot.kill()


def counts(url: str) -> tuple[dict[str, int], int]:
    """Check-in entries per member, and the events left in the inbox."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            per = {r[0]: int(r[1]) for r in c.execute(text(
                "SELECT member_id, count(*) FROM ledger WHERE kind = 'checkin' GROUP BY member_id"))}
            waiting = int(c.execute(text("SELECT count(*) FROM inbox")).scalar_one())
    finally:
        engine.dispose()
    return per, waiting


async def test_events_answered_202_survive_kill_9_and_are_credited_once_after_the_restart(
        db_url: str, tmp_path: Path, bots: list[Bot]) -> None:
    first = await Bot.start(tmp_path, db_url)
    bots.append(first)
    async with first.http() as c:
        r = await c.post("/events", content="\n".join(checkin(i) for i in range(N)) + "\n")
    assert r.status_code == 202 and r.json() == {"accepted": N}
    await first.kill()  # at once: most of the batch is still waiting to be handled
    credited, waiting = await asyncio.to_thread(counts, db_url)
    assert waiting > 0 and len(credited) + waiting >= N, (len(credited), waiting)

    second = await Bot.start(tmp_path, db_url)
    bots.append(second)
    await second.wait_for("every event accepted before this start is handled")
    credited, waiting = await asyncio.to_thread(counts, db_url)
    assert waiting == 0
    assert credited == {f"wxid_{i}": 1 for i in range(N)}
    # posting the same batch again changes nothing: every event was claimed
    async with second.http() as c:
        r = await c.post("/events", content="\n".join(checkin(i) for i in range(3)) + "\n")
        assert r.status_code == 202
    assert await second.stop() == 0
    credited, waiting = await asyncio.to_thread(counts, db_url)
    assert waiting == 0 and credited == {f"wxid_{i}": 1 for i in range(N)}
    audit = await asyncio.to_thread(run_audit, tmp_path, db_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def run_audit(cwd: Path, url: str) -> Any:
    import subprocess

    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "audit", "--db", url], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


# -- the output numbering, across a restart in process ----------------------------------------------


class InProcess:
    """The whole bot behind a bridge on an ephemeral port, started and stopped as a test says."""

    def __init__(self, url: str) -> None:
        s = parse(config(schedule=[]))
        self.settings = s.model_copy(update={"storage": s.storage.model_copy(update={"url": url})})
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> BridgeTransport:
        clock = Clock(SH)
        self.rt = run_bot.build(self.settings, clock)
        holder: list[LiveRunner] = []

        def submit(ev: Event, receipt: int) -> None:
            holder[0].submit(ev, receipt)

        self.br = BridgeTransport(settings(), submit, self.rt.services.store(), tz=SH)
        self.runner = LiveRunner(self.rt.app, Outbox(self.br, Budget(tz=SH)), self.rt.schedule, clock,
                                 settle=self.br.settle)
        holder.append(self.runner)
        await self.br.start()
        self.tasks = [asyncio.create_task(self.runner.run(drain=1)), asyncio.create_task(self.br.run())]
        await asyncio.wait_for(self.br.web.wait_started(), 10)
        return self.br

    async def stop(self) -> None:
        self.br.stop()
        self.runner.stop()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 10)
        self.rt.ledger.engine.dispose()


def http(br: BridgeTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{br.bound_port}", headers=AUTH, timeout=20)


async def out(c: httpx.AsyncClient, after: int, wait: float = 0) -> tuple[list[str], int]:
    r = await c.get("/out", params={"after": after, "wait": wait})
    assert r.status_code == 200
    return [json.loads(line)["text"] for line in r.text.splitlines()], int(r.headers["x-next-after"])


async def test_output_numbers_go_on_after_a_restart(db_url: str) -> None:
    bot = InProcess(db_url)
    br = await bot.start()
    for n in range(3):
        await br.send(Outgoing(at=sh("2026-11-23 08:00") + timedelta(seconds=n), text=f"第{n + 1}条", room="r1"))
    async with http(br) as c:
        assert await out(c, 0) == (["第1条", "第2条", "第3条"], 3)
    await bot.stop()

    br = await bot.start()
    async with http(br) as c:
        assert await out(c, 3) == ([], 3)  # nothing new yet, and the reader keeps its place
        poll = asyncio.create_task(out(c, 3, wait=10))  # the connector waits on, as before the restart
        while br.polling == 0:
            await asyncio.sleep(0)
        await br.send(Outgoing(at=sh("2026-11-23 08:01"), text="第4条", room="r1"))
        assert await poll == (["第4条"], 4)
        assert await out(c, 1) == (["第2条", "第3条", "第4条"], 4)  # what was given out before the restart stays
    await bot.stop()


async def test_a_reader_ahead_of_every_number_gets_the_new_lines_not_silence(db_url: str) -> None:
    bot = InProcess(db_url)
    br = await bot.start()
    await br.send(Outgoing(at=sh("2026-11-23 08:00"), text="早", room="r1"))
    async with http(br) as c:
        assert await out(c, 8) == ([], 1)  # told where the numbers are now
        poll = asyncio.create_task(out(c, 8, wait=10))  # a position from an out log this bot no longer has
        while br.polling == 0:
            await asyncio.sleep(0)
        await br.send(Outgoing(at=sh("2026-11-23 08:01"), text="午", room="r1"))
        assert await poll == (["午"], 2)
    await bot.stop()
