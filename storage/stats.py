"""The programme's figures for a period: members, activity, check-in rate, retention, points accounting, mall.

What every figure means is written down in docs/figures.md; this module is the one place that computes them
(the `统计` command, `run_bot.py stats` and the console's 概览 all call `Figures.compute`). Every query reads
an index: the ledger by `ix_ledger_at` over a date range (summed by kind), member days by day, check-ins
by day, members once (100k rows at most). Staff (bot.admins, passed in) are left out of every member count.

Every ledger kind falls in exactly one bucket of the accounting (BUCKETS), each bucket a signed sum of the
deltas of its kinds, so closing = opening + earned - reversed - redeemed + refunded - expired holds whenever
the stored balances equal the ledger (the audit's first invariant): opening and closing are computed on their
own (the ledger before the period, the balances less what came after), not from the buckets.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, case, func, select, union

from storage.codecs import loaded_datetime
from storage.db import Database
from storage.models import CHECKINS, LEDGER, MALL_ORDERS, MEMBER_DAYS, MEMBERS, ROOM_MEMBERS
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
EARNING = tuple(str(k) for k, b in BUCKETS.items() if b is Bucket.EARNED)

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


@dataclass(frozen=True)
class _Member:
    joined: date  # local day first seen
    left: date | None  # local day they left their last group; None while in one


class Figures:
    """Computes a Report from the database; read-only (a read-only engine will do)."""

    def __init__(self, db: Database, tz: ZoneInfo) -> None:
        self.db = db
        self.tz = tz

    def _at(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.tz)

    def compute(self, *, end: date, start: date | None = None, staff: Collection[str] = (),
                top: int = 5) -> Report:
        """The figures for local days [start, end) (start None: from the first entry); staff left out."""
        if start is not None and start >= end:
            raise ValueError(f"empty period: {start} to {end}")
        staff = frozenset(staff)
        with self.db.reading() as conn:
            people = self._members(conn, staff)
            first = start if start is not None else min((m.joined for m in people.values()), default=end - timedelta(1))
            first = min(first, end - timedelta(days=1))
            active_period = self._active(conn, start, end, people)
            active_7 = self._active(conn, end - timedelta(days=7), end, people)
            active_30 = self._active(conn, end - timedelta(days=30), end, people)
            days = self._checkin_days(conn, min(first, end - timedelta(days=7)), end, people, staff)
            last7 = [d for d in days if d.day >= end - timedelta(days=7)]
            shown = [d for d in days if d.day >= first]
            seen = sum(d.members for d in last7)
            rate7 = sum(d.checkins for d in last7) / seen if seen else 0.0
            retention = self._retention(conn, start, end, people)
            points = self._points(conn, start, end)
            top_items, redeemers = self._mall(conn, start, end, people, top)

        def in_period(d: date) -> bool:
            return (start is None or d >= start) and d < end

        return Report(
            start=start, end=end,
            members=sum(1 for m in people.values() if m.left is None),
            joined=sum(1 for m in people.values() if in_period(m.joined)),
            left=sum(1 for m in people.values() if m.left is not None and in_period(m.left)),
            active=len(active_period), active_7d=len(active_7), active_30d=len(active_30),
            checkin_rate_7d=rate7, checkin_days=shown, retention=retention, points=points,
            top_items=top_items, redeemers=redeemers,
            conversion=redeemers / len(active_period) if active_period else 0.0)

    # -- members and activity ---------------------------------------------------------------------

    def _members(self, conn: Connection, staff: frozenset[str]) -> dict[str, _Member]:
        """Every contact ever in a served group (staff aside): the local day first seen, the day they left."""
        rm = ROOM_MEMBERS
        q = (select(MEMBERS.c.id, MEMBERS.c.created_at, func.max(case((rm.c.active.is_(True), 1), else_=0)).label("inside"),
                    func.max(rm.c.left_at).label("left_at"))
             .select_from(MEMBERS.join(rm, rm.c.member_id == MEMBERS.c.id))
             .group_by(MEMBERS.c.id, MEMBERS.c.created_at))
        out: dict[str, _Member] = {}
        for r in conn.execute(q):
            if r.id in staff:
                continue
            left = None
            if not r.inside and r.left_at is not None:
                left = loaded_datetime(r.left_at).astimezone(self.tz).date()
            out[r.id] = _Member(joined=loaded_datetime(r.created_at).astimezone(self.tz).date(), left=left)
        return out

    def _active(self, conn: Connection, start: date | None, end: date, people: dict[str, _Member]) -> set[str]:
        """Members (of `people`) who sent the bot a message or earned points on a local day in [start, end)."""
        md, lg = MEMBER_DAYS, LEDGER
        said = select(md.c.member_id).where(md.c.day < end)
        earning = and_(lg.c.at < self._at(end), lg.c.kind.in_(EARNING), lg.c.delta > 0)
        if start is not None:
            said = said.where(md.c.day >= start)
            earned = select(lg.c.member_id).where(earning, lg.c.at >= self._at(start))
        else:  # since the start: one probe of each member's entries (ix_ledger_member_id), not the whole ledger
            earned = select(MEMBERS.c.id).where(
                select(lg.c.id).where(lg.c.member_id == MEMBERS.c.id, earning).exists())
        return {r[0] for r in conn.execute(union(said, earned))} & people.keys()

    def _checkin_days(self, conn: Connection, start: date, end: date, people: dict[str, _Member],
                      staff: frozenset[str]) -> list[DayRate]:
        """Check-ins of each local day in [start, end) against the members in some group that day."""
        c = CHECKINS
        # counted off ix_checkins_day (day, makeup) alone; staff's own (with bot.staff_earn) taken out after
        q = (select(c.c.day, func.count()).where(c.c.day >= start, c.c.day < end, c.c.makeup.is_(False))
             .group_by(c.c.day))
        counts = {_as_date(d): int(n) for d, n in conn.execute(q)}
        if staff:
            for d, n in conn.execute(q.where(c.c.member_id.in_(sorted(staff)))):
                counts[_as_date(d)] -= int(n)
        # members in a group on day d: joined on or before d, and not left before d (left on d still counts)
        joins = _tally(m.joined for m in people.values())
        leaves = _tally(m.left for m in people.values() if m.left is not None)
        inside = sum(n for d, n in joins.items() if d < start) - sum(n for d, n in leaves.items() if d < start)
        out = []
        day = start
        while day < end:
            inside += joins.get(day, 0)
            out.append(DayRate(day, counts.get(day, 0), inside))
            inside -= leaves.get(day, 0)
            day += timedelta(days=1)
        return out

    def _retention(self, conn: Connection, start: date | None, end: date,
                   people: dict[str, _Member]) -> list[Cohort]:
        """For each join week starting in the period: the share of its members active 1, 2 and 4 weeks on."""
        weeks: dict[date, set[str]] = {}
        for member, m in people.items():
            week = m.joined - timedelta(days=m.joined.weekday())
            weeks.setdefault(week, set()).add(member)
        chosen = sorted(w for w in weeks if (start is None or w >= start - timedelta(days=start.weekday())) and w < end)
        if start is None:
            chosen = chosen[-ALL_TIME_COHORTS:]
        active: dict[date, set[str]] = {}
        out = []
        for week in chosen:
            retained: dict[int, float | None] = {}
            for k in RETENTION_WEEKS:
                w0 = week + timedelta(weeks=k)
                if w0 + timedelta(days=7) > end:
                    retained[k] = None
                    continue
                if w0 not in active:
                    active[w0] = self._active(conn, w0, w0 + timedelta(days=7), people)
                retained[k] = len(weeks[week] & active[w0]) / len(weeks[week])
            out.append(Cohort(week, len(weeks[week]), retained))
        return out

    # -- points and the mall ------------------------------------------------------------------------

    def _points(self, conn: Connection, start: date | None, end: date) -> Points:
        lg = LEDGER
        until = self._at(end)
        q = select(lg.c.kind, func.sum(lg.c.delta)).where(lg.c.at < until).group_by(lg.c.kind)
        if start is not None:
            q = q.where(lg.c.at >= self._at(start))
        by_kind = {k: int(n or 0) for k, n in conn.execute(q)}
        opening = 0
        if start is not None:
            opening = int(conn.execute(select(func.coalesce(func.sum(lg.c.delta), 0))
                                       .where(lg.c.at < self._at(start))).scalar_one())
        after = int(conn.execute(select(func.coalesce(func.sum(lg.c.delta), 0)).where(lg.c.at >= until)).scalar_one())
        balances = int(conn.execute(select(func.coalesce(func.sum(MEMBERS.c.points), 0))).scalar_one())
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
                      refunded=sums[Bucket.REFUNDED], expired=sums[Bucket.EXPIRED], closing=balances - after,
                      other=other)

    def _mall(self, conn: Connection, start: date | None, end: date, people: dict[str, _Member],
              top: int) -> tuple[list[TopItem], int]:
        """The most ordered items of the period (orders that still stand) and how many members ordered."""
        o = MALL_ORDERS
        where = and_(o.c.created_at < self._at(end), o.c.status.not_in([str(s) for s in CLOSED]))
        if start is not None:
            where = and_(where, o.c.created_at >= self._at(start))
        q = (select(o.c.sku, func.min(o.c.name).label("name"), func.count().label("n"),
                    func.sum(o.c.points).label("points"))
             .where(where).group_by(o.c.sku).order_by(func.count().desc(), o.c.sku).limit(top))
        items = [TopItem(r.sku, r.name, int(r.n), int(r.points or 0)) for r in conn.execute(q)]
        buyers = {r[0] for r in conn.execute(select(o.c.member_id).where(where).distinct())}
        return items, len(buyers & people.keys())


def _bucket(kind: str) -> Bucket | None:
    try:
        return BUCKETS.get(Kind(kind))
    except ValueError:  # a kind this code does not know (any string is stored as given)
        return None


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _tally(days: Iterable[date]) -> dict[date, int]:
    out: dict[date, int] = {}
    for d in days:
        out[d] = out.get(d, 0) + 1
    return out


__all__ = ["BUCKETS", "Bucket", "Cohort", "DayRate", "Figures", "Points", "Report", "TopItem"]
