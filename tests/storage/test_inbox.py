"""The bridge's inbox and out log in storage: what was put stays until done, numbers only grow."""

from __future__ import annotations

from storage.db import make_engine
from storage.store import Storage
from tests.factories import SH, sh


def test_the_inbox_keeps_lines_in_order_until_done_and_the_out_log_numbers_only_grow(db_url: str) -> None:
    engine = make_engine(db_url, tz=SH)
    st = Storage.open(engine, SH).store()
    at = sh("2026-11-23 08:00")
    ids = st.accept(["a", "b", "c"], at)
    assert ids == sorted(ids) and len(set(ids)) == 3
    st.handled(ids[1:2])
    assert [(r.id, r.line, r.received_at) for r in st.accepted()] == [(ids[0], "a", at), (ids[2], "c", at)]
    numbers = [st.log_out(f"line {i}", at) for i in range(5)]
    assert numbers == sorted(numbers) and st.last_out() == numbers[-1]
    st.trim_out(2)
    assert st.logged_out(10) == [(numbers[3], "line 3"), (numbers[4], "line 4")]
    st.trim_out(0)  # the last line always stays: numbering goes on from it
    assert st.logged_out(10) == [(numbers[4], "line 4")]
    engine.dispose()
    # another process later: the inbox and the numbers are where they were
    again = Storage.open(make_engine(db_url, tz=SH), SH).store()
    assert [r.line for r in again.accepted()] == ["a", "c"]
    assert again.log_out("line 5", at) > numbers[-1]
    again.db.engine.dispose()
