"""Start-up: templates checked once and cached, read-outs that import only what they use, the fast exit.

Speed itself is measured in bench/bench_start.py; these tests hold what the speed must not cost.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.templating import DEFAULT_DIR, Renderer, TemplateProblem
from handlers.lib.samples import BASE, SAMPLES
from storage import schema

ROOT = Path(__file__).resolve().parents[1]


def test_the_head_read_off_the_revision_files_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema.alembic_config())
    assert schema.head() == script.get_current_head()
    assert schema.revisions() == [str(s.revision) for s in reversed(list(script.walk_revisions()))]


# -- the cached template check ----------------------------------------------------------------------


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A copy of the templates an operator may edit."""
    copy = tmp_path / "templates"
    shutil.copytree(DEFAULT_DIR, copy)
    return copy


def test_an_unchanged_tree_is_not_rendered_again(templates: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = Renderer(templates, cache=cache)
    assert first.check_changed(SAMPLES, BASE) == first.names()  # nothing recorded yet: every one is checked
    again = Renderer(templates, cache=cache)
    assert again.check_changed(SAMPLES, BASE) == []
    assert again.env.cache is not None and len(again.env.cache) == 0  # not one template was even loaded
    # replies still render, from the compiled code the first run kept
    assert "签到成功" in again.render("checkin/ok", {**BASE, **SAMPLES["checkin/ok"]})


def test_a_template_broken_after_the_check_was_recorded_is_refused_with_its_file_and_line(
        templates: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    Renderer(templates, cache=cache).check_changed(SAMPLES, BASE)
    ok = templates / "checkin" / "ok.txt.j2"
    lines = ok.read_text(encoding="utf-8").split("\n")
    ok.write_text("\n".join([lines[0], "{{ earnd }}", *lines[1:]]), encoding="utf-8")
    with pytest.raises(TemplateProblem) as err:
        Renderer(templates, cache=cache).check_changed(SAMPLES, BASE)
    assert f"{ok} line 2: 'earnd' is undefined" in str(err.value)
    # refused again on the next start: a failed check records nothing
    with pytest.raises(TemplateProblem):
        Renderer(templates, cache=cache).check_changed(SAMPLES, BASE)
    broken = templates / "errors" / "internal.txt.j2"
    ok.write_text("\n".join(lines), encoding="utf-8")
    broken.write_text("抱歉\n{% if %}", encoding="utf-8")
    with pytest.raises(TemplateProblem) as err:
        Renderer(templates, cache=cache).check_changed(SAMPLES, BASE)
    assert f"{broken} line 2" in str(err.value)
    broken.write_text("抱歉，出了点问题", encoding="utf-8")
    # fixed: the edited one is checked (ok.txt.j2 is back to the text that passed), then nothing
    assert Renderer(templates, cache=cache).check_changed(SAMPLES, BASE) == ["errors/internal"]
    assert Renderer(templates, cache=cache).check_changed(SAMPLES, BASE) == []
    assert Renderer(templates, cache=cache).render("errors/internal", {}) == "抱歉，出了点问题"


def test_a_changed_partial_or_sample_has_the_templates_checked_again(templates: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    names = Renderer(templates, cache=cache).check_changed(SAMPLES, BASE)
    labels = templates / "mall" / "_labels.j2"
    labels.write_text(labels.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert Renderer(templates, cache=cache).check_changed(SAMPLES, BASE) == names  # any may include it
    samples = {**SAMPLES, "checkin/ok": {k: v for k, v in SAMPLES["checkin/ok"].items() if k != "earned"}}
    with pytest.raises(TemplateProblem, match="earned"):
        Renderer(templates, cache=cache).check_changed(samples, BASE)


def test_a_cache_folder_that_cannot_be_made_only_means_every_start_checks(templates: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    cache = blocker / "cache"  # below a file: never a folder
    r = Renderer(templates, cache=cache)
    assert r.check_changed(SAMPLES, BASE) == r.names()
    assert Renderer(templates, cache=cache).check_changed(SAMPLES, BASE) == r.names()
    assert "签到成功" in r.render("checkin/ok", {**BASE, **SAMPLES["checkin/ok"]})


# -- processes -----------------------------------------------------------------------------------


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "BOT_CACHE_DIR": str(tmp_path / "cache")}


def checkins(n: int) -> str:
    return "".join(json.dumps({
        "type": "message", "id": f"m{i}", "at": f"2026-11-23T{8 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}+08:00",
        "room": f"r{i % 3}", "room_name": "会员群", "from": f"wxid_{i}", "name": f"会员{i}", "text": "签到",
        "mentions": []}, ensure_ascii=False) + "\n" for i in range(n))


CONFIG = "[bot]\nadmins = [\"wxid_owner\"]\n[checkin]\npoints = 5\n"


def bot(*args: str, cwd: Path, tmp_path: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args], cwd=cwd, capture_output=True, text=True,
                          input=stdin, timeout=120, env=env(tmp_path))


def test_the_fast_exit_leaves_a_complete_database_and_every_line_of_output(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "events.jsonl").write_text(checkins(600), encoding="utf-8")  # three batches of 256 at most
    db = tmp_path / "points.db"
    res = bot("replay", "events.jsonl", "--db", f"sqlite:///{db}", cwd=tmp_path, tmp_path=tmp_path)
    assert res.returncode == 0, res.stderr
    replies = [json.loads(line) for line in res.stdout.splitlines()]
    # the outbox merges @-replies in one group: every message is answered exactly once
    answered = [m for r in replies for m in (r["reply_to"] if isinstance(r["reply_to"], list) else [r["reply_to"]])]
    assert sorted(answered) == sorted(f"m{i}" for i in range(600))
    assert "replayed 600 events, 0 scheduled runs" in res.stderr  # the last log line was written
    # every connection was closed: SQLite checkpointed the WAL into the file and removed it
    assert not Path(f"{db}-wal").exists()
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT count(*), sum(delta) FROM ledger").fetchone() == (600, 3000)
        assert con.execute("SELECT count(*) FROM checkins").fetchone() == (600,)
    finally:
        con.close()
    audit = bot("audit", "--db", f"sqlite:///{db}", cwd=tmp_path, tmp_path=tmp_path)
    assert audit.returncode == 0 and "audit ok" in audit.stdout, audit.stdout + audit.stderr
    ledger = bot("ledger", "--json", "--db", f"sqlite:///{db}", cwd=tmp_path, tmp_path=tmp_path)
    assert ledger.returncode == 0 and len(json.loads(ledger.stdout)) == 600  # the whole JSON, flushed
    # a refusal still exits with its code, and says why
    gone = bot("audit", "--db", f"sqlite:///{tmp_path / 'none.db'}", cwd=tmp_path, tmp_path=tmp_path)
    assert gone.returncode == 2 and "不存在" in gone.stderr


# The declared schema (SQLModel classes, the ORM): only migrating needs it; the code that runs uses storage.tables.
SCHEMA_SOURCE = ("sqlmodel", "sqlalchemy.orm", "storage.models")
# Modules a read-out must never load: transports, the web stack, the card renderer, the pipeline and its
# templates, the migration machinery (a read-out never upgrades).
NOT_FOR_READ_OUTS = ("starlette", "uvicorn", "wechaty", "grpc", "PIL", "qrcode", "alembic", "jinja2", "bot.app",
                     "bot.outbox", "bot.runner", "bot.web", "bot.transports", "bot.supervisor", *SCHEMA_SOURCE)
# nor a replay on a database already at the current revision
NOT_FOR_REPLAY = ("starlette", "uvicorn", "wechaty", "grpc", "PIL", "qrcode", "alembic", "bot.web",
                  "bot.transports.bridge", "bot.transports.wechaty", "bot.transports.console", *SCHEMA_SOURCE)

PROBE = """
import json, sys
sys.path.insert(0, {root!r})
sys.argv = ["run_bot.py", *json.loads(sys.argv[1])]
import run_bot
try:
    run_bot.cli()
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}), file=sys.stderr)
"""


def loaded(args: list[str], tmp_path: Path) -> tuple[Any, list[str]]:
    res = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT)), json.dumps(args)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env=env(tmp_path))
    probe = json.loads(res.stderr.strip().splitlines()[-1])
    return probe["code"], probe["modules"]


