"""The operator's commands, run as real processes: replay, balances, ledger, audit, config errors."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[bot]
admins = ["wxid_owner"]
[checkin]
points = 5
consecutive = [{days = 2, bonus = 10}]
[[schedule]]
id = "morning-reminder"
job = "checkin_reminder"
cron = "0 8 * * *"
[[schedule]]
id = "evening-leaderboard"
job = "leaderboard"
cron = "0 21 * * *"
"""


def events() -> list[dict[str, Any]]:
    return [
        {"type": "message", "id": "m1", "at": "2026-11-23T07:59:00+08:00", "room": "r1", "room_name": "会员群",
         "from": "wxid_a", "name": "Alice", "text": "签到", "mentions": []},
        {"type": "message", "id": "m2", "at": "2026-11-23T08:01:00+08:00", "from": "wxid_a", "name": "Alice",
         "text": "积分"},
        {"type": "join", "id": "j1", "at": "2026-11-23T09:00:00+08:00", "room": "r1",
         "members": [{"id": "wxid_b", "name": "Bob"}], "inviter": "wxid_a"},
        {"type": "message", "id": "m3", "at": "2026-11-23T09:01:00+08:00", "room": "r1", "from": "wxid_b",
         "name": "Bob", "text": "打卡", "mentions": []},
        {"type": "message", "id": "m3", "at": "2026-11-23T09:01:00+08:00", "room": "r1", "from": "wxid_b",
         "name": "Bob", "text": "打卡", "mentions": []},
        {"type": "tick", "at": "2026-11-24T07:00:00+08:00"},
        {"type": "message", "id": "m4", "at": "2026-11-24T07:30:00+08:00", "room": "r1", "from": "wxid_a",
         "name": "Alice", "text": "签到", "mentions": []},
        {"type": "leave", "id": "l1", "at": "2026-11-24T09:00:00+08:00", "room": "r1",
         "members": [{"id": "wxid_b", "name": "Bob"}]},
    ]


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args], cwd=cwd, capture_output=True,
                          text=True, input=stdin, timeout=120)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events()) + "\n",
                                           encoding="utf-8")
    return tmp_path


def test_replay_prints_every_message_as_a_json_line(workdir: Path) -> None:
    db = f"sqlite:///{workdir / 'r.db'}"
    res = run("replay", "events.jsonl", "--config", "config.toml", "--db", db, cwd=workdir)
    assert res.returncode == 0, res.stderr
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(o["type"], o["at"], o["room"], o["to"], o["reply_to"]) for o in out] == [
        ("say", "2026-11-23T07:59:00+08:00", "r1", None, "m1"),
        ("say", "2026-11-23T08:00:00+08:00", "r1", None, None),  # the reminder, at its due time
        ("say", "2026-11-23T08:01:00+08:00", None, "wxid_a", "m2"),  # private reply
        ("say", "2026-11-23T09:01:00+08:00", "r1", None, "m3"),  # the repeated m3 is not answered again
        ("say", "2026-11-23T21:00:00+08:00", "r1", None, None),
        ("say", "2026-11-24T07:30:00+08:00", "r1", None, "m4"),
        ("say", "2026-11-24T08:00:00+08:00", "r1", None, None),  # fired by the leave event at 09:00
    ]
    assert out[0]["mentions"] == ["wxid_a"] and "获得 5 积分" in out[0]["text"]
    assert out[1]["mentions"] == [] and "早上好" in out[1]["text"]
    assert "连续签到 2 天" in out[5]["text"] and "获得 15 积分" in out[5]["text"]
    assert "1. Alice  5 分" in out[4]["text"] and "1. Bob  5 分" in out[4]["text"]
    assert res.stderr.count("Traceback") == 0

    bal = run("balances", "--json", "--config", "config.toml", "--db", db, cwd=workdir)
    assert bal.returncode == 0, bal.stderr
    assert json.loads(bal.stdout) == [
        {"member": "wxid_a", "name": "Alice", "points": 20, "growth": 20, "level": ""},
        {"member": "wxid_b", "name": "Bob", "points": 5, "growth": 5, "level": ""},
    ]
    led = run("ledger", "--json", "--member", "wxid_a", "--config", "config.toml", "--db", db, cwd=workdir)
    rows = json.loads(led.stdout)
    assert [(r["member"], r["delta"], r["kind"], r["key"], r["at"]) for r in rows] == [
        ("wxid_a", 5, "checkin", "checkin:2026-11-23:wxid_a", "2026-11-23T07:59:00+08:00"),
        ("wxid_a", 5, "checkin", "checkin:2026-11-24:wxid_a", "2026-11-24T07:30:00+08:00"),
        ("wxid_a", 10, "checkin_streak", "checkin:2026-11-24:wxid_a:checkin_streak:1", "2026-11-24T07:30:00+08:00"),
    ]
    audit = run("audit", "--config", "config.toml", "--db", db, cwd=workdir)
    assert audit.returncode == 0 and "audit ok" in audit.stdout

    # replaying the same file again on the same database changes nothing and says nothing
    again = run("replay", "events.jsonl", "--config", "config.toml", "--db", db, cwd=workdir)
    assert again.returncode == 0 and again.stdout == ""
    assert json.loads(run("balances", "--json", "--config", "config.toml", "--db", db, cwd=workdir).stdout)[0][
        "points"] == 20


