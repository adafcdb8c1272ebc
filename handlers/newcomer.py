"""New-member points: paid on joining or claimed with 新人礼 within a window; the welcome message."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from bot.config import Flag, Hours, Points, Section, Text, section
from bot.dispatch import Context, Reply, command, on_join, on_leave
from handlers.common import earns, ledger, member_name, services
from handlers.lib import payouts
from storage import invites as store


class NewcomerSettings(Section):
    points: Points = 10
    scope: Literal["company", "room"] = "company"  # new to every group of the company, or to this group
    claim_within_hours: Hours = 0  # 0: pay on joining; > 0: pay when 新人礼 is sent within this many hours
    keywords: list[Text] = Field(default_factory=lambda: ["新人礼"])
    welcome: Flag = True  # greet newcomers by @-mention


section("newcomer", NewcomerSettings, campaign=True)


def _name(ctx: Context, p: Any) -> str:
    return member_name(ctx, p.id, p.name)


@on_join
async def welcome(ctx: Context, ev: Any) -> Reply | None:
    """Pay (or open a claim for) each newcomer of a join, then greet them together by @-mention.

    Decisions where the issue is silent:
    - The bot itself is neither paid nor greeted, nor are admins (they run the programme) unless
      bot.staff_earn lets staff earn like members.
    - The welcome greets everyone new to *this* group, also those the company scope does not pay
      (they were in another group before): they are still new here. Someone coming back to a group
      they were in is not greeted again; across 50 groups people bounce, and a second welcome is noise.
    - With a claim window, the amount is the one in force when 新人礼 is sent, and the campaign
      then running is the one recorded.
    - New-member points are never clawed back when the newcomer leaves (only invites are); an
      open claim closes when the newcomer leaves that group before claiming.
    """
    cfg = ctx.settings.newcomer
    if cfg is None or ctx.room is None:
        return None
    bot = ctx.settings.bot
    greet: list[Any] = []
    paid: list[str] = []
    pending: list[str] = []
    for p in ev.members:
        if p.id == bot.self_id or not earns(ctx, p.id):
            continue
        if not services(ctx).presence.ever_member(p.id, ctx.room):
            greet.append(p)
        res = store.newcomer_joined(ledger(ctx), member=p.id, room=ctx.room, at=ctx.now, scope=cfg.scope,
                                    points=cfg.points, claim_within_hours=cfg.claim_within_hours,
                                    campaign=ctx.campaign("newcomer"))
        if res.status == "paid" and cfg.points > 0:
            paid.append(_name(ctx, p))
        elif res.status == "pending" and cfg.points > 0:
            pending.append(_name(ctx, p))
    if not cfg.welcome or not greet:
        return None
    invite = ctx.settings.invite
    return Reply(
        "newcomer/welcome",
        {
            "points": cfg.points,
            "paid": paid,
            "all_paid": len(paid) == len(greet),
            "pending": pending,
            "all_pending": len(pending) == len(greet),
            "claim_hours": cfg.claim_within_hours,
            "claim_keyword": cfg.keywords[0],
            "checkin": payouts.terms(ctx),
            "invite": {"points": invite.points} if invite is not None and invite.points > 0 else None,
            "tasks": bool(ctx.settings.tasks),
        },
        mentions=tuple(p.id for p in greet),
        names={p.id: _name(ctx, p) for p in greet},
    )


@on_leave
async def close_claims(ctx: Context, ev: Any) -> None:
    """A newcomer who leaves before claiming loses the open claim for that group."""
    if ctx.room is None:
        return
    for p in ev.members:
        store.newcomer_left(ledger(ctx), member=p.id, room=ctx.room)


@command("新人礼", feature="newcomer", config_aliases=lambda s: s.newcomer.keywords)
async def claim(ctx: Context, args: str) -> Reply:
    """新成员领取新人礼积分

    Works in the group or privately; it pays every claim still open (with scope = "room", one per
    group joined). Past the window the claim closes and the member is told it has passed.
    """
    cfg = ctx.settings.newcomer
    res = store.newcomer_claim(ledger(ctx), member=ctx.sender, at=ctx.now, within_hours=cfg.claim_within_hours,
                               points=cfg.points, scope=cfg.scope, campaign=ctx.campaign("newcomer"))
    if res.status == "paid":
        return ctx.reply("newcomer/claimed", points=res.points, balance=res.balance)
    if res.status == "expired":
        return ctx.reply("newcomer/expired", hours=cfg.claim_within_hours)
    if res.status == "already":
        return ctx.reply("newcomer/already")
    return ctx.reply("newcomer/not_new")
