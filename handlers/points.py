"""Balance, growth and rank (积分) and the boards (排行榜, 周榜, 月榜), on demand and as a scheduled post."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.config import Flag, PosInt, Section, section
from bot.dispatch import Context, Reply, command, job
from bot.errors import UsageError, WrongPlace
from handlers.common import checked_in_today, display_name, ledger, live_streak, services
from handlers.lib import board_card, cards
from handlers.lib.expiry import expiring_soon
from storage.boards import period_key


class LeaderboardSettings(Section):
    size: PosInt = 10
    card: Flag = False  # also as a PNG card (drawn when sent, off the event loop; text only without a CJK font)
    font: str = ""  # a TTF/OTF/TTC file with Chinese glyphs; "" = the usual system places
    cards_dir: str = ""  # where the cards are written (removed after a day); "" = cards/ beside the SQLite database


section("leaderboard", LeaderboardSettings, always=True)


@command("积分", aliases=("我的积分", "查积分"))
async def my_points(ctx: Context, args: str) -> Reply:
    """查看我的积分、成长值、连续签到天数和排名"""
    admins = ctx.settings.bot.admins
    m = ledger(ctx).member(ctx.sender)
    if m is None:
        return ctx.reply("points/me", points=0, growth=0, streak=0, total_days=0, rank=None,
                         is_admin=ctx.is_admin, checked_in=False, expiring=None)
    return ctx.reply(
        "points/me",
        points=m.points,
        growth=m.growth,
        streak=live_streak(m.last_checkin, m.checkin_streak, ctx),
        total_days=m.checkin_days,
        rank=None if ctx.is_admin else services(ctx).boards.standing( ctx.sender, exclude=admins)[0],
        is_admin=ctx.is_admin,
        checked_in=checked_in_today(m.last_checkin, ctx),
        expiring=expiring_soon(ctx, ctx.sender),
    )


TITLES = {"all": "积分排行榜", "week": "本周积分榜", "month": "本月积分榜"}


def _since(ctx: Context, period: str) -> str:
    """Where the period began, as members read it: "本周一（11月23日）" / "11月1日"."""
    day = ctx.day
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return f"本周一（{start.month}月{start.day}日）"
    if period == "month":
        return f"{day.month}月1日"
    return ""


def board(ctx: Context, period: str = "all", room: str | None = None) -> list[dict[str, Any]]:
    """Top members by balance (or by points earned this week/month); admins and members who left every
    group are left out; equal scores share a rank, whoever got there first is listed first."""
    rows: list[dict[str, Any]] = []
    size = ctx.settings.leaderboard.size
    key = period_key(period, ctx.day)
    for i, m in enumerate(services(ctx).boards.top( size, period=key, exclude=ctx.settings.bot.admins, room=room)):
        rank = rows[-1]["rank"] if rows and rows[-1]["points"] == m.points else i + 1
        rows.append({"rank": rank, "name": display_name(m.name), "points": m.points, "me": m.member == ctx.sender})
    return rows


def card(ctx: Context, data: dict[str, Any]) -> Callable[[], str | None] | None:
    """What draws the board `data` as a PNG card when it is sent (Outgoing.draw); None when cards are off."""
    cfg = ctx.settings.leaderboard
    if not cfg.card:
        return None
    directory = cards.cards_dir(ctx.settings, cfg.cards_dir)
    digest = hashlib.sha256(f"{ctx.event_id}\0{ctx.sender}\0{ctx.now.isoformat()}".encode()).hexdigest()[:20]
    path, font = directory / f"board-{digest}.png", cfg.font

    def draw() -> str | None:
        cards.prune(directory, "board-*.png")
        return board_card.render(data, path, font)

    return cards.once(draw)  # a scheduled board goes to every group: one picture for all


def _scope(ctx: Context, args: str) -> str | None:
    """None for the company-wide board; this group's id for `本群`."""
    words = args.split()
    if not words:
        return None
    if words[0] in ("本群", "群"):
        if ctx.room is None:
            raise WrongPlace("请在群里查看本群榜单", where="group")
        return ctx.room
    raise UsageError(f"不认识「{args}」", usage=f"{ctx.keyword} 或 {ctx.keyword} 本群")


def _show(ctx: Context, args: str, period: str) -> Reply | None:
    if ctx.glued and args not in ("本群", "群"):
        return None  # "排名怎么算" is a question in the chat, not a board asked for
    room = _scope(ctx, args)
    rows = board(ctx, period, room)
    mine = None
    if ctx.sender and not ctx.is_admin and not any(r["me"] for r in rows):
        rank, score = services(ctx).boards.standing( ctx.sender, period=period_key(period, ctx.day),
                                      exclude=ctx.settings.bot.admins, room=room)
        mine = {"rank": rank, "points": score}
    data = {"rows": rows, "mine": mine, "size": ctx.settings.leaderboard.size, "period": period,
            "title": TITLES[period], "scope": "本群" if room else "", "since": _since(ctx, period)}
    return Reply("points/board", data, image=card(ctx, data))


@command("排行榜", aliases=("积分榜", "排名"), glue=True)
async def leaderboard(ctx: Context, args: str) -> Reply | None:
    """查看积分排行榜前十名（加「本群」只看本群）
    排行榜 或 排行榜 本群"""
    return _show(ctx, args, "all")


@command("周榜", aliases=("本周榜",), glue=True)
async def week_board(ctx: Context, args: str) -> Reply | None:
    """查看本周（周一起）赚取积分最多的成员
    周榜 或 周榜 本群"""
    return _show(ctx, args, "week")


@command("月榜", aliases=("本月榜",), glue=True)
async def month_board(ctx: Context, args: str) -> Reply | None:
    """查看本月赚取积分最多的成员
    月榜 或 月榜 本群"""
    return _show(ctx, args, "month")


@job("leaderboard", posts=True)
async def leaderboard_post(ctx: Context) -> Reply:
    """The board of the schedule entry's `period` (balance by default), company-wide."""
    entry = next((e for e in ctx.settings.schedule if e.id == ctx.event_id), None)
    period = entry.period if entry is not None else "all"
    data = {"rows": board(ctx, period), "size": ctx.settings.leaderboard.size, "period": period,
            "title": TITLES[period], "since": _since(ctx, period), "scope": "", "mine": None}
    return Reply("points/board_post", data, broadcast=True, image=card(ctx, data))
