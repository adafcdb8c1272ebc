"""The programme's figures for a period: members, activity, check-in rate, retention, points accounting, mall.

What every figure means is written down in docs/figures.md; this module is the one place that computes them
(the `统计` command, `run_bot.py stats` and the console's 概览 all call `Figures.compute`). No query reads the
ledger or the check-ins entry by entry: the accounting sums the whole UTC hours of ledger_hours and reads only
the partial hours at the period's edges off `ix_ledger_at` (storage.hours), check-ins per day come from
checkin_counts; member days are one probe of their key per member, members and their groups are read once.
Staff (bot.admins, passed in) are left out of every member count.

Every ledger kind falls in exactly one bucket of the accounting (BUCKETS), each bucket a signed sum of the
deltas of its kinds, so closing = opening + earned - reversed - redeemed + refunded - expired holds whenever
every kind has a bucket. Opening and closing are read off the stored balances less the entries since (so from
the start, the identity also says the balances equal the ledger, the audit's first invariant).
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from time import monotonic
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, select

from storage.codecs import loaded_datetime
from storage.db import Database
from storage.hours import Hours
from storage.tables import CHECKIN_COUNTS, CHECKINS, MALL_ORDERS, MEMBERS
from storage.vocabulary import CLOSED, Kind


class Bucket(StrEnum):
    """Where a ledger kind counts in the points accounting."""

    EARNED = "earned"  # every rule's award, operator 加分, imported balances
    REVERSED = "reversed"  # clawbacks (invites, task tiers), 撤销, operator 扣分
    REDEEMED = "redeemed"  # mall spending and 补签's cost
    REFUNDED = "refunded"
    EXPIRED = "expired"


# every Kind in exactly one bucket (tests/storage/test_stats.py fails when a Kind has none)
BUCKETS: dict[Kind, Bucket] = {
    Kind.CHECKIN: Bucket.EARNED,
    Kind.CHECKIN_STREAK: Bucket.EARNED,
    Kind.CHECKIN_TOTAL: Bucket.EARNED,
    Kind.INVITE: Bucket.EARNED,
    Kind.NEWCOMER: Bucket.EARNED,
    Kind.TASK: Bucket.EARNED,
    Kind.PROFILE: Bucket.EARNED,
    Kind.FOLLOW: Bucket.EARNED,
    Kind.QUIZ: Bucket.EARNED,
    Kind.ADMIN_AWARD: Bucket.EARNED,
    Kind.IMPORT: Bucket.EARNED,
    Kind.INVITE_REVOKE: Bucket.REVERSED,
    Kind.TASK_REVOKE: Bucket.REVERSED,
    # 撤销 undoes a 加分 (negative delta: counts as reversed) or a 扣分 (positive: takes back what the 扣分
    # counted as reversed), so a 加分 or 扣分 undone in the same period nets to nothing
    Kind.REVERSAL: Bucket.REVERSED,
    Kind.ADMIN_DEDUCT: Bucket.REVERSED,
    Kind.REDEEM: Bucket.REDEEMED,
    Kind.MAKEUP: Bucket.REDEEMED,
    Kind.REFUND: Bucket.REFUNDED,
    Kind.EXPIRE: Bucket.EXPIRED,
}

# the sign that turns a bucket's sum of deltas into the (usually positive) figure it shows
SIGN: dict[Bucket, int] = {Bucket.EARNED: 1, Bucket.REVERSED: -1, Bucket.REDEEMED: -1, Bucket.REFUNDED: 1,
                           Bucket.EXPIRED: -1}

# kinds whose positive entries make a member active that day (they earned something)
EARNING = frozenset(str(k) for k, b in BUCKETS.items() if b is Bucket.EARNED)

RETENTION_WEEKS = (1, 2, 4)
ALL_TIME_COHORTS = 8  # without a start, retention shows the latest join weeks only


@dataclass(frozen=True)
class Points:
    """The points accounting of the period; `other` holds kinds no bucket names (none, while the table is whole)."""

    opening: int
    earned: dict[str, int]  # by ledger kind
    reversed: int
    redeemed: int
    refunded: int
    expired: int
    closing: int
    other: dict[str, int] = field(default_factory=dict)

    @property
    def earned_total(self) -> int:
        return sum(self.earned.values())

    @property
    def holds(self) -> bool:
        """closing = opening + earned - reversed - redeemed + refunded - expired, exactly."""
        return self.closing == (self.opening + self.earned_total - self.reversed - self.redeemed + self.refunded
                                - self.expired) and not self.other


@dataclass(frozen=True)
class DayRate:
    day: date
    checkins: int
    members: int  # members in some group that day

    @property
    def rate(self) -> float:
        return self.checkins / self.members if self.members else 0.0


@dataclass(frozen=True)
class Cohort:
    week: date  # the Monday of the join week
    size: int
    retained: dict[int, float | None]  # weeks after -> share active in that week; None while it has not ended


@dataclass(frozen=True)
class TopItem:
    sku: str
    name: str
    orders: int
    points: int


@dataclass(frozen=True)
class Report:
    """The figures for local days [start, end); start None: all time."""

    start: date | None
    end: date
    members: int  # in some served group now
    joined: int  # first seen in the period (and ever in a group)
    left: int  # no longer in any group, having left the last one in the period
    active: int  # active in the period
    active_7d: int  # active in the 7 days before `end`
    active_30d: int
    checkin_rate_7d: float
    checkin_days: list[DayRate]
    retention: list[Cohort]
    points: Points
    top_items: list[TopItem]
    redeemers: int  # members with an order placed in the period that still stands
    conversion: float  # redeemers / active

    def as_json(self) -> dict[str, Any]:
        p = self.points
        return {
            "from": self.start.isoformat() if self.start else None, "to": self.end.isoformat(),
            "members": self.members, "joined": self.joined, "left": self.left, "active": self.active,
            "active_7d": self.active_7d, "active_30d": self.active_30d,
            "checkin_rate_7d": round(self.checkin_rate_7d, 4),
            "checkin_by_day": [{"day": d.day.isoformat(), "checkins": d.checkins, "members": d.members,
                                "rate": round(d.rate, 4)} for d in self.checkin_days],
            "retention": [{"week": c.week.isoformat(), "size": c.size,
                           **{f"after_{k}w": None if v is None else round(v, 4) for k, v in c.retained.items()}}
                          for c in self.retention],
            "points": {"opening": p.opening, "earned": dict(p.earned), "earned_total": p.earned_total,
                       "reversed": p.reversed, "redeemed": p.redeemed, "refunded": p.refunded, "expired": p.expired,
                       "closing": p.closing, "identity_holds": p.holds, **({"other": p.other} if p.other else {})},
            "top_items": [asdict(t) for t in self.top_items],
            "redeemers": self.redeemers, "conversion": round(self.conversion, 4),
        }


class _People(NamedTuple):
    """Contacts ever in a served group (staff aside), as counts."""

    joins: dict[date, int]  # by the day first seen
    leaves: dict[date, int]  # those in no group now, by the day they left their last one
    inside: int  # in some group now
    active: list[int]  # with a member day before the period's end and on or after each window's start
    buyers: int  # with an order placed in the period that still stands


PARALLEL_FROM = 20_000  # members: below this the pass over them takes a few tens of ms, not worth a thread
SPLIT_SECONDS = 600.0

# a member ever in a served group (room_members keeps a row for each group they were in)
_EVER = "EXISTS (SELECT 1 FROM room_members r WHERE r.member_id = m.id)"


def _not_staff(staff: frozenset[str], column: str) -> tuple[str, dict[str, Any]]:
    """The SQL that leaves staff out of `column`, and its parameters."""
    if not staff:
        return "", {}
    names = sorted(staff)
    marks = ", ".join(f":staff{i}" for i in range(len(names)))
    return f" AND {column} NOT IN ({marks})", {f"staff{i}": n for i, n in enumerate(names)}


class Figures:
    """Computes a Report from the database; read-only (a read-only engine will do)."""

    def __init__(self, db: Database, tz: ZoneInfo) -> None:
        self.db = db
        self.tz = tz
        self.hours = Hours(db)  # the points accounting: whole UTC hours summed there, the edges from the ledger
        self._halves: tuple[float, str | None] | None = None  # (when found, the id that halves the members)

    def _at(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.tz)

    def compute(self, *, end: date, start: date | None = None, staff: Collection[str] = (),
                top: int = 5) -> Report:
        """The figures for local days [start, end) (start None: from the first entry); staff left out."""
        if start is not None and start >= end:
            raise ValueError(f"empty period: {start} to {end}")
        staff = frozenset(staff)
        with self.db.reading() as conn:
            people = self._people(conn, start, end, [start, end - timedelta(days=7), end - timedelta(days=30)], staff)
            first = start if start is not None else min(people.joins, default=end - timedelta(1))
            first = min(first, end - timedelta(days=1))
            active, active_7, active_30 = people.active
            days = self._checkin_days(conn, min(first, end - timedelta(days=7)), end, people, staff)
            last7 = [d for d in days if d.day >= end - timedelta(days=7)]
            shown = [d for d in days if d.day >= first]
            seen = sum(d.members for d in last7)
            rate7 = sum(d.checkins for d in last7) / seen if seen else 0.0
            retention = self._retention(conn, start, end, people, staff)
            points = self._points(conn, start, end)
            top_items = self._top_items(conn, start, end, top)
            redeemers = people.buyers

        def in_period(d: date) -> bool:
            return (start is None or d >= start) and d < end

        return Report(
            start=start, end=end, members=people.inside,
            joined=sum(n for d, n in people.joins.items() if in_period(d)),
            left=sum(n for d, n in people.leaves.items() if in_period(d)),
            active=active, active_7d=active_7, active_30d=active_30,
            checkin_rate_7d=rate7, checkin_days=shown, retention=retention, points=points,
            top_items=top_items, redeemers=redeemers,
            conversion=redeemers / active if active else 0.0)

    # -- members and activity ---------------------------------------------------------------------

    def _people(self, conn: Connection, start: date | None, end: date, since: list[date | None],
                staff: frozenset[str]) -> _People:
        """Contacts ever in a served group (staff aside), counted in SQL, no row per member reaching Python: by the
        minute first seen (turned into local days here: every zone's offset is whole minutes), with how many of
        them have a member day before `end` and on or after each of `since` (None: at all; one probe of the
        member_days key per member finds their latest) and how many placed an order in [start, end) that still
        stands (one probe of ix_mall_orders_buyer each); the few who left their last group, by when; and how many
        are in a group now."""
        db = self.db
        minute = "substr(m.created_at, 1, 16)" if db.sqlite else "date_trunc('minute', m.created_at)"
        not_staff, params = _not_staff(staff, "m.id")
        cols = []
        for i, first in enumerate(since):
            if first is None:
                cols.append("COUNT(last)")
            else:
                cols.append(f"COUNT(CASE WHEN last >= :since{i} THEN 1 END)")
                params[f"since{i}"] = db.day(first)
        closed = {f"closed{i}": str(s) for i, s in enumerate(CLOSED)}
        params |= closed | {"oend": db.at(self._at(end))}
        if start is not None:
            params["ostart"] = db.at(self._at(start))
        ordered = ("EXISTS (SELECT 1 FROM mall_orders o WHERE o.member_id = m.id AND o.created_at < :oend"
                   f"{'' if start is None else ' AND o.created_at >= :ostart'}"
                   f" AND o.status NOT IN ({', '.join(':' + k for k in closed)}))")
        joins: dict[date, int] = {}
        active = [0] * len(since)
        buyers = 0
        sql = (f"SELECT t, COUNT(*), SUM(bought), {', '.join(cols)} FROM (SELECT {minute} AS t, (SELECT MAX(d.day) "
               f"FROM member_days d WHERE d.member_id = m.id AND d.day < :end) AS last, CASE WHEN {ordered} THEN 1 "
               f"ELSE 0 END AS bought FROM members m WHERE {_EVER}{not_staff}{{part}}) p GROUP BY t")
        params["end"] = db.day(end)
        for at, n, bought, *counts in self._per_member(conn, sql, params):
            day = self._local_day(at)
            joins[day] = joins.get(day, 0) + int(n)
            active = [a + int(c) for a, c in zip(active, counts, strict=True)]
            buyers += int(bought or 0)
        leaves: dict[date, int] = {}
        gone, params_r = _not_staff(staff, "r.member_id")
        for left_at, created in db.statement(
                "SELECT MAX(r.left_at), MIN(m.created_at) FROM room_members r JOIN members m ON m.id = r.member_id "
                "WHERE r.active = :no AND NOT EXISTS (SELECT 1 FROM room_members a WHERE a.member_id = r.member_id "
                f"AND a.active = :yes){gone} GROUP BY r.member_id").run(conn, no=False, yes=True,
                                                                          **params_r).fetchall():
            day = self._local_day(created if left_at is None else left_at)  # no time known: the day first seen
            leaves[day] = leaves.get(day, 0) + 1
        inside = db.statement(f"SELECT COUNT(DISTINCT r.member_id) FROM room_members r WHERE r.active = :yes{gone}"
                              ).run(conn, yes=True, **params_r).fetchone()[0]
        return _People(joins, leaves, int(inside), active, buyers)

    def _per_member(self, conn: Connection, sql: str, params: dict[str, Any]) -> list[Any]:
        """The rows of `sql`, a pass over every member ({part} marks where a range of member ids may go): on a
        large community, outside a transaction, the ids are split in two and the halves read at once, the
        second on a connection of its own in a worker thread (SQLite and PostgreSQL both run the two reads on
        two cores). The halves are two snapshots a few milliseconds apart: counts of members, not money."""
        split = self._split(conn)
        if split is None or self.db.in_transaction():
            return list(self.db.statement(sql.format(part="")).run(conn, **params).fetchall())
        upper = self.db.statement(sql.format(part=" AND m.id >= :split"))

        def second() -> list[Any]:
            with self.db.reading() as other:
                return list(upper.run(other, split=split, **params).fetchall())

        with ThreadPoolExecutor(1, thread_name_prefix="figures") as pool:
            later = pool.submit(second)
            rows = list(self.db.statement(sql.format(part=" AND m.id < :split")).run(conn, split=split,
                                                                                      **params).fetchall())
            return rows + later.result()

    def _split(self, conn: Connection) -> str | None:
        """The member id that halves the members when there are more than PARALLEL_FROM of them (else None),
        found once every SPLIT_SECONDS: any id splits correctly, a stale one only less evenly."""
        now = monotonic()
        if self._halves is not None and now - self._halves[0] < SPLIT_SECONDS:
            return self._halves[1]
        total = int(self.db.statement("SELECT COUNT(*) FROM members").run(conn).fetchone()[0])
        split = None
        if total > PARALLEL_FROM:
            row = self.db.statement("SELECT id FROM members ORDER BY id LIMIT 1 OFFSET :half").run(
                conn, half=total // 2).fetchone()
            split = None if row is None else str(row[0])
        self._halves = (now, split)
        return split

    def _local_day(self, value: Any) -> date:
        """The local day of a stored time (SQLite's text, to the minute or more)."""
        return loaded_datetime(value).astimezone(self.tz).date()

    def _stayed(self, conn: Connection, weeks: list[date], joined: tuple[date, date],
                staff: frozenset[str]) -> list[int]:
        """How many members first seen on the local days `joined` (ever in a group, staff aside) were active in each
        of the 7-day `weeks` (their Mondays): one pass over the join week's members, a probe of the member_days key
        per member and week."""
        db = self.db
        not_staff, params = _not_staff(staff, "m.id")
        cols = []
        for i, week in enumerate(weeks):
            cols.append(f"COUNT(CASE WHEN EXISTS (SELECT 1 FROM member_days d WHERE d.member_id = m.id AND "
                        f"d.day >= :w{i} AND d.day < :x{i}) THEN 1 END)")
            params |= {f"w{i}": db.day(week), f"x{i}": db.day(week + timedelta(days=7))}
        sql = (f"SELECT {', '.join(cols)} FROM members m WHERE m.created_at >= :j0 AND m.created_at < :j1 AND {_EVER}"
               f"{not_staff}")
        row = db.statement(sql).run(conn, j0=db.at(self._at(joined[0])), j1=db.at(self._at(joined[1])),
                                    **params).fetchone()
        return [int(n) for n in row]

    def _checkin_days(self, conn: Connection, start: date, end: date, people: _People,
                      staff: frozenset[str]) -> list[DayRate]:
        """Check-ins of each local day in [start, end) against the members in some group that day."""
        c, k = CHECKINS, CHECKIN_COUNTS
        # read off checkin_counts (kept on write: a row per day and shard); staff's own (with bot.staff_earn),
        # probed on their check-ins' key, taken out after
        counts = {_as_date(d): int(n) for d, n in conn.execute(
            select(k.c.day, func.sum(k.c.n)).where(k.c.day >= start, k.c.day < end).group_by(k.c.day))}
        if staff:
            for d, n in conn.execute(
                    select(c.c.day, func.count()).where(c.c.member_id.in_(sorted(staff)), c.c.day >= start,
                                                        c.c.day < end, c.c.makeup.is_(False)).group_by(c.c.day)):
                counts[_as_date(d)] -= int(n)
        # members in a group on day d: joined on or before d, and not left before d (left on d still counts)
        joins, leaves = people.joins, people.leaves
        inside = sum(n for d, n in joins.items() if d < start) - sum(n for d, n in leaves.items() if d < start)
        out = []
        day = start
        while day < end:
            inside += joins.get(day, 0)
            out.append(DayRate(day, counts.get(day, 0), inside))
            inside -= leaves.get(day, 0)
            day += timedelta(days=1)
        return out

    def _retention(self, conn: Connection, start: date | None, end: date, people: _People,
                   staff: frozenset[str]) -> list[Cohort]:
        """For each join week starting in the period: the share of its members active 1, 2 and 4 weeks on."""
        weeks: dict[date, int] = {}
        for day, n in people.joins.items():
            week = day - timedelta(days=day.weekday())
            weeks[week] = weeks.get(week, 0) + n
        chosen = sorted(w for w in weeks if (start is None or w >= start - timedelta(days=start.weekday())) and w < end)
        if start is None:
            chosen = chosen[-ALL_TIME_COHORTS:]
        out = []
        for week in chosen:
            ended = [k for k in RETENTION_WEEKS if week + timedelta(weeks=k, days=7) <= end]  # None until a week ends
            stayed = self._stayed(conn, [week + timedelta(weeks=k) for k in ended],
                                  (week, week + timedelta(days=7)), staff) if ended else []
            retained: dict[int, float | None] = dict.fromkeys(RETENTION_WEEKS)
            retained |= {k: n / weeks[week] for k, n in zip(ended, stayed, strict=True)}
            out.append(Cohort(week, weeks[week], retained))
        return out

    # -- points and the mall ------------------------------------------------------------------------

    def _points(self, conn: Connection, start: date | None, end: date) -> Points:
        until = self._at(end)
        after = self.hours.sums(conn, until, None)  # entries since the period closed (usually none)
        period = self.hours.sums(conn, None if start is None else self._at(start), until)
        by_kind = {k: n for k, (n, c) in period.items() if c}
        balances = int(conn.execute(select(func.coalesce(func.sum(MEMBERS.c.points), 0))).scalar_one())
        closing = balances - sum(n for n, _c in after.values())
        # what members held when the period opened: the closing balances less the period's entries, so the ledger
        # before the period is never read; from the very start it is 0, and the identity checks the balances
        opening = closing - sum(by_kind.values()) if start is not None else 0
        sums: dict[Bucket, int] = dict.fromkeys(Bucket, 0)
        earned: dict[str, int] = {}
        other: dict[str, int] = {}
        for kind, total in sorted(by_kind.items()):
            bucket = _bucket(kind)
            if bucket is None:
                other[kind] = total
            elif bucket is Bucket.EARNED:
                earned[kind] = total
            else:
                sums[bucket] += SIGN[bucket] * total
        return Points(opening=opening, earned=earned, reversed=sums[Bucket.REVERSED], redeemed=sums[Bucket.REDEEMED],
                      refunded=sums[Bucket.REFUNDED], expired=sums[Bucket.EXPIRED], closing=closing, other=other)

    def _top_items(self, conn: Connection, start: date | None, end: date, top: int) -> list[TopItem]:
        """The most ordered items of the period (orders that still stand), off ix_mall_orders_items."""
        o = MALL_ORDERS
        where = and_(o.c.created_at < self._at(end), o.c.status.not_in([str(s) for s in CLOSED]))
        if start is not None:
            where = and_(where, o.c.created_at >= self._at(start))
        q = (select(o.c.sku, func.min(o.c.name).label("name"), func.count().label("n"),
                    func.sum(o.c.points).label("points"))
             .where(where).group_by(o.c.sku).order_by(func.count().desc(), o.c.sku).limit(top))
        return [TopItem(r.sku, r.name, int(r.n), int(r.points or 0)) for r in conn.execute(q)]


def _bucket(kind: str) -> Bucket | None:
    try:
        return BUCKETS.get(Kind(kind))
    except ValueError:  # a kind this code does not know (any string is stored as given)
        return None


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


__all__ = ["BUCKETS", "Bucket", "Cohort", "DayRate", "Figures", "Points", "Report", "TopItem"]
