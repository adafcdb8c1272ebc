"""Follow rewards (关注 CODE): the claim code from the official account pays once per account.

Guessing is capped: every wrong code counts toward follow.max_wrong_per_day (per member, per local
day); once the cap is reached every further attempt that day is refused, even with a right code,
and is counted too. Those replies are returned, not raised: a UserError would roll back the count.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bot.config import Points, PosInt, Section, Text, problem, section
from bot.dispatch import Context, Reply, command
from bot.errors import UserError
from handlers.common import earns, ledger, services
from storage import keys
from storage.vocabulary import Kind


class FollowAccount(Section):
    id: Text
    name: Text
    code: Text


class FollowSettings(Section):
    points: Points = 15
    max_wrong_per_day: PosInt = 5
    accounts: list[FollowAccount] = Field(default_factory=list)


def _codes(settings: Any) -> None:
    if settings.follow is not None:
        codes = [a.code.upper() for a in settings.follow.accounts]
        if len(codes) != len(set(codes)):
            raise problem("follow.accounts: each account needs its own code")


section("follow", FollowSettings, campaign=True, check=_codes)

WRONG = "follow_wrong"  # daily counter kind


@command("关注", aliases=("关注领积分",), feature="follow")
async def follow(ctx: Context, args: str) -> Reply:
    """关注公众号/视频号后，发送领取码领积分
    关注 领取码"""
    cfg = ctx.settings.follow
    code = "".join(args.split()).upper()
    if not code:
        raise UserError(template="follow/usage", accounts=[a.name for a in cfg.accounts])
    book, counters = ledger(ctx), services(ctx).conversations
    if counters.counter(ctx.sender, WRONG, ctx.day) >= cfg.max_wrong_per_day:
        counters.bump(ctx.sender, WRONG, ctx.day)
        return ctx.reply("follow/locked", limit=cfg.max_wrong_per_day)
    account = next((a for a in cfg.accounts if a.code.upper() == code), None)
    if account is None:
        wrong = counters.bump(ctx.sender, WRONG, ctx.day)
        return ctx.reply("follow/wrong", left=max(cfg.max_wrong_per_day - wrong, 0))
    key = keys.follow(account.id, ctx.sender)
    if cfg.points == 0 or not earns(ctx, ctx.sender):  # staff earn nothing automatically (bot.staff_earn)
        return ctx.reply("follow/ok", account=account.name, earned=0, points=_balance(ctx))
    paid = book.award(member=ctx.sender, points=cfg.points, kind=Kind.FOLLOW, key=key, at=ctx.now, room=ctx.room,
                      detail=account.name, campaign=ctx.campaign("follow"))
    if paid is None:
        return ctx.reply("follow/already", account=account.name)
    return ctx.reply("follow/ok", account=account.name, earned=paid.delta, points=paid.balance_after)


def _balance(ctx: Context) -> int:
    m = ledger(ctx).member(ctx.sender)
    return m.points if m else 0
