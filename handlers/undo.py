"""撤销: an admin undoes a mistaken 加分 / 扣分, privately, as if it never happened; the member is told privately.

The reversal takes back points and growth, and the boards count it in the week and month of the entry
it undoes (storage.boards), so the member's level and 周榜/月榜 fall back with it. Only manual entries
(storage.vocabulary.UNDOABLE) are undone here; every other kind is refused naming what undoes it.
Taking back an award whose points were spent is refused: an operator's action never leaves a member
in debt (the operator refunds the order first, or leaves it).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.dispatch import Context, Reply, command
from bot.errors import UserError
from handlers.common import as_typed, ledger, oplog, services
from storage import keys
from storage.errors import AlreadyReversed, InsufficientPoints, NoSuchEntry, NotUndoable
from storage.ledger import Entry, Undone

MAX_REASON = 100  # characters, as for 加分 / 扣分
USAGE = "撤销 记录号 理由"
_ORDER = re.compile(r"#?\s*([0-9]{1,18})(?:\s+|$)(.*)", re.DOTALL)


def parse(args: str) -> tuple[int, str]:
    """The entry id and the reason from "#123 理由" (the # is optional); a UserError saying what is missing."""
    text = unicodedata.normalize("NFKC", args).strip()
    m = _ORDER.fullmatch(text)
    if m is None:
        raise UserError(template="undo/usage", problem="entry", usage=USAGE, max_reason=MAX_REASON)
    reason = " ".join(m.group(2).split())
    if not reason:
        raise UserError(template="undo/usage", problem="reason", usage=USAGE, max_reason=MAX_REASON)
    if len(reason) > MAX_REASON:
        raise UserError(template="undo/usage", problem="reason_long", usage=USAGE, max_reason=MAX_REASON)
    return int(m.group(1)), reason


def entry_data(ctx: Context, e: Entry) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "delta": e.delta, "detail": e.detail,
            "at": e.at.astimezone(ctx.settings.bot.tz).strftime("%m-%d %H:%M")}


def _name(ctx: Context, member: str) -> str:
    view = ledger(ctx).member(member)
    return (view.name if view else "") or member


def _order_of(ctx: Context, member: str, key: str) -> int | None:
    """The mall order (单号) whose redeem entry has `key`: 退款 takes that number."""
    return next((o.id for o in services(ctx).mall.orders(member=member) if o.key == key), None)


def _refusal(ctx: Context, entry: int, err: Exception) -> UserError:
    if isinstance(err, NoSuchEntry):
        return UserError(template="undo/refused", problem="no_entry", entry=entry)
    if isinstance(err, AlreadyReversed):
        return UserError(template="undo/refused", problem="already", entry=entry, by=err.by)
    found = ledger(ctx).entry(entry)
    assert found is not None  # refused after it was found
    data: dict[str, Any] = {"entry": entry_data(ctx, found), "member_name": _name(ctx, found.member)}
    if isinstance(err, InsufficientPoints):
        return UserError(template="undo/refused", problem="poor", points=err.points, needed=err.needed, **data)
    assert isinstance(err, NotUndoable)
    order = _order_of(ctx, found.member, found.key) if err.kind == "redeem" else None
    return UserError(template="undo/refused", problem="kind", order=order, **data)


@command("撤销", admin=True, where="private")
async def undo(ctx: Context, args: str) -> list[Reply]:
    """撤销一笔管理员加分或扣分，积分、成长值和周榜月榜一并退回（管理员，私聊发送；记录号见「明细」）
    撤销 记录号 理由"""
    entry, reason = parse(args)
    reason = as_typed(ctx.text, reason)  # full-width punctuation as typed
    try:
        done: Undone = ledger(ctx).undo(entry=entry, key=keys.undo(ctx.event_id, ctx.sender), at=ctx.now,
                                        detail=reason)
    except (NoSuchEntry, AlreadyReversed, NotUndoable, InsufficientPoints) as err:
        raise _refusal(ctx, entry, err) from None
    member = done.original.member
    if not done.repeated:
        oplog(ctx, "undo", member, {"entry": done.original.id, "reversal": done.reversal.id,
                                    "points": -done.original.delta}, reason)
    view = ledger(ctx).member(member)
    data = {"entry": entry_data(ctx, done.original), "reversal": done.reversal.id,
            "reason": done.reversal.detail, "member_name": _name(ctx, member),
            "points": view.points if view else 0, "growth": view.growth if view else 0}
    replies = [ctx.reply("undo/done", repeated=done.repeated, **data)]
    if not done.repeated:  # a message handled before told the member already
        replies.append(Reply("undo/notice", data, to=member,
                             fallback=Reply("undo/not_friend", {"member_name": data["member_name"]})))
    return replies
