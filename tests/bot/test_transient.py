"""A transient database error (a real PostgreSQL deadlock, SQLite busy) is no member's fault: the batch runs again.

Before, a deadlock inside a check-in's savepoint cost the member an apology and left the message unclaimed,
to be answered "已经签到过" once another process had committed the member's next day.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from storage.db import transient
from tests.conftest import ChatBot
from tests.factories import config, sh

pytestmark = pytest.mark.postgres


def _other_session(url: str, event_id: str, holds: str, wants: str, state: dict[str, Any]) -> threading.Thread:
    """Another process's transaction: claims `event_id` (as a process that got the message first would),
    waits until our batch queues behind that claim, then locks member `wants` (which our batch holds), and
    rolls back once it got it: a deadlock PostgreSQL breaks by aborting our batch, which waited first."""
    engine = create_engine(url)
    ready = threading.Event()
    state["ready"] = ready

    def run() -> None:
        with engine.connect() as c:
            tx = c.begin()
            c.execute(text("INSERT INTO processed_events (id, at) VALUES (:id, now())"), {"id": event_id})
            xid = c.execute(text("SELECT pg_current_xact_id()::text")).scalar()
            ready.set()
            with engine.connect() as watch:  # our batch waits on this transaction's claim
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not watch.execute(
                        text("SELECT count(*) FROM pg_locks WHERE NOT granted AND transactionid::text = :x"),
                        {"x": xid}).scalar():
                    time.sleep(0.02)
            c.execute(text("SELECT id FROM members WHERE id = :m FOR UPDATE"), {"m": wants})
            state["got"] = True
            tx.rollback()  # as if that process lost its own race: the claim is ours to take
        engine.dispose()

    return threading.Thread(target=run, name=f"other-{holds}", daemon=True)


async def test_a_deadlock_inside_a_check_in_is_retried_and_the_member_gets_the_success_reply(
        make_chat: Any, pg_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[]), start="2026-11-23 08:00", url=pg_url)
    hello = await bot.say("大家好", as_="alice", room="g1")
    assert hello == []
    msg = bot.message("签到", as_="alice", room="g1", at=sh("2026-11-23 08:05"))
    state: dict[str, Any] = {}
    other = _other_session(pg_url, f"msg:{msg.id}", holds=f"msg:{msg.id}", wants="alice", state=state)
    other.start()
    assert state["ready"].wait(10)
    replies = await bot.feed(msg)
    other.join(30)
    assert state.get("got")  # the other side did get alice's row: PostgreSQL broke the deadlock on our side
    assert "签到成功" in replies.text and "稍后再试" not in replies.text
    assert [e.kind for e in bot.entries("alice")] == ["checkin"]
    assert bot.balance("alice") == 5
    again = await bot.say("签到", as_="alice", room="g1")
    assert "今天已经签到过啦" in again.text


def test_what_counts_as_transient(tmp_path: Path, pg_url: str) -> None:
    """Real errors from both databases: busy and deadlocked are transient, a broken constraint is not."""
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as busy:
        other.execute("BEGIN IMMEDIATE")
    assert transient(busy.value)
    holder.execute("ROLLBACK")
    holder.execute("INSERT INTO t (id) VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as dup:
        holder.execute("INSERT INTO t (id) VALUES (1)")
    assert not transient(dup.value)
    holder.close()
    other.close()

    engine = create_engine(pg_url)
    with engine.connect() as c:
        c.execute(text("CREATE TABLE pair (id int PRIMARY KEY)"))
        c.execute(text("INSERT INTO pair VALUES (1), (2)"))
        c.commit()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def lock(first: int, second: int) -> None:
        with engine.connect() as c, c.begin():
            c.execute(text("SELECT id FROM pair WHERE id = :i FOR UPDATE"), {"i": first})
            barrier.wait()
            try:
                c.execute(text("SELECT id FROM pair WHERE id = :i FOR UPDATE"), {"i": second})
            except Exception as exc:  # one of the two is chosen as the deadlock's victim
                errors.append(exc)

    threads = [threading.Thread(target=lock, args=p) for p in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 1 and "deadlock" in str(errors[0])
    assert transient(errors[0])
    with engine.connect() as c, pytest.raises(IntegrityError) as dup_pg:
        c.execute(text("INSERT INTO pair VALUES (1)"))
    assert not transient(dup_pg.value)
    engine.dispose()