def offenders(modules: list[str], banned: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == b or m.startswith(b + ".") for b in banned)]


def test_a_read_out_imports_no_transport_web_template_or_migration_module(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "events.jsonl").write_text(checkins(5), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'points.db'}"
    assert bot("replay", "events.jsonl", "--db", url, cwd=tmp_path, tmp_path=tmp_path).returncode == 0
    for args in (["audit"], ["balances", "--json"], ["balances"], ["ledger", "--json"], ["orders", "--json"]):
        code, modules = loaded([*args, "--db", url], tmp_path)
        assert code == 0, args
        assert offenders(modules, NOT_FOR_READ_OUTS) == [], args
        assert "handlers.checkin" in modules  # the configuration is still validated whole
    code, modules = loaded(["replay", "events.jsonl", "--db", url], tmp_path)
    assert code == 0 and "bot.app" in modules
    assert offenders(modules, NOT_FOR_REPLAY) == []


def test_migrating_a_new_database_loads_the_declared_schema_and_a_current_one_does_not(tmp_path: Path) -> None:
    """The SQLModel classes are alembic's: a start that has to migrate imports them, one at head never does."""
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "events.jsonl").write_text(checkins(3), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'points.db'}"
    code, modules = loaded(["replay", "events.jsonl", "--db", url], tmp_path)
    assert code == 0 and {"alembic", "storage.models"} <= set(modules)
    code, modules = loaded(["replay", "events.jsonl", "--db", url], tmp_path)
    assert code == 0 and offenders(modules, ("alembic", *SCHEMA_SOURCE)) == []
