"""冻结 / 解冻: an admin stops a member caught cheating from earning or redeeming, and lets them go again.

`冻结 @成员 理由` in a group (the target by @-mention: a contact id, never a name typed), or privately
`冻结 成员ID 理由` (the ID 「我的ID」 shows). The reason is required and kept with who did it and when
(storage.freezes, no ledger line). While frozen no rule pays the member and 兑换 / 补签 are refused, in
storage (MemberFrozen, from the locked read every money verb already makes); 加分 / 扣分 still work.

The member is told once, privately, at the first refused action after a freeze; after that a refused
action gets no reply at all: a frozen account that keeps sending 签到 in a group should not cost the
group's send budget or a line of chat each time, and they already know why.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.dispatch import Context, Reply, command, on_refusal
from bot.errors import UserError
from handlers.common import SOMEONE, display_name, ledger, member_name, services
from storage.errors import MemberFrozen
from storage.freezes import Change, Freezes

MAX_REASON = 100  # characters, as for 加分 / 扣分
_MENTION = re.compile(r"@[^@\u2005]+\u2005|@\S+")
_LEAD = " \t\u3000\u2005:："  # what may stand between a keyword and its argument


def _parse(ctx: Context, args: str) -> tuple[str, str]:
    """(the member's id, the reason as typed), or a UserError saying what is missing."""
    usage: dict[str, Any] = {"keyword": ctx.keyword, "max_reason": MAX_REASON}
    me = ctx.settings.bot.self_id
    typed = ctx.text
    at = typed.find(ctx.keyword)
    rest = (typed[at + len(ctx.keyword):] if at >= 0 else args).lstrip(_LEAD)  # "冻结：@Bob" as "冻结 @Bob"
    if ctx.room is not None:
        who = list(dict.fromkeys(m for m in ctx.mentions if m and m != me))
        if len(who) != 1:
            raise UserError(template="freeze/usage", problem="mention" if not who else "one", **usage)
        member = who[0]
        rest = _MENTION.sub(" ", rest)
    else:
        words = rest.split(None, 1)
        if not words:
            raise UserError(template="freeze/usage", problem="id", **usage)
        member = unicodedata.normalize("NFKC", words[0]).strip()
        rest = words[1] if len(words) > 1 else ""
        if ledger(ctx).member(member) is None:
            raise UserError(template="freeze/usage", problem="unknown", member=member, **usage)
    reason = " ".join(rest.split()).lstrip(_LEAD)
    if not reason:
        raise UserError(template="freeze/usage", problem="reason", **usage)
    if len(reason) > MAX_REASON:
        raise UserError(template="freeze/usage", problem="reason_long", **usage)
    return member, reason


def _target_name(ctx: Context, member: str) -> str:
    name = member_name(ctx, member)
    if name == SOMEONE and ctx.room is not None:  # the name the admin's @ wrote, never the id
        m = re.search(r"@([^@\u2005\s]+)", ctx.text)
        name = display_name(m.group(1) if m else "")
    return name


def _done(ctx: Context, change: Change) -> Reply:
    view = ledger(ctx).member(change.member)
    return Reply("freeze/done", {"action": change.action, "changed": change.changed, "reason": change.reason,
                                 "member_name": _target_name(ctx, change.member),
                                 "points": view.points if view else 0, "record": change.record or 0},
                 mention=True)


@command("冻结", admin=True)
async def freeze(ctx: Context, args: str) -> Reply:
    """冻结成员：不再得积分、不能兑换（管理员）
    冻结 @成员 理由"""
    member, reason = _parse(ctx, args)
    if member in ctx.settings.bot.admins:
        raise UserError(template="freeze/usage", problem="admin", keyword=ctx.keyword, max_reason=MAX_REASON)
    services(ctx).presence.see_member(member, "", ctx.now)  # a member @-mentioned before ever speaking
    # storage.freezes.Freezes.freeze: the place an operator log records who froze whom and why
    change = freezes(ctx).freeze(member, actor=ctx.sender, reason=reason, at=ctx.now, actor_kind="chat")
    return _done(ctx, change)


@command("解冻", admin=True)
async def unfreeze(ctx: Context, args: str) -> Reply:
    """解冻成员，恢复得积分和兑换（管理员）
    解冻 @成员 理由"""
    member, reason = _parse(ctx, args)
    services(ctx).presence.see_member(member, "", ctx.now)
    change = freezes(ctx).unfreeze(member, actor=ctx.sender, reason=reason, at=ctx.now, actor_kind="chat")
    return _done(ctx, change)


@on_refusal(MemberFrozen)
async def frozen(ctx: Context, exc: BaseException) -> Reply | None:
    """A frozen member's 签到, 兑换, 补签, 答, 完善资料, 关注...: told once, privately; silence after that."""
    assert isinstance(exc, MemberFrozen)
    if exc.member != ctx.sender or not freezes(ctx).tell_once(exc.member):
        return None
    return Reply("freeze/told", {}, private=True, fallback=Reply("freeze/told_group", {}))


def freezes(ctx: Context) -> Freezes:
    found = services(ctx).freezes
    assert found is not None, "Storage.open wires storage.freezes"
    return found
