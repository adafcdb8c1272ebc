"""Campaign phase posts (预热 / 正式 / 收尾) from the `campaign` job.

Each run posts, for every [[campaigns]] entry, the phase it is in at that moment, unless that phase
was posted before: 预热 in [starts - warmup_hours, starts), 正式 from starts until 收尾 begins, 收尾 in
[ends - closing_hours, ends) (never before starts: a campaign shorter than closing_hours has no 正式
post). A phase whose window passed without a run is skipped, so nothing is announced late. "Posted
before" is a claimed event per campaign, phase and group, so it holds across restarts and a second
process, a group the bot first hears of mid-campaign still reads the phase in force, and two entries
serving one group post there once.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from bot.config import Campaign, Hours, section
from bot.dispatch import Context, Reply, job
from handlers.common import services
from storage import keys

SECTIONS = {"checkin": "签到", "newcomer": "新人礼", "invite": "邀请", "profile": "完善资料", "follow": "关注"}


class CampaignSettings(Campaign):
    """A [[campaigns]] entry as its posts describe it; its other keys override sections (bot.config.Campaign)."""

    description: str = ""  # what the campaign is, shown in its posts
    warmup_hours: Hours = 24  # 预热 post: due within this many hours before starts (0: none)
    closing_hours: Hours = 24  # 收尾 post: due within this many hours before ends (0: none)


section("campaigns", CampaignSettings, many=True)


def phase_at(c: CampaignSettings, at: datetime) -> str | None:
    """warmup | start | closing: the phase of `c` at `at`; None outside every phase's window."""
    closing = max(c.starts, c.ends - timedelta(hours=c.closing_hours))
    if c.warmup_hours and c.starts - timedelta(hours=c.warmup_hours) <= at < c.starts:
        return "warmup"
    if c.starts <= at < closing:
        return "start"
    if closing <= at < c.ends and c.closing_hours:
        return "closing"
    return None


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "开启" if v else "关闭"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _bonuses(rows: Any) -> str:
    try:
        return "、".join(f"{int(b['days'])}天 +{int(b['bonus'])}" for b in rows)
    except (TypeError, KeyError, ValueError):
        return _value(rows)


def perk(section: str, key: str, value: Any) -> str:
    """One override as members read it: checkin.multiplier = 2 -> "签到积分 ×2"."""
    known = {
        ("checkin", "multiplier"): lambda v: f"签到积分 ×{_value(v)}",
        ("checkin", "points"): lambda v: f"每日签到 {v} 积分",
        ("checkin", "consecutive"): lambda v: f"连续签到奖励：{_bonuses(v)}",
        ("checkin", "cumulative"): lambda v: f"累计签到奖励：{_bonuses(v)}",
        ("newcomer", "points"): lambda v: f"新人礼 {v} 积分",
        ("invite", "points"): lambda v: f"邀请每人 {v} 积分",
        ("profile", "points"): lambda v: f"完善资料 {v} 积分",
        ("follow", "points"): lambda v: f"关注每个账号 {v} 积分",
    }
    show = known.get((section, key))
    if show is not None:
        return show(value)
    return f"{SECTIONS.get(section, section)}规则调整：{key} = {_value(value)}"


def perks(c: CampaignSettings) -> list[str]:
    return [perk(section, key, value) for section, values in c.overrides().items() for key, value in values.items()]


def _when(ctx: Context, t: datetime) -> str:
    local = t.astimezone(ctx.settings.bot.tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _hours(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds() / 3600))


@job("campaign", posts=True)
async def phase_posts(ctx: Context) -> list[Reply]:
    """Post each campaign's current phase (预热 / 正式 / 收尾) once in every group it serves; a group the bot
    learns of later (a rooms event, a first message) gets the phase in force then, on the next run."""
    presence = services(ctx).presence
    out: list[Reply] = []
    for c in ctx.settings.campaigns:
        phase = phase_at(c, ctx.now)
        if phase is None or not ctx.rooms:
            continue
        # a database from before per-group claims: the entry's claim covers the groups known when it was made
        legacy = presence.claimed_at(keys.campaign_phase(c.id, phase, ctx.event_id))
        seen = presence.rooms_seen(ctx.rooms) if legacy is not None else {}
        data = {"campaign": c.name, "description": c.description, "perks": perks(c),
                "starts": _when(ctx, c.starts), "ends": _when(ctx, c.ends),
                "hours_to_start": _hours(c.starts - ctx.now), "hours_left": _hours(c.ends - ctx.now)}
        for room in ctx.rooms:
            if legacy is not None and room in seen and seen[room] <= legacy:
                continue
            if presence.claim_event(keys.campaign_phase_in(c.id, phase, room), ctx.now):
                out.append(Reply(f"campaign/{phase}", data, room=room, mention=False))
    return out
