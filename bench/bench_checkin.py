"""Benchmark 签到 through the whole replay pipeline against raw sqlite3 commits, and per-command cost at 1k vs 1M rows."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a plain script; the project is not an installed package

import run_bot  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings, parse  # noqa: E402
from bot.transports.replay import replay  # noqa: E402
from storage import keys  # noqa: E402
from storage.boards import periods  # noqa: E402
from storage.db import make_engine, stored_datetime  # noqa: E402
from storage.tables import METADATA  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
FIRST_DAY = date(2026, 11, 23)
OUT_DIR = ROOT / "bench" / "out"
BASE_POINTS = 5


def settings_for(db: Path, batch_size: int) -> Settings:
    # No [[schedule]]: a broadcast would add lines that are not check-in replies and spoil the count check.
    return parse({
        "bot": {"name": "积分助手", "self_id": "bot", "timezone": "Asia/Shanghai", "admins": ["wxid_owner"]},
        "storage": {"url": f"sqlite:///{db}", "batch_size": batch_size},
        "checkin": {
            "points": BASE_POINTS,
            "keywords": ["签到", "打卡"],
            "consecutive": [{"days": 3, "bonus": 10}, {"days": 7, "bonus": 30}],
            "cumulative": [{"days": 10, "bonus": 50}],
        },
    })


def member_id(m: int) -> str:
    return f"wxid_{m:07d}"


def room_id(m: int, rooms: int) -> str:
    return f"room{m % rooms:03d}"


def checkin_lines(members: Sequence[int], days: Sequence[date], rooms: int, seed: int) -> list[str]:
    """One 签到 per member per local day, at varied times between 06:00 and 23:59, in time order."""
    rng = random.Random(seed)
    lines: list[str] = []
    for day in days:
        midnight = datetime(day.year, day.month, day.day, tzinfo=TZ)
        for secs, m in sorted((rng.randrange(6 * 3600, 24 * 3600), m) for m in members):
            lines.append(json.dumps({
                "type": "message", "id": f"m{day:%Y%m%d}-{m}", "at": (midnight + timedelta(seconds=secs)).isoformat(),
                "room": room_id(m, rooms), "room_name": f"会员群{m % rooms}", "from": member_id(m),
                "name": f"会员{m}", "text": "签到", "mentions": [],
            }, ensure_ascii=False))
    return lines


# -- measurements ---------------------------------------------------------------------------------


@dataclass
class Timing:
    commands: int
    seconds: float
    cpu_seconds: float  # this process's CPU: wall minus it is fsync, I/O and time lost to other load

    @property
    def cpu_ms_per(self) -> float:
        return 1000 * self.cpu_seconds / self.commands

    @property
    def rate(self) -> float:
        return self.commands / self.seconds

    @property
    def ms_per(self) -> float:
        return 1000 * self.seconds / self.commands


def run_pipeline(db: Path, lines: Sequence[str], batch_size: int, *, audit: bool = True,
                 profiler: cProfile.Profile | None = None, settings: Settings | None = None) -> Timing:
    """Replay `lines` into `db` and time it; fail unless each line got one reply and one new check-in row."""
    start = datetime.fromisoformat(json.loads(lines[0])["at"])
    rt = run_bot.build(settings or settings_for(db, batch_size), ManualClock(start, TZ))
    before = count(db, "checkins")
    out = db.with_suffix(".out.jsonl")
    try:
        with out.open("w", encoding="utf-8") as f:

            def write(line: str) -> None:
                f.write(line)

            if profiler is not None:
                profiler.enable()
            t0, c0 = time.perf_counter(), time.process_time()
            stats = asyncio.run(replay(rt.app, rt.schedule, lines, write, batch_size=batch_size))
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            if profiler is not None:
                profiler.disable()
        if stats.bad_lines:
            fail(f"{db.name}: {stats.bad_lines} event lines were rejected")
        replies = sum(1 for _ in out.open(encoding="utf-8"))
        # An apology for a failed command is a reply too, so the rows are what prove the work was done.
        done = count(db, "checkins") - before
        if replies != len(lines) or done != len(lines):
            fail(f"{db.name}: {len(lines):,} check-ins sent, {replies:,} replies, {done:,} check-in rows written "
                 f"(see the log above)")
        if audit:
            problems = rt.ledger.audit()
            if problems:
                fail(f"{db.name}: audit found {len(problems)} problem(s):\n  " + "\n  ".join(problems[:20]))
    finally:
        rt.ledger.engine.dispose()
    return Timing(len(lines), seconds, cpu)


CONFIG_TOML = """
[bot]
name = "积分助手"
self_id = "bot"
timezone = "Asia/Shanghai"
admins = ["wxid_owner"]
[storage]
batch_size = {batch_size}
[checkin]
points = {points}
keywords = ["签到", "打卡"]
consecutive = [{{days = 3, bonus = 10}}, {{days = 7, bonus = 30}}]
cumulative = [{{days = 10, bonus = 50}}]
"""


def process_env(work: Path) -> dict[str, str]:
    """The child's environment: Python's .pyc cache and the template cache on (under the work dir, so the
    tree stays clean), as for an installed bot; log at WARNING as run_pipeline does."""
    env = {**os.environ, "LOG_LEVEL": "WARNING", "BOT_CACHE_DIR": str(work / "cache"),
           "PYTHONPYCACHEPREFIX": str(work / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_process(work: Path, tree: Path, name: str, lines: Sequence[str], batch_size: int) -> Timing:
    """`run_bot.py replay` of `lines` as a process, start-up and exit included; CPU is the child's user + system.

    Fails unless every event got its reply and its check-in row, and `audit` passes.
    """
    config = work / "process.toml"
    config.write_text(CONFIG_TOML.format(batch_size=batch_size, points=BASE_POINTS), encoding="utf-8")
    events = work / "process-events.jsonl"
    if not events.exists():
        events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = process_env(work)
    db = work / f"{name}.db"
    warm = work / f"{name}-warm.db"  # one run first: .pyc files and compiled templates exist, as they would
    subprocess.run([sys.executable, str(tree / "run_bot.py"), "replay", "-", "--config", str(config), "--db",
                    f"sqlite:///{warm}"], input=lines[0] + "\n", text=True, env=env, check=True, capture_output=True)
    out = work / f"{name}.out.jsonl"
    argv = [sys.executable, str(tree / "run_bot.py"), "replay", str(events), "--config", str(config), "--db",
            f"sqlite:///{db}"]
    with out.open("wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        fail(f"{name}: run_bot.py replay exited {os.waitstatus_to_exitcode(status)}:\n{err[-2000:]}")
    answered = 0
    for line in out.open(encoding="utf-8"):
        reply_to = json.loads(line)["reply_to"]
        answered += len(reply_to) if isinstance(reply_to, list) else 1
    done = count(db, "checkins")
    if answered != len(lines) or done != len(lines):
        fail(f"{name}: {len(lines):,} check-ins sent, {answered:,} answered, {done:,} check-in rows written\n{err[-2000:]}")
    audit = subprocess.run([sys.executable, str(tree / "run_bot.py"), "audit", "--config", str(config), "--db",
                            f"sqlite:///{db}"], env=env, capture_output=True, text=True)
    if audit.returncode != 0:
        fail(f"{name}: audit failed:\n{audit.stdout[-2000:]}{audit.stderr[-2000:]}")
    return Timing(len(lines), seconds, usage.ru_utime + usage.ru_stime)


def process_main(a: argparse.Namespace, work: Path) -> None:
    """--process: the whole process beside raw single-row commits, alternately, `a.rounds` times each."""
    days = [FIRST_DAY + timedelta(days=d) for d in range(a.days)]
    lines = checkin_lines(range(a.members), days, a.rooms, a.seed)
    trees = {"this tree": ROOT, **({"base": a.base.resolve()} if a.base else {})}
    timings: dict[str, list[Timing]] = {name: [] for name in [*trees, "raw"]}
    for r in range(a.rounds):
        for name, tree in trees.items():
            print(f"round {r + 1}: {name}: run_bot.py replay of {len(lines):,} check-ins as a process ...")
            timings[name].append(run_process(work, tree, f"{name.replace(' ', '_')}-{r}", lines, a.batch_size))
            print(f"  {timings[name][-1].rate:,.0f} check-ins/s, audit ok")
        print(f"round {r + 1}: raw sqlite3: {len(lines):,} single-row commits ...")
        timings["raw"].append(run_raw(work / f"raw-{r}.db", len(lines), a.members))
        print(f"  {timings['raw'][-1].rate:,.0f} commits/s")
    print()
    print(f"{'measure (each round: process, then raw)':<44}  {'rate':>9}  {'wall / cpu ms per op':>22}  vs raw, same round")
    for name in timings:
        for r, t in enumerate(timings[name]):
            raw = timings["raw"][r]
            ratio = "" if name == "raw" else f"{t.rate / raw.rate:.2f}"
            label = f"{name}, round {r + 1}" + (" (start-up included)" if name != "raw" else " (single-row commits)")
            print(f"{label:<44}  {t.rate:>7,.0f}/s  {ms(t):>22}  {ratio}")
    for name in trees:
        ratios = sorted(t.rate / raw.rate for t, raw in zip(timings[name], timings["raw"], strict=True))
        cpu = sorted(t.cpu_ms_per for t in timings[name])
        verdict = "ok" if ratios[len(ratios) // 2] >= 1.0 else "MISSED"
        print(f"{name}: process / raw {ratios[len(ratios) // 2]:.2f} (median; {ratios[0]:.2f}-{ratios[-1]:.2f}), "
              f"cpu {cpu[len(cpu) // 2]:.3f} ms per check-in; target >= 1.0: {verdict}")
    load = os.getloadavg()[0]
    if load > 1.5:
        print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs during the run; compare the cpu column")


def count(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def run_raw(db: Path, ops: int, members: int) -> Timing:
    """`ops` single-row transactions (one INSERT + one UPDATE each), with the bot's durability settings."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE balances (member_id TEXT PRIMARY KEY, points INTEGER NOT NULL)")
    # The unique key mirrors the ledger's idempotency key, the one index every real append must check.
    con.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY, member_id TEXT NOT NULL, delta INTEGER NOT NULL, "
                "balance_after INTEGER NOT NULL, key TEXT NOT NULL UNIQUE, at TEXT NOT NULL)")
    con.execute("BEGIN")
    con.executemany("INSERT INTO balances VALUES (?, 0)", ((member_id(m),) for m in range(members)))
    con.execute("COMMIT")
    at = "2026-11-23 00:00:00.000000"
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(ops):
        mid = member_id(i % members)
        # IMMEDIATE, as the bot's engine does: the write lock is taken before the first statement.
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO entries (member_id, delta, balance_after, key, at) VALUES (?, ?, ?, ?, ?)",
                    (mid, BASE_POINTS, BASE_POINTS * (i // members + 1), f"raw:{i}", at))
        con.execute("UPDATE balances SET points = points + ? WHERE member_id = ?", (BASE_POINTS, mid))
        con.execute("COMMIT")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    con.close()
    return Timing(ops, seconds, cpu)


# -- a large database, filled directly --------------------------------------------------------------


def _ts(at: datetime) -> str:
    return str(stored_datetime(at, sqlite=True))  # the codec types.UTCDateTime and the hot path use


def bulk_insert(con: sqlite3.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """executemany into a real table; a column added to the model later gets its model default, so this keeps working."""
    extra: list[tuple[str, Any]] = []
    for col in METADATA.tables[table].columns:
        if col.name in columns:
            continue
        default = col.default
        if default is not None and getattr(default, "is_scalar", False):
            extra.append((col.name, getattr(default, "arg", None)))
        elif not (col.nullable or col.primary_key):
            fail(f"fill() does not know {table}.{col.name} (NOT NULL, no scalar default): add it to bench_checkin.py")
    names = [*columns, *(name for name, _ in extra)]
    consts = tuple(value for _, value in extra)
    quoted = ", ".join('"' + n + '"' for n in names)
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(names))})"
    con.executemany(sql, (tuple(r) + consts for r in rows))


