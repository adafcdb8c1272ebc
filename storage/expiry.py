"""Points expiry: every earning is a lot; spending takes the oldest lots first; what is left of a lot expires.

With a policy on, the ledger keeps, beside each entry, which lots it filled or drew on:

- a credit opens a lot of its points (what pays off a debt first is drawn from it at once), expiring at
  the start of the local day after `days` days (rolling) or at the end of the year after the year
  earned (year_end); a refund puts back exactly what its redeem drew, into the lots it drew from, except
  that refunded points never expire sooner than `refund_days` local days after the refund: what would go
  back into a lot expiring before then goes into a new lot of the refund's instead, expiring then (so a
  member refunded the day before a lot expires still has the points to use, and no longer);
- a debit (a redemption, a deduction, a makeup) draws from the lots that expire first; a reversal of a
  credit draws from that credit's own lot first; what no lot covers is a debt (balance below zero);
- the daily run writes one `expire` entry per member for the remainders of lots past their time.

So an expiry never takes a point that was spent, nor one already expired: `audit` checks, entry by
entry, that every lot's points equal its remainder plus what entries drew from it, that an `expire`
entry draws only on lots past their time, and that each balance is what its lots hold (less any debt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from storage import keys
from storage.db import Database, Locked, loaded_datetime, lock_member
from storage.ledger import Entry, Ledger, Line
from storage.tables import DAILY_COUNTERS, LEDGER, LOT_USES, MEMBERS, POINT_LOTS
from storage.vocabulary import Kind

LOT, USE, L, M, DC = POINT_LOTS, LOT_USES, LEDGER, MEMBERS, DAILY_COUNTERS

EXPIRE = Kind.EXPIRE
WARNED = "expiry_warned"  # daily_counters kind: the day a member was last told their points expire soon


@dataclass(frozen=True)
class Policy:
    kind: str  # rolling | year_end
    days: int
    tz: ZoneInfo
    refund_days: int = 7  # refunded points stay spendable at least this many local days after the refund

    def expires_at(self, earned: datetime) -> datetime:
        """When points earned at `earned` stop being spendable: the start of a local day."""
        day = earned.astimezone(self.tz).date()
        # year_end: through the end of the year after the year earned
        last = day + timedelta(days=self.days) if self.kind == "rolling" else date(day.year + 1, 12, 31)
        return datetime.combine(last + timedelta(days=1), time(0), tzinfo=self.tz)

    def refund_floor(self, refunded: datetime) -> datetime:
        """The earliest a refund at `refunded` may expire: the start of the local day after `refund_days` days."""
        last = refunded.astimezone(self.tz).date() + timedelta(days=self.refund_days)
        return datetime.combine(last + timedelta(days=1), time(0), tzinfo=self.tz)


@dataclass(frozen=True)
class Expired:
    member: str
    points: int
    balance: int


@dataclass(frozen=True)
class Notice:
    member: str
    points: int
    expires_at: datetime  # the earliest of the lots warned about


class Lots:
    """The lot book of one ledger: attached as an entry hook, so every entry fills or draws on lots."""

    def __init__(self, ledger: Ledger, policy: Policy) -> None:
        self.ledger = ledger
        self.db: Database = ledger.db
        self.policy = policy
        st = self.db.statement
        self._open = st("INSERT INTO point_lots (member_id, entry_id, points, remaining, earned_at, expires_at, warned) "
                        "VALUES (:member, :entry, :points, :remaining, :at, :expires, :no) RETURNING id")
        self._use = st("INSERT INTO lot_uses (entry_id, lot_id, points) VALUES (:entry, :lot, :points)")
        self._take = st("UPDATE point_lots SET remaining = remaining - :points WHERE id = :lot")
        self._live = st("SELECT id, remaining FROM point_lots WHERE member_id = :member AND remaining > 0 "
                        "ORDER BY expires_at, id")
        self._own = st("SELECT id, remaining FROM point_lots WHERE entry_id = :entry AND remaining > 0")
        self._drawn = st("SELECT u.lot_id, u.points, l.expires_at FROM lot_uses u JOIN point_lots l ON l.id = u.lot_id "
                         "WHERE u.entry_id = :entry AND u.points > 0 ORDER BY u.lot_id")
        self._delta = st("SELECT delta FROM ledger WHERE id = :id")
        self._due = st("SELECT DISTINCT member_id FROM point_lots WHERE remaining > 0 AND expires_at <= :at "
                       "ORDER BY member_id")
        self._due_of = st("SELECT id, remaining FROM point_lots WHERE member_id = :member AND remaining > 0 "
                          "AND expires_at <= :at ORDER BY expires_at, id")
        ledger.entry_hooks.append(self._entries)
        ledger.audits.append(self.audit)

    # -- kept beside every entry (the ledger's entry hook) ----------------------------------------

    def _entries(self, conn: Connection, locked: Locked, entries: Sequence[Entry]) -> None:
        for e in entries:
            if e.kind == EXPIRE:
                continue  # the daily run books what an expiry draws itself
            before = e.balance_after - e.delta
            undone = None if e.reverses is None else (e.reverses, int(self._delta.run(conn, id=e.reverses).fetchone()[0]))
            if e.delta > 0:
                self._credit(conn, e.member, e.id, e.delta, before, e.at, undone)
            elif e.delta < 0:
                self._debit(conn, e.member, e.id, -e.delta, undone)

    def _draw(self, conn: Connection, entry: int | None, lot: int, n: int) -> None:
        self._take.run(conn, points=n, lot=lot)
        self._use.run(conn, entry=entry, lot=lot, points=n)

    def _credit(self, conn: Connection, member: str, entry: int, n: int, before: int, at: datetime,
                undone: tuple[int, int] | None) -> None:
        debt = min(n, max(0, -before))
        rest = n - debt
        expires = self.policy.expires_at(at)
        if undone is not None and undone[1] < 0:
            # a refund: the points go back into the lots its redeem drew from, keeping their expiry, unless
            # that comes before the floor; then they stay in the refund's own lot (`rest`), which expires at
            # the floor (not a fresh full term: redeem and cancel must not renew expiring points)
            floor = expires = self.policy.refund_floor(at)
            for lot, drawn, lot_expires in self._drawn.run(conn, entry=undone[0]).fetchall():
                back = min(rest, int(drawn))
                if back and loaded_datetime(lot_expires) >= floor:
                    self._take.run(conn, points=-back, lot=lot)
                    self._use.run(conn, entry=entry, lot=lot, points=-back)
                    rest -= back
        if debt or rest:
            lot = self._open.run(conn, member=member, entry=entry, points=debt + rest, remaining=debt + rest,
                                 at=self.db.at(at), expires=self.db.at(expires), no=False).fetchone()[0]
            if debt:  # paying off a debt draws on the new lot at once
                self._draw(conn, entry, int(lot), debt)

    def _debit(self, conn: Connection, member: str, entry: int, n: int, undone: tuple[int, int] | None) -> None:
        lots: list[tuple[int, int]] = []
        if undone is not None and undone[1] > 0:
            lots = [(int(i), int(r)) for i, r in self._own.run(conn, entry=undone[0]).fetchall()]
        lots += [(int(i), int(r)) for i, r in self._live.run(conn, member=member).fetchall()
                 if all(int(i) != j for j, _ in lots)]
        for lot, remaining in lots:
            if n == 0:
                break
            take = min(n, remaining)
            self._draw(conn, entry, lot, take)
            n -= take
        # what is left over is a debt: the balance went below zero (only reversals may do that)

    # -- the daily run ----------------------------------------------------------------------------

    def expire(self, at: datetime) -> list[Expired]:
        """Write an `expire` entry for each member whose lots passed their time; one transaction per member."""
        db = self.db
        with db.reading() as conn:
            due = [str(r[0]) for r in self._due.run(conn, at=db.at(at)).fetchall()]
        out = []
        for member in due:
            with db.transaction() as conn:
                locked = lock_member(conn, member)
                # the member's lots are read under the lock: a spend may have drawn on them meanwhile
                lots = [(int(i), int(r)) for i, r in self._due_of.run(conn, member=member, at=db.at(at)).fetchall()]
                total = sum(r for _, r in lots)
                if not total:
                    continue
                key = keys.expire(at.astimezone(self.policy.tz).date(), member)
                if self.ledger.key_used(conn, key):
                    continue
                [entry] = self.ledger.append(conn, locked, [Line(-total, EXPIRE, key, detail="积分过期")], at)
                for lot, n in lots:
                    self._draw(conn, entry.id, lot, n)
                out.append(Expired(member=member, points=total, balance=locked.points - total))
        return out

    def warn(self, at: datetime, within: timedelta) -> list[Notice]:
        """Members with points expiring in (at, at + within] not warned about yet; marks those lots warned.

        A member is told at most once per `within`: with rolling expiry and daily check-ins some points
        come due every day, and one reminder a week says it all.
        """
        today = at.astimezone(self.policy.tz).date()
        recently = select(DC.c.member_id).where(DC.c.kind == WARNED, DC.c.day > today - within)
        due = [LOT.c.remaining > 0, LOT.c.warned.is_(False), LOT.c.expires_at > at, LOT.c.expires_at <= at + within,
               LOT.c.member_id.not_in(recently)]
        with self.db.transaction() as conn:
            rows = conn.execute(
                select(LOT.c.member_id, func.sum(LOT.c.remaining).label("n"), func.min(LOT.c.expires_at).label("first"))
                .where(*due).group_by(LOT.c.member_id).order_by(LOT.c.member_id)).all()
            if rows:
                conn.execute(update(LOT).where(*due).values(warned=True))
                conn.execute(insert(DC), [{"member_id": r.member_id, "kind": WARNED, "day": today, "count": 1}
                                          for r in rows])
        return [Notice(member=r.member_id, points=int(r.n), expires_at=_aware(r.first, self.policy.tz)) for r in rows]

    def credited_until(self, key: str) -> datetime | None:
        """When the first of the lots the credit `key` put points into expires (None: no such credit or lot)."""
        with self.db.reading() as conn:
            entry = conn.execute(select(L.c.id).where(L.c.key == key)).scalar()
            if entry is None:
                return None
            into = select(USE.c.lot_id).where(USE.c.entry_id == entry, USE.c.points < 0)
            first = conn.execute(select(func.min(LOT.c.expires_at))
                                 .where((LOT.c.entry_id == entry) | LOT.c.id.in_(into))).scalar()
        return None if first is None else _aware(first, self.policy.tz)

    def expiring(self, member: str, at: datetime, within: timedelta) -> tuple[int, datetime | None]:
        """Points of `member` that expire in (at, at + within], and the first time any of them does."""
        with self.db.reading() as conn:
            row = conn.execute(select(func.sum(LOT.c.remaining), func.min(LOT.c.expires_at))
                               .where(LOT.c.member_id == member, LOT.c.remaining > 0, LOT.c.expires_at > at,
                                      LOT.c.expires_at <= at + within)).first()
        if row is None or not row[0]:
            return 0, None
        return int(row[0]), _aware(row[1], self.policy.tz)

    # -- start and audit --------------------------------------------------------------------------

    def settle(self, at: datetime) -> int:
        """Make the lots hold every balance, once at start. A database from before expiry was on (or from a
        time it was off) gets a lot, counted from `at`, for points held beyond what its lots hold; lots
        holding more than the balance give up the excess, oldest first (a draw of no entry).

        Returns how many members were settled.
        """
        with self.db.transaction() as conn:
            held = {r.member_id: int(r.n) for r in conn.execute(
                select(LOT.c.member_id, func.sum(LOT.c.remaining).label("n")).group_by(LOT.c.member_id))}
            wrong = [(m.id, max(0, m.points) - held.get(m.id, 0)) for m in conn.execute(select(M.c.id, M.c.points))
                     if held.get(m.id, 0) != max(0, m.points)]
            for member, short in wrong:
                if short > 0:
                    conn.execute(insert(LOT).values(member_id=member, entry_id=None, points=short, remaining=short,
                                                    earned_at=at, expires_at=self.policy.expires_at(at), warned=False))
                    continue
                excess = -short
                for lot, remaining in self._live.run(conn, member=member).fetchall():
                    take = min(excess, int(remaining))
                    self._draw(conn, None, int(lot), take)
                    excess -= take
                    if not excess:
                        break
        return len(wrong)

    def audit(self, conn: Connection) -> list[str]:
        problems: list[str] = []
        drawn = {r.lot_id: int(r.n) for r in conn.execute(
            select(USE.c.lot_id, func.sum(USE.c.points).label("n")).group_by(USE.c.lot_id))}
        held: dict[str, int] = {}
        expiry: dict[int, datetime] = {}
        for lot in conn.execute(select(LOT)):
            expiry[lot.id] = lot.expires_at
            if not 0 <= lot.remaining <= lot.points:
                problems.append(f"lot {lot.id} ({lot.member_id}): remainder {lot.remaining} outside 0..{lot.points}")
            if lot.points != lot.remaining + drawn.get(lot.id, 0):
                problems.append(f"lot {lot.id} ({lot.member_id}): {lot.points} points != remainder {lot.remaining} "
                                f"+ drawn {drawn.get(lot.id, 0)}")
            held[lot.member_id] = held.get(lot.member_id, 0) + lot.remaining
        for m in conn.execute(select(M.c.id, M.c.points)):
            if held.get(m.id, 0) != max(0, m.points):
                problems.append(f"member {m.id}: lots hold {held.get(m.id, 0)} points, balance is {m.points}")
        uses: dict[int, list[tuple[int, int]]] = {}
        for u in conn.execute(select(USE.c.entry_id, USE.c.lot_id, USE.c.points)):
            uses.setdefault(u.entry_id, []).append((u.lot_id, int(u.points)))
        for e in conn.execute(select(L.c.id, L.c.member_id, L.c.delta, L.c.at).where(L.c.kind == EXPIRE)):
            took = uses.get(e.id, [])
            if sum(n for _, n in took) != -e.delta:
                problems.append(f"expire entry {e.id} ({e.member_id}): {-e.delta} points but lots gave "
                                f"{sum(n for _, n in took)}")
            for lot_id, n in took:
                if n <= 0 or lot_id not in expiry or expiry[lot_id] > e.at:
                    problems.append(f"expire entry {e.id} ({e.member_id}) took {n} from lot {lot_id}, not yet due")
        return problems


def _aware(v: Any, tz: ZoneInfo) -> datetime:
    return loaded_datetime(v).astimezone(tz)
