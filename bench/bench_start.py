"""Benchmark start-up: `run_bot.py` as a process, start to ready and start to exit, beside baselines run alike.

Every command runs as a fresh process several times, interleaved with the baselines (and with another
checkout's run_bot.py when `--base DIR` is given), so load from other processes spreads over all of them.
"Ready" is the moment run_bot logs `ready` (at DEBUG): the pipeline built, or a read-out's database checked
and opened; "total" is until the process has exited. CPU is the child's user + system time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"
TARGET = 0.5  # seconds, start to ready (issue 16, item 4)
# the third-party packages every command imports; the bot ran on sqlmodel too until storage.tables (2026-12-04),
# and that older floor is still timed, so ratios against it compare with the figures from before
FLOOR = ("sqlalchemy", "pydantic", "loguru", "typer")
OLD_FLOOR = ("sqlalchemy", "sqlmodel", "pydantic", "loguru", "typer")

# what the read-outs have to show: a few members who checked in
EVENTS = [
    {"type": "message", "id": f"m{i}", "at": f"2026-11-23T08:{i:02d}:00+08:00", "room": "r1", "room_name": "会员群",
     "from": f"wxid_{i}", "name": f"会员{i}", "text": "签到", "mentions": []}
    for i in range(20)
]


@dataclass
class Runs:
    ready: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def run_once(argv: Sequence[str], env: dict[str, str], cwd: Path, watch_ready: bool) -> tuple[float | None, float, float]:
    """(ready, total, cpu) seconds of one process; ready None when it never said so."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    ready = None
    assert proc.stderr is not None
    err = []
    for raw in proc.stderr:
        line = raw.decode("utf-8", "replace")
        err.append(line)
        if ready is None and watch_ready and line.rstrip().endswith(" ready"):
            ready = time.perf_counter() - t0
    _pid, status, usage = os.wait4(proc.pid, 0)
    total = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{''.join(err)[-2000:]}")
    if watch_ready and ready is None:
        raise SystemExit(f"{' '.join(argv)} never logged 'ready' (LOG_LEVEL=DEBUG):\n{''.join(err)[-2000:]}")
    return ready, total, usage.ru_utime + usage.ru_stime


def fmt(values: Sequence[float]) -> str:
    if not values:
        return f"{'-':>17}"
    return f"{statistics.median(values):6.3f} ({min(values):.2f}-{max(values):.2f})"


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=7, help="runs of each command (default 7)")
    p.add_argument("--base", type=Path, help="another checkout (e.g. main's) whose run_bot.py runs beside this one")
    p.add_argument("--env-bytecode", action="store_true",
                   help="leave PYTHONDONTWRITEBYTECODE as the environment has it (default: Python's own .pyc cache, "
                        "under the work dir, as an installed bot has it)")
    p.add_argument("--keep", action="store_true", help="keep the work dir under bench/out")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    a = arguments(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="start-", dir=OUT_DIR))
    py = sys.executable
    env = {**os.environ, "LOG_LEVEL": "DEBUG", "BOT_CACHE_DIR": str(work / "cache")}
    if not a.env_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")  # the tree stays clean
    trees = {"this tree": ROOT}
    if a.base is not None:
        trees["base"] = a.base.resolve()
    events = work / "events.jsonl"
    events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in EVENTS), encoding="utf-8")
    empty = work / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    config = ROOT / "config.toml"  # the documented example: every feature on

    commands: dict[str, list[str]] = {
        "replay (empty)": ["replay", str(empty)],
        "audit": ["audit"],
        "balances --json": ["balances", "--json"],
        "balances (table)": ["balances"],
        "ledger --json": ["ledger", "--json"],
        "orders --json": ["orders", "--json"],
        "check-config": ["check-config"],
    }
    jobs: list[tuple[str, list[str], Path, bool]] = [
        ("python -c pass", [py, "-c", "pass"], work, False),
        ("python -c 'import sqlite3, jinja2'", [py, "-c", "import sqlite3, jinja2"], work, False),
        ("python: import the third-party floor", [py, "-c", f"import {', '.join(FLOOR)}"], work, False),
        ("python: the old floor (+ sqlmodel)", [py, "-c", f"import {', '.join(OLD_FLOOR)}"], work, False),
    ]
    for tree_name, tree in trees.items():
        db = work / f"{tree_name.replace(' ', '_')}.db"
        url = f"sqlite:///{db}"
        # the database the read-outs read, made by that tree's own code (and its .pyc and template caches warmed)
        setup = [py, str(tree / "run_bot.py"), "replay", str(events), "--config", str(config), "--db", url]
        subprocess.run(setup, cwd=work, env=env, check=True, capture_output=True)
        for name, args in commands.items():
            argv = [py, str(tree / "run_bot.py"), *args, "--config", str(config), "--db", url]
            # only this tree says when it is ready (another checkout may not): the base shows start to exit
            jobs.append((f"{tree_name}: {name}", argv, work, tree == ROOT and name != "check-config"))
    results = {label: Runs() for label, *_ in jobs}
    print(f"work dir {work.relative_to(ROOT)}; {a.runs} runs of {len(jobs)} commands, interleaved ...")
    for _ in range(a.runs):
        for label, argv, cwd, watch in jobs:
            ready, total, cpu = run_once(argv, env, cwd, watch)
            r = results[label]
            if ready is not None:
                r.ready.append(ready)
            r.total.append(total)
            r.cpu.append(cpu)
    width = max(len(label) for label in results)
    print(f"\n{'seconds, median (min-max)':<{width}}  {'start to ready':>17}  {'start to exit':>17}  {'cpu':>17}  "
          f"ready <= {TARGET} s")
    for label, r in results.items():
        verdict = ""
        if r.ready:
            verdict = "PASS" if statistics.median(r.ready) <= TARGET else "FAIL"
        print(f"{label:<{width}}  {fmt(r.ready)}  {fmt(r.total)}  {fmt(r.cpu)}  {verdict}")
    floor = statistics.median(results["python: import the third-party floor"].total)
    old_floor = statistics.median(results["python: the old floor (+ sqlmodel)"].total)
    print(f"\nthe third-party floor ({', '.join(FLOOR)} imported, nothing run): {floor:.3f} s; "
          f"the old floor (+ sqlmodel): {old_floor:.3f} s")
    readies = [statistics.median(results[f"this tree: {n}"].ready) for n in commands if n != "check-config"]
    print(f"this tree: slowest start to ready {max(readies):.3f} s = {max(readies) / floor:.2f} x the floor, "
          f"{max(readies) / old_floor:.2f} x the old floor")
    cpu_floor = statistics.median(results["python: import the third-party floor"].cpu)
    cpu_old_floor = statistics.median(results["python: the old floor (+ sqlmodel)"].cpu)
    for tree_name in trees:
        done = [statistics.median(results[f"{tree_name}: {n}"].total) for n in commands if n != "check-config"]
        cpu = [statistics.median(results[f"{tree_name}: {n}"].cpu) for n in commands if n != "check-config"]
        print(f"{tree_name}: slowest start to exit {max(done):.3f} s = {max(done) / floor:.2f} x the floor; "
              f"most CPU {max(cpu):.3f} s = {max(cpu) / cpu_floor:.2f} x the floor's, "
              f"{max(cpu) / cpu_old_floor:.2f} x the old floor's")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs"
          + ("; other processes compete for the CPU, compare the cpu column and the ratios" if load > 1.5 else ""))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
