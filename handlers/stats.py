"""统计: the programme's headline figures for an admin, privately (storage.stats computes them; docs/figures.md
says what each one means). 「统计」 is this week so far, 「统计 本月」 this month, 「统计 全部」 all time."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.dispatch import Context, Reply, command
from bot.errors import UserError
from handlers.common import services
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


@command("统计", admin=True, where="private")
async def stats(ctx: Context, args: str) -> Reply:
    """运营数据：成员、活跃、签到率、积分收支和热门商品（管理员，私聊发送）
    统计 [本周 / 本月 / 全部]"""
    start, label = period(args, ctx.day)
    report = services(ctx).figures.compute(start=start, end=ctx.day + timedelta(days=1),
                                           staff=ctx.settings.bot.admins)
    return Reply("stats/summary", summary(report, label), private=True)
