"""公告: an admin, privately, posts an announcement to every served group or to one, after a preview and 确认.

`公告 内容` goes to every group the bot serves; `公告 群名或群ID 内容` to that one (its name as the bot knows it,
or its ID from 「我的ID」 sent in the group). The bot answers with a preview and waits for 「确认」 (or 「取消」);
only then are the posts queued, through the outbox and its send budget like any post (member replies go
first). Quiet hours do not hold an announcement: the admin confirmed it for now, and the preview says when
it is inside them. The text is length-limited (MAX_CHARS) and posted as typed.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from bot.clock import quiet_end, quiet_window
from bot.dispatch import Context, Reply, command, conversation, on_cancel
from bot.errors import UserError
from handlers.common import services
from handlers.lib.announcing import MAX_CHARS, seconds_to_send
from storage.conversations import Pending

KIND = "announce"
CONFIRM_MINUTES = 10
YES = ("确认", "确定", "确认发送")


def _served(ctx: Context) -> list[tuple[str, str]]:
    """(id, name) of every group the bot serves now (bot.rooms when set, else every group it knows)."""
    return services(ctx).presence.rooms(tuple(ctx.settings.bot.rooms))


def _parse(ctx: Context) -> tuple[list[tuple[str, str]], str, bool]:
    """(the groups, the text as typed, whether one group was named), or a UserError."""
    typed = ctx.text
    at = typed.find(ctx.keyword)
    rest = (typed[at + len(ctx.keyword):] if at >= 0 else "").strip().lstrip(":：").strip()  # "公告：内容"
    served = _served(ctx)
    if not served:
        raise UserError(template="announce/usage", problem="no_rooms", max_chars=MAX_CHARS)
    words = rest.split(None, 1)
    if len(words) == 2:
        first = unicodedata.normalize("NFKC", words[0])
        named = [r for r in served if first in (r[0], unicodedata.normalize("NFKC", r[1]))]
        if len(named) == 1:
            return named, words[1].strip(), True
    if not rest:
        raise UserError(template="announce/usage", problem="empty", max_chars=MAX_CHARS)
    if len(rest) > MAX_CHARS:
        raise UserError(template="announce/usage", problem="long", length=len(rest), max_chars=MAX_CHARS)
    return served, rest, False


@command("公告", admin=True, where="private")
async def announce(ctx: Context, args: str) -> Reply:
    """向所有群或一个群发公告，确认后发出（管理员，私聊）
    公告 [群名或群ID] 内容"""
    rooms, text, one = _parse(ctx)
    if one and len(text) > MAX_CHARS:
        raise UserError(template="announce/usage", problem="long", length=len(text), max_chars=MAX_CHARS)
    cfg = ctx.settings.outbox
    until = quiet_end(ctx.now, quiet_window(cfg.quiet_hours), ctx.settings.bot.tz)
    services(ctx).conversations.set_pending("", ctx.sender, KIND, "confirm",
                                            {"text": text, "rooms": [r[0] for r in rooms] if one else []},
                                            ctx.now + timedelta(minutes=CONFIRM_MINUTES))
    return Reply("announce/preview", {"text": text, "rooms": [r[1] or r[0] for r in rooms], "all": not one,
                                      "quiet": cfg.quiet_hours if until is not None else "",
                                      "minutes": CONFIRM_MINUTES})


@conversation(KIND)
async def confirm(ctx: Context, answer: str, state: Pending) -> Reply | list[Reply] | None:
    if answer.strip() not in YES:
        return Reply("announce/waiting", {"minutes": CONFIRM_MINUTES})
    services(ctx).conversations.clear_pending(state.chat, ctx.sender)
    text = str(state.data["text"])
    chosen = [str(r) for r in state.data.get("rooms", [])]
    services(ctx).oplog.record(at=ctx.now, actor_kind="chat", actor=ctx.sender, action="announce",
                               target=",".join(chosen) or "*", detail={"text": text, "rooms": chosen or "all"})
    if chosen:
        posts = [Reply("announce/post", {"text": text}, room=room, mention=False) for room in chosen]
        count = len(chosen)
    else:
        posts = [Reply("announce/post", {"text": text}, broadcast=True)]
        count = len(_served(ctx))
    interval = ctx.settings.outbox.interval_seconds
    return [*posts, Reply("announce/queued", {"count": count, "seconds": seconds_to_send(count, interval)},
                          private=True)]


@on_cancel(KIND)
async def cancelled(ctx: Context, state: Pending) -> Reply:
    return Reply("announce/cancelled", {})
