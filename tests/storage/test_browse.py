"""The console's reads: member search by id or name prefix and ledger pages read an index, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from storage.browse import LedgerFilter
from storage.db import make_engine
from storage.store import Storage
from storage.tables import MEMBERS
from tests.factories import SH, sh

NAMES = ["张三", "张三丰", "张伟", "李四", "Zhang", "zhang", "王五", "张", "三张"]


def _plan(conn: Connection, q: Any) -> str:
    compiled = q.compile(dialect=conn.dialect)
    sql = str(compiled)
    if conn.dialect.name == "sqlite":
        params: Any = tuple(compiled.params[k] for k in compiled.positiontup)
        return " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a small table: ask whether an index CAN serve it
    return " | ".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + sql, compiled.params))


def test_search_finds_exactly_the_prefix_and_reads_an_index(db_url: str) -> None:
    st = Storage.open(make_engine(db_url), SH)
    at = sh("2026-12-01 10:00")
    with st.db.transaction() as conn:
        conn.execute(insert(MEMBERS), [{"id": f"wxid_{i:05d}", "name": NAMES[i % len(NAMES)], "created_at": at}
                                       for i in range(3000)])
    for text in ("张", "张三", "zhang", "Z", "wxid_0001", "wxid_02999", "三"):
        got = {m.id for m in st.browse.search_members(text, limit=5000)}
        want = {f"wxid_{i:05d}" for i in range(3000)
                if f"wxid_{i:05d}".startswith(text) or NAMES[i % len(NAMES)].startswith(text)}
        assert got == want, text
    assert [m.id for m in st.browse.search_members("wxid_00042")] == ["wxid_00042"]
    assert len(st.browse.search_members("张", limit=50)) == 50
    with st.db.transaction() as conn:
        id_q, name_q = st.browse.search_queries("张", 50)
        for q, index in ((id_q, ("members_pkey", "sqlite_autoindex_members_1")), (name_q, ("ix_members_name",))):
            plan = _plan(conn, q)
            assert any(i in plan for i in index) and "SCAN members" not in plan and "Seq Scan" not in plan, plan
    st.db.engine.dispose()


def test_ledger_pages_walk_an_index_downwards(db_url: str) -> None:
    st = Storage.open(make_engine(db_url), SH)
    at = sh("2026-12-01 10:00")
    for m in ("a", "b"):
        st.presence.see_member(m, m, at)
    for i in range(30):
        st.ledger.award(member="a" if i % 3 else "b", points=1, kind="quiz", key=f"k{i}", at=at)
    pages, before = [], None
    while True:
        page = st.browse.ledger_page(LedgerFilter(member="a"), before=before, limit=7)
        if not page:
            break
        pages.append([e.id for e in page])
        before = page[-1].id
    assert [len(p) for p in pages] == [7, 7, 6]
    assert [i for p in pages for i in p] == [e.id for e in st.ledger.entries("a", newest_first=True)]
    with st.db.transaction() as conn:
        plan = _plan(conn, st.browse.ledger_query(LedgerFilter(member="a"), before=before, limit=50))
        assert "ix_ledger_member_id" in plan and "Seq Scan" not in plan, plan
        plan = _plan(conn, st.browse.ledger_query(LedgerFilter(), before=100, limit=50))
        assert ("PRIMARY KEY" in plan or "ledger_pkey" in plan) and "Seq Scan" not in plan, plan
    st.db.engine.dispose()
