"""概览: the programme's figures for a period (storage.stats, the same as `stats` and 「统计」), as a page.

Charts are inline SVG drawn here from the figures: no script to load, readable on a phone, and every bar
carries its figure (data-* attributes and a <title>), so what the page shows is what `stats --json` says.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from console.common import KIND_LABELS
from storage.stats import Report

PERIODS = {"7d": ("近 7 天", 7), "30d": ("近 30 天", 30), "90d": ("近 90 天", 90), "all": ("全部", None)}
DEFAULT = "30d"

CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 640, 200, 50, 28, 12


class BadPeriod(ValueError):
    pass


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadPeriod(f"{what}「{text}」不是日期：请写成 2026-12-01 这样") from None


def period(query: dict[str, str], today: date) -> tuple[date | None, date, str]:
    """(start, end exclusive, key) from ?from=&to= (local days, both inclusive, as `stats`) or ?p=7d|30d|90d|all."""
    first, last = query.get("from", "").strip(), query.get("to", "").strip()
    if first or last:
        start = _day(first, "开始日期") if first else None
        to = _day(last, "结束日期") if last else today
        if start is not None and start > to:
            raise BadPeriod(f"开始日期 {start} 晚于结束日期 {to}")
        return start, to + timedelta(days=1), "custom"
    key = query.get("p", DEFAULT)
    if key not in PERIODS:
        key = DEFAULT
    days = PERIODS[key][1]
    end = today + timedelta(days=1)
    return (None if days is None else end - timedelta(days=days)), end, key


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def checkin_chart(report: Report) -> dict[str, Any]:
    """Bars of the check-in rate by day, scaled to the highest (at least 10 %)."""
    days = report.checkin_days
    top = max([0.1, *(d.rate for d in days)])
    n = max(1, len(days))
    step = (CHART_W - PAD_L) / n
    width = max(2.0, step * 0.7)
    inner = CHART_H - PAD_B - PAD_T
    bars: list[dict[str, Any]] = []
    for i, d in enumerate(days):
        h = inner * d.rate / top
        bars.append({"x": round(PAD_L + i * step + (step - width) / 2, 1), "y": round(PAD_T + inner - h, 1),
                     "w": round(width, 1), "h": round(h, 1), "day": d.day.isoformat(), "rate": round(d.rate, 4),
                     "checkins": d.checkins, "members": d.members,
                     "label": f"{d.day.month}月{d.day.day}日：{d.checkins}/{d.members} 人签到（{_pct(d.rate)}）"})
    every = max(1, n // 7)
    ticks = [{"x": round(b["x"] + b["w"] / 2, 1), "text": f"{days[i].day.month}/{days[i].day.day}"}
             for i, b in enumerate(bars) if i % every == 0]
    grid = [{"y": round(PAD_T + inner - inner * f, 1), "text": _pct(top * f)} for f in (0.0, 0.5, 1.0)]
    return {"w": CHART_W, "h": CHART_H, "bars": bars, "ticks": ticks, "grid": grid, "base": CHART_H - PAD_B,
            "left": PAD_L}


def effect(n: int) -> str:
    """What a line does to the outstanding points, signed as members read money: +20, −180, 0."""
    return f"+{n}" if n > 0 else (f"−{-n}" if n < 0 else "0")


def _heat(share: float | None) -> str:
    if share is None:
        return "transparent"
    alpha = 0.12 + 0.78 * max(0.0, min(1.0, share))
    return f"rgba(9, 105, 218, {alpha:.2f})"


def context(report: Report, key: str, generated: datetime) -> dict[str, Any]:
    p = report.points
    last = report.end - timedelta(days=1)
    earned = sorted(p.earned.items(), key=lambda kv: -kv[1])
    return {
        "report": report, "key": key, "periods": PERIODS,
        "title": (f"{report.start} 至 {last}" if report.start else f"开始 至 {last}"),
        "from": report.start.isoformat() if report.start else "", "to": last.isoformat(),
        "headline": [
            ("members", "成员（在群）", str(report.members)),
            ("joined", "期间新成员", str(report.joined)),
            ("left", "期间离开", str(report.left)),
            ("active_7d", "近 7 天活跃", str(report.active_7d)),
            ("active_30d", "近 30 天活跃", str(report.active_30d)),
            ("checkin_rate_7d", "近 7 天签到率", _pct(report.checkin_rate_7d)),
            ("active", "期间活跃", str(report.active)),
            ("conversion", "兑换转化（兑换人数/活跃）", _pct(report.conversion)),
        ],
        "chart": checkin_chart(report),
        "retention": [{"week": c.week.isoformat(), "size": c.size,
                       "cells": [{"weeks": w, "share": s, "text": _pct(s), "bg": _heat(s)}
                                 for w, s in sorted(c.retained.items())]} for c in report.retention],
        "retention_weeks": sorted({w for c in report.retention for w in c.retained}) or [1, 2, 4],
        "points": p,
        "earned": [{"kind": k, "label": KIND_LABELS.get(k, k), "points": v} for k, v in earned],
        "identity": p.opening + p.earned_total - p.reversed - p.redeemed + p.refunded - p.expired,
        # each bucket by what it does to the outstanding points (a 撤销 of a 扣分 makes "reversed" negative)
        "effects": {"earned_total": effect(p.earned_total), "reversed": effect(-p.reversed),
                    "redeemed": effect(-p.redeemed), "refunded": effect(p.refunded), "expired": effect(-p.expired)},
        "tone": lambda shown: "plus" if shown.startswith("+") else ("minus" if shown.startswith("−") else ""),
        "generated": generated,
    }
