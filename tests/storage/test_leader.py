"""One process of several on a PostgreSQL database leads the scheduler; the lead passes on when it dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from bot.clock import ManualClock
from bot.config import parse
from bot.events import JobDue
from bot.scheduler import Schedule
from storage.leader import Leadership
from tests.factories import config, sh

ROOT = Path(__file__).resolve().parents[2]

# a process that says whether it leads, each time it is asked on stdin, until stdin closes
PROBE = """
import sys
from sqlalchemy import create_engine
from storage.leader import Leadership
lead = Leadership(create_engine(sys.argv[1]))
for line in sys.stdin:
    print("lead" if lead.held() else "follow", flush=True)
"""


class Probe:
    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", PROBE, url], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})

    def ask(self) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("?\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(10)


@pytest.mark.postgres
def test_of_two_processes_one_leads_and_the_other_takes_over_when_it_dies(pg_url: str) -> None:
    a, b = Probe(pg_url), Probe(pg_url)
    try:
        assert a.ask() == "lead"
        assert [b.ask() for _ in range(3)] == ["follow"] * 3
        assert a.ask() == "lead"  # it keeps the lead while its connection lives
        a.kill()  # no goodbye: the server drops the session, and its lock with it
        deadline = time.monotonic() + 20
        got = b.ask()
        while got != "lead" and time.monotonic() < deadline:
            time.sleep(0.2)
            got = b.ask()
        assert got == "lead"
    finally:
        for p in (a, b):
            if p.proc.poll() is None:
                p.close()


@pytest.mark.postgres
def test_two_programmes_in_two_schemas_of_one_database_each_have_a_leader(pg_url: str) -> None:
    from tests.conftest import pg_schema

    with pg_schema() as other:
        here, there = Leadership(create_engine(pg_url)), Leadership(create_engine(other))
        also_here = Leadership(create_engine(pg_url))
        try:
            assert (here.held(), there.held(), also_here.held()) == (True, True, False)
            here.release()  # a clean stop hands the lead on at once
            assert also_here.held() is True
        finally:
            for lead in (here, there, also_here):
                lead.release()
                lead.engine.dispose()


def test_on_sqlite_every_process_leads(tmp_path: Path) -> None:
    assert Leadership(create_engine(f"sqlite:///{tmp_path / 'x.db'}")).held() is True


async def test_a_follower_fires_nothing_and_on_taking_the_lead_fires_what_fell_due_within_grace() -> None:
    s = parse(config(schedule=[{"id": "board", "job": "leaderboard", "cron": "0 21 * * *"}]))
    schedule = Schedule(s.schedule, s.bot.tz)
    clock = ManualClock(sh("2026-11-23 20:59"), s.bot.tz)
    fired: list[JobDue] = []
    leading = False
    stop, wake = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(schedule.run_live(clock, fired.append, grace=timedelta(minutes=10), poll=0.05,
                                                 stop=stop, wake=wake, leader=lambda: leading))

    async def settle() -> None:
        for _ in range(10):
            wake.set()
            await asyncio.sleep(0.01)

    await settle()
    clock.set(sh("2026-11-23 21:02"))  # due at 21:00: the leader (another process) fires it; this one does not
    await settle()
    assert fired == []
    leading = True  # the leader died at 21:00:30; this process takes over at 21:04
    clock.set(sh("2026-11-23 21:04"))
    await settle()
    assert [(r.job_id, r.due) for r in fired] == [("board", sh("2026-11-23 21:00"))]  # its claim drops a repeat
    stop.set()
    await task
