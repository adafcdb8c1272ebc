"""Operator commands: 加分 / 扣分 by @-mention ids (admins only), and 明细 for every member (with entry ids for admins).

Targets are the contact ids the transport reports as @-mentioned (never names typed in the text);
the bot's own id is ignored. A deduction is all-or-nothing: when any target would go below zero,
nobody is changed and the reply names who is short, so the operator can fix the command and resend.
Targets are told in the group by @-mention (a bot can only message its own friends privately).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.dispatch import Context, Reply, command
from bot.errors import UserError
from handlers.common import SOMEONE, as_typed, display_name, earns, ledger, member_name, oplog, services
from storage import keys
from storage.errors import InsufficientPoints
from storage.vocabulary import Kind

MAX_AMOUNT = 100_000  # per member per command: a slip of the keyboard should not mint millions
MAX_REASON = 100  # characters
HISTORY = 10  # ledger lines 明细 shows

_SEP = "\ue000"  # stands in for U+2005 (which NFKC would fold into a space) while parsing
_MENTION_SEP = re.compile(r"@[^@" + _SEP + r"]+" + _SEP)  # WeChat writes "@name\u2005": names may hold spaces
_MENTION_WORD = re.compile(r"@\S+")
_GAP = re.compile(r"[\s" + _SEP + r"]+")


@dataclass(frozen=True)
class Order:
    amount: str  # as typed; "" when missing
    reason: str


def parse_order(raw: str) -> Order:
    """Amount and reason from "加分 @甲 @乙 50 理由" as typed; mentions may stand before or after the amount."""
    t = unicodedata.normalize("NFKC", raw.replace("\u2005", _SEP))
    pos = 0
    seen_keyword = False
    amount = ""
    while True:
        gap = _GAP.match(t, pos)
        if gap:
            pos = gap.end()
        if pos >= len(t):
            return Order(amount, "")
        if t[pos] == "@":
            m = _MENTION_SEP.match(t, pos) or _MENTION_WORD.match(t, pos)
            pos = m.end() if m else pos + 1
            continue
        if seen_keyword and amount:
            break
        word = re.compile(r"[^\s" + _SEP + r"]+").match(t, pos)
        assert word is not None
        if seen_keyword:
            amount = word.group()
        seen_keyword = True
        pos = word.end()
    reason = _GAP.sub(" ", t[pos:]).strip()
    return Order(amount, reason)


def targets(ctx: Context) -> list[str]:
    """The @-mentioned contact ids, the bot's own left out, each once, in order."""
    me = ctx.settings.bot.self_id
    return list(dict.fromkeys(m for m in ctx.mentions if m and m != me))


def _order(ctx: Context) -> tuple[list[str], int, str]:
    """Who, how much and why, or a UserError whose reply says what is missing."""
    who = targets(ctx)
    order = parse_order(ctx.text)
    usage: dict[str, Any] = {"usage": f"{ctx.keyword} @某人 50 理由", "max_amount": MAX_AMOUNT, "max_reason": MAX_REASON}
    if not who:
        raise UserError(template="admin/usage", problem="mention", **usage)
    if not order.amount:
        raise UserError(template="admin/usage", problem="amount_missing", **usage)
    if not order.amount.isdecimal() or not 0 < int(order.amount) <= MAX_AMOUNT:
        raise UserError(template="admin/usage", problem="amount_bad", amount=order.amount, **usage)
    if not order.reason:
        raise UserError(template="admin/usage", problem="reason", **usage)
    reason = as_typed(ctx.text, order.reason)  # "输错了，撤回" as typed, not NFKC's "输错了,撤回"
    if len(reason) > MAX_REASON:
        raise UserError(template="admin/usage", problem="reason_long", **usage)
    return who, int(order.amount), reason


def typed_names(ctx: Context) -> dict[str, str]:
    """The name written after each @ in the text ("@Bob\u2005"), by the contact id mentioned there: clients
    list mentions in the order they stand in the text. Empty unless every @ and every mention pair up."""
    t = ctx.text.replace("\u2005", _SEP)
    typed: list[str] = []
    for at in (i for i, ch in enumerate(t) if ch == "@"):
        m = _MENTION_SEP.match(t, at) or _MENTION_WORD.match(t, at)
        typed.append(m.group()[1:].rstrip(_SEP).strip() if m else "")
    if len(typed) != len(ctx.mentions):
        return {}
    return {m: n for m, n in zip(ctx.mentions, typed, strict=True) if n}


