"""Several `run_bot.py replay` processes on one PostgreSQL database never lose, double or misdate a check-in.

Every process replays the same file; each event counts once through its claim, whichever process gets it.
The balances must equal those of one clean run of the file, every check-in message must be answered
with a success exactly once across all outputs, and nobody may get an apology.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import pg_schema
from tests.data import crowd

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 8
DAYS = 7
BATCH = 96  # batches that span more than a day: the overlap where a check-in used to lose to its next day

pytestmark = pytest.mark.postgres


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def balances(config: Path, url: str) -> dict[str, tuple[int, int]]:
    res = cli(config, "balances", "--json", "--db", url)
    assert res.returncode == 0, res.stderr
    return {row["member"]: (row["points"], row["growth"]) for row in json.loads(res.stdout)}


def race(config: Path, events: Path, url: str, tmp: Path, n: int) -> list[tuple[int, str, str]]:
    """Start `n` replays of `events` at once on `url`; (exit code, stdout, stderr) of each."""
    assert cli(config, "migrate", "--db", url).returncode == 0  # the schema exists before they race
    go = tmp / "go"
    # each process loads the bot (imports, handlers) first, then waits for the others at the barrier
    script = (f"import sys, time\nfrom pathlib import Path\nsys.path.insert(0, {str(ROOT)!r})\nimport run_bot\n"
              f"Path({str(tmp)!r}, 'ready-' + sys.argv[1]).touch()\n"
              f"while not Path({str(go)!r}).exists():\n    time.sleep(0.005)\n"
              f"run_bot.cli(['replay', {str(events)!r}, '--config', {str(config)!r}, '--db', {url!r}])\n")
    # outputs into files, not pipes: a process blocked on a full pipe would hold its transaction open
    files = [(open(tmp / f"out{i}", "w+b"), open(tmp / f"err{i}", "w+b")) for i in range(n)]  # noqa: SIM115
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i)], stdout=out, stderr=err, cwd=ROOT)
             for i, (out, err) in enumerate(files)]
    deadline = time.monotonic() + 60
    while len(list(tmp.glob("ready-*"))) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = []
    for p, (out, err) in zip(procs, files, strict=True):
        p.wait(timeout=240)
        out.seek(0)
        err.seek(0)
        results.append((p.returncode, out.read().decode(), err.read().decode()))
        out.close()
        err.close()
    return results


def replied(stdouts: list[str]) -> list[tuple[str, str]]:
    """(message id, text) of every reply in the outputs; a reply merged for several messages counts for each."""
    out = []
    for stdout in stdouts:
        for line in stdout.splitlines():
            sent = json.loads(line)
            ids: Any = sent["reply_to"]
            for mid in [ids] if isinstance(ids, str) else ids or []:
                out.append((mid, sent["text"]))
    return out


def test_eight_processes_on_one_postgres_end_with_the_balances_of_one_clean_run(tmp_path: Path) -> None:
    events = tmp_path / "crowd.jsonl"
    evs = crowd.write(events, days=DAYS)
    config = tmp_path / "crowd.toml"
    config.write_text(crowd.config(BATCH), encoding="utf-8")
    checkins = {e["id"] for e in evs if e["type"] == "message" and e["text"] == "签到"}

    with pg_schema() as clean:
        one = cli(config, "replay", str(events), "--db", clean)
        assert one.returncode == 0, one.stderr
        expected = balances(config, clean)
    assert sum(1 for _mid, text in replied([one.stdout]) if "签到成功" in text) == len(checkins)

    with pg_schema() as url:
        results = race(config, events, url, tmp_path, PROCESSES)
        for code, _out, err in results:
            assert code == 0, err[-3000:]
        got = balances(config, url)
        audit = cli(config, "audit", "--db", url)
    assert got == expected
    assert audit.returncode == 0, audit.stdout
    replies = replied([out for _code, out, _err in results])
    ok = [mid for mid, text in replies if "签到成功" in text]
    assert sorted(ok) == sorted(checkins)  # every check-in answered with a success, once
    assert not [text for _mid, text in replies if "稍后再试" in text or "已经签到过" in text]
