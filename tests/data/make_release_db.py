"""Writes tests/data/release-0.1/: a database as release 0.1 (commit 3a55538) leaves it, as SQL text for SQLite and PostgreSQL.

Run it with that release's code as the working directory, not with this checkout's code (the point is a
database written by the old code, before schema versions):

    git worktree add /tmp/release-0.1 3a55538
    cd /tmp/release-0.1 && REPO/.venv/bin/python REPO/tests/data/make_release_db.py
    cd REPO && git worktree remove /tmp/release-0.1

Two weeks of a small community go through that release's pipeline on a manual clock (joins with
invites and a clawback, check-ins with streaks, operator awards and a deduction, a quiz, card codes and
mall orders, one refunded, points expiry with lots that expire), once on SQLite and once on a scratch
PostgreSQL schema. It writes, next to config.toml (the release config they ran with, written here):
  sqlite.sql      sqlite3 iterdump of the SQLite database
  postgresql.sql  pg_dump --inserts of the scratch schema, the schema's name taken out (load it with a
                  search_path of your own)
  expected.json   what both databases hold: balances, orders, lots, codes, ledger lines; the tests hold
                  an upgraded database to it
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

OUT = Path(__file__).resolve().parent / "release-0.1"
PG_ADMIN = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 7, 0, tzinfo=SH)  # a Monday

CONFIG = """\
# The config release 0.1 ran with to write tests/data/release-0.1 (tests/data/make_release_db.py).
[bot]
name = "积分助手"
self_id = "bot"
timezone = "Asia/Shanghai"
admins = ["op"]

[checkin]
points = 5
consecutive = [{days = 3, bonus = 10}]

[[levels]]
name = "青铜"
growth = 0

[[levels]]
name = "白银"
growth = 60
mall_discount = 0.9

[expiry]
policy = "rolling"
days = 5
warn_days = 2
run_at = "00:05"

[quiz]
winners = 2
window_minutes = 30

[[quiz.questions]]
question = "一年有几个月？（填数字）"
answers = ["12"]
points = 7

[newcomer]
points = 10

[invite]
points = 20
revoke_within_days = 7

[[tasks]]
id = "invite-star"
name = "邀请达人"
metric = "invites"
tiers = [{at = 2, points = 15}]

[mall]
confirm_above = 500

[[mall.items]]
sku = "vip"
name = "会员卡密"
kind = "card_code"
points = 20

[[mall.items]]
sku = "coupon-5"
name = "满50减5券"
kind = "coupon"
points = 10
coupon = { code = "SAVE5", threshold = "满50减5", valid_days = 30 }

[[mall.items]]
sku = "mug"
name = "马克杯"
kind = "physical"
points = 30
stock = 5

[[schedule]]
id = "evening-quiz"
job = "quiz"
cron = "0 20 * * *"