def _names(ctx: Context, who: list[str]) -> dict[str, str]:
    """Display names for the reply: the one the bot was given, else the one the operator's @ wrote, never an id."""
    typed = typed_names(ctx)
    out = {}
    for m in who:
        services(ctx).presence.see_member(m, "", ctx.now)  # a member mentioned before ever speaking
        name = member_name(ctx, m)
        out[m] = display_name(typed.get(m)) if name == SOMEONE else name
    return out


@command("加分", admin=True, where="group")
async def award(ctx: Context, args: str) -> Reply:
    """给成员加积分（管理员）
    加分 @某人 50 理由"""
    who, amount, reason = _order(ctx)
    if ctx.sender in who and not earns(ctx, ctx.sender):
        raise UserError(template="admin/self_award")  # staff earn only with bot.staff_earn; nobody changes
    names = _names(ctx, who)
    rows = []
    for m in who:
        entry = ledger(ctx).award(member=m, points=amount, kind=Kind.ADMIN_AWARD, key=_key(ctx, "admin_award", m),
                                  at=ctx.now, room=ctx.room, detail=reason)
        if entry is not None:  # a repeated message moved nothing and logs nothing
            oplog(ctx, "award", m, {"entry": entry.id, "points": amount}, reason)
        rows.append(_row(ctx, m, names, entry))
    return Reply("admin/done", {"deduct": False, "amount": amount, "reason": reason, "rows": rows},
                 mentions=tuple(who), names=names)


@command("扣分", admin=True, where="group")
async def deduct(ctx: Context, args: str) -> Reply:
    """扣除成员积分（管理员，不会扣到负数）
    扣分 @某人 20 理由"""
    who, amount, reason = _order(ctx)
    names = _names(ctx, who)
    short = []
    for m in who:
        view = ledger(ctx).member(m)
        have = view.points if view else 0
        if have < amount:
            short.append({"name": names[m], "points": have})
    if short:
        raise UserError(template="admin/short", amount=amount, short=short)
    rows = []
    for m in who:
        try:
            entry = ledger(ctx).spend(member=m, points=amount, kind=Kind.ADMIN_DEDUCT, key=_key(ctx, "admin_deduct", m),
                                      at=ctx.now, room=ctx.room, detail=reason)
        except InsufficientPoints as low:  # the balance moved since the check: still all-or-nothing
            raise UserError(template="admin/short", amount=amount,
                            short=[{"name": names[m], "points": low.points}]) from None
        if entry is not None:
            oplog(ctx, "deduct", m, {"entry": entry.id, "points": amount}, reason)
        rows.append(_row(ctx, m, names, entry))
    return Reply("admin/done", {"deduct": True, "amount": amount, "reason": reason, "rows": rows},
                 mentions=tuple(who), names=names)


def _key(ctx: Context, kind: str, member: str) -> str:
    # from the source message (and who sent it): a replayed message changes nothing
    return keys.admin(kind, ctx.event_id, ctx.sender, member)


def _row(ctx: Context, member: str, names: dict[str, str], entry: Any) -> dict[str, Any]:
    if entry is None:  # the key was used: this message was handled before, nothing moved
        view = ledger(ctx).member(member)
        return {"name": names[member], "points": view.points if view else 0, "id": None}
    return {"name": names[member], "points": entry.balance_after, "id": entry.id}  # the id 撤销 takes


@command("明细", aliases=("积分明细",))
async def history(ctx: Context, args: str) -> Reply:
    """查看我最近 10 条积分明细

    Admins see entry ids (what 撤销 takes), and `明细 @某人` shows that member's, privately; a member's
    明细 has no ids and never shows anyone else's.
    """
    tz = ctx.settings.bot.tz
    who = targets(ctx) if ctx.is_admin else []
    member = who[0] if who else ctx.sender
    rows = [
        {"id": e.id, "at": e.at.astimezone(tz).strftime("%m-%d %H:%M"), "kind": e.kind, "detail": e.detail,
         "delta": e.delta, "balance": e.balance_after, "reverses": e.reverses}
        for e in ledger(ctx).entries(member, limit=HISTORY, newest_first=True)
    ]
    if not who:
        return ctx.reply("admin/history", rows=rows, size=HISTORY, ids=ctx.is_admin, whose="")
    # another member's ledger is not for the whole group to read
    return Reply("admin/history", {"rows": rows, "size": HISTORY, "ids": True, "whose": _names(ctx, who)[member]},
                 private=True, fallback=Reply("admin/not_friend", {}))
