"""Points expiry: every earning is a lot; spending takes the oldest lots first; what is left of a lot expires.

With a policy on, the ledger keeps, beside each entry, which lots it filled or drew on:

- a credit opens a lot of its points (what pays off a debt first is drawn from it at once), expiring at
  the start of the local day after `days` days (rolling) or at the end of the year after the year
  earned (year_end); a refund puts back exactly what its redeem drew, into the lots it drew from;
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
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from storage.models import DailyCounter, LedgerEntry, LotUse, Member, PointLot

if TYPE_CHECKING:
    from storage.ledger import Ledger

LOT = PointLot.__table__  # type: ignore[attr-defined]
USE = LotUse.__table__  # type: ignore[attr-defined]
L = LedgerEntry.__table__  # type: ignore[attr-defined]
M = Member.__table__  # type: ignore[attr-defined]
DC = DailyCounter.__table__  # type: ignore[attr-defined]

EXPIRE = "expire"
WARNED = "expiry_warned"  # daily_counters kind: the day a member was last told their points expire soon


@dataclass(frozen=True)
class Policy:
    kind: str  # rolling | year_end
    days: int
    tz: ZoneInfo

    def expires_at(self, earned: datetime) -> datetime:
        """When points earned at `earned` stop being spendable: the start of a local day."""
        day = earned.astimezone(self.tz).date()
        # year_end: through the end of the year after the year earned
        last = day + timedelta(days=self.days) if self.kind == "rolling" else date(day.year + 1, 12, 31)
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
    """The lot book of one ledger; every call runs on the connection of the ledger's open transaction."""

    def __init__(self, ledger: Ledger, policy: Policy) -> None:
        self.ledger = ledger
        self.policy = policy
        self._t = ledger._t
        q = {
            "open": "INSERT INTO point_lots (member_id, entry_id, points, remaining, earned_at, expires_at, warned) "
            "VALUES (:member, :entry, :points, :remaining, :at, :expires, :no) RETURNING id",
            "use": "INSERT INTO lot_uses (entry_id, lot_id, points) VALUES (:entry, :lot, :points)",
            "take": "UPDATE point_lots SET remaining = remaining - :points WHERE id = :lot",
            "live": "SELECT id, remaining FROM point_lots WHERE member_id = :member AND remaining > 0 "
            "ORDER BY expires_at, id",
            "own": "SELECT id, remaining FROM point_lots WHERE entry_id = :entry AND remaining > 0",
            "drawn": "SELECT lot_id, points FROM lot_uses WHERE entry_id = :entry AND points > 0 ORDER BY lot_id",
            "due": "SELECT DISTINCT member_id FROM point_lots WHERE remaining > 0 AND expires_at <= :at "
            "ORDER BY member_id",
            "due_of": "SELECT id, remaining FROM point_lots WHERE member_id = :member AND remaining > 0 "
            "AND expires_at <= :at ORDER BY expires_at, id",
        }
        from storage.ledger import _Sql

        self._q = {k: _Sql(v, ledger.dialect).sql for k, v in q.items()}

    def _run(self, conn: Connection, name: str, /, **params: Any) -> Any:
        cur = self.ledger._cursor(conn)
        cur.execute(self._q[name], params)
        return cur

    # -- kept beside every entry (called by Ledger._append) ---------------------------------------

    def entry(self, conn: Connection, *, member: str, entry: int, delta: int, before: int, at: datetime,
              reverses: tuple[int, int] | None, draws: Sequence[tuple[int, int]] | None) -> None:
        """Book entry `entry` (`delta` points, balance `before` it) against the member's lots.

        `reverses` is (id, delta) of the entry it undoes; `draws` the (lot, points) an expiry takes.
        """
        if draws is not None:
            for lot, n in draws:
                self._draw(conn, entry, lot, n)
        elif delta > 0:
            self._credit(conn, member, entry, delta, before, at, reverses)
        elif delta < 0:
            self._debit(conn, member, entry, -delta, reverses)

    def _draw(self, conn: Connection, entry: int, lot: int, n: int) -> None:
        self._run(conn, "take", points=n, lot=lot)
        self._run(conn, "use", entry=entry, lot=lot, points=n)

    def _credit(self, conn: Connection, member: str, entry: int, n: int, before: int, at: datetime,
                reverses: tuple[int, int] | None) -> None:
        debt = min(n, max(0, -before))
        rest = n - debt
        if rest and reverses is not None and reverses[1] < 0:
            # a refund: the points go back into the lots its redeem drew from, keeping their expiry
            for lot, drawn in self._run(conn, "drawn", entry=reverses[0]).fetchall():
                back = min(rest, int(drawn))
                if back:
                    self._run(conn, "take", points=-back, lot=lot)
                    self._run(conn, "use", entry=entry, lot=lot, points=-back)
                    rest -= back
        if debt or rest:
            lot = self._run(conn, "open", member=member, entry=entry, points=debt + rest, remaining=debt + rest,
                            at=self._t(at), expires=self._t(self.policy.expires_at(at)), no=False).fetchone()[0]
            if debt:  # paying off a debt draws on the new lot at once
                self._draw(conn, entry, int(lot), debt)

    def _debit(self, conn: Connection, member: str, entry: int, n: int, reverses: tuple[int, int] | None) -> None:
        lots: list[tuple[int, int]] = []
        if reverses is not None and reverses[1] > 0:
            lots = [(int(i), int(r)) for i, r in self._run(conn, "own", entry=reverses[0]).fetchall()]
        lots += [(int(i), int(r)) for i, r in self._run(conn, "live", member=member).fetchall()
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
        led = self.ledger
        with led.reading() as conn:
            due = [str(r[0]) for r in self._run(conn, "due", at=self._t(at)).fetchall()]
        out = []
        for member in due:
            with led.transaction() as conn:
                points, growth, *_ = led._lock_member(conn, member)
                # the member's lots are read under the lock: a spend may have drawn on them meanwhile
                lots = [(int(i), int(r)) for i, r in self._run(conn, "due_of", member=member, at=self._t(at)).fetchall()]
                total = sum(r for _, r in lots)
                if not total:
                    continue
                key = f"expire:{at.astimezone(self.policy.tz).date().isoformat()}:{member}"
                if led._run(conn, "key_used", key=key).fetchone() is not None:
                    continue
                led._append(conn, member, [{"delta": -total, "growth_delta": 0, "kind": EXPIRE, "key": key,
                                            "detail": "积分过期", "draws": lots}], points, at)
                led._run(conn, "balance", id=member, points=points - total, growth=growth, at=led._t(at))
                out.append(Expired(member=member, points=total, balance=points - total))
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
        with self.ledger.transaction() as conn:
            rows = conn.execute(
                select(LOT.c.member_id, func.sum(LOT.c.remaining).label("n"), func.min(LOT.c.expires_at).label("first"))
                .where(*due).group_by(LOT.c.member_id).order_by(LOT.c.member_id)).all()
            if rows:
                conn.execute(update(LOT).where(*due).values(warned=True))
                conn.execute(insert(DC), [{"member_id": r.member_id, "kind": WARNED, "day": today, "count": 1}
                                          for r in rows])
        return [Notice(member=r.member_id, points=int(r.n), expires_at=_aware(r.first, self.policy.tz)) for r in rows]

    def expiring(self, member: str, at: datetime, within: timedelta) -> tuple[int, datetime | None]:
        """Points of `member` that expire in (at, at + within], and the first time any of them does."""
        with self.ledger.reading() as conn:
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
        led = self.ledger
        with led.transaction() as conn:
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
                for lot, remaining in self._run(conn, "live", member=member).fetchall():
                    take = min(excess, int(remaining))
                    self._run(conn, "take", points=take, lot=lot)
                    self._run(conn, "use", entry=None, lot=lot, points=take)
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
    from datetime import UTC

    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    if v.tzinfo is None:
        v = v.replace(tzinfo=UTC)
    return v.astimezone(tz)  # type: ignore[no-any-return]
