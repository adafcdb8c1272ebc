"""Invite points (邀请): inviters earn per eligible invitee; an early leave claws the award back."""

from __future__ import annotations

from typing import Any

from bot.config import Days, Flag, Points, PosInt, Section, section
from bot.dispatch import Context, Reply, command, on_join, on_leave
from handlers.common import earns, ledger, member_name
from handlers.lib import tasks
from storage import invites as store


class InviteSettings(Section):
    points: Points = 20
    revoke_within_days: Days = 7  # invitee leaves within this many days: the award is reversed (0: any time)
    count_returning: Flag = False  # pay for invitees who were in a company group before
    max_per_event: PosInt = 20  # invitees one join event pays for at most; the rest are recorded as not counted


section("invite", InviteSettings, campaign=True)


def _name(ctx: Context, p: Any) -> str:
    return member_name(ctx, p.id, p.name)


def _balance(ctx: Context, member: str) -> int:
    m = ledger(ctx).member(member)
    return m.points if m else 0


@on_join
async def invited(ctx: Context, ev: Any) -> Reply | None:
    """Pay the inviter of a join for each invitee who counts, and tell them privately.

    Decisions where the issue is silent:
    - An inviter is paid at most once per invitee while that invite stands (matters with
      count_returning = true: pulling the same friend out and back in pays nothing more).
    - A join "invited" by the bot itself pays no one; an admin inviting earns only with
      bot.staff_earn (otherwise each invitee is recorded as not counted, reason "staff", silently:
      staff bring people in all day).
    - One join event pays for at most max_per_event invitees; the others are recorded as not
      counted (reason "limit") and the note says how many.
    - The private note also names invitees who did not count (admin, in a group before, already
      counted or clawed back), so the inviter is not left wondering; invites of oneself or of the
      bot are silent.
    - Invite tiers the new count reaches are paid at once and told in the same note.
    """
    cfg = ctx.settings.invite
    inviter = ev.inviter
    bot = ctx.settings.bot
    if cfg is None or not inviter or ctx.room is None or inviter == bot.self_id:
        return None
    staff = not earns(ctx, inviter)
    paid: list[str] = []
    refused: list[dict[str, str]] = []
    over = 0  # invitees past max_per_event
    earned = 0
    for p in ev.members:
        refuse = ("self" if p.id == inviter else "bot" if p.id == bot.self_id
                  else "admin" if p.id in bot.admins else "staff" if staff else "")
        res = store.invite_joined(ledger(ctx), event_id=ctx.event_id, inviter=inviter, invitee=p.id, room=ctx.room,
                                  at=ctx.now, points=cfg.points, count_returning=cfg.count_returning, refuse=refuse,
                                  campaign=ctx.campaign("invite"), detail=f"邀请 {_name(ctx, p)}",
                                  max_per_event=cfg.max_per_event)
        if res.repeat:
            continue
        if res.status == "valid":
            paid.append(_name(ctx, p))
            earned += res.points
        elif res.reason == "limit":
            over += 1
        elif res.reason not in ("self", "bot", "staff", "frozen"):  # a frozen inviter is not told per invite
            refused.append({"name": _name(ctx, p), "reason": res.reason})
    tiers = tasks.settle_invites(ctx, inviter) if paid else []
    if staff or (not paid and not refused and not over):
        return None
    return Reply("invite/paid", {"paid": paid, "earned": earned, "refused": refused, "over": over,
                                 "max_per_event": cfg.max_per_event,
                                 "tiers": tasks.tier_rows(tiers), "within_days": cfg.revoke_within_days,
                                 "balance": _balance(ctx, inviter)}, to=inviter)


@on_leave
async def left(ctx: Context, ev: Any) -> list[Reply] | None:
    """Claw back invites of members who left every group the bot serves within revoke_within_days, and the
    invite tiers they held up.

    Each inviter gets one private note per leave event: who left, what was taken back, the
    balance after (which may be below zero: later earnings pay the debt first).
    """
    cfg = ctx.settings.invite
    if cfg is None or ctx.room is None:
        return None
    by_inviter: dict[str, list[tuple[str, store.Clawback]]] = {}
    for p in ev.members:
        for back in store.invitee_left(ledger(ctx), invitee=p.id, room=ctx.room, at=ctx.now,
                                       within_days=cfg.revoke_within_days, detail=f"{_name(ctx, p)} 退群",
                                       served=ctx.settings.bot.rooms):
            by_inviter.setdefault(back.inviter, []).append((_name(ctx, p), back))
    out = []
    for inviter, backs in by_inviter.items():
        tiers = tasks.revoke_invites(ctx, inviter, cfg.revoke_within_days)
        taken = sum(-b.entry.delta for _, b in backs if b.entry) + sum(-t.entry.delta for t in tiers if t.entry)
        out.append(Reply("invite/revoked", {"names": [n for n, _ in backs], "points": taken,
                                            "tiers": tasks.tier_rows(tiers), "within_days": cfg.revoke_within_days,
                                            "balance": _balance(ctx, inviter)}, to=inviter))
    return out


@command("邀请", aliases=("我的邀请",), feature="invite")
async def my_invites(ctx: Context, args: str) -> Reply:
    """查看我邀请了多少好友、得了多少积分"""
    cfg = ctx.settings.invite
    stats = store.invite_stats(ledger(ctx), ctx.sender, ctx.now, cfg.revoke_within_days)
    invite_tasks = tasks.of_metric(ctx, "invites")
    task_points = 0
    upcoming: list[dict[str, Any]] = []
    for p in store.task_progress(ledger(ctx), ctx.sender, invite_tasks):
        task_points += p.points
        nxt = tasks.next_tier(p.task, stats.valid, p.done)
        if nxt is not None:
            upcoming.append({"name": p.task.name, **nxt})
    upcoming.sort(key=lambda t: (t["remaining"], -t["points"]))
    return ctx.reply("invite/mine", valid=stats.valid, points=stats.points, watching=stats.watching,
                     within_days=cfg.revoke_within_days, per_invite=cfg.points, task_points=task_points,
                     next=upcoming[0] if upcoming else None)
