"""A month of a small community replayed through run_bot.py: every balance as the rules say, audit clean,
and a second replay over the same database changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.data import make_month

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args, "--config", str(DATA / "month.toml")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def balances(db: str) -> dict[str, int]:
    res = cli("balances", "--json", "--db", db)
    assert res.returncode == 0, res.stderr
    return {row["member"]: row["points"] for row in json.loads(res.stdout)}


def test_the_replay_file_is_current() -> None:
    assert (DATA / "month.jsonl").read_text(encoding="utf-8") == make_month.render(), (
        "tests/data/month.jsonl is stale: run python tests/data/make_month.py")


def test_a_month_of_a_community_ends_with_every_balance_right(db_url: str) -> None:
    first = cli("replay", str(DATA / "month.jsonl"), "--db", db_url)
    assert first.returncode == 0, first.stderr
    sent = [json.loads(line) for line in first.stdout.splitlines()]
    assert sum(1 for s in sent if s["reply_to"] is None and "早上好" in s["text"]) == 30 * 3  # every morning, 3 groups
    assert balances(db_url) == make_month.expected()

    led = json.loads(cli("ledger", "--json", "--db", db_url).stdout)
    kinds = {(r["member"], r["kind"]) for r in led}
    for pair in [("m01", "invite"), ("m01", "invite_revoke"), ("m01", "task"), ("m01", "task_revoke"),
                 ("n01", "newcomer"), ("m04", "admin_award"), ("m04", "admin_deduct"), ("m03", "checkin_streak"),
                 ("m01", "checkin_total")]:
        assert pair in kinds, pair
    assert not any(r["member"] == "m06" and r["kind"].startswith("admin") for r in led)
    audit = cli("audit", "--db", db_url)
    assert audit.returncode == 0, audit.stdout

    again = cli("replay", str(DATA / "month.jsonl"), "--db", db_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""  # every event was handled before: nothing is said twice
    assert balances(db_url) == make_month.expected()
    assert len(json.loads(cli("ledger", "--json", "--db", db_url).stdout)) == len(led)
