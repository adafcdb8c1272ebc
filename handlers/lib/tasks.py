"""Tier-task settlement the features that move a task's metric call: check-in pays its tiers, invites pay and take back theirs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.dispatch import Context
from handlers.common import earns, ledger
from storage import invites as store

CHECKIN_METRICS = ("checkin_days", "checkin_streak")
LABELS = {"invites": ("已邀请", "人"), "checkin_days": ("累计签到", "天"), "checkin_streak": ("连续签到", "天")}
# what a member does to move the metric on: "再邀请 2 人得 10 积分"
VERBS = {"invites": "邀请", "checkin_days": "签到", "checkin_streak": "连续签到"}


def of_metric(ctx: Context, *metrics: str) -> list[Any]:
    return [t for t in ctx.settings.tasks if t.metric in metrics]


def tier_rows(changes: Sequence[store.TierChange]) -> list[dict[str, Any]]:
    """Tier payments or reversals as template data."""
    return [{"name": c.name, "at": c.at, "unit": LABELS[c.metric][1], "points": c.points} for c in changes]


def after_checkin(ctx: Context) -> tuple[list[dict[str, Any]], int | None]:
    """Pay the tiers of check-in tasks the sender's check-in (or 补签) just reached: (their rows, the balance
    after them; None when none was reached). The check-in's own reply says them: one message answers one 签到."""
    tasks = of_metric(ctx, *CHECKIN_METRICS)
    if not tasks or not earns(ctx, ctx.sender):
        return [], None
    paid = store.settle_tasks(ledger(ctx), member=ctx.sender, tasks=tasks, at=ctx.now, room=ctx.room)
    if not paid:
        return [], None
    return tier_rows(paid), next((c.entry.balance_after for c in reversed(paid) if c.entry), None)


def settle_invites(ctx: Context, inviter: str) -> list[store.TierChange]:
    """Pay the invite tiers `inviter` now reaches."""
    if not earns(ctx, inviter):
        return []
    return store.settle_tasks(ledger(ctx), member=inviter, tasks=of_metric(ctx, "invites"), at=ctx.now, room=ctx.room)


def revoke_invites(ctx: Context, inviter: str, within_days: int) -> list[store.TierChange]:
    """Reverse the invite tiers `inviter` fell below after a clawback, if paid within `within_days`."""
    return store.revoke_invite_tiers(ledger(ctx), member=inviter, tasks=of_metric(ctx, "invites"), at=ctx.now,
                                     within_days=within_days)


def next_tier(task: Any, value: int, done: frozenset[int]) -> dict[str, Any] | None:
    """The first tier not yet standing: its mark, points and how far off it is."""
    for tier in task.tiers:
        if tier.at not in done:
            return {"at": tier.at, "points": tier.points, "remaining": max(tier.at - value, 0)}
    return None
