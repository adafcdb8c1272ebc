"""Check-ins, 补签 (makeups) and the days the bot ran: the measured hot path, on raw DBAPI statements.

A check-in is the command members send most; it runs 6-8 statements, so they go straight to the
driver's cursor of the open transaction (storage.db.Statement) instead of through SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, String, and_, cast, func, literal, select

from storage import keys
from storage.db import Database, Locked, Statement, loaded_date, lock_member
from storage.errors import AlreadyCheckedIn, InsufficientPoints, MakeupLimit, MemberFrozen, NothingToMakeUp
from storage.hours import shard
from storage.ledger import Entry, Ledger, Line
from storage.stats import EARNING
from storage.tables import CHECKIN_COUNTS, CHECKINS, LEDGER, MEMBERS
from storage.vocabulary import Kind

COUNTS = "checkin_counts"  # the journal of the open transaction's check-ins (their days)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Reward:
    """One line of a payout: a kind for the ledger and a name the member reads."""

    kind: str
    points: int
    name: str = ""
    days: int = 0  # the bonus's day count (a makeup's bonus keys name it)


@dataclass(frozen=True)
class CheckinResult:
    day: date
    streak: int
    total_days: int
    rewards: tuple[Reward, ...]
    earned: int
    points: int
    growth: int


@dataclass(frozen=True)
class MakeupResult:
    day: date
    cost: int
    points: int
    streak: int
    total_days: int
    used: int
    limit: int
    rewards: tuple[Reward, ...] = ()  # bonuses the repaired days reached
    earned: int = 0


_EARNED_DAYS = "member_days"  # journal: (member, local day) of each earning entry, written with the batch's days


class Checkins:
    """签到 and 补签 on the ledger's database; audits that every check-in is counted and paid.

    Also the member days (who was active on which local day): the pipeline hands over each batch's
    first-of-the-day senders, and an entry hook notes every earning entry's member and day in a journal of the
    open transaction (nothing is written then); `mark_members_active` writes both in one statement.
    """

    def __init__(self, ledger: Ledger, tz: ZoneInfo | None = None) -> None:
        self.ledger = ledger
        self.db: Database = ledger.db
        self.tz = tz
        ledger.audits.append(self.audit)
        ledger.audits.append(self.audit_counts)
        ledger.entry_hooks.append(self._earned)
        st = self.db.statement
        # the figures' check-ins per day (storage.stats): each check-in journaled, the journal written as one
        # executemany upsert just before the transaction commits, into this process's shard
        self.db.before_commit[COUNTS] = self._flush_counts
        self._count = st("INSERT INTO checkin_counts (day, shard, n) VALUES (:day, :shard, :n) "
                         "ON CONFLICT (day, shard) DO UPDATE SET n = checkin_counts.n + excluded.n")
        self._active = st("INSERT INTO active_days (day) VALUES (:day) ON CONFLICT DO NOTHING")
        self._member_days: dict[int, Statement] = {}  # rows per statement -> the statement
        self._active_between = st("SELECT COUNT(*) FROM active_days WHERE day > :after AND day < :before")
        self._checkin = st("INSERT INTO checkins (member_id, day, at, room_id, streak, total_days, points, makeup) "
                           "VALUES (:member, :day, :at, :room, :streak, :total, :points, :makeup)")
        self._has_day = st("SELECT 1 FROM checkins WHERE member_id = :member AND day = :day")
        self._row_points = st("UPDATE checkins SET points = :points WHERE member_id = :member AND day = :day")
        self._row_streak = st("UPDATE checkins SET streak = :streak WHERE member_id = :member AND day = :day")
        self._days = st("SELECT day FROM checkins WHERE member_id = :member AND day >= :since ORDER BY day DESC")
        self._active_days = st("SELECT day FROM active_days WHERE day >= :since AND day <= :until")
        self._makeups = st("SELECT COUNT(*) FROM checkins WHERE member_id = :member AND makeup = :yes AND at >= :since")
        self._streak_set = st("UPDATE members SET checkin_days = :total, checkin_streak = :streak, last_checkin = :day "
                              "WHERE id = :id")
        self._member = st("UPDATE members SET points = :points, growth = :growth, checkin_days = :total, "
                          "checkin_streak = :streak, last_checkin = :day, points_at = COALESCE(:paid_at, points_at) "
                          "WHERE id = :id")

    def mark_active(self, day: date) -> None:
        """Record that the bot handled an event on local `day`."""
        with self.db.transaction() as conn:
            self._active.run(conn, day=self.db.day(day))

    def _earned(self, conn: Connection, locked: Locked, entries: Sequence[Entry]) -> None:
        noted = None
        for e in entries:
            if e.delta > 0 and e.kind in EARNING and noted is not e.at:  # one append's lines share their time
                noted = e.at
                day = e.at.astimezone(self.tz).date() if self.tz is not None else e.at.date()
                self.db.note(_EARNED_DAYS, (e.member, day))

    def mark_members_active(self, days: Sequence[tuple[str, date]] = ()) -> None:
        """Record that each (member, local day) of `days` sent the bot a message, and the days of the earning
        entries noted since the last call: one statement for all of them (none when there are none)."""
        every = sorted(set(days) | set(self.db.take(_EARNED_DAYS)))
        for start in range(0, len(every), 1000):  # well under SQLite's bound on parameters per statement
            self._mark_members(every[start:start + 1000])

    def _mark_members(self, days: Sequence[tuple[str, date]]) -> None:
        n = len(days)
        stmt = self._member_days.get(n)
        if stmt is None:
            values = ", ".join(f"(:m{i}, :d{i})" for i in range(n))
            stmt = self.db.statement(f"INSERT INTO member_days (member_id, day) VALUES {values} ON CONFLICT DO NOTHING")
            if len(self._member_days) < 64:  # batch sizes repeat; keep the common ones compiled
                self._member_days[n] = stmt
        params: dict[str, object] = {}
        for i, (member, day) in enumerate(days):
            params[f"m{i}"] = member
            params[f"d{i}"] = self.db.day(day)
        with self.db.transaction() as conn:
            stmt.run(conn, **params)

    def check_in(
        self,
        *,
        member: str,
        day: date,
        at: datetime,
        room: str | None,
        rewards: Callable[[int, int], Sequence[Reward]],
        campaign: str | None = None,
        scale: Callable[[int, int], int] | None = None,
        late: Callable[[int, int, frozenset[int]], Sequence[Reward]] | None = None,
    ) -> CheckinResult:
        """Check `member` in for local `day`; `rewards(streak, total_days)` says what it pays.

        `scale(points, growth)`, when given, turns each reward line's points into what is paid, from the
        member's growth before this check-in (the level's multiplier), read under the same lock.

        The streak goes on when every day since the last check-in was a day the bot handled no
        event at all (it was not running). Raises AlreadyCheckedIn (nothing written) when the
        member already checked in that day, MemberFrozen (nothing written) when the member is frozen.

        A late check-in (for a day before the member's last one, without a check-in of its own: its message
        came after a later day's) is credited to its day: see `_late`; `late` is what it pays beyond the base
        line, as a makeup's `bonuses`.
        """
        db = self.db
        with db.transaction() as conn:
            locked = lock_member(conn, member)
            if locked.frozen:  # read with the lock: no statement of its own (storage.freezes)
                raise MemberFrozen(member=member)
            last = locked.last_checkin
            if last is not None and last >= day:
                if last == day or self._has_day.run(conn, member=member, day=db.day(day)).fetchone() is not None:
                    raise AlreadyCheckedIn(streak=locked.checkin_streak, total_days=locked.checkin_days,
                                           points=locked.points)
                return self._late(conn, locked, day=day, at=at, room=room, rewards=rewards, late=late,
                                  campaign=campaign, scale=scale)
            streak = locked.checkin_streak + 1 if last is not None and self._unbroken(conn, last, day) else 1
            total = locked.checkin_days + 1
            due = rewards(streak, total)
            if scale is not None:
                due = [Reward(r.kind, scale(r.points, locked.growth), r.name) for r in due]
            paid = tuple(r for r in due if r.points > 0)
            earned = sum(r.points for r in paid)
            self._checkin.later(conn, member=member, day=db.day(day), at=db.at(at), room=room, streak=streak,
                                total=total, points=earned, makeup=False)
            db.note(COUNTS, day)
            base = keys.checkin(day, member)
            lines = [Line(r.points, r.kind, base if i == 0 else keys.checkin_bonus(base, r.kind, i),
                          growth_delta=r.points, room=room, detail=r.name, campaign=campaign)
                     for i, r in enumerate(paid)]
            if lines:
                self.ledger.append(conn, locked, lines, at, move_balance=False)
            # the balance and the check-in counters in one statement: one round trip less on the hot path
            self._member.later(conn, id=member, points=locked.points + earned, growth=locked.growth + earned,
                               total=total, streak=streak, day=db.day(day), paid_at=db.at(at) if lines else None)
            return CheckinResult(day=day, streak=streak, total_days=total, rewards=paid, earned=earned,
                                 points=locked.points + earned, growth=locked.growth + earned)

    def _late(self, conn: Connection, locked: Locked, *, day: date, at: datetime, room: str | None,
              rewards: Callable[[int, int], Sequence[Reward]],
              late: Callable[[int, int, frozenset[int]], Sequence[Reward]] | None,
              campaign: str | None, scale: Callable[[int, int], int] | None) -> CheckinResult:
        """Credit a check-in for `day` that arrived after a later day's was committed, so the member ends as
        if the two had come in order: the row for `day`, the base line, and, as a makeup does, every streak
        bonus the run `day` now belongs to reached that none of its days paid, and the cumulative bonus of
        the new total. The stored streak follows the run ending at the last check-in; last_checkin stays.
        """
        db, member = self.db, locked.member
        total = locked.checkin_days + 1
        self._checkin.run(conn, member=member, day=db.day(day), at=db.at(at), room=room, streak=0, total=total,
                          points=0, makeup=False)
        db.note(COUNTS, day)
        days = sorted(loaded_date(r[0]) for r in self._days.run(conn, member=member, since=db.day(date.min)))
        i = days.index(day)
        lo, hi = i, i
        while lo > 0 and self._unbroken(conn, days[lo - 1], days[lo]):
            lo -= 1
        while hi + 1 < len(days) and self._unbroken(conn, days[hi], days[hi + 1]):
            hi += 1
        run = days[lo:hi + 1][::-1]  # newest first, as _run_ending gives it
        streak = i - lo + 1  # the day's own streak, as an in-order check-in would have stored it
        self._row_streak.run(conn, member=member, day=db.day(day), streak=streak)
        base = [r for r in rewards(streak, total) if r.kind == Kind.CHECKIN]
        extra = late(len(run), total, self._streak_bonuses_paid(conn, member, run)) if late else ()
        due = [*base, *extra]
        if scale is not None:
            due = [Reward(r.kind, scale(r.points, locked.growth), r.name, r.days) for r in due]
        paid = tuple(r for r in due if r.points > 0)
        earned = sum(r.points for r in paid)
        key = keys.checkin(day, member)
        lines = [Line(r.points, r.kind, key if r.kind == Kind.CHECKIN else keys.late_checkin_bonus(day, member, r.kind, r.days),
                      growth_delta=r.points, room=room, detail=r.name, campaign=campaign) for r in paid]
        if lines:
            self.ledger.append(conn, locked, lines, at, move_balance=False)
        self._row_points.run(conn, member=member, day=db.day(day), points=earned)
        current = hi - lo + 1 if days[hi] == locked.last_checkin else locked.checkin_streak
        self._member.run(conn, id=member, points=locked.points + earned, growth=locked.growth + earned, total=total,
                         streak=current, day=db.day(locked.last_checkin), paid_at=db.at(at) if lines else None)
        return CheckinResult(day=day, streak=streak, total_days=total, rewards=paid, earned=earned,
                             points=locked.points + earned, growth=locked.growth + earned)

    def makeup(
        self,
        *,
        member: str,
        today: date,
        at: datetime,
        room: str | None,
        within_days: int,
        cost: int,
        max_per_month: int,
        month_start: datetime,
        bonuses: Callable[[int, int, frozenset[int]], Sequence[Reward]] | None = None,
        campaign: str | None = None,
        scale: Callable[[int, int], int] | None = None,
        first_day: date | None = None,
    ) -> MakeupResult:
        """补签: fill the most recent missed day of the last `within_days` for `cost` points.

        A missed day is one the bot was running (see mark_active) without a check-in by the member;
        filling it reconnects the streak around it. `bonuses(streak, total_days, paid)` says what the
        repaired run (`streak` days long) and the new total pay, given the streak-bonus day counts
        `paid` already paid by check-ins of that run; each Reward names its `days`, which its key holds.
        `scale` as for check_in. A day before `first_day` (the local day the member was first seen) was not
        missed: they were not there to check in. Raises NothingToMakeUp, MakeupLimit or InsufficientPoints, each with
        nothing written.
        """
        db = self.db
        with db.transaction() as conn:
            locked = lock_member(conn, member)
            if locked.frozen:
                raise MemberFrozen(member=member)
            since = today - timedelta(days=within_days)
            done = {loaded_date(r[0]) for r in self._days.run(conn, member=member, since=db.day(since))}
            active = {loaded_date(r[0]) for r in self._active_days.run(conn, since=db.day(since),
                                                                     until=db.day(today - timedelta(days=1)))}
            missed = [d for d in sorted(active, reverse=True) if d not in done and (first_day is None or d >= first_day)]
            if not missed:
                raise NothingToMakeUp(within_days=within_days)
            used = int(self._makeups.run(conn, member=member, yes=True, since=db.at(month_start)).fetchone()[0])
            if used >= max_per_month:
                raise MakeupLimit(used=used, limit=max_per_month)
            if locked.points < cost:
                raise InsufficientPoints(needed=cost, points=locked.points)
            day = missed[0]
            last = locked.last_checkin
            new_last = day if last is None or day > last else last
            total = locked.checkin_days + 1
            self._checkin.run(conn, member=member, day=db.day(day), at=db.at(at), room=room, streak=0,
                              total=total, points=0, makeup=True)
            run = self._run_ending(conn, member, new_last)
            streak = len(run)
            due: Sequence[Reward] = bonuses(streak, total, self._streak_bonuses_paid(conn, member, run)) if bonuses else ()
            if scale is not None:
                due = [Reward(r.kind, scale(r.points, locked.growth), r.name, r.days) for r in due]
            paid = tuple(r for r in due if r.points > 0)
            lines = [Line(-cost, Kind.MAKEUP, keys.makeup(member, day), room=room, detail=f"补签 {day.isoformat()}")]
            lines += [Line(r.points, r.kind, keys.makeup_bonus(member, day, r.kind, r.days), growth_delta=r.points,
                           room=room, detail=r.name, campaign=campaign) for r in paid]
            self.ledger.append(conn, locked, lines, at)
            self._streak_set.run(conn, id=member, total=total, streak=streak, day=db.day(new_last))
            earned = sum(r.points for r in paid)
            return MakeupResult(day=day, cost=cost, points=locked.points - cost + earned, streak=streak,
                                total_days=total, used=used + 1, limit=max_per_month, rewards=paid, earned=earned)

    def _run_ending(self, conn: Connection, member: str, last: date) -> list[date]:
        """The run of check-in days ending at `last`, newest first; days the bot did not run do not break it."""
        days = [loaded_date(r[0]) for r in self._days.run(conn, member=member, since=self.db.day(date.min))]
        days = [d for d in days if d <= last]
        run: list[date] = []
        for d in days:
            if run and not self._unbroken(conn, d, run[-1]):
                break
            run.append(d)
        return run

    def _streak_bonuses_paid(self, conn: Connection, member: str, run: Sequence[date]) -> frozenset[int]:
        """The day counts of streak bonuses check-ins and makeups of `run` paid (a bonus pays once per run).

        A check-in's streak bonus is the one of its row's streak; a makeup's names its day count in its key.
        """
        days = set(run)
        streaks = {loaded_date(r.day): int(r.streak) for r in conn.execute(
            select(CHECKINS.c.day, CHECKINS.c.streak).where(CHECKINS.c.member_id == member,
                                                             CHECKINS.c.day >= min(run), CHECKINS.c.day <= max(run)))}
        made_up = keys.makeup(member, date.min)[:-len(date.min.isoformat())]  # "makeup:<member>:"
        out: set[int] = set()
        for (key,) in conn.execute(select(LEDGER.c.key).where(LEDGER.c.member_id == member,
                                                              LEDGER.c.kind == str(Kind.CHECKIN_STREAK))):
            if key.startswith("checkin:"):
                d = _day(key[len("checkin:"):][:10])
                if d in days and key.startswith(keys.checkin(d, member) + ":"):
                    tail = key.rsplit(":", 1)[1]
                    # a late check-in's bonus names its day count (keys.late_checkin_bonus), an in-order one's
                    # is its row's streak
                    out.add(int(tail[1:]) if tail.startswith("d") else streaks.get(d, 0))
            elif key.startswith(made_up):
                d = _day(key[len(made_up):][:10])
                if d in days:
                    out.add(int(key.rsplit(":", 1)[1]))
        return frozenset(out)

    def _unbroken(self, conn: Connection, last: date, day: date) -> bool:
        """No day between `last` and `day` (both excluded) on which the bot was running."""
        if day - last <= timedelta(days=1):
            return True
        n = self._active_between.run(conn, after=self.db.day(last), before=self.db.day(day)).fetchone()[0]
        return int(n) == 0

    def checkins(self, member: str) -> list[tuple[date, int, int, int]]:
        with self.db.reading() as conn:
            q = (select(CHECKINS.c.day, CHECKINS.c.streak, CHECKINS.c.total_days, CHECKINS.c.points)
                 .where(CHECKINS.c.member_id == member).order_by(CHECKINS.c.day))
            return [(r.day, r.streak, r.total_days, r.points) for r in conn.execute(q)]

    def _flush_counts(self, conn: Connection) -> None:
        """Before commit: the transaction's check-ins (not makeups) added to checkin_counts, days in order."""
        days = self.db.pending(COUNTS)
        if not days:
            return
        tally: dict[date, int] = {}
        for day in days:
            tally[day] = tally.get(day, 0) + 1
        mine = shard()
        self._count.run_many(conn, [{"day": self.db.day(d), "shard": mine, "n": n} for d, n in sorted(tally.items())])

    @staticmethod
    def audit_counts(conn: Connection) -> list[str]:
        """Breaches of: checkin_counts (summed over shards) holds each day's check-ins, makeups aside."""
        C, K = CHECKINS, CHECKIN_COUNTS
        want = {loaded_date(r.day): int(r.n) for r in conn.execute(
            select(C.c.day, func.count().label("n")).where(C.c.makeup.is_(False)).group_by(C.c.day))}
        problems = []
        for r in conn.execute(select(K.c.day, func.sum(K.c.n).label("n")).group_by(K.c.day).order_by(K.c.day)):
            expect = want.pop(loaded_date(r.day), 0)
            if int(r.n) != expect:
                problems.append(f"checkin_counts {loaded_date(r.day)}: {int(r.n)} != {expect} check-ins that day")
        problems += [f"checkin_counts {d}: missing, {n} check-ins that day" for d, n in sorted(want.items())]
        return problems

    def audit(self, conn: Connection) -> list[str]:
        """Check-in counters match the check-in rows, and each paid check-in has its ledger line."""
        problems: list[str] = []
        C, M, L = CHECKINS, MEMBERS, LEDGER
        stats = {
            r.member_id: (int(r.n), r.last)
            for r in conn.execute(
                select(C.c.member_id, func.count().label("n"), func.max(C.c.day).label("last")).group_by(C.c.member_id)
            )
        }
        for m in conn.execute(select(M.c.id, M.c.checkin_days, M.c.last_checkin)):
            n, last = stats.get(m.id, (0, None))
            if m.checkin_days != n or m.last_checkin != last:
                problems.append(
                    f"member {m.id}: check-in counters ({m.checkin_days} days, last {m.last_checkin}) "
                    f"!= check-in rows ({n} days, last {last})"
                )
        unpaid = conn.execute(
            select(C.c.member_id, C.c.day)
            .select_from(C.outerjoin(L, and_(L.c.member_id == C.c.member_id,
                                             # keys.checkin, in SQL
                                             L.c.key == literal("checkin:") + cast(C.c.day, String) + ":" + C.c.member_id)))
            .where(C.c.points > 0, L.c.id.is_(None))
        ).all()
        for u in unpaid:
            problems.append(f"check-in of {u.member_id} on {u.day} has points but no ledger line")
        # a makeup's bonus lines (keys.makeup_bonus) belong to that member's makeup of that day
        made_up = {(r.member_id, loaded_date(r.day)) for r in conn.execute(
            select(C.c.member_id, C.c.day).where(C.c.makeup.is_(True)))}
        for e in conn.execute(select(L.c.id, L.c.member_id, L.c.key).where(
                L.c.kind.in_((str(Kind.CHECKIN_STREAK), str(Kind.CHECKIN_TOTAL))), L.c.key.like("makeup:%"))):
            prefix = keys.makeup(e.member_id, date.min)[:-len(date.min.isoformat())]
            day = _day(e.key[len(prefix):][:10]) if e.key.startswith(prefix) else None
            if day is None or (e.member_id, day) not in made_up:
                problems.append(f"ledger line {e.id} ({e.member_id}): makeup bonus {e.key} without its makeup check-in")
        return problems
