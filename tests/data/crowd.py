"""A month of a crowded community for the several-process races: ~50 members, most in two or three groups.

`events(seed)` returns the replay events (time order); tests write them to a tmp file and replay it in one
process and in several at once. Everyone checks in on most days in whichever of their groups they happen to
be, so consecutive events touch the same members from different groups; invites, leaves within the clawback
window, operator awards that @-mention several members and redelivered messages are mixed in. No expected
balances here: the races compare against a clean single-process run of the same file.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
FIRST = date(2026, 11, 1)
ROOMS = {"g1": "会员一群", "g2": "会员二群", "g3": "会员三群"}
MEMBERS = [f"c{i:02d}" for i in range(1, 51)]


def rooms_of(member: str) -> list[str]:
    """Every member is in one group; two in three are in a second one, one in five in all three."""
    n = int(member[1:])
    names = list(ROOMS)
    out = [names[n % 3]]
    if n % 3 != 0:
        out.append(names[(n + 1) % 3])
    if n % 5 == 0:
        out = names
    return out


def at(day: int, seconds: int) -> str:
    d = FIRST + timedelta(days=day - 1)
    return (datetime(d.year, d.month, d.day, tzinfo=SH) + timedelta(seconds=seconds)).isoformat()


def events(seed: int = 11, days: int = 30) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out: list[tuple[str, int, dict[str, Any]]] = []

    def add(when: str, ev: dict[str, Any]) -> None:
        out.append((when, len(out), {"at": when, **ev}))

    def say(day: int, sec: int, who: str, text: str, room: str | None, mentions: list[str] | None = None) -> None:
        ev: dict[str, Any] = {"type": "message", "id": f"x{day:02d}-{who}-{sec}", "from": who, "name": who.upper(),
                              "text": text, "mentions": mentions or []}
        if room:
            ev.update(room=room, room_name=ROOMS[room])
        add(at(day, sec), ev)

    for day in range(1, days + 1):
        add(at(day, 7 * 3600), {"type": "tick"})
    for m in MEMBERS:  # day 1: hello in every group, so the bot knows who is where
        for i, room in enumerate(rooms_of(m)):
            say(1, 6 * 3600 + int(m[1:]) * 10 + i, m, "大家早上好", room)
    newcomers = [f"k{i:02d}" for i in range(1, 9)]
    for day in range(1, days + 1):
        for m in MEMBERS:
            if rnd.random() < 0.85:  # check-ins bunch up around 08:00 and 12:00: neighbours touch the same rows
                sec = rnd.choice((8, 12)) * 3600 + rnd.randrange(0, 1800)
                say(day, sec, m, "签到", rnd.choice(rooms_of(m)))
            if rnd.random() < 0.2:
                say(day, 12 * 3600 + rnd.randrange(0, 1800), m, "积分", rnd.choice(rooms_of(m)))
        if day % 4 == 1 and newcomers:  # an invite; every other newcomer leaves again within the window
            k, inviter = newcomers.pop(), rnd.choice(MEMBERS)
            room = rnd.choice(rooms_of(inviter))
            add(at(day, 8 * 3600 + 900), {"type": "join", "id": f"join-{k}", "room": room, "room_name": ROOMS[room],
                                          "inviter": inviter, "members": [{"id": k, "name": k.upper()}]})
            for later in range(day + 1, min(day + 6, days) + 1):
                if rnd.random() < 0.8:
                    say(later, 8 * 3600 + rnd.randrange(0, 1800), k, "签到", room)
            if len(newcomers) % 2 == 0 and day + 3 <= days:
                add(at(day + 3, 12 * 3600 + 600), {"type": "leave", "id": f"leave-{k}", "room": room,
                                                   "room_name": ROOMS[room], "members": [{"id": k, "name": k.upper()}]})
        if day % 5 == 0:  # the operator rewards three members at once, mid-morning rush
            picked = sorted(rnd.sample(MEMBERS, 3))
            text = "加分 " + "".join(f"@{p.upper()}\u2005" for p in picked) + " 30 活动积极"
            say(day, 8 * 3600 + 1200, "op", text, "g1", picked)
    events_sorted = [e[2] for e in sorted(out, key=lambda e: (e[0], e[1]))]
    # the network delivers a few messages twice: the same id, time and text again, right after
    doubled: list[dict[str, Any]] = []
    for i, ev in enumerate(events_sorted):
        doubled.append(ev)
        if ev["type"] == "message" and i % 97 == 0:
            doubled.append(dict(ev))
    return doubled


def write(path: Path, seed: int = 11, days: int = 30) -> list[dict[str, Any]]:
    evs = events(seed, days)
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in evs), encoding="utf-8")
    return evs


CONFIG = """\
# The crowd of tests/data/crowd.py: the month's rules, and small batches so processes interleave.
[bot]
admins = ["op"]
[storage]
batch_size = {batch}
[checkin]
points = 5
consecutive = [{{days = 3, bonus = 10}}, {{days = 7, bonus = 30}}]
cumulative = [{{days = 10, bonus = 50}}, {{days = 20, bonus = 80}}]
[newcomer]
points = 10
[invite]
points = 20
revoke_within_days = 7
[[tasks]]
id = "regular"
name = "签到之星"
metric = "checkin_days"
tiers = [{{at = 10, points = 20}}, {{at = 20, points = 40}}]
[[schedule]]
id = "morning-reminder"
job = "checkin_reminder"
cron = "0 8 * * *"
[[schedule]]
id = "evening-leaderboard"
job = "leaderboard"
cron = "0 21 * * *"
"""


def config(batch: int = 16) -> str:
    return CONFIG.format(batch=batch)
