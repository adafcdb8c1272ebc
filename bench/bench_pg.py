"""签到 on PostgreSQL: `run_bot.py replay` beside raw psycopg single-row commits, one process and four.

    .venv/bin/python bench/bench_pg.py                    # 2,000 check-ins (200 members x 10 days)
    .venv/bin/python bench/bench_pg.py --members 400 --days 10

raw psycopg: per check-in one INSERT of a ledger-like row and one UPDATE of a balance, each pair committed on
its own (the floor a bot without group commit would stand on). replay, 1 process: the check-ins of every
member through `run_bot.py replay` on a fresh database. replay, 4 processes: the members split in four
disjoint quarters, one file each, replayed at once on one fresh database. Replay rates leave out start-up
(imports, template checks, opening the database): each replay is timed against an empty replay started the
same way in the same run. Prints the rates and the ratios (replay / raw, four / one), then, for the same
check-ins replayed in this process on another fresh database (after the first day): round trips per check-in
(every wait for the server: a statement outside a pipeline, a pipeline's sync, a commit), this process's CPU
and the CPU of the server process that served it (read from /proc: a server on this machine). Databases
t_pg_bench_* are dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SH = ZoneInfo("Asia/Shanghai")
CONFIG = """\
[bot]
admins = ["op"]
[checkin]
points = 5
consecutive = [{days = 3, bonus = 10}, {days = 7, bonus = 30}]
"""


def events(members: list[str], days: int) -> str:
    lines = []
    for d in range(days):
        day = date(2026, 11, 1) + timedelta(days=d)
        for i, m in enumerate(members):
            at = datetime(day.year, day.month, day.day, 8, tzinfo=SH) + timedelta(seconds=i)
            lines.append(json.dumps({"type": "message", "id": f"b{d}-{m}", "at": at.isoformat(), "room": f"r{i % 20}",
                                     "room_name": "群", "from": m, "name": m, "text": "签到", "mentions": []}))
    return "\n".join(lines) + "\n"


@contextmanager
def waits() -> Iterator[list[int]]:
    """Count the times psycopg waits for the server: a statement outside a pipeline, a pipeline's end, a commit."""
    counter = [0]
    cursor: Any = psycopg.Cursor
    connection: Any = psycopg.Connection
    execute, pipeline, commit = cursor.execute, connection.pipeline, connection.commit

    def counted_execute(self: Any, *args: Any, **kw: Any) -> Any:
        if self.connection._pipeline is None:  # in a pipeline it only queues
            counter[0] += 1
        return execute(self, *args, **kw)

    @contextmanager
    def counted_pipeline(self: Any) -> Iterator[Any]:
        with pipeline(self) as p:
            yield p
        counter[0] += 1

    def counted_commit(self: Any) -> None:
        counter[0] += 1
        commit(self)

    cursor.execute, connection.pipeline, connection.commit = counted_execute, counted_pipeline, counted_commit
    try:
        yield counter
    finally:
        cursor.execute, connection.pipeline, connection.commit = execute, pipeline, commit