def test_audit_fails_on_a_tampered_balance(workdir: Path) -> None:
    path = workdir / "t.db"
    assert run("replay", "events.jsonl", "--db", f"sqlite:///{path}", cwd=workdir).returncode == 0
    with sqlite3.connect(path) as con:
        con.execute("UPDATE members SET points = points + 100 WHERE id = 'wxid_b'")
    res = run("audit", "--db", f"sqlite:///{path}", cwd=workdir)
    assert res.returncode == 1
    assert "member wxid_b: stored balance 105 != ledger sum 5" in res.stdout


def test_audit_fails_while_the_hourly_sums_or_the_day_counts_differ_from_the_rows(workdir: Path) -> None:
    path = workdir / "t.db"
    assert run("replay", "events.jsonl", "--db", f"sqlite:///{path}", cwd=workdir).returncode == 0
    with sqlite3.connect(path) as con:
        hour, kind = con.execute("SELECT hour, kind FROM ledger_hours WHERE kind = 'checkin' LIMIT 1").fetchone()
        con.execute("UPDATE ledger_hours SET delta = delta + 3 WHERE hour = ? AND kind = ?", (hour, kind))
    res = run("audit", "--db", f"sqlite:///{path}", cwd=workdir)
    assert res.returncode == 1
    assert f"ledger_hours {hour[:13]}:00 UTC checkin: points/growth/entries" in res.stdout
    with sqlite3.connect(path) as con:
        con.execute("UPDATE ledger_hours SET delta = delta - 3 WHERE hour = ? AND kind = ?", (hour, kind))
        day, n = con.execute("SELECT day, SUM(n) FROM checkin_counts GROUP BY day ORDER BY day LIMIT 1").fetchone()
        con.execute("UPDATE checkin_counts SET n = n + 1 WHERE day = ?", (day,))
    res = run("audit", "--db", f"sqlite:///{path}", cwd=workdir)
    assert res.returncode == 1
    assert res.stdout.count("ledger_hours") == 0
    assert f"checkin_counts {day}: {n + 1} != {n} check-ins that day" in res.stdout
    with sqlite3.connect(path) as con:
        con.execute("UPDATE checkin_counts SET n = n - 1 WHERE day = ?", (day,))
    res = run("audit", "--db", f"sqlite:///{path}", cwd=workdir)
    assert res.returncode == 0 and "audit ok" in res.stdout


def test_bad_replay_lines_are_reported_and_skipped(workdir: Path) -> None:
    (workdir / "bad.jsonl").write_text(
        '{"type": "message", "id": "m1", "at": "2026-11-23T09:00:00+08:00", "room": "r1", "from": "a", "text": "签到"}\n'
        "not json\n"
        '{"type": "message", "id": "m2", "at": "2026-11-23T09:00:00", "room": "r1", "from": "a", "text": "签到"}\n'
        '{"type": "wave", "at": "2026-11-23T09:00:00+08:00"}\n',
        encoding="utf-8",
    )
    res = run("replay", "bad.jsonl", "--db", f"sqlite:///{workdir / 'b.db'}", cwd=workdir)
    assert res.returncode == 3
    assert len(res.stdout.splitlines()) == 1
    assert "line 2: not JSON" in res.stderr and "line 3" in res.stderr and "needs a UTC offset" in res.stderr
    assert "line 4" in res.stderr and "Traceback" not in res.stderr


