"""Console transport: the operator types as any member in any group and can move the clock.

    alice@g1: 签到             alice says 签到 in group g1
    alice: 积分                alice sends 积分 to the bot privately
    @name in the text          @-mentions that contact (the bot's own name mentions the bot)
    /join bob@g1 [by alice]    bob joins g1 (invited by alice)
    /leave bob@g1              bob leaves g1
    /time 2026-11-24 08:00     move the clock (scheduled jobs that fall due in between fire)
    /time +1d  /time +2h30m    move the clock forward; /time now goes back to real time
    /help  /quit
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.clock import OffsetClock
from bot.events import Event, MemberJoined, MemberLeft, Message, Outgoing, Person

HELP = __doc__ or ""
_LINE = re.compile(r"^\s*(?P<who>[^@:：\s]+)(?:@(?P<room>[^:：\s]+))?\s*[:：]\s?(?P<text>.*)$")
_WHO = re.compile(r"^\s*(?P<who>[^@\s]+)@(?P<room>\S+)(?:\s+by\s+(?P<by>\S+))?\s*$")
_DELTA = re.compile(r"^\+(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?$")
_MENTION = re.compile(r"@([^\s\u2005@]+)")


class ConsoleTransport:
    def __init__(self, clock: OffsetClock, bot_name: str, bot_id: str, *, out: TextIO | None = None) -> None:
        self.clock = clock
        self.tz: ZoneInfo = clock.tz
        self.bot_name = bot_name
        self.bot_id = bot_id
        self.out = out or sys.stdout
        self._ids = itertools.count(1)

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def send(self, out: Outgoing) -> None:
        stamp = out.at.astimezone(self.tz).strftime("%m-%d %H:%M")
        where = f"[{out.room}]" if out.room else f"[私聊 → {out.to}]"
        mention = "".join(f"@{out.names.get(m, m)} " for m in out.mentions)
        body = (mention + out.text).replace("\n", "\n    ")
        if out.image:  # a terminal shows no picture: the text version, and where the image file is
            body += f"\n    [图片] {out.image}"
        self._print(f"{stamp} {where} {body}")

    def parse(self, line: str) -> Event | str | None:
        """An event for the bot, a text for the operator, or None for nothing."""
        line = line.strip()
        if not line:
            return None
        now = self.clock.now()
        if line.startswith("/"):
            cmd, _, rest = line.partition(" ")
            rest = rest.strip()
            if cmd in ("/help", "/?"):
                return HELP
            if cmd in ("/join", "/leave"):
                m = _WHO.match(rest)
                if not m:
                    return f"用法：{cmd} bob@g1" + (" [by alice]" if cmd == "/join" else "")
                who = (Person(m["who"], m["who"]),)
                if cmd == "/join":
                    return MemberJoined(id=f"cj{next(self._ids)}-{now.timestamp()}", at=now, room=m["room"],
                                        members=who, inviter=m["by"], room_name=m["room"])
                return MemberLeft(id=f"cl{next(self._ids)}-{now.timestamp()}", at=now, room=m["room"],
                                  members=who, room_name=m["room"])
            if cmd == "/time":
                return self._move(rest)
            return f"不认识的命令 {cmd}，输入 /help 查看用法"
        m = _LINE.match(line)
        if not m:
            return "格式：alice@g1: 签到（群聊）或 alice: 积分（私聊），/help 查看更多"
        text = m["text"]
        mentions = tuple(self.bot_id if name == self.bot_name else name for name in _MENTION.findall(text))
        return Message(id=f"c{next(self._ids)}-{now.timestamp()}", at=now, sender=m["who"], sender_name=m["who"],
                       text=text, room=m["room"], room_name=m["room"] or "", mentions=mentions)

    def _move(self, arg: str) -> str:
        if arg in ("", "?"):
            return f"现在是 {self.clock.now().astimezone(self.tz):%Y-%m-%d %H:%M:%S}"
        if arg == "now":
            self.clock.reset()
        elif d := _DELTA.match(arg):
            if not any(d.groups()):
                return "用法：/time +1d 或 /time +2h30m"
            self.clock.move_to(self.clock.now() + timedelta(days=int(d["d"] or 0), hours=int(d["h"] or 0),
                                                            minutes=int(d["m"] or 0)))
        else:
            try:
                t = datetime.fromisoformat(arg.replace(" ", "T", 1))
            except ValueError:
                return "时间格式：/time 2026-11-24 08:00、/time +1d 或 /time now"
            self.clock.move_to(t if t.tzinfo else t.replace(tzinfo=self.tz))
        return f"时钟已调到 {self.clock.now().astimezone(self.tz):%Y-%m-%d %H:%M:%S}"

    async def run(self, submit: Callable[[Event], None], on_clock_moved: Callable[[], None],
                  stdin: TextIO | None = None) -> None:
        """Read lines until EOF or /quit, submitting each event."""
        src = stdin or sys.stdin
        loop = asyncio.get_running_loop()
        self._print("群积分 bot 控制台：输入 alice@g1: 签到 试试，/help 查看用法，/quit 退出")
        while True:
            line = await loop.run_in_executor(None, src.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                return
            got = self.parse(line)
            if isinstance(got, str):
                self._print(got)
                if line.strip().startswith("/time"):
                    on_clock_moved()
            elif got is not None:
                submit(got)