@dataclass(frozen=True)
class Award:
    """One admin award a member got on top of their check-ins (bench_scale: scores that differ)."""

    points: int
    day: date


def fill(db: Path, members: int, ledger_rows: int, rooms: int, today: date, *,
         history: Sequence[int] | None = None, awards: Sequence[Award | None] | None = None,
         groups: Sequence[Sequence[tuple[str, bool]]] | None = None) -> int:
    """Members with consecutive check-ins ending yesterday, one ledger line each; consistent for the audit.

    By default the rows are spread evenly, so a member has ledger_rows // members days (or one more), and
    member m is in group room_id(m). `history` gives each member's days instead, `awards` an admin award
    each (written after the check-ins, dated on its day), `groups` each member's (group, still in it).
    Returns the ledger rows written.
    """
    make_engine(f"sqlite:///{db}").dispose()  # the real schema, indexes included
    if history is None:
        per, extra = divmod(ledger_rows, members)
        history = [per + (1 if m < extra else 0) for m in range(members)]
    awarded = list(awards) if awards is not None else [None] * members
    joined = groups if groups is not None else [[(room_id(m, rooms), True)] for m in range(members)]
    created = datetime(today.year, today.month, today.day, tzinfo=TZ) - timedelta(days=max(history) + 1)
    yesterday = today - timedelta(days=1)

    def checkin_at(m: int, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, 8, tzinfo=TZ) + timedelta(seconds=m % 3600)

    def award_at(m: int, a: Award) -> datetime:
        return datetime(a.day.year, a.day.month, a.day.day, 12, tzinfo=TZ) + timedelta(seconds=m % 3600)

    def by_day() -> Iterator[tuple[int, int, date]]:
        # Day-major, as the bot would have written them: ledger ids follow time.
        for back in range(max(history), 0, -1):
            day = today - timedelta(days=back)
            for m in range(members):
                if history[m] >= back:
                    yield m, history[m] - back + 1, day

    def balance(m: int) -> int:
        a = awarded[m]
        return BASE_POINTS * history[m] + (a.points if a else 0)

    def changed_at(m: int) -> str | None:
        times = [checkin_at(m, yesterday)] if history[m] else []
        a = awarded[m]
        if a is not None:
            times.append(award_at(m, a))
        return _ts(max(times)) if times else None

    con = sqlite3.connect(db, isolation_level=None)
    # Setup only, not measured: no fsync, one transaction.
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")
    con.execute("BEGIN")
    bulk_insert(con, "rooms", ("id", "name", "active", "created_at"),
                ((room_id(r, rooms), f"会员群{r}", 1, _ts(created)) for r in range(rooms)))
    bulk_insert(con, "members",
                ("id", "name", "points", "growth", "checkin_days", "checkin_streak", "last_checkin", "points_at",
                 "created_at"),
                ((member_id(m), f"会员{m}", balance(m), balance(m), h, h,
                  yesterday.isoformat() if h else None, changed_at(m), _ts(created))
                 for m, h in enumerate(history)))
    bulk_insert(con, "room_members", ("room_id", "member_id", "active", "joined_at", "left_at"),
                ((room, member_id(m), int(active), _ts(created), None if active else _ts(created + timedelta(days=1)))
                 for m in range(members) for room, active in joined[m]))
    bulk_insert(con, "checkins", ("member_id", "day", "at", "room_id", "streak", "total_days", "points"),
                ((member_id(m), day.isoformat(), _ts(checkin_at(m, day)), room_id(m, rooms), n, n, BASE_POINTS)
                 for m, n, day in by_day()))
    bulk_insert(con, "ledger",
                ("member_id", "delta", "growth_delta", "balance_after", "kind", "key", "at", "room_id", "detail"),
                ((member_id(m), BASE_POINTS, BASE_POINTS, BASE_POINTS * n, "checkin",
                  keys.checkin(day, member_id(m)), _ts(checkin_at(m, day)), room_id(m, rooms), "每日签到")
                 for m, n, day in by_day()))
    bulk_insert(con, "ledger",
                ("member_id", "delta", "growth_delta", "balance_after", "kind", "key", "at", "room_id", "detail"),
                ((member_id(m), a.points, a.points, balance(m), "admin_award", f"bench:award:{m}",
                  _ts(award_at(m, a)), room_id(m, rooms), "活动奖励")
                 for m, a in enumerate(awarded) if a is not None))
    # the period sums 周榜/月榜 read, as the ledger's entry hook would have kept them
    sums: dict[tuple[str, str], list[Any]] = {}

    def add(m: int, day: date, points: int, at: datetime) -> None:
        for period in periods(day):
            row = sums.setdefault((period, member_id(m)), [0, None])
            row[0] += points
            row[1] = max(row[1] or "", _ts(at))

    for m, _n, day in by_day():
        add(m, day, BASE_POINTS, checkin_at(m, day))
    for m, a in enumerate(awarded):
        if a is not None:
            add(m, a.day, a.points, award_at(m, a))
    bulk_insert(con, "period_sums", ("period", "member_id", "points", "reached_at"),
                ((period, member, points, at) for (period, member), (points, at) in sums.items()))
    _sum_hours(con)
    bulk_insert(con, "processed_events", ("id", "at"),
                ((f"msg:m{day:%Y%m%d}-{m}", _ts(checkin_at(m, day))) for m, _n, day in by_day()))
    con.execute("COMMIT")
    con.close()
    _count_boards(db)
    con = sqlite3.connect(db, isolation_level=None)
    # Start the measured window from an empty WAL, as a bot that has been idle would.
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return count(db, "ledger")


