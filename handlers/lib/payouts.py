"""What a check-in pays, in one place: the check-in itself, 补签, the reply's "再坚持 N 天" line, the morning
reminder and the welcome all read these, so a text never promises an amount the rules will not pay.

The rules in force are those of the moment they apply: a campaign's multiplier on the days it covers, the
base configuration after it ends; the member's level multiplier on top (from the growth they hold).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from handlers.lib import levels
from storage.checkins import Reward
from storage.vocabulary import Kind


def rewards(cfg: Any) -> Callable[[int, int], list[Reward]]:
    """What a check-in under [checkin] `cfg` pays for (streak, total days); its multiplier scales every line."""
    m = cfg.multiplier

    def pay(streak: int, total: int) -> list[Reward]:
        out = [Reward(Kind.CHECKIN, cfg.points * m, "每日签到")]
        out += [Reward(Kind.CHECKIN_STREAK, b.bonus * m, b.name) for b in cfg.consecutive if b.days == streak]
        out += [Reward(Kind.CHECKIN_TOTAL, b.bonus * m, b.name) for b in cfg.cumulative if b.days == total]
        return out

    return pay


def makeup_bonuses(cfg: Any) -> Callable[[int, int, frozenset[int]], list[Reward]]:
    """What a makeup pays: every streak bonus the repaired run reached or passed that the run has not paid
    yet, and the cumulative bonus the new total reaches; scaled as a check-in's lines are."""
    m = cfg.multiplier

    def pay(streak: int, total: int, paid: frozenset[int]) -> list[Reward]:
        out = [Reward(Kind.CHECKIN_STREAK, b.bonus * m, b.name, b.days) for b in cfg.consecutive
               if b.days <= streak and b.days not in paid]
        out += [Reward(Kind.CHECKIN_TOTAL, b.bonus * m, b.name, b.days) for b in cfg.cumulative if b.days == total]
        return out

    return pay


def base_points(cfg: Any) -> int:
    """A day's check-in points before the level's multiplier (the campaign's multiplier applied)."""
    return int(cfg.points * cfg.multiplier)


def campaign_name(ctx: Any, section: str) -> str:
    """The name of the campaign overriding `section` now, or "" outside any campaign."""
    cid = ctx.campaign(section)
    return next((c.name for c in ctx.settings.campaigns if c.id == cid), "") if cid else ""


def upcoming(ctx: Any, streak: int, total: int, growth: int) -> list[dict[str, Any]]:
    """The next bonus a member who checks in every day from tomorrow will be paid: in how many days, its name
    and the points — under the rules in force on that day (a campaign over by then no longer doubles it) and
    the level `growth` holds now. At most one line (the largest of the earliest day); [] when none is ahead."""
    settings = ctx.settings
    configs = [settings.base().checkin, *(s.checkin for s in settings.base().campaign_settings())]
    days = set()
    for cfg in configs:
        if cfg is None:
            continue
        days |= {b.days - streak for b in cfg.consecutive if b.days > streak}
        days |= {b.days - total for b in cfg.cumulative if b.days > total}
    scale = levels.checkin_scale(settings)
    for k in sorted(days):  # only the days some configuration pays a bonus on
        cfg = settings.at(ctx.now + timedelta(days=k))[0].checkin
        if cfg is None:
            continue
        lines = [r for r in rewards(cfg)(streak + k, total + k) if r.kind != Kind.CHECKIN]
        if lines:
            best = max(lines, key=lambda r: scale(r.points, growth) if scale else r.points)
            points = scale(best.points, growth) if scale else best.points
            return [{"name": best.name, "bonus": points, "in_days": k}]
    return []


def terms(ctx: Any) -> dict[str, Any] | None:
    """What checking in pays today, for the reminder and the welcome: the points (campaign included, level
    not), the streak bonuses, the campaign's name and the usual points when a campaign changes them, and
    whether levels add to it. None when check-in is off."""
    cfg = ctx.settings.checkin
    if cfg is None:
        return None
    base = ctx.settings.base().checkin
    usual = base_points(base) if base is not None else 0
    today = base_points(cfg)
    return {"keyword": cfg.keywords[0] if cfg.keywords else "签到", "points": today,
            "consecutive": [{"days": b.days, "bonus": b.bonus * cfg.multiplier} for b in cfg.consecutive],
            "campaign": campaign_name(ctx, "checkin"), "usual": usual if usual != today else None,
            "levels": any(lv.checkin_multiplier > 1 for lv in ctx.settings.levels or ())}
