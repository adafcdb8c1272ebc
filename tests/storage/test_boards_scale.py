"""Ranks and boards on 10k members, against an independent computation from the ledger rows and the groups.

The scenario has many ties, members who left every group (and one who came back), members in several groups,
a tiny group and large ones, staff with the highest balances, earnings on both sides of a week and a month
boundary, spending, and 撤销 reversals (which count in the week and month of the entry they undo). The board
counts the hooks keep must give, for every member and board, the rank the ledger gives; audit names a
count corrupted by hand.
"""

from __future__ import annotations

import bisect
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, text

from storage.boards import periods
from storage.db import make_engine
from storage.store import Storage
from storage.tables import MEMBERS as MEMBERS_T
from storage.tables import ROOM_MEMBERS
from storage.vocabulary import Kind

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
MEMBERS = 10_000
ROOMS = [f"g{r}" for r in range(8)] + ["tiny"]
STAFF = ("m00001", "m00002", "m00003")
START = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)  # a Friday in November: the days run into December's first week


def mid(m: int) -> str:
    return f"m{m:05d}"


class World:
    """What the test itself knows: who is in which group now (the ledger holds the rest)."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[str]] = defaultdict(set)

    def join(self, st: Storage, room: str, member: str, at: datetime) -> None:
        st.presence.see_in_room(room, member, at)
        self.rooms[member].add(room)

    def leave(self, st: Storage, room: str, member: str, at: datetime) -> None:
        st.presence.left_room(room, member, at)
        self.rooms[member].discard(room)


def build(st: Storage, seed: int = 5) -> World:
    rng = random.Random(seed)
    world = World()
    at = START
    with ExitStack() as stack, st.db.transaction():  # one transaction: seconds, also on PostgreSQL
        for room in ROOMS:
            st.presence.see_room(room, room, at)
        # newcomers, no points yet: rows written in bulk are what see_member / see_in_room write for them (the
        # boards' presence hook has nothing to move); every later move goes through Presence
        conn = stack.enter_context(st.db.transaction())
        conn.execute(insert(MEMBERS_T), [{"id": mid(m), "name": f"会员{m}", "created_at": at} for m in range(MEMBERS)])
        joins = []
        for m in range(MEMBERS):
            rooms = ["tiny" if m % 2000 == 7 else ROOMS[m % 8]] + ([ROOMS[(m + 3) % 8]] if m % 9 == 4 else [])
            world.rooms[mid(m)].update(rooms)  # some in two groups
            joins += [{"room_id": r, "member_id": mid(m), "active": True, "joined_at": at} for r in rooms]
        conn.execute(insert(ROOM_MEMBERS), joins)
        awards: list[tuple[str, int]] = []
        for m in range(MEMBERS):
            who = mid(m)
            for k in range(rng.choice((0, 0, 0, 1, 1, 2))):  # half earn nothing: ~5k awards
                # few distinct amounts: many ties; days from Nov 27 to Dec 3 cross both boundaries
                when = at + timedelta(days=rng.randrange(7), minutes=rng.randrange(600))
                e = st.ledger.award(member=who, points=rng.choice((5, 10, 10, 20, 35, 50)),
                                    kind=Kind.ADMIN_AWARD, key=f"a:{m}:{k}", at=when)
                assert e is not None
                awards.append((who, e.id))
            if who in STAFF:
                st.ledger.award(member=who, points=10_000, kind=Kind.ADMIN_AWARD, key=f"staff:{m}", at=at)
        late = at + timedelta(days=7)  # Dec 4: spending and undoing happen after every award
        for _who, entry in rng.sample(awards, 200):
            st.ledger.undo(entry=entry, key=f"u:{entry}", at=late, detail="输错了")
        for m in rng.sample(range(10, MEMBERS), 300):
            points = st.ledger.member(mid(m))
            if points is not None and points.points >= 5:
                st.ledger.spend(member=mid(m), points=5, kind=Kind.REDEEM, key=f"s:{m}", at=late)
        for m in range(MEMBERS):
            if m % 97 == 13:  # left every group
                for room in sorted(world.rooms[mid(m)]):
                    world.leave(st, room, mid(m), late)
            elif m % 9 == 4 and m % 2 == 0:  # left one of their two groups
                world.leave(st, sorted(world.rooms[mid(m)])[0], mid(m), late)
        world.join(st, ROOMS[0], mid(13), late)  # left every group, then came back to one
    return world


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Storage, World]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('scale') / 'points.db'}"
        st = Storage.open(make_engine(url), TZ)
        yield st, build(st)
        st.db.engine.dispose()
        return
    from tests.conftest import _pg_reachable, pg_schema  # only when PostgreSQL runs

    if (why := _pg_reachable()) is not None:
        pytest.skip(f"PostgreSQL not reachable: {why}")
    with pg_schema() as url:
        st = Storage.open(make_engine(url), TZ)
        yield st, build(st)
        st.db.engine.dispose()


def truth(st: Storage, world: World) -> dict[str, dict[str, tuple[int, Any, int]]]:
    """board -> member -> (score, reached, last id), from the ledger rows alone (board "all" or a period key)."""
    if id(st) in _truths:
        return _truths[id(st)]
    _truths[id(st)] = out = _truth(st)
    return out


_truths: dict[int, dict[str, dict[str, tuple[int, Any, int]]]] = {}


def _truth(st: Storage) -> dict[str, dict[str, tuple[int, Any, int]]]:
    by_id = {}
    boards: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for e in st.ledger.entries():
        by_id[e.id] = e
        row = boards["all"].setdefault(e.member, [0, e.at, e.id])
        row[0] += e.delta
        row[1], row[2] = e.at, e.id  # every entry moves the balance's time
        if e.growth_delta:
            undone = by_id[e.reverses] if e.kind == Kind.REVERSAL and e.reverses is not None else None
            undo = undone is not None
            counted = undone.at if undone is not None else e.at
            for key in periods(counted.astimezone(TZ).date()):
                prow = boards[key].setdefault(e.member, [0, counted, e.id])
                prow[0] += e.growth_delta
                if not undo:  # a 撤销 leaves the time the sum was reached alone
                    prow[1], prow[2] = e.at, e.id
    return {b: {m: (int(v[0]), v[1], v[2]) for m, v in rows.items()} for b, rows in boards.items()}


def expected_rank(scores: dict[str, tuple[int, Any, int]], listed: set[str], member: str) -> int | None:
    """1 + the listed members with a strictly higher score: equal scores share a rank."""
    mine = scores.get(member, (0, None, 0))[0]
    if mine <= 0 or member not in listed:
        return None
    key = (id(scores), frozenset(listed))
    ordered = _sorted.get(key)
    if ordered is None:
        ordered = _sorted[key] = sorted(s for m, (s, _r, _i) in scores.items() if m in listed)
    return 1 + len(ordered) - bisect.bisect_right(ordered, mine)


_sorted: dict[Any, list[int]] = {}


BOARDS = ("all", "week:2026-11-23", "week:2026-11-30", "month:2026-11-01", "month:2026-12-01")


def test_every_rank_on_every_board_and_group_is_the_ledgers(scenario: tuple[Storage, World]) -> None:
    st, world = scenario
    want = truth(st, world)
    in_any = {m for m, rooms in world.rooms.items() if rooms} - set(STAFF)
    sample = sorted({mid(m) for m in random.Random(1).sample(range(MEMBERS), 250)} | set(STAFF)
                    | {mid(13), mid(110), mid(7), mid(2007), mid(4)})
    checked = 0
    for board in BOARDS:
        period = None if board == "all" else board
        scores = want.get(board, {})
        for who in sample:
            got = st.boards.standing(who, period=period, exclude=STAFF)
            assert got == (expected_rank(scores, in_any, who), scores.get(who, (0,))[0]), (board, who)
            for room in sorted(world.rooms[who]):
                here = {m for m, rooms in world.rooms.items() if room in rooms} - set(STAFF)
                assert st.boards.standing(who, period=period, exclude=STAFF, room=room)[0] == \
                    expected_rank(scores, here, who), (board, who, room)
                checked += 1
    assert checked > 500
    # the boards left some out for real: staff above everyone, leavers with points
    assert want["all"][STAFF[0]][0] > 10_000 - 1 and st.boards.standing(STAFF[0], exclude=STAFF)[0] is None
    richest = max(STAFF, key=lambda m: want["all"][m][0])
    assert st.boards.standing(richest)[0] == 1  # counted like anyone when not excluded
    gone = mid(110)  # 110 % 97 == 13: left every group
    assert not world.rooms[gone] and st.boards.standing(gone)[0] is None
    assert world.rooms[mid(13)] == {ROOMS[0]}  # came back


def test_every_board_lists_the_ledgers_top_ten_with_ties_in_order(scenario: tuple[Storage, World]) -> None:
    st, world = scenario
    want = truth(st, world)
    staff = set(STAFF)
    for board in BOARDS:
        period = None if board == "all" else board
        scores = want.get(board, {})
        for room in [None, *ROOMS]:
            listed = {m for m, rooms in world.rooms.items() if (rooms if room is None else room in rooms)} - staff
            order = sorted(((-s, r, m) for m, (s, r, _i) in scores.items() if m in listed and s > 0))
            top = st.boards.top(10, period=period, exclude=STAFF, room=room)
            assert [(b.member, b.points) for b in top] == [(m, -s) for s, _r, m in order[:10]], (board, room)
    tiny = [m for m, rooms in world.rooms.items() if "tiny" in rooms]
    assert 0 < len(tiny) < 10  # the small group's path (read from its members) ran


def test_a_change_of_staff_needs_no_rebuild(scenario: tuple[Storage, World]) -> None:
    st, world = scenario
    want = truth(st, world)["all"]
    in_any = {m for m, rooms in world.rooms.items() if rooms}
    who = max((m for m in in_any if m not in STAFF), key=lambda m: (want.get(m, (0,))[0], m))
    assert st.boards.standing(who, exclude=STAFF)[0] == expected_rank(want, in_any - set(STAFF), who)
    assert st.boards.standing(who, exclude=STAFF[:1])[0] == expected_rank(want, in_any - {STAFF[0]}, who)
    assert st.boards.standing(who)[0] == expected_rank(want, in_any, who)


def test_the_maintained_counts_pass_the_audit(scenario: tuple[Storage, World]) -> None:
    st, _world = scenario
    assert st.ledger.audit() == []
    with st.db.reading() as conn:
        rows = conn.execute(text("SELECT COUNT(*), COALESCE(SUM(n), 0) FROM board_counts WHERE room = ''")).one()
    assert rows[0] > 50 and rows[1] > MEMBERS  # every board's scores, not a handful


# -- audit catches a count corrupted by hand --------------------------------------------------------

CONFIG = """
[bot]
name = "积分助手"
self_id = "bot"
timezone = "Asia/Shanghai"
"""


def test_audit_names_a_board_count_corrupted_by_hand(db_url: str, tmp_path: Path) -> None:
    st = Storage.open(make_engine(db_url), TZ)
    try:
        st.presence.see_room("g1", "g1", START)
        for who, points in (("a", 30), ("b", 30), ("c", 50)):
            st.presence.see_member(who, who, START)
            st.presence.see_in_room("g1", who, START)
            st.ledger.award(member=who, points=points, kind=Kind.ADMIN_AWARD, key=f"k:{who}", at=START)
        assert st.ledger.audit() == []
        with st.db.transaction() as conn:  # one member too many at 30 points in g1, all time
            conn.execute(text("UPDATE board_counts SET n = n + 1 WHERE board = 'all' AND room = 'g1' AND score = 30"))
        assert st.boards.standing("c", room="g1")[0] == 1
    finally:
        st.db.engine.dispose()
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    res = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "audit", "--config", str(tmp_path / "config.toml"),
                          "--db", db_url], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "board counts: all in group g1 score 30 counts 3 members, 2 listed hold it" in res.stdout, res.stdout


def test_leaving_and_coming_back_moves_a_members_scores_off_and_back_onto_the_boards(db_url: str) -> None:
    st = Storage.open(make_engine(db_url), TZ)
    try:
        st.presence.see_room("g1", "g1", START)
        st.presence.see_room("g2", "g2", START)
        for who, points in (("a", 30), ("b", 20)):
            st.presence.see_member(who, who, START)
            st.presence.see_in_room("g1", who, START)
            st.presence.see_in_room("g2", who, START)
            st.ledger.award(member=who, points=points, kind=Kind.ADMIN_AWARD, key=f"k:{who}", at=START)
        week = periods(date(2026, 11, 27))[0]
        assert st.boards.standing("b", period=week) == (2, 20)
        st.presence.left_room("g1", "a", START)  # still in g2: still on the company-wide board
        assert st.boards.standing("b", period=week) == (2, 20)
        assert st.boards.standing("b", room="g1") == (1, 20)
        st.presence.left_room("g2", "a", START)
        assert st.boards.standing("b", period=week) == (1, 20) and st.boards.standing("a") == (None, 30)
        st.presence.left_room("g2", "a", START)  # a leave seen twice changes nothing
        st.presence.see_in_room("g2", "a", START)
        assert st.boards.standing("b") == (2, 20) and st.boards.standing("b", room="g1") == (1, 20)
        assert st.ledger.audit() == []
    finally:
        st.db.engine.dispose()
