"""The console's pages at community scale: each page's wall time on the large database beside the small one.

    .venv/bin/python bench/bench_console.py              # 100k members / 5M ledger rows beside 500 / ~1k
    .venv/bin/python bench/bench_console.py --quick      # 10k members / 200k rows
    .venv/bin/python bench/bench_console.py --burst 4000 # also while `run_bot.py replay` writes that many check-ins

The databases are bench_scale's (built once and cached under bench/out, see bench_scale.py), copied, brought to
the current schema, and served by the real console (Starlette on uvicorn, in this process) to an httpx client
that logged in as an operator. Each page is asked --reps times; the median wall time counts (ms), with the
ratio to the small database and PASS when it is <= 300 ms. With --burst, the same pages are timed again while a
`run_bot.py replay` process commits check-ins to the same SQLite file (WAL: the console reads while it writes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_checkin as bc  # noqa: E402
import bench_scale as bs  # noqa: E402
import httpx  # noqa: E402

import run_bot  # noqa: E402
from bot.web import WebServer, build_app  # noqa: E402
from console.app import Console  # noqa: E402
from console.security import hash_password  # noqa: E402

LIMIT_MS = 300.0


def serve(db: Path) -> tuple[str, Any, Any]:
    settings = bs.settings_for(db)
    services = run_bot._services(settings)  # brings the copy to the current schema
    services.accounts.add("bench", hash_password("bench-password-123"), "operator", datetime.now().astimezone())
    tz = settings.bot.tz
    now = datetime.combine(bs.TODAY, datetime.min.time()).replace(hour=12, tzinfo=tz)
    console = Console(services, settings, lambda: now, secret="bench-" + "x" * 32)
    web = WebServer(build_app(console.routes()), "127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(web.serve(),), daemon=True)
    thread.start()
    while not web.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{web.bound_port}", (loop, web, thread), services


def stop(handle: Any) -> None:
    loop, web, thread = handle
    loop.call_soon_threadsafe(web.stop)
    thread.join(10)


def logged_in(base: str) -> httpx.Client:
    import re

    c = httpx.Client(base_url=base, timeout=120)
    page = c.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post("/console/login", data={"csrf": csrf, "name": "bench", "password": "bench-password-123"})
    assert r.status_code == 303, r.text
    return c


def pages(members: int) -> list[tuple[str, str]]:
    median = bc.member_id(members // 2)
    return [
        ("概览 近 30 天", "/console/overview?p=30d"),
        ("概览 全部", "/console/overview?p=all"),
        ("成员搜索（ID 前缀）", f"/console/members?q={median[:-2]}"),
        ("成员页（中位成员）", f"/console/members/{median}"),
        ("账本（最新一页）", "/console/ledger"),
        ("账本（按成员）", f"/console/ledger?member={median}"),
        ("操作日志", "/console/oplog"),
    ]


def timed(c: httpx.Client, paths: list[tuple[str, str]], reps: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for label, path in paths:
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            r = c.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
        out[label] = statistics.median(times)
    return out


def burst_events(path: Path, members: int, n: int) -> None:
    lines = []
    t = datetime.combine(bs.TODAY + timedelta(days=1), datetime.min.time()).replace(hour=8).isoformat() + "+08:00"
    for i in range(n):
        m = bc.member_id((i * 7919) % members)
        lines.append(json.dumps({"type": "message", "id": f"burst-{i}", "at": t, "room": bc.room_id(i, 20),
                                 "room_name": "群", "from": m, "name": m, "text": "签到", "mentions": []}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10k members / 200k rows")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--burst", type=int, default=0, help="check-ins replayed while the pages are timed again")
    a = p.parse_args()
    big = bs.Case("large", 10_000, 200_000, 20, 11) if a.quick else bs.Case("large", 100_000, 5_000_000, 20, 11)
    small = bs.Case("small", 500, 1000, 20, 11)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="console-", dir=bc.OUT_DIR if bc.OUT_DIR.exists() else None) as d:
        work = Path(d)
        for case in (small, big):
            src, seconds = bs.cached(case)
            db = work / f"{case.name}.db"
            bs.copy_db(src, db)
            t0 = time.perf_counter()
            base, handle, services = serve(db)
            print(f"{case.name}: {case.members:,} members, built in {seconds:.0f} s, opened (migrated) in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            try:
                c = logged_in(base)
                try:
                    results[case.name] = timed(c, pages(case.members), a.reps)
                    if a.burst and case is big:
                        events = work / "burst.jsonl"
                        burst_events(events, case.members, a.burst)
                        cfg = work / "burst.toml"
                        cfg.write_text(f'[bot]\nadmins = {json.dumps(list(bs.ADMINS))}\nrate_limit = 0\n'
                                       f'[storage]\nurl = "sqlite:///{db}"\n[checkin]\npoints = 5\n', encoding="utf-8")
                        proc = subprocess.Popen([sys.executable, str(ROOT / "run_bot.py"), "replay", str(events),
                                                 "--config", str(cfg)], stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL, cwd=ROOT)
                        time.sleep(1.0)  # past its start-up: the writes are under way
                        results["burst"] = timed(c, pages(case.members), a.reps)
                        still = proc.poll() is None
                        assert proc.wait(600) == 0
                        print(f"burst: {a.burst:,} check-ins replayed; still writing when the timing ended: {still}")
                finally:
                    c.close()
            finally:
                stop(handle)
                services.db.engine.dispose()
    print(f"\n{'page':<22}{'small ms':>10}{'large ms':>10}{'x small':>9}" + (f"{'burst ms':>10}" if a.burst else "")
          + "  <= 300 ms")
    ok = True
    for label in results["small"]:
        s, b = results["small"][label], results["large"][label]
        worst = max(b, results.get("burst", {}).get(label, 0.0))
        ok &= worst <= LIMIT_MS
        burst = f"{results['burst'][label]:>10.1f}" if a.burst else ""
        print(f"{label:<22}{s:>10.1f}{b:>10.1f}{b / s:>9.2f}{burst}  {'PASS' if worst <= LIMIT_MS else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
