"""统计: the programme's headline figures for an admin, privately (storage.stats computes them; docs/figures.md
says what each one means). 「统计」 is this week so far, 「统计 本月」 this month, 「统计 全部」 all time.

The job `weekly_report` (a [[schedule]] entry, e.g. Mondays at 09:00) sends every admin the 运营周报 of the
last whole week (Monday to Sunday) privately: its text and a picture of it (handlers.lib.stats_chart, drawn
in a worker thread off the event loop; text only without Pillow or a Chinese font).
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.dispatch import Context, Reply, command, job
from bot.errors import UserError
from handlers.common import services
from handlers.lib import cards, stats_chart
from storage.stats import Report

PERIODS = {"本周": "week", "本月": "month", "全部": "all"}
USAGE = "统计 [本周 / 本月 / 全部]"
# the ledger kinds as operators read them
SOURCES = {"checkin": "签到", "checkin_streak": "连续签到奖励", "checkin_total": "累计签到奖励", "invite": "邀请",
           "newcomer": "新人礼", "task": "阶梯任务", "profile": "完善资料", "follow": "关注", "quiz": "问答",
           "admin_award": "管理员加分", "import": "导入余额"}


def period(word: str, today: date) -> tuple[date | None, str]:
    """The first day of the period a word names (None: all time) and how the reply names it."""
    which = PERIODS.get(word.strip() or "本周")
    if which is None:
        raise UserError(template="stats/usage", word=word.strip(), usage=USAGE)
    if which == "week":
        return today - timedelta(days=today.weekday()), "本周"
    if which == "month":
        return today.replace(day=1), "本月"
    return None, "全部"


def summary(report: Report, label: str) -> dict[str, Any]:
    """What stats/summary shows: the report's headline figures, with sources named in Chinese."""
    p = report.points
    return {
        "label": label, "start": report.start.isoformat() if report.start else "",
        "until": (report.end - timedelta(days=1)).isoformat(),
        "members": report.members, "joined": report.joined, "left": report.left, "active": report.active,
        "active_7d": report.active_7d, "active_30d": report.active_30d,
        "checkin_rate_7d": f"{report.checkin_rate_7d:.1%}",
        "points": {"opening": p.opening, "earned": p.earned_total, "reversed": p.reversed, "redeemed": p.redeemed,
                   "refunded": p.refunded, "expired": p.expired, "closing": p.closing, "holds": p.holds},
        "sources": [{"name": SOURCES.get(k, k), "points": n}
                    for k, n in sorted(p.earned.items(), key=lambda kv: -kv[1]) if n],
        "top_items": [{"name": t.name, "orders": t.orders} for t in report.top_items[:3]],
        "redeemers": report.redeemers, "conversion": f"{report.conversion:.1%}",
    }


@command("统计", admin=True, where="private", glue=True)
async def stats(ctx: Context, args: str) -> Reply | None:
    """运营数据：成员、活跃、签到率、积分收支和热门商品（管理员，私聊发送）
    统计 [本周 / 本月 / 全部]"""
    if ctx.glued and args.strip() not in PERIODS:
        return None  # "统计一下" is chat, not a period
    start, label = period(args, ctx.day)
    report = services(ctx).figures.compute(start=start, end=ctx.day + timedelta(days=1),
                                           staff=ctx.settings.bot.admins)
    return Reply("stats/summary", summary(report, label), private=True)


PICTURE_KEEP_SECONDS = 7 * 24 * 3600  # older pictures are removed when a new one is drawn


def pictures_dir(settings: Any) -> Path:
    """Where the 我的账单 cards go ([statement] cards_dir, else cards/ beside a SQLite database file)."""
    statement = getattr(settings, "statement", None)
    return cards.cards_dir(settings, statement.cards_dir if statement is not None else "")


def weekly_data(report: Report) -> dict[str, Any]:
    """The 运营周报 of a whole week: the summary's figures and the check-in rate of each of its days."""
    data = summary(report, "上周")
    data["days"] = [{"day": d.day.isoformat(), "weekday": d.day.weekday(), "rate": d.rate, "checkins": d.checkins,
                     "members": d.members} for d in report.checkin_days]
    return data


@job("weekly_report")
async def weekly_report(ctx: Context) -> list[Reply]:
    """运营周报: last week's figures, as text and a picture, to every admin privately."""
    admins = list(ctx.settings.bot.admins)
    if not admins:
        return []
    start = ctx.day - timedelta(days=ctx.day.weekday() + 7)
    report = services(ctx).figures.compute(start=start, end=start + timedelta(days=7), staff=admins)
    data = weekly_data(report)
    directory = pictures_dir(ctx.settings)
    digest = hashlib.sha256(f"{ctx.event_id}\0{ctx.now.isoformat()}".encode()).hexdigest()[:16]
    statement = getattr(ctx.settings, "statement", None)
    font = statement.font if statement is not None else ""
    path = directory / f"weekly-{start}-{digest}.png"

    def draw() -> str | None:
        cards.prune(directory, "weekly-*.png", keep=PICTURE_KEEP_SECONDS)
        return stats_chart.render(data, path, font)

    # drawn when sent, in a worker thread (Outgoing.draw): not inside the batch, once for every admin
    image = cards.once(draw)
    return [Reply("stats/weekly", data, to=admin, image=image) for admin in admins]