def _sum_hours(con: sqlite3.Connection) -> None:
    """The ledger by UTC hour and kind (storage.hours) and the check-ins by day, as the hooks would have kept them."""
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'ledger_hours'").fetchone() is None:
        return  # a tree from before the table
    con.execute("INSERT INTO ledger_hours (hour, kind, shard, delta, growth_delta, entries) "
                "SELECT substr(at, 1, 13) || ':00:00.000000' AS h, kind, 0, SUM(delta), SUM(growth_delta), COUNT(*) "
                "FROM ledger GROUP BY h, kind")
    con.execute("INSERT INTO checkin_counts (day, shard, n) SELECT day, 0, COUNT(*) FROM checkins WHERE makeup = 0 "
                "GROUP BY day")


def _count_boards(db: Path) -> None:
    """The board counts the hooks would have kept, where this code has them (a tree from before has not)."""
    try:
        from storage.boards import rebuild_counts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            rebuild_counts(conn)
    finally:
        engine.dispose()


@dataclass
class ScaleResult:
    rows: int
    fill_seconds: float
    timing: Timing


def scale_case(work: Path, name: str, members: int, ledger_rows: int, window: int, rooms: int, batch_size: int,
               seed: int, audit: bool) -> ScaleResult:
    """Fill a database, then time `window` check-ins on a new day by members spread over the id space."""
    if window > members:
        fail(f"{name}: a window of {window} needs at least that many members (got {members})")
    db = work / f"{name}.db"
    today = FIRST_DAY + timedelta(days=60)
    t0 = time.perf_counter()
    rows = fill(db, members, ledger_rows, rooms, today)
    fill_seconds = time.perf_counter() - t0
    # Streaks of 1, 2 or 11 days: no bonus fires, so each command does the same work at either size.
    chosen = [i * members // window for i in range(window)]
    timing = run_pipeline(db, checkin_lines(chosen, [today], rooms, seed), batch_size, audit=audit)
    written = count(db, "ledger") - rows
    if written != window:
        fail(f"{name}: expected one ledger line per check-in ({window}), got {written}; a bonus fired? "
             "sizes must leave streaks of 1, 2 or 11 days")
    return ScaleResult(rows, fill_seconds, timing)


# -- profile ----------------------------------------------------------------------------------------

_OWN = re.compile("^" + re.escape(str(ROOT)) + r"/(bot/|handlers/|storage/|run_bot\.py)|/site-packages/sqlalchemy/")


def top_cumulative(profiler: cProfile.Profile, commands: int, n: int = 15) -> list[str]:
    """The `n` entries with most cumulative time that are the project's own code or SQLAlchemy."""
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows, driver = [], []
    for (file, line, func), (_cc, ncalls, _tt, cum, _callers) in stats.items():
        if _OWN.search(file):
            rows.append((cum, ncalls, f"{short(file)}:{line}({func})"))
        elif "sqlite3." in func:
            # The driver's C calls: what is left once the Python above is gone (SQL work, fsync, checkpoints).
            driver.append((cum, ncalls, func))
    rows.sort(reverse=True)
    driver.sort(reverse=True)
    return [f"{1000 * cum / commands:8.3f} ms/cmd {ncalls / commands:7.1f} calls/cmd  {where}"
            for cum, ncalls, where in [*rows[:n], *driver[:3]]]


def short(file: str) -> str:
    if "/sqlalchemy/" in file:
        return "sqlalchemy/" + file.split("/sqlalchemy/", 1)[1]
    return str(Path(file).relative_to(ROOT)) if file.startswith(str(ROOT)) else file


# -- driver -----------------------------------------------------------------------------------------


class BenchFailure(Exception):
    pass


def fail(message: str) -> None:
    raise BenchFailure(message)


def ms(t: Timing) -> str:
    return f"{t.ms_per:.3f} / {t.cpu_ms_per:.3f}"


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--members", type=int, default=2000, help="members checking in every day (default 2000)")
    p.add_argument("--days", type=int, default=10, help="consecutive local days (default 10)")
    p.add_argument("--rooms", type=int, default=20, help="groups the members are spread over (default 20)")
    p.add_argument("--batch-size", type=int, default=256, help="events per transaction (storage.batch_size)")
    p.add_argument("--b1-members", type=int, default=200, help="members in the batch-size-1 sample (x days)")
    p.add_argument("--window", type=int, default=2000, help="check-ins timed at each database size")
    p.add_argument("--small-rows", type=int, default=1000, help="ledger rows in the small database")
    p.add_argument("--large-members", type=int, default=100_000, help="members in the large database")
    p.add_argument("--large-rows", type=int, default=1_000_000, help="ledger rows in the large database")
    p.add_argument("--audit-large", action="store_true", help="also audit the large database (slow)")
    p.add_argument("--profile", action="store_true", help="profile a pipeline sample and print the top entries")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run in well under 20 s")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the temp dir under bench/out")
    p.add_argument("--process", action="store_true",
                   help="only the whole process: run_bot.py replay (start-up included) beside raw sqlite3 commits")
    p.add_argument("--rounds", type=int, default=2, help="--process: rounds of (process, raw) (default 2)")
    p.add_argument("--base", type=Path, help="--process: another checkout whose run_bot.py runs beside this one")
    a = p.parse_args(argv)
    if a.quick:
        a.members, a.days, a.b1_members = 200, 10, 50
        a.window, a.small_rows, a.large_members, a.large_rows = 500, 250, 10_000, 100_000
    return a