def test_a_line_not_in_utf8_or_nested_too_deep_is_reported_and_the_rest_replayed(workdir: Path) -> None:
    def line(i: int) -> bytes:
        return json.dumps({"type": "message", "id": f"m{i}", "at": f"2026-11-23T09:0{i}:00+08:00", "room": "r1",
                           "from": f"wxid_{i}", "name": "Alice", "text": "签到"}, ensure_ascii=False).encode()

    (workdir / "odd.jsonl").write_bytes(b"\n".join([
        line(1),
        '{"type": "message", "text": "签到"}'.encode("gbk"),  # saved by another program in GBK
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
        line(2).replace(b'"Alice"', b'"\\ud800"'),  # a lone surrogate: no database stores it
        line(2),
    ]) + b"\n")
    res = run("replay", "odd.jsonl", "--db", f"sqlite:///{workdir / 'o.db'}", cwd=workdir)
    assert res.returncode == 3, res.stderr
    assert [json.loads(out)["reply_to"] for out in res.stdout.splitlines()] == ["m1", "m2"]
    assert "line 2: not UTF-8" in res.stderr
    assert "line 3: not an event: brackets nested too deeply" in res.stderr
    assert "line 4: not an event: brackets nested too deeply" in res.stderr
    assert "line 5: a string holds a lone UTF-16 surrogate" in res.stderr
    assert "4 line(s) could not be read" in res.stderr and "Traceback" not in res.stderr


