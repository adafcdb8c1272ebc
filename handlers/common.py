"""Small helpers every handler shares."""

from __future__ import annotations

import unicodedata
from typing import Any

from bot.dispatch import Context
from storage.ledger import Ledger
from storage.store import Storage


def services(ctx: Context) -> Storage:
    """The storage services run_bot wired in (storage.store.Storage)."""
    return ctx.services  # type: ignore[no-any-return]


def oplog(ctx: Context, action: str, target: str = "", detail: dict[str, Any] | None = None, reason: str = "") -> None:
    """An admin's change in chat, into the operator log (actor: the admin's contact id), in the batch's transaction."""
    services(ctx).oplog.record(at=ctx.now, actor_kind="chat", actor=ctx.sender, action=action, target=target,
                               detail={"room": ctx.room, **(detail or {})}, reason=reason)


def ledger(ctx: Context) -> Ledger:
    return services(ctx).ledger


def earns(ctx: Context, member: str) -> bool:
    """Whether `member` earns points automatically: staff (bot.admins) only with bot.staff_earn."""
    bot = ctx.settings.bot
    return bot.staff_earn or member not in bot.admins


def checked_in_today(last: Any, ctx: Context) -> bool:
    return last is not None and last == ctx.day


def live_streak(last: Any, streak: int, ctx: Context) -> int:
    """The streak still running: it is broken once a whole local day passed without a check-in."""
    if last is None:
        return 0
    return streak if (ctx.day - last).days <= 1 else 0


SOMEONE = "这位朋友"  # what members read for a contact whose display name the bot has never been given


def display_name(name: str | None) -> str:
    """A contact as members read them: the display name the transport gave, never an id (或「这位朋友」).

    Contact ids (wxid_...) mean nothing to members and are not for them to see, not even a fragment.
    """
    return (name or "").strip() or SOMEONE


def member_name(ctx: Context, member: str, given: str | None = "") -> str:
    """`member`'s display name: `given` (the event's own, the freshest), else the one stored when the bot
    last saw them, else 这位朋友 — never the id."""
    if (given or "").strip():
        return display_name(given)
    if member == ctx.sender and ctx.sender_name.strip():
        return display_name(ctx.sender_name)
    view = ledger(ctx).member(member)
    return display_name(view.name if view else "")


_FOLD_SPACE = frozenset(" \t\r\n\u2005\u3000\u00a0")


def as_typed(typed: str, normalised: str) -> str:
    """The part of `typed` (the message as sent, ctx.text) that `normalised` was cut from, as the member typed it.

    Matching reads NFKC-normalised text, so a handler's arguments have half-width punctuation ("输错了,撤回");
    a reason is stored and shown as typed ("输错了，撤回"). `normalised` is found as the last piece of `typed`
    that normalises (character by character, runs of spaces as one) to it; when none does (a character whose
    NFKC form depends on its neighbours), `normalised` itself is returned. Runs of spaces become one space.
    """
    target = " ".join(normalised.split())
    if not target:
        return ""
    folded: list[str] = []  # the folded text, one character at a time
    origin: list[int] = []  # for each, the index in `typed` it came from
    for i, ch in enumerate(typed):
        for c in unicodedata.normalize("NFKC", ch):
            if c in _FOLD_SPACE or c.isspace():
                if folded and folded[-1] == " ":
                    continue
                c = " "
            folded.append(c)
            origin.append(i)
    at = "".join(folded).rfind(target)
    if at < 0:
        return target
    start, end = origin[at], origin[at + len(target) - 1] + 1
    return " ".join(typed[start:end].replace("\u2005", " ").split())
