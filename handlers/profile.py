"""Profile completion (完善资料): a private conversation asks each field, validates it, pays once.

Each valid answer is saved as soon as it is given, so 取消 (or walking away) keeps what was
answered and the next 完善资料 asks only what is missing. The points are paid once, the first time
every configured field is filled (ledger key `profile:{member}`); a member whose profile is complete
may go through it again to update it, for no points. Answers come only in the private chat.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field

from bot.config import Points, PosMinutes, Section, section
from bot.dispatch import Context, Reply, command, conversation
from handlers.common import earns, ledger, services
from handlers.lib.answers import Invalid, clean_phone
from storage import keys
from storage.conversations import Pending
from storage.profiles import Profiles
from storage.vocabulary import Kind

ProfileField = Literal["phone", "birthday", "city"]
PROFILE_FIELDS: tuple[ProfileField, ...] = ("phone", "birthday", "city")


class ProfileSettings(Section):
    points: Points = 20
    fields: list[ProfileField] = Field(default_factory=lambda: list(PROFILE_FIELDS))
    expire_minutes: PosMinutes = 30  # a conversation left alone this long is dropped


section("profile", ProfileSettings, campaign=True)

KIND = "profile"
CITY_MAX = 30  # characters; a longer answer is not a city name

_DATE_SEP = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def clean_birthday(text: str, today: date) -> str:
    """A real calendar date before today (1900 or later), as YYYY-MM-DD."""
    m = _DATE_SEP.match(text.strip()) or _DATE_COMPACT.match(text.strip())
    if m is None:
        raise Invalid("date_format")
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise Invalid("date_impossible") from None
    if day >= today:
        raise Invalid("date_future")
    if day.year < 1900:
        raise Invalid("date_too_old")
    return day.isoformat()


def clean_city(text: str) -> str:
    t = " ".join(text.split())
    if not t:
        raise Invalid("city_empty")
    if len(t) > CITY_MAX:
        raise Invalid("city_long")
    return t


def clean(field: str, text: str, today: date) -> str:
    if field == "phone":
        return clean_phone(text)
    if field == "birthday":
        return clean_birthday(text, today)
    return clean_city(text)


def _profiles(ctx: Context) -> Profiles:
    return services(ctx).profiles


def _ask(ctx: Context, field: str, remaining: list[str], data: dict[str, Any]) -> None:
    expires = ctx.now + timedelta(minutes=ctx.settings.profile.expire_minutes)
    services(ctx).conversations.set_pending("", ctx.sender, KIND, field, {**data, "fields": remaining}, expires)


@command("完善资料", aliases=("填写资料", "修改资料"), feature="profile")
async def start(ctx: Context, args: str) -> list[Reply]:
    """完善个人资料领积分（私聊进行）"""
    cfg = ctx.settings.profile
    current = _profiles(ctx).get(ctx.sender)
    filled = current.data if current else {}
    todo = [f for f in cfg.fields if not filled.get(f)]
    update = not todo  # complete already: go through every field again to update it, for no points
    fields = list(cfg.fields) if update else todo
    _ask(ctx, fields[0], fields[1:], {"update": update})
    replies = []
    if ctx.room is not None:
        replies.append(ctx.reply("profile/moved_private", showing=False))
    replies.append(Reply("profile/start", {"update": update, "count": len(fields), "field": fields[0],
                                          "points": cfg.points if earns(ctx, ctx.sender) else 0,
                                          "minutes": cfg.expire_minutes}, private=True))
    return replies


@conversation(KIND)
async def answer(ctx: Context, text: str, state: Pending) -> Reply | None:
    cfg = ctx.settings.profile
    if cfg is None:  # the feature was switched off mid-conversation
        services(ctx).conversations.clear_pending(state.chat, ctx.sender)
        return None
    field = state.step
    remaining = [f for f in state.data.get("fields", []) if f in cfg.fields]
    try:
        value = clean(field, text, ctx.day)
    except Invalid as bad:
        _ask(ctx, field, remaining, state.data)  # still talking: the clock starts again
        return Reply("profile/invalid", {"field": field, "reason": bad.reason}, private=True)
    profile = _profiles(ctx).save(ctx.sender, {field: value})
    if remaining:
        _ask(ctx, remaining[0], remaining[1:], state.data)
        return Reply("profile/ask", {"field": remaining[0], "saved": field}, private=True)
    services(ctx).conversations.clear_pending(state.chat, ctx.sender)
    missing = [f for f in cfg.fields if not profile.get(f)]
    earned = 0
    # staff earn nothing automatically (bot.staff_earn); their profile still counts as complete
    if not missing and _profiles(ctx).mark_complete(ctx.sender, ctx.now) and cfg.points > 0 and earns(ctx, ctx.sender):
        paid = ledger(ctx).award(member=ctx.sender, points=cfg.points, kind=Kind.PROFILE, key=keys.profile(ctx.sender),
                                 at=ctx.now, detail="完善资料", campaign=ctx.campaign("profile"))
        earned = paid.delta if paid else 0
    m = ledger(ctx).member(ctx.sender)
    return Reply("profile/done", {"earned": earned, "missing": missing, "update": bool(state.data.get("update")),
                                  "points": m.points if m else 0, "profile": _shown(profile, cfg.fields)},
                 private=True)


@command("取消")
async def cancel(ctx: Context, args: str) -> Reply | None:
    """取消正在进行的操作（如完善资料）"""
    chat = ctx.room or ""
    state = services(ctx).conversations.pending(chat, ctx.sender, ctx.now)
    if state is None:
        # 取消 is an everyday word in a group ("取消 明天的会"): say "nothing to cancel" only privately
        return ctx.reply("profile/cancel", kind=None) if ctx.room is None else None
    services(ctx).conversations.clear_pending(chat, ctx.sender)
    step = ctx.registry.cancels.get(state.kind) if ctx.registry is not None else None
    if step is not None:
        return await step(ctx, state)  # type: ignore[return-value]
    return ctx.reply("profile/cancel", kind=state.kind)


@command("我的资料", aliases=("查看资料",), feature="profile")
async def show(ctx: Context, args: str) -> list[Reply]:
    """查看我填写的资料（私聊发送给你）"""
    current = _profiles(ctx).get(ctx.sender)
    fields = ctx.settings.profile.fields
    data = current.data if current else {}
    replies = []
    if ctx.room is not None:
        replies.append(ctx.reply("profile/moved_private", showing=True))
    replies.append(Reply("profile/mine", {"profile": _shown(data, fields), "complete": all(data.get(f) for f in fields)},
                         private=True))
    return replies


def _shown(data: dict[str, str], fields: list[str]) -> list[dict[str, str]]:
    """The member's answers in the configured order, then any from fields no longer asked."""
    order = list(fields) + sorted(k for k in data if k not in fields)
    return [{"field": f, "value": data.get(f, "")} for f in order]
