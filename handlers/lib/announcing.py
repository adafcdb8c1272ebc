"""公告 rules the chat command, the CLI and the console share: the length limit, the text check, the groups an
announcement goes to, and how long the send budget takes to post it everywhere.

One module so that the three channels cannot drift apart: the console imports no feature module, so the rules
live here and handlers.announce takes them from here too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

MAX_CHARS = 1000  # one message a member reads in full, well inside [outbox] max_chars
NO_ROOMS = "还没有可以发公告的群：机器人在群里收到过消息（或在 bot.rooms 里配置了群）之后才能发"


class NotSent(Exception):
    """An announcement that does not go out, for a reason the operator reads as it is (Chinese)."""


def checked(text: str) -> str:
    """The text as the groups will get it (stripped), or NotSent when it is empty or longer than MAX_CHARS."""
    text = text.strip()
    if not text:
        raise NotSent("公告内容是空的")
    if len(text) > MAX_CHARS:
        raise NotSent(f"公告最多 {MAX_CHARS} 个字，这条有 {len(text)} 个字，请缩短后再发")
    return text


def chosen(served: Sequence[tuple[str, str]], wanted: Sequence[str]) -> list[tuple[str, str]]:
    """The served groups (id, name) `wanted` names by id or name, in served order; every served group when it names
    none. NotSent when nothing is served or a name matches no served group (nothing goes out then)."""
    if not served:
        raise NotSent(NO_ROOMS)
    wanted = [w for w in wanted if w]
    if not wanted:
        return list(served)
    keys = {unicodedata.normalize("NFKC", w) for w in wanted}
    for w in wanted:
        if not any(unicodedata.normalize("NFKC", w) in (r[0], unicodedata.normalize("NFKC", r[1])) for r in served):
            raise NotSent(f"没有叫「{w}」的群（群 ID 或群名）")
    return [r for r in served if r[0] in keys or unicodedata.normalize("NFKC", r[1]) in keys]


def seconds_to_send(groups: int, interval: float) -> int:
    """About how long the outbox's send budget takes to post one announcement to `groups` groups."""
    return int(groups * interval) + 1


__all__ = ["MAX_CHARS", "NO_ROOMS", "NotSent", "checked", "chosen", "seconds_to_send"]