[[schedule]]
id = "evening-leaderboard"
job = "leaderboard"
cron = "0 21 * * *"
"""


def at(day: int, hhmm: str) -> datetime:
    """Local time on day `day` (1 = START's day)."""
    h, m = (int(x) for x in hhmm.split(":"))
    return (START + timedelta(days=day - 1)).replace(hour=h, minute=m)


async def community(url: str) -> None:
    """Two weeks of use, through the release's own pipeline."""
    import run_bot
    from bot import config as config_mod
    from bot.clock import ManualClock
    from bot.transports.memory import MemoryTransport
    from storage.mall import Mall

    settings = config_mod.load(OUT / "config.toml", url)
    clock = ManualClock(START, settings.bot.tz)
    rt = run_bot.build(settings, clock)
    bot = MemoryTransport(rt.app, clock, rt.schedule)
    Mall(rt.ledger, settings.bot.tz).import_codes("vip", ["VIP-AAA1", "VIP-BBB2", "VIP-CCC3", "VIP-DDD4"], clock.now())

    async def say(who: str, text: str, when: datetime, room: str | None = "g1", **kw: Any) -> list[Any]:
        return await bot.say(text, as_=who, name=who.title(), room=room, at=when, **kw)

    await bot.join("g1", "alice", "bob", at=at(1, "07:00"))
    await bot.join("g1", "carol", inviter="alice", at=at(1, "07:10"))
    await bot.join("g1", "dave", inviter="alice", at=at(1, "07:20"))
    await bot.join("g2", "erin", inviter="bob", at=at(1, "07:30"))
    for day in range(1, 15):
        await bot.tick(at(day, "07:55"))  # the expiry run at 00:05 and any due job fire on the way
        for who, room, days in (("alice", "g1", range(1, 15)), ("bob", "g1", range(1, 15, 2)),
                                ("carol", "g1", (1, 2, 3, 8, 9)), ("erin", "g2", range(2, 9))):
            if day in days:
                await say(who, "签到", at(day, "08:00"), room=room)
        if day == 1:
            await say("op", "加分 @Alice @Bob 30 活动奖励", at(1, "10:00"), mentions=("alice", "bob"))
            await bot.tick(at(1, "20:00"))  # the quiz is asked
            await say("alice", "答 12", at(1, "20:05"))
            await say("bob", "答 11", at(1, "20:06"))
            await say("erin", "答 12", at(1, "20:07"), room="g2")
            await bot.tick(at(1, "21:00"))  # result and leaderboard
        if day == 2:
            await say("alice", "兑换 vip", at(2, "12:00"))
            await say("bob", "兑换 coupon-5", at(2, "12:05"))
        if day == 3:
            await bot.leave("g1", "dave", at=at(3, "09:00"))  # within 7 days: alice's invite is taken back
            await say("op", "扣分 @Bob 5 刷屏", at(3, "10:00"), mentions=("bob",))
        if day == 4:
            await say("alice", "兑换 mug", at(4, "12:10"))  # a parcel: the address is asked privately
            await say("alice", "取消订单 3", at(4, "12:15"), room=None)  # refunded, stock back
        if day == 9:
            await say("erin", "兑换 vip", at(9, "12:00"), room="g2")
            await say("alice", "兑换 vip", at(9, "12:30"))
        await bot.tick(at(day, "21:30"))
    problems = rt.ledger.audit()
    rt.ledger.engine.dispose()
    if problems:
        raise SystemExit(f"the release's own audit failed: {problems}")


def totals(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What the tests compare before and after upgrading; from rows read by name, on either database."""
    return {
        "balances": {r["id"]: [r["points"], r["growth"]] for r in rows["members"]},
        "orders": [[r["id"], r["member_id"], r["sku"], r["status"], r["points"], r["secret"]] for r in rows["mall_orders"]],
        "lots": [[r["id"], r["member_id"], r["entry_id"], r["points"], r["remaining"]] for r in rows["point_lots"]],
        "codes": [[r["id"], r["sku"], r["code"], r["order_id"]] for r in rows["mall_codes"]],
        "stock": {r["sku"]: [r["stock"], r["sold"]] for r in rows["mall_items"]},
        "ledger_lines": len(rows["ledger"]),
        "ledger_kinds": sorted({r["kind"] for r in rows["ledger"]}),
    }


TABLES = {"members": "id", "mall_orders": "id", "point_lots": "id", "mall_codes": "id", "mall_items": "sku", "ledger": "id"}


def read_sqlite(path: Path) -> dict[str, list[dict[str, Any]]]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return {t: [dict(r) for r in con.execute(f"SELECT * FROM {t} ORDER BY {k}")] for t, k in TABLES.items()}
    finally:
        con.close()


def main() -> None:
    code = Path.cwd()
    if (code / "storage" / "migrations").exists() or not (code / "run_bot.py").exists():
        raise SystemExit("run this from a checkout of release 0.1 (git worktree add /tmp/release-0.1 3a55538)")
    sys.path.insert(0, str(code))
    OUT.mkdir(exist_ok=True)
    (OUT / "config.toml").write_text(CONFIG, encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "release.db"
        asyncio.run(community(f"sqlite:///{db}"))
        con = sqlite3.connect(db)
        dump = "\n".join(con.iterdump()) + "\n"
        con.close()
        (OUT / "sqlite.sql").write_text(dump, encoding="utf-8")
        expected = totals(read_sqlite(db))

    from sqlalchemy import create_engine, text

    schema = f"release_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        asyncio.run(community(f"{PG_ADMIN}?options=-csearch_path%3D{schema}"))
        with admin.connect() as c:
            c.execute(text(f'SET search_path TO "{schema}"'))
            rows = {t: [dict(r._mapping) for r in c.execute(text(f"SELECT * FROM {t} ORDER BY {k}"))]
                    for t, k in TABLES.items()}
        if totals(rows) != expected:
            raise SystemExit("the PostgreSQL database differs from the SQLite one")
        u = admin.url
        dump = subprocess.run(["pg_dump", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U",
                               u.username or "postgres", "-d", u.database or "test", "-n", schema, "--inserts",
                               "--no-owner", "--no-privileges"], check=True, capture_output=True, text=True).stdout
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    (OUT / "postgresql.sql").write_text(portable(dump, schema), encoding="utf-8")
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in expected.items()]
    (OUT / "expected.json").write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(expected['balances'])} members, {expected['ledger_lines']} ledger lines")


def portable(dump: str, schema: str) -> str:
    """The dump without its schema: no CREATE SCHEMA, no empty search_path, no names qualified by it."""
    keep = []
    for line in dump.splitlines():
        if line.startswith(("CREATE SCHEMA", "SELECT pg_catalog.set_config('search_path'", "\\restrict", "\\unrestrict")):
            continue
        if line.startswith("-- Dumped") or line.startswith("-- Name: ") and "Type: SCHEMA" in line:
            continue
        keep.append(re.sub(rf"\b{schema}\.", "", line).replace(f"Schema: {schema};", "Schema: -;"))
    return "\n".join(keep) + "\n"


if __name__ == "__main__":
    main()
