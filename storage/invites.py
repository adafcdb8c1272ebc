"""Storage verbs for new-member points, invites with clawback and tier tasks; each verb is one transaction.

Money moves only through Ledger.award/reverse, so the stored balance and the ledger stay together;
every payment has a key derived from its source (join event, member, tier generation) and every
reversal is a new entry keyed `<original key>:revoke`, so running a verb twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, insert, select, update

from storage import keys
from storage.db import Locked, lock_member
from storage.ledger import Entry, Ledger
from storage.tables import INVITES, LEDGER, MEMBERS, NEWCOMERS, ROOM_MEMBERS, TASK_TIERS
from storage.vocabulary import Kind

N, I, T, M, RM, L = NEWCOMERS, INVITES, TASK_TIERS, MEMBERS, ROOM_MEMBERS, LEDGER  # noqa: E741

METRICS = ("invites", "checkin_days", "checkin_streak")


class TierSpec(Protocol):
    at: int
    points: int


class TaskSpec(Protocol):
    """What a task looks like to storage (bot.config.TaskSettings fits)."""

    id: str
    name: str
    metric: str
    tiers: Sequence[Any]  # TierSpec, ascending by `at`


# -- new members ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewcomerResult:
    status: str  # paid | pending | ineligible
    entry: Entry | None = None


@dataclass(frozen=True)
class ClaimResult:
    status: str  # paid | expired | already | none
    points: int = 0  # paid now, over every claim that was still open
    balance: int = 0
    entries: tuple[Entry, ...] = ()


newcomer_key = keys.newcomer


def _ever_member(conn: Any, member: str, room: str | None) -> bool:
    """Was `member` ever seen in `room` (or, with no room, in any group)?"""
    q = select(RM.c.member_id).where(RM.c.member_id == member)
    if room is not None:
        q = q.where(RM.c.room_id == room)
    return conn.execute(q.limit(1)).first() is not None


def newcomer_joined(
    ledger: Ledger, *, member: str, room: str, at: datetime, scope: str, points: int, claim_within_hours: int,
    campaign: str | None = None,
) -> NewcomerResult:
    """A member joined `room`: pay them (or open a claim) if they are new in `scope`; call before the join is recorded.

    New means never seen in the group (scope "room") or in any group (scope "company"), and never
    given a newcomer row there before, so leaving and rejoining never pays again.
    """
    with ledger.db.transaction() as conn:
        if lock_member(conn, member).frozen:  # 冻结: no newcomer points (nor a claim) while frozen
            return NewcomerResult("ineligible")
        prior = _ever_member(conn, member, None if scope == "company" else room)
        q = select(N.c.status).where(N.c.member_id == member)
        if scope != "company":
            q = q.where(N.c.room_id == room)
        if prior or conn.execute(q.limit(1)).first() is not None:
            return NewcomerResult("ineligible")
        if claim_within_hours > 0:
            conn.execute(insert(N).values(member_id=member, room_id=room, joined_at=at, status="pending", key=""))
            return NewcomerResult("pending")
        key = newcomer_key(member, room, scope)
        entry = (ledger.award(member=member, points=points, kind=Kind.NEWCOMER, key=key, at=at, room=room,
                              detail="新人礼", campaign=campaign) if points > 0 else None)
        conn.execute(insert(N).values(member_id=member, room_id=room, joined_at=at, status="paid",
                                      key=key if entry else ""))
        return NewcomerResult("paid", entry)


def newcomer_claim(
    ledger: Ledger, *, member: str, at: datetime, within_hours: int, points: int, scope: str,
    campaign: str | None = None,
) -> ClaimResult:
    """新人礼: pay every open claim of `member` made within `within_hours` of joining; close the late ones.

    A window of 0 (the operator switched to paying on joining) pays whatever is still open.
    """
    with ledger.db.transaction() as conn:
        balance = lock_member(conn, member).points if _known(conn, member) else 0
        rows = conn.execute(select(N.c.room_id, N.c.joined_at, N.c.status).where(N.c.member_id == member)
                            .order_by(N.c.joined_at)).all()
        open_ = [r for r in rows if r.status == "pending"]
        if not open_:
            statuses = {r.status for r in rows}
            return ClaimResult("already" if "paid" in statuses else "expired" if "expired" in statuses else "none",
                               balance=balance)
        entries: list[Entry] = []
        paid_any = False
        for r in open_:
            if within_hours and at > r.joined_at + timedelta(hours=within_hours):
                conn.execute(update(N).where(N.c.member_id == member, N.c.room_id == r.room_id).values(status="expired"))
                continue
            key = newcomer_key(member, r.room_id, scope)
            entry = (ledger.award(member=member, points=points, kind=Kind.NEWCOMER, key=key, at=at, room=r.room_id,
                                  detail="新人礼", campaign=campaign) if points > 0 else None)
            conn.execute(update(N).where(N.c.member_id == member, N.c.room_id == r.room_id)
                         .values(status="paid", key=key if entry else ""))
            paid_any = True
            if entry is not None:
                entries.append(entry)
        if not paid_any:
            return ClaimResult("expired", balance=balance)
        earned = sum(e.delta for e in entries)
        return ClaimResult("paid", points=earned, balance=entries[-1].balance_after if entries else balance,
                           entries=tuple(entries))


def newcomer_left(ledger: Ledger, *, member: str, room: str) -> bool:
    """A newcomer left before claiming: the open claim for that group closes. True when one closed."""
    with ledger.db.transaction() as conn:
        res = conn.execute(update(N).where(N.c.member_id == member, N.c.room_id == room, N.c.status == "pending")
                           .values(status="expired"))
        return bool(res.rowcount)


def _known(conn: Any, member: str) -> bool:
    return conn.execute(select(M.c.id).where(M.c.id == member)).first() is not None


# -- invites --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InviteResult:
    invitee: str
    status: str  # valid | ineligible
    reason: str = ""  # self | bot | admin | staff | returning | duplicate | clawed_back | limit
    points: int = 0
    entry: Entry | None = None
    repeat: bool = False  # this (join event, invitee) was handled before


@dataclass(frozen=True)
class Clawback:
    inviter: str
    invitee: str
    points: int
    entry: Entry | None
    joined_at: datetime


invite_key = keys.invite


def invite_joined(
    ledger: Ledger, *, event_id: str, inviter: str, invitee: str, room: str, at: datetime, points: int,
    count_returning: bool, refuse: str = "", campaign: str | None = None, detail: str = "", max_per_event: int = 0,
) -> InviteResult:
    """Record that `inviter` brought `invitee` into `room`, paying `points` when the invitee counts.

    Call before the join is recorded. `refuse` is a reason the caller already knows (self, bot,
    admin, staff). Otherwise the invitee does not count when they were in any group before (unless
    `count_returning`), when this inviter already holds a valid invite of them or had one clawed
    back, or when `max_per_event` (> 0) invitees of this join event were paid already.
    """
    with ledger.db.transaction() as conn:
        frozen = lock_member(conn, inviter).frozen
        seen = conn.execute(select(I.c.status, I.c.reason, I.c.points)
                            .where(I.c.event_id == event_id, I.c.invitee_id == invitee)).first()
        if seen is not None:
            return InviteResult(invitee, seen.status, seen.reason, seen.points, repeat=True)
        reason = refuse or ("frozen" if frozen else "")  # 冻结: the invite is kept, unpaid, and never counts
        if not reason and not count_returning and _ever_member(conn, invitee, None):
            reason = "returning"
        if not reason:
            before = {r.status for r in conn.execute(select(I.c.status).where(
                I.c.inviter_id == inviter, I.c.invitee_id == invitee, I.c.status.in_(("valid", "reversed"))))}
            reason = "duplicate" if "valid" in before else "clawed_back" if "reversed" in before else ""
        if not reason and max_per_event and int(conn.execute(
                select(func.count()).select_from(I).where(I.c.event_id == event_id, I.c.status == "valid")
        ).scalar_one()) >= max_per_event:
            reason = "limit"
        row = {"event_id": event_id, "inviter_id": inviter, "invitee_id": invitee, "room_id": room, "joined_at": at}
        if reason:
            conn.execute(insert(I).values(**row, status="ineligible", reason=reason, points=0, key=""))
            return InviteResult(invitee, "ineligible", reason)
        key = invite_key(event_id, invitee)
        entry = (ledger.award(member=inviter, points=points, kind=Kind.INVITE, key=key, at=at, room=room,
                              detail=detail, campaign=campaign) if points > 0 else None)
        paid = entry.delta if entry else 0
        conn.execute(insert(I).values(**row, status="valid", reason="", points=paid, key=key if entry else ""))
        return InviteResult(invitee, "valid", points=paid, entry=entry)


def invitee_left(ledger: Ledger, *, invitee: str, room: str, at: datetime, within_days: int,
                 detail: str = "", served: Sequence[str] = ()) -> list[Clawback]:
    """`invitee` left `room` (already recorded): once they are in no group the bot serves (`served`, empty:
    every group), claw back every valid invite of them made less than `within_days` ago (0 = any time).

    The reversal is a new ledger entry and may take the inviter below zero. An invite older than
    the window stays valid for good; one clawed back never pays its inviter again.
    """
    out: list[Clawback] = []
    with ledger.db.transaction() as conn:
        still = select(RM.c.room_id).where(RM.c.member_id == invitee, RM.c.active.is_(True))
        if served:
            still = still.where(RM.c.room_id.in_(list(served)))
        if conn.execute(still.limit(1)).first() is not None:
            return out  # still in the community
        rows = conn.execute(select(I.c.id, I.c.inviter_id, I.c.points, I.c.key, I.c.joined_at)
                            .where(I.c.invitee_id == invitee, I.c.status == "valid")
                            .order_by(I.c.id)).all()
        for r in rows:
            if within_days and at - r.joined_at >= timedelta(days=within_days):
                continue
            entry = (ledger.reverse(original_key=r.key, key=keys.clawback(r.key), kind=Kind.INVITE_REVOKE, at=at,
                                    detail=detail) if r.key else None)
            conn.execute(update(I).where(I.c.id == r.id).values(status="reversed", reversed_at=at))
            out.append(Clawback(r.inviter_id, invitee, r.points, entry, r.joined_at))
    return out


def audit(conn: Any) -> list[str]:
    """An inviter is paid once per invitee (never again after a clawback); each paid invite has its entry, each
    clawed-back one its reversal."""
    problems: list[str] = []
    pairs: dict[tuple[str, str], list[str]] = {}
    for r in conn.execute(select(I.c.inviter_id, I.c.invitee_id, I.c.status)
                          .where(I.c.status.in_(("valid", "reversed"))).order_by(I.c.id)):
        pairs.setdefault((r.inviter_id, r.invitee_id), []).append(r.status)
    for (inviter, invitee), statuses in pairs.items():
        if len(statuses) > 1:
            problems.append(f"invites: {inviter} was paid {len(statuses)} times for inviting {invitee}")
    entries = {r.key: (r.member_id, int(r.delta)) for r in conn.execute(
        select(L.c.key, L.c.member_id, L.c.delta).where(L.c.kind.in_((str(Kind.INVITE), str(Kind.INVITE_REVOKE)))))}
    for r in conn.execute(select(I.c.id, I.c.inviter_id, I.c.status, I.c.points, I.c.key)
                          .where(I.c.status.in_(("valid", "reversed")), I.c.key != "")):
        if entries.get(r.key) != (r.inviter_id, int(r.points)):
            problems.append(f"invite {r.id} ({r.inviter_id}): no ledger entry {r.key} paying {r.points}")
        if r.status == "reversed" and entries.get(keys.clawback(r.key)) != (r.inviter_id, -int(r.points)):
            problems.append(f"invite {r.id} ({r.inviter_id}): clawed back without its reversal entry")
    return problems


@dataclass(frozen=True)
class InviteStats:
    valid: int  # invites paid and not reversed
    points: int  # what those invites paid
    watching: int  # valid ones still inside the clawback window


def invite_stats(ledger: Ledger, member: str, at: datetime, within_days: int) -> InviteStats:
    with ledger.db.reading() as conn:
        rows = conn.execute(select(I.c.points, I.c.joined_at)
                            .where(I.c.inviter_id == member, I.c.status == "valid")).all()
    since = at - timedelta(days=within_days) if within_days else None
    return InviteStats(valid=len(rows), points=sum(r.points for r in rows),
                       watching=sum(1 for r in rows if since is None or r.joined_at > since))


def _invite_count(conn: Any, member: str) -> int:
    return int(conn.execute(select(func.count()).select_from(I)
                            .where(I.c.inviter_id == member, I.c.status == "valid")).scalar_one())


# -- tier tasks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierChange:
    task: str  # task id
    name: str  # task name
    metric: str
    at: int  # the tier
    points: int
    entry: Entry | None


@dataclass(frozen=True)
class TaskProgress:
    task: Any  # the TaskSpec
    value: int  # the metric as stored (check-in streaks: as of the last check-in)
    done: frozenset[int]  # tiers paid and not reversed
    points: int  # what those standing tiers paid


def _metric_values(conn: Any, member: str, metrics: Iterable[str],
                   locked: Locked | None = None) -> dict[str, int]:
    """The metrics' current values; `locked` is the member's row when the caller holds its lock."""
    wanted = set(metrics)
    values: dict[str, int] = {}
    if wanted & {"checkin_days", "checkin_streak"}:
        if locked is not None:
            values["checkin_streak"], values["checkin_days"] = locked.checkin_streak, locked.checkin_days
        else:
            row = conn.execute(select(M.c.checkin_days, M.c.checkin_streak).where(M.c.id == member)).first()
            values["checkin_days"] = int(row.checkin_days) if row else 0
            values["checkin_streak"] = int(row.checkin_streak) if row else 0
    if "invites" in wanted:
        values["invites"] = _invite_count(conn, member)
    return values


def _tiers(conn: Any, member: str, task_ids: Sequence[str]) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """(tier -> points of its standing payment, tier -> highest generation used) of `member` for these tasks."""
    standing: dict[tuple[str, int], int] = {}
    gens: dict[tuple[str, int], int] = {}
    if not task_ids:
        return standing, gens
    rows = conn.execute(select(T.c.task_id, T.c.tier_at, T.c.generation, T.c.points, T.c.reversed_at)
                        .where(T.c.member_id == member, T.c.task_id.in_(list(task_ids)))).all()
    for r in rows:
        k = (r.task_id, r.tier_at)
        gens[k] = max(gens.get(k, 0), r.generation)
        if r.reversed_at is None:
            standing[k] = int(r.points)
    return standing, gens


def settle_tasks(ledger: Ledger, *, member: str, tasks: Sequence[TaskSpec], at: datetime,
                 room: str | None = None) -> list[TierChange]:
    """Pay every tier of `tasks` that `member` has reached and holds no standing payment for.

    A tier pays once; only a tier reversed by an invite clawback can pay again (a new generation).
    A tier added to the config later pays the next time its task is settled, if already reached.
    """
    if not tasks:
        return []
    paid: list[TierChange] = []
    with ledger.db.transaction() as conn:
        locked = lock_member(conn, member)  # one settlement per member at a time
        if locked.frozen:  # 冻结: no tier pays; one reached meanwhile pays after 解冻, at the next settlement
            return []
        values = _metric_values(conn, member, {t.metric for t in tasks}, locked)
        if all(t.tiers[0].at > values[t.metric] for t in tasks):
            return []  # no tier reached yet: the common case on the check-in path costs no more reads
        standing, gens = _tiers(conn, member, [t.id for t in tasks])
        for task in tasks:
            value = values[task.metric]
            for tier in task.tiers:
                if tier.at > value:
                    break
                k = (task.id, tier.at)
                if k in standing:
                    continue
                gen = gens.get(k, 0) + 1
                key = keys.task_tier(member, task.id, tier.at, gen)
                entry = ledger.award(member=member, points=tier.points, kind=Kind.TASK, key=key, at=at, room=room,
                                     detail=f"{task.name} {tier.at}")
                conn.execute(insert(T).values(member_id=member, task_id=task.id, tier_at=tier.at, generation=gen,
                                              points=tier.points, key=key, paid_at=at))
                standing[k] = tier.points
                gens[k] = gen
                paid.append(TierChange(task.id, task.name, task.metric, tier.at, tier.points, entry))
    return paid


def revoke_invite_tiers(ledger: Ledger, *, member: str, tasks: Sequence[TaskSpec], at: datetime,
                        within_days: int) -> list[TierChange]:
    """After an invite clawback: reverse invite tiers now above `member`'s valid invites, if paid within `within_days`.

    `within_days` = 0 reverses whenever paid. A reversed tier pays again when reached again.
    """
    by_id = {t.id: t for t in tasks if t.metric == "invites"}
    if not by_id:
        return []
    out: list[TierChange] = []
    with ledger.db.transaction() as conn:
        lock_member(conn, member)
        count = _invite_count(conn, member)
        rows = conn.execute(select(T.c.id, T.c.task_id, T.c.tier_at, T.c.points, T.c.key, T.c.paid_at)
                            .where(T.c.member_id == member, T.c.task_id.in_(list(by_id)), T.c.reversed_at.is_(None),
                                   T.c.tier_at > count)
                            .order_by(T.c.tier_at)).all()
        for r in rows:
            if within_days and at - r.paid_at >= timedelta(days=within_days):
                continue
            task = by_id[r.task_id]
            entry = ledger.reverse(original_key=r.key, key=keys.clawback(r.key), kind=Kind.TASK_REVOKE, at=at,
                                   detail=f"{task.name} {r.tier_at}")
            conn.execute(update(T).where(T.c.id == r.id).values(reversed_at=at))
            out.append(TierChange(task.id, task.name, task.metric, r.tier_at, r.points, entry))
    return out


def task_progress(ledger: Ledger, member: str, tasks: Sequence[TaskSpec]) -> list[TaskProgress]:
    with ledger.db.reading() as conn:
        values = _metric_values(conn, member, {t.metric for t in tasks})
        standing, _ = _tiers(conn, member, [t.id for t in tasks])
    return [TaskProgress(t, values[t.metric], frozenset(at for tid, at in standing if tid == t.id),
                         sum(p for (tid, _at), p in standing.items() if tid == t.id)) for t in tasks]
