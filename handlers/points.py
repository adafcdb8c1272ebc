"""Balance, growth and rank (积分) and the leaderboard (排行榜), on demand and as a scheduled post."""

from __future__ import annotations

from typing import Any

from bot.dispatch import Context, Reply, command, job
from handlers.common import checked_in_today, ledger, live_streak


@command("积分", aliases=("我的积分", "查积分"))
async def my_points(ctx: Context, args: str) -> Reply:
    """查看我的积分、成长值、连续签到天数和排名"""
    admins = ctx.settings.bot.admins
    m = ledger(ctx).member(ctx.sender)
    if m is None:
        return ctx.reply("points/me", points=0, growth=0, streak=0, total_days=0, rank=None,
                         is_admin=ctx.is_admin, checked_in=False)
    return ctx.reply(
        "points/me",
        points=m.points,
        growth=m.growth,
        streak=live_streak(m.last_checkin, m.checkin_streak, ctx),
        total_days=m.checkin_days,
        rank=None if ctx.is_admin else ledger(ctx).rank(ctx.sender, exclude=admins),
        is_admin=ctx.is_admin,
        checked_in=checked_in_today(m.last_checkin, ctx),
    )


def board(ctx: Context) -> list[dict[str, Any]]:
    """Top members by balance, admins left out; equal balances share a rank."""
    rows: list[dict[str, Any]] = []
    size = ctx.settings.leaderboard.size
    for i, m in enumerate(ledger(ctx).top(size, exclude=ctx.settings.bot.admins)):
        rank = rows[-1]["rank"] if rows and rows[-1]["points"] == m.points else i + 1
        rows.append({"rank": rank, "name": m.name or m.id[-4:], "points": m.points, "me": m.id == ctx.sender})
    return rows


@command("排行榜", aliases=("积分榜", "排名"))
async def leaderboard(ctx: Context, args: str) -> Reply:
    """查看积分排行榜前十名"""
    rows = board(ctx)
    mine = None
    if ctx.sender and not ctx.is_admin and not any(r["me"] for r in rows):
        rank = ledger(ctx).rank(ctx.sender, exclude=ctx.settings.bot.admins)
        m = ledger(ctx).member(ctx.sender)
        mine = {"rank": rank, "points": m.points if m else 0}
    return ctx.reply("points/leaderboard", rows=rows, mine=mine, size=ctx.settings.leaderboard.size)


@job("leaderboard")
async def leaderboard_post(ctx: Context) -> Reply:
    return Reply("points/leaderboard_post", {"rows": board(ctx), "size": ctx.settings.leaderboard.size},
                 broadcast=True)