def backend_cpu(engine: Any) -> float | None:
    """CPU seconds the server process of one of `engine`'s connections has used (a server on this machine),
    or None: the pool keeps one connection, so it is the one the replay used."""
    with engine.connect() as c:
        pid = c.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def round_trips(url: str, config: Path, lines: list[str]) -> tuple[float, float, float | None]:
    """Replay `lines` (check-ins) in this process on `url`, counted after the first day's (which also makes the
    members and groups): per check-in the round trips to the server, this process's CPU ms and the server's."""
    import run_bot
    from bot.clock import ManualClock
    from bot.transports.replay import replay

    settings = run_bot._settings(config, url)
    rt = run_bot.build(settings, ManualClock(datetime.fromisoformat(json.loads(lines[0])["at"]), SH))
    first_day = json.loads(lines[0])["at"][:10]
    first = [ln for ln in lines if json.loads(ln)["at"][:10] == first_day]
    rest = lines[len(first):]
    n = max(len(rest), 1)
    try:
        asyncio.run(replay(rt.app, rt.schedule, first, lambda _line: None, batch_size=settings.storage.batch_size))
        server0, cpu0 = backend_cpu(rt.ledger.engine), time.process_time()
        with waits() as trips:
            asyncio.run(replay(rt.app, rt.schedule, rest, lambda _line: None, batch_size=settings.storage.batch_size))
        cpu, server1 = time.process_time() - cpu0, backend_cpu(rt.ledger.engine)
    finally:
        rt.ledger.engine.dispose()
    server = None if server0 is None or server1 is None else 1000 * (server1 - server0) / n
    return trips[0] / n, 1000 * cpu / n, server


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    a = ap.parse_args()
    admin = create_engine(a.server, isolation_level="AUTOCOMMIT")
    base = a.server.rsplit("/", 1)[0]
    made: list[str] = []

    def fresh(name: str) -> str:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            c.execute(text(f"CREATE DATABASE {name}"))
        made.append(name)
        return f"{base}/{name}"

    members = [f"w{i:05d}" for i in range(a.members)]
    n = a.members * a.days
    with tempfile.TemporaryDirectory(prefix="bench_pg_") as d:
        tmp = Path(d)
        config = tmp / "bench.toml"
        config.write_text(CONFIG, encoding="utf-8")
        whole = tmp / "all.jsonl"
        whole.write_text(events(members, a.days), encoding="utf-8")
        quarters = []
        for q in range(4):
            f = tmp / f"q{q}.jsonl"
            f.write_text(events(members[q::4], a.days), encoding="utf-8")
            quarters.append(f)
        empty = tmp / "empty.jsonl"
        empty.write_text("", encoding="utf-8")

        def run(files: list[Path], url: str) -> float:
            cmd = [sys.executable, str(ROOT / "run_bot.py"), "replay"]
            t0 = time.monotonic()
            procs = [subprocess.Popen([*cmd, str(f), "--config", str(config), "--db", url], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, cwd=ROOT) for f in files]
            assert all(p.wait() == 0 for p in procs)
            return time.monotonic() - t0

        try:
            # raw psycopg: a ledger row and a balance, one commit each
            raw_url = fresh("t_pg_bench_raw").replace("postgresql+psycopg", "postgresql")
            with psycopg.connect(raw_url) as con:
                con.execute("CREATE TABLE led (id bigserial PRIMARY KEY, member text, delta int, key text UNIQUE, "
                            "at timestamptz)")
                con.execute("CREATE TABLE bal (member text PRIMARY KEY, points int)")
                con.execute("INSERT INTO bal SELECT unnest(%s::text[]), 0", (members,))
                con.commit()
                t0 = time.monotonic()
                for d_ in range(a.days):
                    for m in members:
                        con.execute("INSERT INTO led (member, delta, key, at) VALUES (%s, 5, %s, now())",
                                    (m, f"checkin:{d_}:{m}"))
                        con.execute("UPDATE bal SET points = points + 5 WHERE member = %s", (m,))
                        con.commit()
                raw = n / (time.monotonic() - t0)
            one_url = fresh("t_pg_bench_one")
            assert subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "migrate", "--config", str(config),
                                   "--db", one_url], capture_output=True, cwd=ROOT).returncode == 0
            start1 = run([empty], one_url)
            one = n / max(run([whole], one_url) - start1, 1e-6)
            four_url = fresh("t_pg_bench_four")
            assert subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "migrate", "--config", str(config),
                                   "--db", four_url], capture_output=True, cwd=ROOT).returncode == 0
            start4 = run([empty] * 4, four_url)
            four = n / max(run(quarters, four_url) - start4, 1e-6)
            eng = create_engine(four_url)
            with eng.connect() as c:
                rows = c.execute(text("SELECT count(*) FROM checkins")).scalar()
            eng.dispose()
            assert rows == n, f"4 processes wrote {rows} check-ins, not {n}"
            trips, cpu, server = round_trips(fresh("t_pg_bench_trips"), config, whole.read_text(encoding="utf-8").splitlines())
        finally:
            with admin.connect() as c:
                for name in made:
                    c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
    print(f"{n} check-ins ({a.members} members x {a.days} days), PostgreSQL")
    print(f"  raw psycopg single-row commits: {raw:,.0f}/s")
    print(f"  replay, 1 process:  {one:,.0f}/s  ({one / raw:.2f}x raw)   start-up {start1:.1f} s left out")
    print(f"  replay, 4 processes on disjoint members: {four:,.0f}/s  ({four / one:.2f}x one)   start-up {start4:.1f} s")
    print(f"  per check-in (replay in this process): {trips:.2f} round trips, CPU {cpu:.2f} ms here, "
          f"{'n/a' if server is None else f'{server:.2f} ms'} in the server process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
