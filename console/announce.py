"""The console's 公告 screen: an operator's announcement to every served group or to chosen ones, previewed exactly as
the groups will read it, then sent through the outbox and its send budget, like the chat's 「公告」 command.

How it is sent is the announcer's business (run_bot builds it): inside the bot process straight into its outbox,
from a console running alone handed to the running bot as `python run_bot.py announce` does. Either way the bot
writes the one operator-log row. The preview leaves a one-time draft here: 确认发送 sends the draft (not what the
form says), once, however often the form is posted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from loguru import logger
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.clock import quiet_end, quiet_window
from console import security
from console.common import Refused
from handlers.lib.announcing import MAX_CHARS, NotSent, checked, chosen, seconds_to_send
from storage.accounts import Account

PREFIX = "/console"
DRAFT_MINUTES = 10  # as long as the chat's 「确认」 waits
RECENT = 20
PICK = "g:"  # a chosen group's checkbox: g:<group id>


class Announcer(Protocol):
    """How this console's announcements reach the groups (run_bot.BotAnnouncer or run_bot.HandoffAnnouncer)."""

    inside: bool

    def preview(self, text: str) -> str:
        """What each group will read for `text`."""

    async def send(self, text: str, rooms: list[str], by: str) -> int:
        """Queue `text` to `rooms` (ids; none: every served group) as `by`; how many groups. NotSent when not."""


@dataclass
class Draft:
    user: str
    text: str
    rooms: list[str]  # the ids chosen; empty: every served group
    made: float = field(default_factory=time.monotonic)
    used: bool = False


def as_posted(form: dict[str, str]) -> dict[str, Any]:
    """The form as the operator filled it in: text, to (all / some) and the ids of the groups ticked."""
    to = "some" if form.get("to") == "some" else "all"
    rooms = [k[len(PICK):] for k in form if k.startswith(PICK)] if to == "some" else []
    return {"text": form.get("text", ""), "to": to, "rooms": rooms}


class AnnouncePages:
    st: Any
    settings: Any
    now: Callable[[], datetime]
    page: Callable[..., Response]
    local: Callable[..., str]
    announcer: Announcer | None
    drafts: dict[str, Draft]

    def served(self) -> list[tuple[str, str]]:
        """(id, name) of every group the bot serves, as the chat command reads them."""
        return list(self.st.presence.rooms(tuple(self.settings.bot.rooms)))

    def announce_data(self, user: Account, **more: Any) -> dict[str, Any]:
        served = self.served()
        names = dict(served)
        ops = self.st.oplog.page(action="announce", limit=RECENT)
        recent = [{"op": op, "rooms": [names.get(r) or r for r in op.detail.get("rooms", [])]} for op in ops]
        form = {"text": "", "to": "all", "rooms": [], **more.pop("form", {})}
        return {"user": user, "served": served, "recent": recent, "max_chars": MAX_CHARS, "form": form,
                "interval": self.settings.outbox.interval_seconds,
                "inside": self.announcer.inside if self.announcer else None, "error": "", "draft": None, **more}

    async def announce_page(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        return self.page(request, "announce.html", **self.announce_data(user))

    def validated(self, posted: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
        """(the text as the groups get it, the groups it goes to), or NotSent naming what is wrong."""
        if posted["to"] == "some" and not posted["rooms"]:
            raise NotSent("请至少选一个群，或选「全部群」")
        return checked(posted["text"]), chosen(self.served(), posted["rooms"])

    async def announce_preview(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        if self.announcer is None:
            raise Refused(503, "这个后台没有连接机器人，不能发公告")
        posted = as_posted(form)
        try:
            text, groups = self.validated(posted)
        except NotSent as why:
            return self.page(request, "announce.html", 400, **self.announce_data(user, error=str(why), form=posted))
        token = security.new_token()
        self.keep_draft(token, Draft(user.name, text, posted["rooms"]))
        now = self.now()
        cfg = self.settings.outbox
        seconds = seconds_to_send(len(groups), cfg.interval_seconds)
        inside_quiet = quiet_end(now, quiet_window(cfg.quiet_hours), self.settings.bot.tz) is not None
        done_by = self.local(now + timedelta(seconds=seconds), "%H:%M:%S")
        draft = {"token": token, "body": self.announcer.preview(text), "groups": [n or i for i, n in groups],
                 "all": not posted["rooms"], "seconds": seconds, "done_by": done_by,
                 "quiet": cfg.quiet_hours if inside_quiet else "", "minutes": DRAFT_MINUTES}
        return self.page(request, "announce.html", **self.announce_data(user, form=posted, draft=draft))

    async def announce_send(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        if self.announcer is None:
            raise Refused(503, "这个后台没有连接机器人，不能发公告")
        draft = self.drafts.get(form.get("token", ""))
        if draft is not None and draft.user == user.name and draft.used:
            request.session["flash"] = "这张表单已经提交过：没有重复发送"
            return RedirectResponse(f"{PREFIX}/announce", 303)
        if draft is None or draft.user != user.name or time.monotonic() - draft.made > DRAFT_MINUTES * 60:
            raise Refused(400, f"预览已失效（超过 {DRAFT_MINUTES} 分钟，或后台重启过）：公告没有发出，请重新预览")
        draft.used = True  # before the first await: a second post of the same form finds it used
        try:
            count = await self.announcer.send(draft.text, draft.rooms, user.name)
        except NotSent as why:
            return self.page(request, "announce.html", 400, **self.announce_data(
                user, error=str(why), form={"text": draft.text, "to": "some" if draft.rooms else "all",
                                            "rooms": draft.rooms}))
        seconds = seconds_to_send(count, self.settings.outbox.interval_seconds)
        logger.info("console: {} announced to {} groups", user.name, count)
        request.session["flash"] = f"公告已进入发送队列：{count} 个群，按发送速率陆续发出（约 {seconds} 秒内发完）"
        return RedirectResponse(f"{PREFIX}/announce", 303)

    def keep_draft(self, token: str, draft: Draft) -> None:
        """Keep a preview's draft; drafts older than twice their life go (a used one is still known for a while)."""
        old = time.monotonic() - 2 * DRAFT_MINUTES * 60
        self.drafts = {k: d for k, d in self.drafts.items() if d.made > old}
        self.drafts[token] = draft


__all__ = ["AnnouncePages", "Announcer", "Draft"]
