"""backup while the bot writes gives a database that passes audit; import-balances moves balances in once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from tests.factories import SH
from tests.test_run_bot import CONFIG

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def checkins(n: int, start: int = 0) -> str:
    lines = []
    for i in range(start, start + n):
        at = datetime(2026, 11, 23, 8, tzinfo=SH) + timedelta(days=i // 500, seconds=i % 500)  # 500 members a day
        lines.append(json.dumps({"type": "message", "id": f"m{i}", "at": at.isoformat(), "room": "r1",
                                 "from": f"wxid_{i % 500}", "name": f"成员{i % 500}", "text": "签到"}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def test_a_backup_taken_while_the_bot_writes_passes_audit(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "events.jsonl").write_text(checkins(500), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'live.db'}"
    assert cli("replay", "events.jsonl", "--db", db, "--config", "config.toml", cwd=tmp_path).returncode == 0
    (tmp_path / "more.jsonl").write_text(checkins(6000, start=500), encoding="utf-8")
    writer = subprocess.Popen([sys.executable, str(ROOT / "run_bot.py"), "replay", "more.jsonl", "--db", db,
                               "--config", "config.toml"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=(tmp_path / "writer.log").open("w"))
    try:
        time.sleep(1.0)  # the writer is committing batches now
        assert writer.poll() is None, "the writer finished before the backup: give it more events"
        copies = []
        for i in range(3):
            res = cli("backup", str(tmp_path / f"copy{i}.db"), "--db", db, "--config", "config.toml", cwd=tmp_path)
            assert res.returncode == 0, res.stderr
            assert "已备份到" in res.stdout and "完整性检查通过" in res.stdout
            copies.append(tmp_path / f"copy{i}.db")
    finally:
        assert writer.wait(300) == 0
    for copy in copies:
        audit = cli("audit", "--db", f"sqlite:///{copy}", "--config", "config.toml", cwd=tmp_path)
        assert audit.returncode == 0, audit.stdout + audit.stderr
    again = cli("backup", str(copies[0]), "--db", db, "--config", "config.toml", cwd=tmp_path)
    assert again.returncode != 0 and "已存在" in again.stderr  # never overwrites


def test_import_balances_once_with_a_dry_run_and_refuses_changed_figures(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    csv = tmp_path / "old.csv"
    csv.write_text("\ufeffid,name,points,growth\nwxid_a,阿一,120,300\nwxid_b,阿二,0,50\nwxid_c,,35,\n", encoding="utf-8")
    dry = cli("import-balances", str(csv), "--dry-run", "--db", db, "--config", "config.toml", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "3 人待导入，共 155 积分、385 成长值" in dry.stdout and "试运行" in dry.stdout
    assert json.loads(cli("balances", "--json", "--db", db, "--config", "config.toml", cwd=tmp_path).stdout) == []
    first = cli("import-balances", str(csv), "--db", db, "--config", "config.toml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "已导入 3 人，共 155 积分" in first.stdout
    got = {r["member"]: (r["points"], r["growth"], r["name"])
           for r in json.loads(cli("balances", "--json", "--db", db, "--config", "config.toml", cwd=tmp_path).stdout)}
    assert got == {"wxid_a": (120, 300, "阿一"), "wxid_b": (0, 50, "阿二"), "wxid_c": (35, 35, "")}
    entries = json.loads(cli("ledger", "--json", "--db", db, "--config", "config.toml", cwd=tmp_path).stdout)
    assert [(e["member"], e["kind"], e["key"]) for e in entries] == [
        ("wxid_a", "import", "import:wxid_a"), ("wxid_b", "import", "import:wxid_b"), ("wxid_c", "import", "import:wxid_c")]
    with sqlite3.connect(tmp_path / "p.db") as con:  # the import day is a day they earned: active (docs/figures.md)
        assert {m for (m,) in con.execute("SELECT member_id FROM member_days")} == {"wxid_a", "wxid_c"}
    second = cli("import-balances", str(csv), "--db", db, "--config", "config.toml", cwd=tmp_path)
    assert second.returncode == 0 and "0 人待导入" in second.stdout and "3 人已导入过" in second.stdout
    assert len(json.loads(cli("ledger", "--json", "--db", db, "--config", "config.toml", cwd=tmp_path).stdout)) == 3
    csv.write_text("id,name,points,growth\nwxid_a,阿一,999,300\nwxid_d,阿四,10,10\n", encoding="utf-8")
    changed = cli("import-balances", str(csv), "--db", db, "--config", "config.toml", cwd=tmp_path)
    assert changed.returncode != 0
    assert "wxid_a：已导入 120 积分 / 300 成长值，文件为 999 / 300" in changed.stdout
    assert len(json.loads(cli("ledger", "--json", "--db", db, "--config", "config.toml", cwd=tmp_path).stdout)) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("id,points\nwxid_x,十\nwxid_x,5\n", encoding="utf-8")
    res = cli("import-balances", str(bad), "--db", db, "--config", "config.toml", cwd=tmp_path)
    assert res.returncode != 0 and "line 2" in res.stderr
    assert cli("audit", "--db", db, "--config", "config.toml", cwd=tmp_path).returncode == 0