def main(argv: Sequence[str] | None = None) -> int:
    a = arguments(argv)
    run_bot.setup_logging("WARNING")  # as in production, minus INFO chatter; DEBUG would flood stderr
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    # Same file system as the repo, so fsync costs what it costs for data/points.db.
    work = Path(tempfile.mkdtemp(prefix="checkin-", dir=OUT_DIR))
    print(f"work dir {work.relative_to(ROOT)}")
    days = [FIRST_DAY + timedelta(days=d) for d in range(a.days)]
    summary: list[tuple[str, str, str, str]] = []
    if a.process:
        try:
            process_main(a, work)
        except BenchFailure as exc:
            print(f"\nBENCHMARK FAILED: {exc}\n(files kept in {work})", file=sys.stderr)
            return 1
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    try:
        lines = checkin_lines(range(a.members), days, a.rooms, a.seed)
        print(f"pipeline: {len(lines):,} check-ins ({a.members:,} members x {a.days} days, batch {a.batch_size}) ...")
        pipe = run_pipeline(work / "pipeline.db", lines, a.batch_size)
        print(f"  {pipe.rate:,.0f} check-ins/s, audit ok")

        print(f"raw sqlite3: {len(lines):,} single-row commits ...")
        raw = run_raw(work / "raw.db", len(lines), a.members)
        print(f"  {raw.rate:,.0f} commits/s")

        b1_lines = checkin_lines(range(a.b1_members), days, a.rooms, a.seed)
        print(f"pipeline, batch 1: {len(b1_lines):,} check-ins ...")
        b1 = run_pipeline(work / "batch1.db", b1_lines, 1)
        print(f"  {b1.rate:,.0f} check-ins/s, audit ok")

        small_members = max(a.window, 1)
        print(f"scale: {a.window:,} check-ins at {a.small_rows:,} ledger rows ...")
        small = scale_case(work, "small", small_members, a.small_rows, a.window, a.rooms, a.batch_size, a.seed,
                           audit=True)
        print(f"  {small.timing.ms_per:.3f} ms/check-in (fill {small.fill_seconds:.1f} s)")
        print(f"scale: {a.window:,} check-ins at {a.large_rows:,} ledger rows ({a.large_members:,} members) ...")
        large = scale_case(work, "large", a.large_members, a.large_rows, a.window, a.rooms, a.batch_size, a.seed,
                           audit=a.audit_large)
        print(f"  {large.timing.ms_per:.3f} ms/check-in (fill {large.fill_seconds:.1f} s)")
        # The same community over a longer time: the ledger grows, the member tables do not.
        print(f"scale: {a.window:,} check-ins at {a.large_rows:,} ledger rows ({small_members:,} members) ...")
        history = scale_case(work, "history", small_members, a.large_rows, a.window, a.rooms, a.batch_size, a.seed,
                             audit=a.audit_large)
        print(f"  {history.timing.ms_per:.3f} ms/check-in (fill {history.fill_seconds:.1f} s)")

        profile_lines: list[str] = []
        if a.profile:
            sample = checkin_lines(range(min(a.members, 500)), days, a.rooms, a.seed)
            print(f"profile: {len(sample):,} check-ins under cProfile ...")
            profiler = cProfile.Profile()
            run_pipeline(work / "profile.db", sample, a.batch_size, audit=False, profiler=profiler)
            profile_lines = top_cumulative(profiler, len(sample))

        ratio = pipe.rate / raw.rate
        b1_ratio = b1.rate / raw.rate
        flat = history.timing.ms_per / small.timing.ms_per
        wider = large.timing.ms_per / small.timing.ms_per
        verdict = "ok" if ratio >= 0.5 else "MISSED"
        summary += [
            (f"pipeline, batch {a.batch_size} ({pipe.commands:,} check-ins)", f"{pipe.rate:,.0f}/s", ms(pipe), ""),
            (f"raw sqlite3 commits ({raw.commands:,})", f"{raw.rate:,.0f}/s", ms(raw), ""),
            ("pipeline / raw", f"{ratio:.2f}", "", f"target >= 0.5: {verdict}"),
            (f"pipeline, batch 1 ({b1.commands:,} check-ins)", f"{b1.rate:,.0f}/s", ms(b1), ""),
            ("pipeline batch 1 / raw", f"{b1_ratio:.2f}", "", ""),
            (f"check-in at {small.rows:,} ledger rows ({small_members:,} members)", f"{small.timing.rate:,.0f}/s",
             ms(small.timing), ""),
            (f"check-in at {history.rows:,} ledger rows ({small_members:,} members)", f"{history.timing.rate:,.0f}/s",
             ms(history.timing), ""),
            ("1M / 1k rows, same members (ms per check-in)", f"{flat:.2f}", "",
             "target ~1.0: " + ("ok" if flat <= 1.25 else "NOT FLAT")),
            (f"check-in at {large.rows:,} ledger rows ({a.large_members:,} members)", f"{large.timing.rate:,.0f}/s",
             ms(large.timing), ""),
            ("1M rows and 50x the members / 1k rows", f"{wider:.2f}", "", "member tables grow too"),
        ]
        print()
        width = max(len(row[0]) for row in summary)
        print(f"{'measure':<{width}}  {'rate':>9}  {'wall / cpu ms per op':>22}  note")
        for label, value, per, note in summary:
            print(f"{label:<{width}}  {value:>9}  {per:>22}  {note}")
        load = os.getloadavg()[0]
        if load > 1.5:
            # Other processes compete for the CPU: wall figures suffer, CPU figures much less.
            print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs during the run; compare the cpu column")
        if profile_lines:
            print("\ntop cumulative under cProfile (project code and SQLAlchemy, then sqlite3 C calls), per check-in:")
            print("\n".join(profile_lines))
    except BenchFailure as exc:
        print(f"\nBENCHMARK FAILED: {exc}\n(files kept in {work})", file=sys.stderr)
        return 1
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
