"""Boards, ranks and check-ins at 100k members / 5M ledger rows beside the same on a 1k-row database, in one run.

Builds (once, cached under bench/out/ by its parameters and the schema revision) a database in the real
schema with bench_checkin.fill: members with check-in histories of different lengths, one admin award each
(so balances and period sums differ), some in two groups, some who left every group, staff among the
highest. Then, on a copy, for askers at rank 1, ~100, ~1,000, the median and the last: 排行榜, 周榜, 月榜,
排行榜 本群 and 积分 through the whole pipeline (App.process of a message: dispatch, storage, templates), and
the storage calls alone (Boards.top + Boards.standing); then a window of 签到 through replay, with the
statements each costs; then the process's RSS. Every rank read is checked against a count straight from the
tables. Prints a table with ratios to the 1k-row database and PASS/FAIL against the goals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a plain script; the project is not an installed package
sys.path.insert(0, str(ROOT / "bench"))

import bench_checkin as bc  # noqa: E402

import run_bot  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings, parse  # noqa: E402
from bot.events import Message  # noqa: E402
from storage import db as storage_db  # noqa: E402
from storage import schema  # noqa: E402
from storage.boards import period_key  # noqa: E402

TZ = bc.TZ
TODAY = date(2027, 3, 3)  # a Wednesday: the week holds two days of check-ins, the month two
ADMINS = ("wxid_0000001", "wxid_0000002", "wxid_0000003")  # among the highest balances (see fill_case)
COMMANDS = (("排行榜", "all", False), ("周榜", "week", False), ("月榜", "month", False), ("排行榜 本群", "all", True),
            ("积分", "all", False))
BOARD_MS = 5.0  # goals: a board's text at 100k members, whatever the rank
BOARD_RATIO = 1.5
CHECKIN_RATIO = 1.2
RSS_MB = 200.0
SLOW = 1.0  # seconds: a command this slow is measured once (the code before board counts takes up to minutes)


STORAGE: dict[str, int] = {}  # [storage] cache_mb / mmap_mb when given on the command line


def settings_for(db: Path, batch_size: int = 256) -> Settings:
    """No bonuses (every check-in does the same work at either size), no rate limit (askers ask many times)."""
    return parse({
        "bot": {"name": "积分助手", "self_id": "bot", "timezone": "Asia/Shanghai", "admins": list(ADMINS),
                "rate_limit": 0},
        "storage": {"url": f"sqlite:///{db}", "batch_size": batch_size, **STORAGE},
        "checkin": {"points": bc.BASE_POINTS, "keywords": ["签到"]},
    })


# -- the databases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    members: int
    rows: int
    rooms: int
    seed: int

    def key(self, revision: str | None = None) -> str:
        return f"scale-{self.members}m-{self.rows}r-{self.rooms}g-s{self.seed}-{schema.head() if revision is None else revision}"


def fill_case(db: Path, case: Case) -> int:
    """bench_checkin.fill with histories of 0..2x the mean days, an award each, mixed group memberships."""
    rng = random.Random(case.seed)
    mean = max(1, (case.rows - case.members) // case.members)
    history = [rng.randrange(0, 2 * mean + 1) for _ in range(case.members)]
    awards: list[bc.Award | None] = []
    for m, h in enumerate(history):
        points = rng.randrange(1, 5000)
        if bc.member_id(m) in ADMINS:
            points = 1_000_000 - m  # staff hold the highest balances: readers must leave them out
        awards.append(bc.Award(points, TODAY - timedelta(days=rng.randrange(1, h + 2))))
    groups = []
    for m in range(case.members):
        home = bc.room_id(m, case.rooms)
        if m % 50 == 49:
            groups.append([(home, False)])  # left every group: never listed
        elif m % 7 == 3:
            groups.append([(home, True), (bc.room_id(m + 1, case.rooms), True)])  # in two groups
        else:
            groups.append([(home, True)])
    return bc.fill(db, case.members, case.rows, case.rooms, TODAY, history=history, awards=awards, groups=groups)


def cached(case: Case) -> tuple[Path, float]:
    """The case's database under bench/out (built now, in a child process, when missing) and its build time."""
    path = bc.OUT_DIR / f"{case.key()}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, float(json.loads(meta.read_text())["seconds"])
    for stale in (path, meta, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    older = _older(case)
    if older is not None:
        return _upgraded(older, path, meta)
    print(f"building {case.name}: {case.members:,} members, ~{case.rows:,} ledger rows, {case.rooms} groups ...",
          flush=True)
    t0 = time.perf_counter()
    # a child process, so the fill's memory is not counted in this one's RSS
    subprocess.run([sys.executable, __file__, "--fill", str(path), json.dumps(case.__dict__)], check=True)
    seconds = time.perf_counter() - t0
    meta.write_text(json.dumps({"seconds": seconds, "rows": bc.count(path, "ledger")}))
    return path, seconds


def _older(case: Case) -> Path | None:
    """The newest complete cached build of `case` at an older schema revision, if any."""
    prefix = case.key("")
    builds = sorted((p for p in bc.OUT_DIR.glob(f"{prefix}*.db") if p.with_suffix(".json").exists()),
                    key=lambda p: p.stem[len(prefix):])
    return builds[-1] if builds else None


def _upgraded(older: Path, path: Path, meta: Path) -> tuple[Path, float]:
    """A copy of the older build brought to head by the project's own migrations (minutes, not a 40-minute fill)."""
    print(f"reusing {older.name}: copying it and upgrading it to revision {schema.head()} ...", flush=True)
    t0 = time.perf_counter()
    copy_db(older, path)
    storage_db.make_engine(f"sqlite:///{path}").dispose()  # storage.schema.upgrade, as `run_bot.py migrate` does
    print(f"upgraded in {time.perf_counter() - t0:.0f} s", flush=True)
    built = json.loads(older.with_suffix(".json").read_text())
    meta.write_text(json.dumps({**built, "upgraded_from": older.name}))
    return path, float(built["seconds"])


def copy_db(src: Path, dst: Path) -> None:
    con = sqlite3.connect(src)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    shutil.copyfile(src, dst)


# -- askers and the truth -------------------------------------------------------------------------


def scores_sql(board: str) -> str:
    """Every listed member's score on `board` ("all" or a period key), straight from the tables."""
    admins = ", ".join(f"'{a}'" for a in ADMINS)
    if board == "all":
        return ("SELECT m.id, m.points AS score, m.points_at AS reached FROM members m WHERE m.points > 0 "
                f"AND m.id NOT IN ({admins}) AND EXISTS (SELECT 1 FROM room_members rm WHERE rm.member_id = m.id "
                "AND rm.active = 1 {room})")
    return ("SELECT ps.member_id AS id, ps.points AS score, ps.reached_at AS reached FROM period_sums ps "
            f"WHERE ps.period = '{board}' AND ps.points > 0 AND ps.member_id NOT IN ({admins}) AND EXISTS "
            "(SELECT 1 FROM room_members rm WHERE rm.member_id = ps.member_id AND rm.active = 1 {room})")


@dataclass(frozen=True)
class Asker:
    label: str
    member: str
    room: str
    ranks: dict[str, int]  # command -> the rank an independent count gives


def askers(db: Path, rooms: int, deepest: int | None = None) -> list[Asker]:
    """Members at rank 1, ~100, ~1,000, median and last of the all-time board, with every rank they should see."""
    con = sqlite3.connect(db)
    try:
        order = con.execute(scores_sql("all").format(room="") + " ORDER BY score DESC, reached, id").fetchall()
        n = len(order)
        picks = [("rank 1", 0), ("rank ~100", 99), ("rank ~1,000", 999), ("median", n // 2), ("last", n - 1)]
        out = []
        for label, i in picks:
            if i >= n or (deepest is not None and i >= deepest):
                continue
            member = order[i][0]
            room = con.execute("SELECT room_id FROM room_members WHERE member_id = ? AND active = 1 "
                               "ORDER BY joined_at, room_id", (member,)).fetchone()[0]
            ranks = {}
            for text, period, here in COMMANDS:
                board = "all" if period == "all" else period_key(period, TODAY)
                assert board is not None
                where = f"AND rm.room_id = '{room}'" if here else ""
                mine = con.execute(f"SELECT score FROM ({scores_sql(board).format(room=where)}) WHERE id = ?",
                                   (member,)).fetchone()
                if mine is None:
                    ranks[text] = 0  # not on that board (no points this week): 排名 shows none
                    continue
                ahead = con.execute(f"SELECT count(*) FROM ({scores_sql(board).format(room=where)}) WHERE score > ?",
                                    (mine[0],)).fetchone()[0]
                ranks[text] = ahead + 1
            out.append(Asker(label, member, room, ranks))
        return out
    finally:
        con.close()


# -- measuring ------------------------------------------------------------------------------------


@dataclass
class Measure:
    pipeline_ms: float  # median of the App.process of one message
    pipeline_cpu_ms: float  # the same in this thread's CPU time (what other load on the machine does not add)
    storage_ms: float  # median of Boards.top + Boards.standing alone


def median_ms(samples: Sequence[float]) -> float:
    return 1000 * statistics.median(samples)


async def measure_boards(db: Path, people: Sequence[Asker], reps: int) -> dict[tuple[str, str], Measure]:
    """Each command for each asker `reps` times through App.process, and the storage reads alone."""
    start = datetime(TODAY.year, TODAY.month, TODAY.day, 10, tzinfo=TZ)
    clock = ManualClock(start, TZ)
    rt = run_bot.build(settings_for(db), clock)
    boards = rt.services.boards
    out: dict[tuple[str, str], Measure] = {}
    n = 0
    try:
        for who in people:
            for text, period, here in COMMANDS:
                key = period_key(period, TODAY)
                room = who.room if here else None
                pipe, cpu, alone = [], [], []
                for i in range(reps + 1):  # the first warms the member's pages and the process's caches
                    n += 1
                    clock.set(start + timedelta(seconds=n))
                    ev = Message(id=f"bench-{os.getpid()}-{n}", at=clock.now(), sender=who.member, text=text,
                                 sender_name="", room=who.room, room_name="")
                    c0, t0 = time.thread_time(), time.perf_counter()
                    outs = await rt.app.process([ev])
                    t1, c1 = time.perf_counter(), time.thread_time()
                    if text != "积分":
                        top = boards.top(10, period=key, exclude=ADMINS, room=room)
                        rank, _score = boards.standing(who.member, period=key, exclude=ADMINS, room=room)
                    else:
                        top = []
                        rank, _score = boards.standing(who.member, exclude=ADMINS)
                    t2 = time.perf_counter()
                    check(who, text, outs, rank, top)
                    if i or t2 - t0 > SLOW:
                        pipe.append(t1 - t0)
                        cpu.append(c1 - c0)
                        alone.append(t2 - t1)
                    if t2 - t0 > SLOW:  # a tree without board counts: one sample is plenty
                        break
                out[(who.label, text)] = Measure(median_ms(pipe), median_ms(cpu), median_ms(alone))
    finally:
        rt.ledger.engine.dispose()
    return out


def check(who: Asker, text: str, outs: Sequence[Any], rank: int | None, top: Sequence[Any]) -> None:
    """The member got one reply, the storage rank is the independent count's, the text shows it; no staff listed."""
    want = who.ranks[text]
    if len(outs) != 1:
        bc.fail(f"{text} by {who.member}: {len(outs)} replies")
    if (rank or 0) != want:
        bc.fail(f"{text} by {who.member} ({who.label}): storage rank {rank}, the tables say {want}")
    body = outs[0].text
    if any(row.member in ADMINS for row in top):
        bc.fail(f"{text}: staff listed")
    if want and want > 10 and f"{want}" not in body:
        bc.fail(f"{text} by {who.member}: rank {want} not in the reply {body!r}")


@contextmanager
def counting() -> Iterator[list[int]]:
    """Statements sent to the database from Python: hot-path Statements and SQLAlchemy's, BEGIN/COMMIT included."""
    counter = [0]
    original = storage_db.Statement.run

    def run(self: Any, conn: Any, /, **params: Any) -> Any:
        counter[0] += 1
        return original(self, conn, **params)

    def core(*_args: Any) -> None:
        counter[0] += 1

    storage_db.Statement.run = run  # type: ignore[method-assign]
    event.listen(storage_db.Engine, "before_cursor_execute", core)
    event.listen(storage_db.Engine, "begin", core)
    event.listen(storage_db.Engine, "commit", core)
    try:
        yield counter
    finally:
        storage_db.Statement.run = original  # type: ignore[method-assign]
        event.remove(storage_db.Engine, "before_cursor_execute", core)
        event.remove(storage_db.Engine, "begin", core)
        event.remove(storage_db.Engine, "commit", core)


@dataclass
class CheckinRun:
    timing: bc.Timing
    statements: float  # per check-in


def measure_checkins(db: Path, members: int, window: int, rooms: int, seed: int) -> CheckinRun:
    """`window` 签到 of members spread over the id space, on TODAY, through replay (batch 256), timed."""
    first = len(ADMINS) + 1  # staff check in for nothing: leave them out
    chosen = [first + i * (members - first) // window for i in range(window)]
    lines = bc.checkin_lines(chosen, [TODAY], rooms, seed)
    with counting() as n:
        timing = bc.run_pipeline(db, lines, 256, audit=False, settings=settings_for(db))
    return CheckinRun(timing, n[0] / window)


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set of this process, MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


# -- driver ---------------------------------------------------------------------------------------


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--members", type=int, default=100_000, help="members in the large database")
    p.add_argument("--rows", type=int, default=5_000_000, help="ledger rows in the large database (about)")
    p.add_argument("--small-members", type=int, default=500, help="members in the small database")
    p.add_argument("--small-rows", type=int, default=1000, help="ledger rows in the small database (about)")
    p.add_argument("--rooms", type=int, default=20, help="groups the members are spread over")
    p.add_argument("--reps", type=int, default=15, help="times each command is asked by each asker")
    p.add_argument("--window", type=int, default=400, help="check-ins timed at each size (fewer than --small-members)")
    p.add_argument("--deepest", type=int, default=None,
                   help="only askers above this rank (the code before board counts takes minutes for the median)")
    p.add_argument("--quick", action="store_true", help="10k members / 200k rows: a smoke run")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--cache-mb", type=int, default=None, help="[storage] cache_mb (default: the bot's)")
    p.add_argument("--mmap-mb", type=int, default=None, help="[storage] mmap_mb (default: the bot's)")
    p.add_argument("--keep", action="store_true", help="keep the work dir under bench/out")
    p.add_argument("--fill", nargs=2, metavar=("DB", "CASE"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    STORAGE.update({k: v for k, v in (("cache_mb", a.cache_mb), ("mmap_mb", a.mmap_mb)) if v is not None})
    if a.quick:
        a.members, a.rows, a.reps = 10_000, 200_000, 7
    return a


Row = tuple[str, str, str, str, str]


def main(argv: Sequence[str] | None = None) -> int:
    a = arguments(argv)
    run_bot.setup_logging("WARNING")
    if a.fill:
        fill_case(Path(a.fill[0]), Case(**json.loads(a.fill[1])))
        return 0
    bc.OUT_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="scale-", dir=bc.OUT_DIR))
    print(f"work dir {work.relative_to(ROOT)}")
    small_case = Case("small", a.small_members, a.small_rows, a.rooms, a.seed)
    large_case = Case("large", a.members, a.rows, a.rooms, a.seed)
    rows: list[Row] = []
    verdicts: list[bool] = []
    try:
        large_src, large_build = cached(large_case)
        print(f"large database {large_src.relative_to(ROOT)}: {bc.count(large_src, 'ledger'):,} ledger rows, "
              f"{bc.count(large_src, 'members'):,} members, built in {large_build:.1f} s "
              f"({large_src.stat().st_size / 2**30:.2f} GiB)")
        t0 = time.perf_counter()
        small = work / "small.db"
        fill_case(small, small_case)
        print(f"small database: {bc.count(small, 'ledger'):,} ledger rows, built in {time.perf_counter() - t0:.1f} s")
        large = work / "large.db"
        t0 = time.perf_counter()
        copy_db(large_src, large)
        print(f"copied the large database in {time.perf_counter() - t0:.1f} s")

        results: dict[str, dict[tuple[str, str], Measure]] = {}
        people: dict[str, list[Asker]] = {}
        for name, path in (("small", small), ("large", large)):
            people[name] = askers(path, a.rooms, a.deepest)
            print(f"{name}: {len(people[name])} askers, ranks {[p.ranks['排行榜'] for p in people[name]]}; "
                  f"measuring boards ...", flush=True)
            results[name] = asyncio.run(measure_boards(path, people[name], a.reps))

        small_base = {text: statistics.median(m.pipeline_ms for (_l, t), m in results["small"].items() if t == text)
                      for text, _p, _h in COMMANDS}
        small_cpu = {text: statistics.median(m.pipeline_cpu_ms for (_l, t), m in results["small"].items() if t == text)
                     for text, _p, _h in COMMANDS}
        small_alone = {text: statistics.median(m.storage_ms for (_l, t), m in results["small"].items() if t == text)
                       for text, _p, _h in COMMANDS}
        for (label, text), m in results["large"].items():
            ratio = m.pipeline_ms / small_base[text]
            ok = m.pipeline_ms <= BOARD_MS and ratio <= BOARD_RATIO
            verdicts.append(ok)
            rows.append((f"{text}, {label}", f"{m.pipeline_ms:.2f} / {m.pipeline_cpu_ms:.2f} ms",
                         f"{m.storage_ms:.3f} ms",
                         f"{small_base[text]:.2f} / {small_cpu[text]:.2f} / {small_alone[text]:.3f} ms",
                         f"x{ratio:.2f} (cpu x{m.pipeline_cpu_ms / small_cpu[text]:.2f}) {'PASS' if ok else 'FAIL'}"))

        print("check-ins ...", flush=True)
        window = min(a.window, small_case.members - len(ADMINS) - 1)  # the same work at both sizes
        ci_small = measure_checkins(small, small_case.members, window, a.rooms, a.seed)
        ci_large = measure_checkins(large, large_case.members, window, a.rooms, a.seed)
        ratio = ci_large.timing.ms_per / ci_small.timing.ms_per
        ok = ratio <= CHECKIN_RATIO
        verdicts.append(ok)
        rows.append(("签到 (batch 256), wall / cpu ms", f"{ci_large.timing.ms_per:.3f} / {ci_large.timing.cpu_ms_per:.3f}",
                     "", f"{ci_small.timing.ms_per:.3f} / {ci_small.timing.cpu_ms_per:.3f}",
                     f"x{ratio:.2f} {'PASS' if ok else 'FAIL'}"))
        rows.append(("statements per 签到", f"{ci_large.statements:.1f}", "", f"{ci_small.statements:.1f}", ""))
        rss, peak = rss_mb()
        ok = peak <= RSS_MB
        verdicts.append(ok)
        rows.append(("RSS of this process (now / peak)", f"{rss:.0f} / {peak:.0f} MB", "", "",
                     f"<= {RSS_MB:.0f}: {'PASS' if ok else 'FAIL'}"))
    except bc.BenchFailure as exc:
        print(f"\nBENCHMARK FAILED: {exc}\n(files kept in {work})", file=sys.stderr)
        return 1
    header: Row = ("measure (large database)", "pipeline wall / cpu", "storage alone",
                   "1k rows: wall / cpu / storage", "ratio (wall), goal")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print()
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    print(f"\ngoals: a board <= {BOARD_MS} ms and <= x{BOARD_RATIO} its 1k-row cost; a check-in <= x{CHECKIN_RATIO}; "
          f"RSS <= {RSS_MB:.0f} MB. {sum(verdicts)}/{len(verdicts)} PASS")
    load = os.getloadavg()[0]
    if load > 1.5:
        print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs during the run")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