def test_check_config_renders_every_template_and_names_a_typo_with_its_file_and_line(tmp_path: Path) -> None:
    # a copy of the program, so its templates can be broken as an operator would
    app = tmp_path / "app"
    for part in ("bot", "handlers", "storage", "templates"):
        shutil.copytree(ROOT / part, app / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "run_bot.py", app / "run_bot.py")
    (app / "config.toml").write_text(CONFIG, encoding="utf-8")
    ok = subprocess.run([sys.executable, "run_bot.py", "check-config"], cwd=app, capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and "config ok" in ok.stdout, ok.stderr
    ok_txt = app / "templates" / "checkin" / "ok.txt.j2"
    lines = ok_txt.read_text(encoding="utf-8").split("\n")
    ok_txt.write_text("\n".join([lines[0], "{{ earnd }}", *lines[1:]]), encoding="utf-8")
    for args in (["check-config"], ["replay", "-", "--db", f"sqlite:///{tmp_path / 'x.db'}"]):
        res = subprocess.run([sys.executable, "run_bot.py", *args], cwd=app, capture_output=True, text=True,
                             timeout=120, input="")
        assert res.returncode == 2, res.stdout
        assert f"{ok_txt} line 2: 'earnd' is undefined" in res.stderr and "Traceback" not in res.stderr
        assert "config ok" not in res.stdout and res.stdout == ""
    ok_txt.write_text("\n".join(lines), encoding="utf-8")
    internal = app / "templates" / "errors" / "internal.txt.j2"
    internal.write_text("抱歉{% if %}", encoding="utf-8")
    res = subprocess.run([sys.executable, "run_bot.py", "check-config"], cwd=app, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and f"{internal} line 1" in res.stderr


def test_check_config_warns_of_a_bridge_open_to_the_network(workdir: Path) -> None:
    (workdir / "config.toml").write_text(CONFIG + '[bridge]\nhost = "0.0.0.0"\n', encoding="utf-8")
    res = run("check-config", cwd=workdir)
    assert res.returncode == 0 and "config ok" in res.stdout
    assert '注意（warning）：bridge.host = "0.0.0.0"：桥会暴露在本机之外' in res.stderr
    (workdir / "config.toml").write_text(CONFIG + "[bridge]\nport = 70000\n", encoding="utf-8")
    res = run("check-config", cwd=workdir)
    assert res.returncode == 2 and "bridge.port must be an integer >= 0 and <= 65535, got 70000" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_wrong_config_value_stops_with_the_key_not_a_traceback(workdir: Path) -> None:
    (workdir / "config.toml").write_text('[checkin]\npoints = "五"\n', encoding="utf-8")
    res = run("replay", "events.jsonl", cwd=workdir)
    assert res.returncode == 2
    assert 'checkin.points must be an integer >= 0 and <= 100000, got "五"' in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    (workdir / "config.toml").write_text('[[schedule]]\nid = "x"\njob = "fireworks"\ncron = "0 8 * * *"\n',
                                         encoding="utf-8")
    res = run("audit", cwd=workdir)
    assert res.returncode == 2 and 'schedule[0].job must be one of' in res.stderr and "fireworks" in res.stderr


def test_an_unreachable_database_says_what_to_check(workdir: Path) -> None:
    res = run("audit", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", cwd=workdir)
    assert res.returncode == 2
    assert "cannot open the database" in res.stderr and "Traceback" not in res.stderr


def test_console_runs_on_the_default_config(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text((ROOT / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    # the clock is pinned before the shipped campaign window (Dec 1-8 2026), which would double the points
    res = run(stdin="/time 2026-11-24 08:00\nalice@g1: 签到\nalice@g1: 签到\nalice: 积分\n/time +1d\nalice@g1: 打卡\n/quit\n",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "data" / "points.db").exists()
    assert "[g1] @alice 签到成功！获得 5 积分" in res.stdout
    assert "[g1] @alice 今天已经签到过啦" in res.stdout
    assert "[私聊 → alice] 💰 当前积分：5" in res.stdout
    assert "连续签到 2 天" in res.stdout
    audit = run("audit", cwd=tmp_path)
    assert audit.returncode == 0, audit.stdout


def test_console_logs_in_the_bots_timezone_and_quiet_runs_say_nothing(tmp_path: Path) -> None:
    import re
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    (tmp_path / "config.toml").write_text((ROOT / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    before = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)
    res = run(stdin="/time 2026-11-24 08:00\nalice@g1: 签到\n/time +1d\n/quit\n", cwd=tmp_path)
    after = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None) + timedelta(seconds=1)
    assert res.returncode == 0, res.stderr
    stamps = [datetime.fromisoformat(m) for m in re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ", res.stderr, re.M)]
    assert stamps, res.stderr
    assert all(before <= t <= after for t in stamps), (before, stamps[:3], after)  # Beijing time, not UTC
    utc = datetime.now(UTC).replace(tzinfo=None)
    assert all(abs((t - utc).total_seconds()) > 3600 for t in stamps)
    # a day of hourly campaign looks and the evening posts: only runs that posted something are logged
    assert "posted 0 messages" not in res.stderr


def test_log_file_gets_the_log_rotated_in_the_bots_timezone(tmp_path: Path) -> None:
    cfg = (ROOT / "config.toml").read_text(encoding="utf-8").replace('file = ""                       # also log',
                                                                     'file = "data/bot.log"  # also log', 1)
    (tmp_path / "config.toml").write_text(cfg, encoding="utf-8")
    res = run(stdin="/time 2026-11-24 08:00\nalice@g1: 签到\n/quit\n", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    log = (tmp_path / "data" / "bot.log").read_text(encoding="utf-8")
    assert "storage" in log and "INFO" in log
    assert "签到成功" not in log  # what members wrote or were told is not logged at INFO


def test_options_before_the_subcommand_work_or_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "broken.toml").write_text("[checkin]\npoints = -5\n", encoding="utf-8")
    res = run("--config", "broken.toml", "check-config", cwd=tmp_path)
    assert res.returncode == 2 and "配置错误" in res.stderr and "config ok" not in res.stdout
    db = f"sqlite:///{tmp_path / 'other.db'}"
    (tmp_path / "one.csv").write_text("id,name,points\nwxid_z,阿Z,7\n", encoding="utf-8")
    assert run("--db", db, "import-balances", "one.csv", cwd=tmp_path).returncode == 0
    res = run("--db", db, "--config", "config.toml", "balances", "--json", cwd=tmp_path)
    assert res.returncode == 0 and json.loads(res.stdout)[0]["member"] == "wxid_z", res.stderr
    assert not (tmp_path / "data" / "points.db").exists()  # the default database was never touched
    res = run(f"--db={db}", "balances", "--json", cwd=tmp_path)
    assert res.returncode == 0 and json.loads(res.stdout)[0]["points"] == 7
    res = run("--transport", "wechaty", "balances", cwd=tmp_path)
    assert res.returncode == 2 and "--transport" in res.stderr  # a read-out takes no transport: said, not ignored
    res = run("--transport", "wechaty", "run", "--config", "config.toml", cwd=tmp_path, stdin="")
    assert res.returncode == 2 and "puppet service" in res.stderr  # wechaty, not the console
