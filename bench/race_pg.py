"""Several `run_bot.py replay` processes on one PostgreSQL database: deadlocks, retries, and what members get.

    .venv/bin/python bench/race_pg.py                       # 8 processes, 14 days of tests/data/crowd.py, batch 256
    .venv/bin/python bench/race_pg.py --procs 8 --days 30 --batch 16
    .venv/bin/python bench/race_pg.py --code /tmp/base      # the same race on another tree (e.g. a `git archive`)

Replays the crowd once in one process (the clean run), then starts the processes together on a fresh database
and prints: deadlocks PostgreSQL counted for that database, batches retried, apologies and "已经签到过" replies,
check-in successes, members whose balance differs from the clean run, and audit's exit code. Each run uses its
own databases (t_pg_race_*) on the server of --server, dropped afterwards. Exit 1 when the balances differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.data import crowd  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--code", type=Path, default=ROOT, help="the tree whose run_bot.py races (default: this one)")
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

    with tempfile.TemporaryDirectory(prefix="race_pg_") as d:
        tmp = Path(d)
        events = tmp / "crowd.jsonl"
        n_events = len(crowd.write(events, days=a.days))
        config = tmp / "crowd.toml"
        config.write_text(crowd.config(a.batch), encoding="utf-8")

        def cli(*args: str, code: Path = ROOT) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, str(code / "run_bot.py"), *args, "--config", str(config)],
                                  capture_output=True, text=True, cwd=code)

        def balances(url: str) -> dict[str, int]:
            return {r["member"]: r["points"] for r in json.loads(cli("balances", "--json", "--db", url).stdout)}

        try:
            clean = fresh("t_pg_race_clean")
            t0 = time.monotonic()
            assert cli("replay", str(events), "--db", clean).returncode == 0
            single = time.monotonic() - t0
            expected = balances(clean)
            url = fresh("t_pg_race_many")
            assert cli("migrate", "--db", url, code=a.code).returncode == 0
            files = [((tmp / f"out{i}").open("w+"), (tmp / f"err{i}").open("w+")) for i in range(a.procs)]
            t0 = time.monotonic()
            procs = [subprocess.Popen([sys.executable, str(a.code / "run_bot.py"), "replay", str(events), "--config",
                                       str(config), "--db", url], stdout=o, stderr=e, cwd=a.code) for o, e in files]
            codes = [p.wait() for p in procs]
            many = time.monotonic() - t0
            outs = [(tmp / f"out{i}").read_text() for i in range(a.procs)]
            errs = "".join((tmp / f"err{i}").read_text() for i in range(a.procs))
            got = balances(url)
            audit = cli("audit", "--db", url).returncode
            with admin.connect() as c:
                deadlocks = c.execute(text("SELECT deadlocks FROM pg_stat_database WHERE datname = 't_pg_race_many'")
                                      ).scalar()
        finally:
            with admin.connect() as c:
                for name in made:
                    c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
    sent = [json.loads(line) for out in outs for line in out.splitlines()]
    differ = {m: (expected.get(m), got.get(m)) for m in set(expected) | set(got) if expected.get(m) != got.get(m)}
    print(f"{a.procs} processes, {n_events} events ({a.days} days), batch {a.batch}, code {a.code}")
    print(f"  clean run {single:.1f} s; race {many:.1f} s (exit codes {sorted(set(codes))})")
    print(f"  deadlocks (pg_stat_database): {deadlocks}")
    print(f"  batches retried: {errs.count('transient database error')}; batches split one by one: "
          f"{errs.count('retrying them one by one')}")
    print(f"  replies: 签到成功 {sum(s['text'].count('签到成功') for s in sent)}, 已经签到过 "
          f"{sum(s['text'].count('已经签到过') for s in sent)}, apologies {sum(s['text'].count('稍后再试') for s in sent)}")
    print(f"  members whose balance differs from the clean run: {len(differ)} {dict(sorted(differ.items())[:5])}")
    print(f"  audit exit code: {audit}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
