"""The console on a real uvicorn server (its own thread and loop) over a real database, with accounts and members."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

import run_bot
from bot.config import parse
from bot.web import WebServer, build_app
from console.app import Console
from console.security import Throttle, hash_password
from tests.factories import config, sh

OPERATOR, VIEWER, PASSWORD = "alice", "victor", "correct-horse-battery"
START = sh("2026-12-01 10:00")


@dataclass
class Served:
    url: str
    services: Any
    settings: Any
    clock: list[datetime]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)

    def login(self, name: str = OPERATOR, password: str = PASSWORD) -> httpx.Client:
        c = self.client()
        r = login(c, name, password)
        assert r.status_code == 303, r.text
        return c


def csrf_of(html: str) -> str:
    import re

    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def nonce_of(html: str) -> str:
    import re

    m = re.search(r'name="nonce" value="([^"]+)"', html)
    assert m, "the page has no nonce field"
    return m.group(1)


def login(c: httpx.Client, name: str, password: str) -> httpx.Response:
    page = c.get("/console/login")
    return c.post("/console/login", data={"csrf": csrf_of(page.text), "name": name, "password": password})


def seed(services: Any) -> None:
    """Two members with a history: 张三 (m_zhang) 120 points in g1, 李四 (m_li) 30; a profile for 张三."""
    services.presence.see_room("g1", "产品交流群", START)
    services.presence.see_member("m_zhang", "张三", START)
    services.presence.see_member("m_li", "李四", START)
    services.presence.see_in_room("g1", "m_zhang", START)
    services.ledger.award(member="m_zhang", points=100, kind="checkin", key="seed:1", at=START, room="g1")
    services.ledger.award(member="m_zhang", points=20, kind="admin_award", key="seed:2", at=START, room="g1",
                          detail="活动奖励")
    services.ledger.award(member="m_li", points=30, kind="checkin", key="seed:3", at=START, room="g1")
    services.profiles.save("m_zhang", {"phone": "13812345678", "city": "杭州"})


def serve(services: Any, settings: Any, now: Any, throttle: Throttle | None = None,
          announcer: Any = None) -> Iterator[str]:
    console = Console(services, settings, now, secret="test-secret-" + "x" * 20, throttle=throttle, announcer=announcer)
    web = WebServer(build_app(console.routes()), "127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(web.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not web.started:
        assert time.monotonic() < deadline, "the console did not start"
        assert thread.is_alive(), "the console's server ended"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{web.bound_port}"
    finally:
        loop.call_soon_threadsafe(web.stop)
        thread.join(10)
        loop.close()


def _served(db_url: str, **sections: Any) -> Iterator[Served]:
    settings = parse(config(**{"schedule": [], **sections, "storage": {"url": db_url}}))
    services = run_bot._services(settings)
    services.accounts.add(OPERATOR, hash_password(PASSWORD), "operator", START)
    services.accounts.add(VIEWER, hash_password(PASSWORD), "viewer", START)
    seed(services)
    clock = [sh("2026-12-02 09:30")]
    for url in serve(services, settings, lambda: clock[0], Throttle(max_failures=5, lock_seconds=600)):
        yield Served(url, services, settings, clock)
    problems = services.ledger.audit()
    services.db.engine.dispose()
    assert not problems, problems


@pytest.fixture
def served(db_url: str) -> Iterator[Served]:
    """The console on SQLite and on PostgreSQL."""
    yield from _served(db_url)


@pytest.fixture
def served_sqlite(sqlite_url: str) -> Iterator[Served]:
    yield from _served(sqlite_url)


# what the 规则 page reads out: a schedule, a campaign, levels, tasks, expiry and the mall
RULES = {
    "schedule": [{"id": "morning-reminder", "job": "checkin_reminder", "cron": "0 8 * * *"},
                 {"id": "sunday-week-board", "job": "leaderboard", "cron": "0 20 * * sun", "period": "week"}],
    "campaigns": [{"id": "double-week", "name": "双倍积分周", "starts": "2026-12-01T00:00:00+08:00",
                   "ends": "2026-12-08T00:00:00+08:00", "checkin": {"multiplier": 2}}],
    "levels": [{"name": "青铜", "growth": 0}, {"name": "白银", "growth": 500, "checkin_multiplier": 1.2,
                                                 "mall_discount": 0.95}],
    "tasks": [{"id": "checkin-days", "name": "签到之星", "metric": "checkin_days",
               "tiers": [{"at": 7, "points": 10}, {"at": 30, "points": 60}]}],
    "expiry": {"policy": "rolling", "days": 365, "warn_days": 7, "run_at": "00:05"},
    "mall": {"pay_within_hours": 24, "items": [{"sku": "mug", "name": "马克杯", "kind": "physical", "points": 10,
                                                "stock": 5}]},
}


@pytest.fixture
def served_rules(db_url: str) -> Iterator[Served]:
    """The console over settings with every kind of rule the 规则 page shows."""
    yield from _served(db_url, **RULES)


@pytest.fixture
def served_rules_sqlite(sqlite_url: str) -> Iterator[Served]:
    yield from _served(sqlite_url, **RULES)
