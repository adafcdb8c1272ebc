"""The replay contract's JSON lines: parse input events, format what the bot sends."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.events import Down, Event, Group, MemberJoined, MemberLeft, Message, Outgoing, Person, Rooms, Tick, Up

_SURROGATE = re.compile("[\ud800-\udfff]")
# where a lone surrogate can come from in a line: itself (a str line), or a \uD800-\uDFFF escape (bytes decoded
# as UTF-8 never hold one); a line without either needs no walk through its event
_MAY_HOLD_SURROGATE = re.compile(r"[\ud800-\udfff]|\\u[dD][89abcdefABCDEF]")


@dataclass(frozen=True)
class BadLine:
    lineno: int
    reason: str


def _time(v: Any) -> datetime:
    if not isinstance(v, str):
        raise ValueError('"at" must be an ISO time such as "2026-11-23T08:00:05+08:00"')
    t = datetime.fromisoformat(v)
    if t.tzinfo is None:
        raise ValueError(f'"at" {v!r} needs a UTC offset, e.g. +08:00')
    return t


def _str(d: dict[str, Any], key: str, required: bool = True) -> str:
    v = d.get(key)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v):
        raise ValueError(f'"{key}" must be a non-empty string')
    return v


def _people(d: dict[str, Any]) -> tuple[Person, ...]:
    ms = d.get("members")
    if not isinstance(ms, list) or not ms:
        raise ValueError('"members" must be a non-empty list of {"id": ..., "name": ...}')
    out = []
    for m in ms:
        if not isinstance(m, dict):
            raise ValueError('each of "members" must be {"id": ..., "name": ...}')
        out.append(Person(id=_str(m, "id"), name=_str(m, "name", required=False)))
    return tuple(out)


def parse_event(d: Any) -> Event:
    if not isinstance(d, dict):
        raise ValueError("an event must be a JSON object")
    kind = d.get("type")
    at = _time(d.get("at"))
    if kind == "message":
        mentions = d.get("mentions") or []
        if not isinstance(mentions, list) or not all(isinstance(m, str) for m in mentions):
            raise ValueError('"mentions" must be a list of contact ids')
        room = d.get("room")
        if room is not None and not (isinstance(room, str) and room):
            raise ValueError('"room" must be a non-empty string or left out for a private message')
        text = d.get("text")
        if not isinstance(text, str):
            raise ValueError('"text" must be a string')
        return Message(id=_str(d, "id"), at=at, sender=_str(d, "from"), sender_name=_str(d, "name", False),
                       text=text, room=room, room_name=_str(d, "room_name", False), mentions=tuple(mentions))
    if kind == "join":
        inviter = d.get("inviter")
        if inviter is not None and not isinstance(inviter, str):
            raise ValueError('"inviter" must be a contact id or null')
        return MemberJoined(id=_str(d, "id"), at=at, room=_str(d, "room"), members=_people(d),
                            inviter=inviter or None, room_name=_str(d, "room_name", False))
    if kind == "leave":
        return MemberLeft(id=_str(d, "id"), at=at, room=_str(d, "room"), members=_people(d),
                          room_name=_str(d, "room_name", False))
    if kind == "tick":
        return Tick(at=at)
    if kind == "down":
        return Down(at=at)
    if kind == "up":
        return Up(at=at)
    if kind == "rooms":
        return Rooms(at=at, rooms=_groups(d))
    raise ValueError(f'unknown "type" {kind!r}: use message, join, leave, tick, down, up or rooms')


MAX_ROOMS = 10_000  # groups one rooms event may announce


def _groups(d: dict[str, Any]) -> tuple[Group, ...]:
    rs = d.get("rooms")
    if not isinstance(rs, list) or not all(isinstance(r, dict) for r in rs):
        raise ValueError('"rooms" must be a list of {"id": ..., "name": ...}')
    if len(rs) > MAX_ROOMS:
        raise ValueError(f'"rooms" lists {len(rs)} groups; at most {MAX_ROOMS} in one event')
    return tuple(Group(id=_str(r, "id"), name=_str(r, "name", required=False)) for r in rs)


def _has_lone_surrogate(value: Any) -> bool:
    """json.loads pairs valid escapes, so a surrogate left in a string is lone: no database can store it."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, tuple):
        return any(_has_lone_surrogate(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_has_lone_surrogate(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def read_events(lines: Iterable[str | bytes]) -> Iterator[Event | BadLine]:
    """Events of a JSON-lines stream; a line that cannot be read is a BadLine and the stream goes on.

    Lines may come as bytes (a file opened in binary), so one that is not UTF-8 costs that line only.
    """
    for n, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield BadLine(n, f"not UTF-8 (byte {exc.start + 1} of the line)")
                continue
        else:
            line = raw
        if not line.strip():
            continue
        try:
            ev = parse_event(json.loads(line))
            if _MAY_HOLD_SURROGATE.search(line) is not None and _has_lone_surrogate(ev):
                yield BadLine(n, "a string holds a lone UTF-16 surrogate (such as \\ud800), which is not valid Unicode")
                continue
            yield ev
        except json.JSONDecodeError as exc:
            yield BadLine(n, f"not JSON: {exc.msg} at column {exc.colno}")
        except RecursionError:
            yield BadLine(n, "not an event: brackets nested too deeply")
        except ValueError as exc:
            yield BadLine(n, str(exc))


def format_out(out: Outgoing, tz: ZoneInfo) -> str:
    reply_to: Any = list(out.reply_to) if isinstance(out.reply_to, tuple) else out.reply_to
    d: dict[str, Any] = {
        "type": "image" if out.image else "say",
        "at": out.at.astimezone(tz).isoformat(),
        "room": out.room,
        "to": out.to,
        "text": out.text,
        "mentions": list(out.mentions),
        "reply_to": reply_to,
    }
    if out.image:
        d["file"] = out.image
    return json.dumps(d, ensure_ascii=False)
