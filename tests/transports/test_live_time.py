"""Live events dated far from now: one from the future holds no reply, one from long ago still counts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from loguru import logger

from bot.clock import Clock
from bot.events import AHEAD
from tests.factories import SH
from tests.transports.test_bridge_restart import InProcess, http


def message(i: int, who: str, at: datetime, text: str = "签到", room: str = "r1") -> str:
    return json.dumps({"type": "message", "id": f"m{i}", "at": at.isoformat(), "room": room, "from": who,
                       "name": who.title(), "text": text}, ensure_ascii=False)


@pytest.fixture
async def bot(db_url: str) -> AsyncIterator[InProcess]:
    b = InProcess(db_url)
    await b.start()
    yield b
    problems = b.rt.ledger.audit()
    await b.stop()
    assert problems == []


async def replies(c: httpx.AsyncClient, n: int) -> list[dict[str, Any]]:
    """The next `n` lines the bot gives out; each must come within 10 s of the one before."""
    got: list[dict[str, Any]] = []
    after = 0
    while len(got) < n:
        r = await c.get("/out", params={"after": after, "wait": 10})
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert lines, f"no reply within 10 s; got so far {[o['reply_to'] for o in got]}"
        got += lines
        after = int(r.headers["x-next-after"])
    return got


def answered(got: list[dict[str, Any]]) -> set[str]:
    ids: set[str] = set()
    for o in got:
        ids.update(o["reply_to"] if isinstance(o["reply_to"], list) else [o["reply_to"]])
    return ids


@pytest.mark.parametrize("ahead", [timedelta(seconds=90), datetime(2099, 1, 1, tzinfo=SH) - Clock().now()],
                         ids=["90s", "2099"])
async def test_an_event_from_the_future_is_taken_as_of_its_arrival_and_holds_no_reply(
        bot: InProcess, ahead: timedelta) -> None:
    now = Clock().now()
    async with http(bot.br) as c:
        r = await c.post("/events", content=message(1, "wxid_a", now + ahead) + "\n" + message(2, "wxid_b", now))
        assert r.status_code == 202
        got = await replies(c, 1)
        if answered(got) != {"m1", "m2"}:  # not coalesced into one: the second comes next
            got += await replies(c, 1)
        assert answered(got) == {"m1", "m2"} and all("签到成功" in o["text"] for o in got)
        for o in got:
            assert datetime.fromisoformat(o["at"]) - Clock().now() <= AHEAD
    [entry] = [e for e in bot.rt.ledger.entries("wxid_a") if e.kind == "checkin"]
    assert now - timedelta(seconds=1) <= entry.at <= Clock().now()  # today's check-in, dated when it arrived
    # the member is not locked out of today's check-in by a day in 2099: today's is done, and says so
    async with http(bot.br) as c:
        after = bot.br.seq
        await c.post("/events", content=message(3, "wxid_a", Clock().now()))
        r = await c.get("/out", params={"after": after, "wait": 10})
        [again] = [json.loads(line) for line in r.text.splitlines()]
        assert again["reply_to"] == "m3" and "签到成功" not in again["text"] and "已" in again["text"]


async def test_an_event_older_than_give_up_still_counts_and_holds_nothing(bot: InProcess) -> None:
    errors: list[str] = []
    sink = logger.add(lambda m: errors.append(str(m)), level="ERROR", format="{message}")
    give_up = bot.settings.outbox.give_up_seconds
    now = Clock().now()
    old = now - timedelta(seconds=give_up + 60)
    try:
        async with http(bot.br) as c:
            r = await c.post("/events", content=message(1, "wxid_a", old) + "\n" + message(2, "wxid_b", now))
            assert r.status_code == 202
            got = await replies(c, 1)
            if "m2" not in answered(got):  # the old one's answer went out first, on its own
                got += await replies(c, 1)
    finally:
        logger.remove(sink)
    # the fresh one is answered at once; the old one's answer went out too, or the log says it was not sent
    assert "m2" in answered(got) and all("签到成功" in o["text"] for o in got)
    assert "m1" in answered(got) or any("not sent" in e and "签到成功" in e for e in errors), (got, errors)
    [entry] = [e for e in bot.rt.ledger.entries("wxid_a") if e.kind == "checkin"]
    assert entry.at == old  # its ledger effect stands, at its own time


async def test_a_backlog_of_old_events_is_answered_now_on_the_send_budget(bot: InProcess) -> None:
    budget = bot.runner.outbox.budget
    n = budget.burst + 2
    now = Clock().now()
    # a connector's backlog: one check-in a minute over the last minutes, each in its own group (none merge)
    body = "\n".join(message(i, f"wxid_{i}", now - timedelta(minutes=n - i), room=f"r{i}") for i in range(n))
    async with http(bot.br) as c:
        assert (await c.post("/events", content=body)).status_code == 202
        got = await replies(c, n)
    assert answered(got) == {f"m{i}" for i in range(n)}
    sent = sorted(datetime.fromisoformat(o["at"]) for o in got)
    assert sent[0] >= now  # sent now, not each at its own old time (when the bucket would look full)
    assert (sent[-1] - sent[0]).total_seconds() >= (n - budget.burst) * budget.interval - 0.01
