"""Schema revisions: release 0.1's database upgrades intact, a fresh one equals the models, read-outs never migrate."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables the schema is compared with)
from storage import schema
from storage.db import make_engine
from tests.conftest import pg_schema
from tests.data.make_release_db import TABLES, totals

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "tests" / "data" / "release-0.1"
CONFIG = RELEASE / "config.toml"
EXPECTED = json.loads((RELEASE / "expected.json").read_text(encoding="utf-8"))
READ_OUTS = ("audit", "balances", "ledger", "orders", "stats")


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def load_release(url: str) -> None:
    """Write release 0.1's database (tests/data/release-0.1) at `url`, as that release left it."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        con = sqlite3.connect(str(u.database))
        con.executescript((RELEASE / "sqlite.sql").read_text(encoding="utf-8"))
        con.execute("PRAGMA journal_mode=WAL")  # as the release's engine left it
        con.close()
        return
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        raw.cursor().execute((RELEASE / "postgresql.sql").read_text(encoding="utf-8"))
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def held(url: str) -> dict[str, Any]:
    """The totals expected.json records, read from the database at `url` (without upgrading it)."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            rows = {t: [dict(r._mapping) for r in c.execute(text(f"SELECT * FROM {t} ORDER BY {k}"))]
                    for t, k in TABLES.items()}
    finally:
        engine.dispose()
    return json.loads(json.dumps(totals(rows)))  # tuples and keys as the JSON file has them


def schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata))


def revision_of(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return schema.current(conn)
    finally:
        engine.dispose()


def test_the_release_database_upgrades_with_every_balance_order_lot_and_code_intact(db_url: str) -> None:
    load_release(db_url)
    assert held(db_url) == EXPECTED  # the fixture loaded as the release wrote it
    assert revision_of(db_url) is None

    res = cli("migrate", "--config", str(CONFIG), "--db", db_url)
    assert res.returncode == 0, res.stderr
    assert "由旧版本写入（没有版本记录）：已补齐并登记为 0001" in res.stdout
    assert f"数据库已升级到 {schema.head()}" in res.stdout
    assert held(db_url) == EXPECTED
    assert revision_of(db_url) == schema.head()
    engine = create_engine(db_url)
    assert schema_diff(engine) == []
    with engine.connect() as c:  # 0002: the refunds and clawbacks of the release point at what they undo
        undone = c.execute(text("SELECT r.key, o.key, r.delta + o.delta, r.member_id = o.member_id FROM ledger r "
                                "LEFT JOIN ledger o ON o.id = r.reverses WHERE r.key LIKE :a OR r.key LIKE :b "
                                "OR r.reverses IS NOT NULL"), {"a": "%:refund", "b": "%:revoke"}).all()
    engine.dispose()
    assert {k.rsplit(":", 1)[1] for k, *_ in undone} == {"refund", "revoke"}
    assert all(o == k.rsplit(":", 1)[0] and net == 0 and same for k, o, net, same in undone), undone

    audit = cli("audit", "--config", str(CONFIG), "--db", db_url)
    assert audit.returncode == 0 and "audit ok" in audit.stdout, audit.stdout + audit.stderr
    again = cli("migrate", "--config", str(CONFIG), "--db", db_url)
    assert again.returncode == 0 and f"数据库已是最新版本 {schema.head()}，无需升级" in again.stdout, again.stderr
    balances = json.loads(cli("balances", "--json", "--config", str(CONFIG), "--db", db_url).stdout)
    assert {b["member"]: [b["points"], b["growth"]] for b in balances} == EXPECTED["balances"]


def test_an_older_database_gets_what_it_lacks_once_when_adopted(db_url: str) -> None:
    """Older than 0.1: no mall_items.first_seen, no period sums yet (before 周榜/月榜), no quiz tables."""
    load_release(db_url)
    engine = create_engine(db_url)
    with engine.begin() as c:
        sums = sorted((r.period, r.member_id, r.points) for r in c.execute(text("SELECT * FROM period_sums")))
        c.execute(text("DELETE FROM period_sums"))
        c.execute(text("ALTER TABLE mall_items DROP COLUMN first_seen"))
        c.execute(text("DROP TABLE quiz_answers"))
        c.execute(text("DROP TABLE quiz_rounds"))
    engine.dispose()
    assert sums

    engine = make_engine(db_url, create=False)
    done = schema.upgrade(engine)
    assert done == schema.Upgrade(None, schema.head(), True, tuple(schema.revisions()))
    with engine.connect() as c:
        assert sorted((r.period, r.member_id, r.points) for r in c.execute(text("SELECT * FROM period_sums"))) == sums
        assert c.execute(text("SELECT COUNT(*) FROM mall_items WHERE first_seen IS NULL")).scalar() == 3
    assert schema_diff(engine) == []
    assert schema.upgrade(engine).applied == ()
    engine.dispose()
    assert held(db_url) == EXPECTED
    audit = cli("audit", "--config", str(CONFIG), "--db", db_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def _clauses(name: str, sql: str | None) -> Any:
    """A CREATE statement as its set of clauses: a table that a revision altered (ALTER TABLE ADD COLUMN, or a
    batch rebuild, which quotes the name and may reorder constraints) is the same table when every column and
    constraint is."""
    if sql is None or not sql.startswith("CREATE TABLE"):
        return sql
    body = sql[sql.index("(") + 1 : sql.rindex(")")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return (name, frozenset(parts))


def _sqlite_ddl(path: Path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return {r[0]: _clauses(r[0], r[1])
                for r in con.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE '%alembic%'")}
    finally:
        con.close()


def _pg_ddl(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as c:
        s = c.execute(text("SELECT current_schema()")).scalar()
        q = {
            "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default FROM "
                       "information_schema.columns WHERE table_schema = :s AND table_name <> 'alembic_version'",
            "constraints": "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                           "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
                           "WHERE n.nspname = :s AND t.relname <> 'alembic_version'",
            "indexes": "SELECT tablename, indexname, replace(indexdef, :s || '.', '') FROM pg_indexes "
                       "WHERE schemaname = :s AND tablename <> 'alembic_version'",
        }
        out = {k: sorted(tuple(r) for r in c.execute(text(v), {"s": s})) for k, v in q.items()}
    # a column default names its sequence with the schema
    out["columns"] = [tuple(str(x).replace(f"{s}.", "") if x is not None else None for x in r) for r in out["columns"]]
    return out


@pytest.fixture
def pg_scratch() -> Iterator[str]:
    """A second fresh PostgreSQL schema (the pg_url fixture gave the first)."""
    with pg_schema() as url:
        yield url


def test_a_fresh_database_at_head_is_exactly_the_models_schema(db_url: str, tmp_path: Path,
                                                               request: pytest.FixtureRequest) -> None:
    engine = make_engine(db_url)
    assert schema_diff(engine) == []
    with engine.connect() as c:
        assert schema.current(c) == schema.head()
    # and the same DDL, clause for clause, as create_all of the models writes
    if engine.dialect.name == "sqlite":
        plain = tmp_path / "create_all.db"
        other = create_engine(f"sqlite:///{plain}")
        SQLModel.metadata.create_all(other)
        other.dispose()
        assert _sqlite_ddl(Path(str(make_url(db_url).database))) == _sqlite_ddl(plain)
    else:
        other = create_engine(request.getfixturevalue("pg_scratch"))
        SQLModel.metadata.create_all(other)
        assert _pg_ddl(engine) == _pg_ddl(other)
        other.dispose()
    engine.dispose()


def test_at_head_start_up_reads_the_revision_and_nothing_else(db_url: str) -> None:
    make_engine(db_url).dispose()
    engine = make_engine(db_url, create=False)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql))
    assert schema.upgrade(engine) == schema.Upgrade(schema.head(), schema.head(), False, ())
    engine.dispose()
    reads = [s for s in seen if s not in ("BEGIN", "COMMIT", "ROLLBACK")]  # SQLite's own transaction statements
    assert 1 <= len(reads) <= 2 and all(s.lstrip().upper().startswith(("SELECT", "PRAGMA")) for s in reads), seen


def _older_states() -> list[str | None]:
    """Unversioned (release 0.1), and every revision below head."""
    return [None, *schema.revisions()[:-1]]


def _fingerprint(url: str) -> Any:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return hashlib.sha256(Path(str(u.database)).read_bytes()).hexdigest()
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            tables = sorted(r[0] for r in c.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")))
            return tables, {t: sorted(map(str, c.execute(text(f"SELECT * FROM {t}")).all())) for t in tables}
    finally:
        engine.dispose()


@pytest.mark.parametrize("state", _older_states(), ids=lambda s: s or "unversioned")
def test_read_outs_refuse_an_older_database_and_change_nothing(db_url: str, state: str | None) -> None:
    if state is None:
        load_release(db_url)
    else:
        engine = make_engine(db_url, create=False)
        with engine.begin() as conn:
            command.upgrade(schema.alembic_config(conn), state)
        engine.dispose()
    before = _fingerprint(db_url)
    for read_out in READ_OUTS:
        res = cli(read_out, "--config", str(CONFIG), "--db", db_url)
        assert res.returncode == 5, (read_out, res.stdout, res.stderr)
        assert "数据库需要升级：先运行 python run_bot.py migrate" in res.stderr and res.stdout == "", read_out
        assert "Traceback" not in res.stderr
    assert _fingerprint(db_url) == before
    assert revision_of(db_url) == state


def test_a_database_from_a_newer_release_is_refused_by_read_outs_and_the_bot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    make_engine(url).dispose()
    with sqlite3.connect(tmp_path / "newer.db") as con:
        con.execute("UPDATE alembic_version SET version_num = '9999'")
    for args in (("audit",), ("migrate",), ("replay", "-")):
        res = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args, "--config", str(CONFIG), "--db", url],
                             capture_output=True, text=True, timeout=120, cwd=ROOT, input="")
        assert res.returncode == 6, (args, res.stderr)
        assert "数据库的版本 9999 不是本程序认识的版本" in res.stderr and "Traceback" not in res.stderr


def test_a_read_out_on_a_missing_sqlite_file_names_it_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "points.db"
    for read_out in READ_OUTS:
        res = cli(read_out, "--config", str(CONFIG), "--db", f"sqlite:///{path}")
        assert res.returncode == 2, (read_out, res.stderr)
        assert f"数据库文件 {path} 不存在" in res.stderr and "Traceback" not in res.stderr
    assert not path.parent.exists()
    assert list(tmp_path.iterdir()) == []


# A real run_bot.py process that imports everything, says "ready" and starts its command on a line on stdin:
# the test releases all eight at once, so their schema work overlaps.
STARTER = """
import sys
sys.path.insert(0, sys.argv[1])
import alembic.command, handlers, run_bot, storage.db, storage.schema
storage.schema.head()
print("ready", flush=True)
sys.stdin.readline()
sys.argv = ["run_bot.py", *sys.argv[2:]]
run_bot.cli()
"""


def test_eight_processes_starting_at_once_on_a_fresh_database_all_come_up(db_url: str, tmp_path: Path) -> None:
    """Half run migrate, half replay one check-in each, released together: nobody dies creating the schema."""
    (tmp_path / "config.toml").write_text('[bot]\nadmins = ["op"]\n[checkin]\npoints = 5\n', encoding="utf-8")
    procs = []
    for i in range(8):
        args = ["migrate"]
        if i % 2:
            ev = {"type": "message", "id": f"m{i}", "at": "2026-11-23T09:00:00+08:00", "room": "g1", "from": f"p{i}",
                  "name": f"P{i}", "text": "签到", "mentions": []}
            (tmp_path / f"e{i}.jsonl").write_text(json.dumps(ev, ensure_ascii=False) + "\n", encoding="utf-8")
            args = ["replay", str(tmp_path / f"e{i}.jsonl")]
        procs.append(subprocess.Popen([sys.executable, "-c", STARTER, str(ROOT), *args, "--config",
                                       str(tmp_path / "config.toml"), "--db", db_url], cwd=tmp_path,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == "ready\n"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            out, err = p.communicate(timeout=180)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for rc, _out, err in results:
        assert rc == 0 and "Traceback" not in err, err
    assert revision_of(db_url) == schema.head()
    bal = cli("balances", "--json", "--config", str(tmp_path / "config.toml"), "--db", db_url)
    assert bal.returncode == 0, bal.stderr
    assert sorted((b["member"], b["points"]) for b in json.loads(bal.stdout)) == [(f"p{i}", 5) for i in (1, 3, 5, 7)]
    engine = create_engine(db_url)
    assert schema_diff(engine) == []
    engine.dispose()


def test_0008_counts_every_listed_member_of_the_release_on_every_board_and_group(db_url: str) -> None:
    """board_counts from the release's balances, period sums and groups, beside a count made here from the rows."""
    load_release(db_url)
    engine = create_engine(db_url)
    with engine.connect() as c:
        c.execute(text("UPDATE room_members SET active = :no WHERE member_id = 'bob'"), {"no": False})  # left
        c.commit()
        points = {r.id: r.points for r in c.execute(text("SELECT id, points FROM members"))}
        sums = [(r.period, r.member_id, r.points) for r in c.execute(text("SELECT * FROM period_sums"))]
        rooms: dict[str, set[str]] = {}
        for r in c.execute(text("SELECT room_id, member_id, active FROM room_members")):
            if r.active:
                rooms.setdefault(r.member_id, set()).add(r.room_id)
    engine.dispose()
    want: dict[tuple[str, str, int], int] = {}
    scored = [("all", m, p) for m, p in points.items()] + sums
    for board, member, score in scored:
        if score > 0 and rooms.get(member):
            for room in ["", *sorted(rooms[member])]:
                want[(board, room, score)] = want.get((board, room, score), 0) + 1
    assert len({m for _b, m, s in scored if s > 0 and not rooms.get(m)}) >= 1  # someone with points left out

    res = cli("migrate", "--config", str(CONFIG), "--db", db_url)
    assert res.returncode == 0 and "升级到 0008" in res.stdout, res.stdout + res.stderr
    engine = create_engine(db_url)
    with engine.connect() as c:
        got = {(r.board, r.room, r.score): r.n for r in c.execute(text("SELECT * FROM board_counts"))}
    engine.dispose()
    assert got == want and len(want) > 5
    audit = cli("audit", "--config", str(CONFIG), "--db", db_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_0009_counts_each_check_in_and_each_earning_of_the_release_as_a_day_its_member_was_active(db_url: str) -> None:
    load_release(db_url)
    engine = create_engine(db_url)
    with engine.begin() as c:  # a 补签 fills a day the member did not write on: it is no sign of activity
        c.execute(text("INSERT INTO checkins (member_id, day, at, room_id, streak, total_days, points, makeup) "
                       "VALUES ('alice', :day, :at, 'g1', 1, 1, 0, :yes)"), {"day": "2026-10-30", "yes": True,
                                                                             "at": "2026-11-02 01:00:00.000000"})
        written = {(m, str(d)) for m, d in c.execute(text("SELECT member_id, day FROM checkins WHERE makeup = :no"),
                                                      {"no": False})}
        earning = ("checkin", "checkin_streak", "checkin_total", "invite", "newcomer", "task", "profile", "follow",
                   "quiz", "admin_award", "import")
        earned = {(m, str(at)[:10] if isinstance(at, str) else at.astimezone(UTC).date().isoformat())
                  for m, kind, delta, at in c.execute(text("SELECT member_id, kind, delta, at FROM ledger"))
                  if delta > 0 and kind in earning}
    engine.dispose()
    assert len(written) > 3 and earned - written  # some earned on a day they did not check in (on its UTC date)
    written |= earned
    res = cli("migrate", "--config", str(CONFIG), "--db", db_url)
    assert res.returncode == 0, res.stderr
    engine = create_engine(db_url)
    with engine.connect() as c:
        days = {(m, str(d)) for m, d in c.execute(text("SELECT member_id, day FROM member_days"))}
    engine.dispose()
    assert days == written and ("alice", "2026-10-30") not in days
