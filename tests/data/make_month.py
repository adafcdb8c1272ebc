"""Writes tests/data/month.jsonl: a month of a small community, and what each member should hold after it.

Run `python tests/data/make_month.py` to regenerate the file; tests/test_month_replay.py checks it is
current. The expected balances are computed here by a model of the rules that shares no code with
the bot: check-in points from each member's check-in days, plus the hand-reckoned joins, invites,
clawbacks, tier tasks and operator awards listed in EXTRA.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
HERE = Path(__file__).resolve().parent
FIRST = date(2026, 11, 1)
DAYS = 30
ROOMS = {"g1": "会员一群", "g2": "会员二群", "g3": "会员三群"}

CORE = [f"m{i:02d}" for i in range(1, 25)]  # two dozen members there from the start


def room_of(member: str) -> str:
    return list(ROOMS)[int(member[1:]) % 3]


def checkin_days(member: str) -> list[int]:
    """Day numbers (1..30) on which `member` checks in: steady ones, gappy ones, dropouts, newcomers."""
    n = int(member[1:]) if member.startswith("m") else 0
    patterns: dict[str, list[int]] = {
        "m01": list(range(1, 31)),                           # every day
        "m02": list(range(1, 31, 2)),                        # every other day
        "m03": [d for d in range(1, 31) if d != 6],          # one gap
        "m04": list(range(1, 8)),                            # a week, then gone
        "m05": [1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 29, 30],
        "n02": list(range(6, 11)),                           # newcomers who check in
        "n03": list(range(13, 23)),
        "n05": [19, 20, 21],
    }
    if member in patterns:
        return patterns[member]
    if member.startswith("m"):
        return [d for d in range(1, 31) if (d + n) % 4 == 0]  # the rest: every fourth day, offset
    return []


def checkin_points(days: list[int]) -> int:
    """The check-in rules, restated: base 5; streak 3 -> +10, streak 7 -> +30; 10th day in total -> +50;
    the checkin_days task pays 20 at 10 days and 40 at 20. The bot runs every day (a tick at 07:00)."""
    streak, prev, pts = 0, None, 0
    for total, d in enumerate(sorted(days), 1):
        streak = streak + 1 if prev == d - 1 else 1
        pts += 5 + {3: 10, 7: 30}.get(streak, 0) + (50 if total == 10 else 0)
        pts += {10: 20, 20: 40}.get(total, 0)
        prev = d
    return pts


# Everything that is not check-in, reckoned by hand (see the events below):
EXTRA: dict[str, int] = {
    # m01 invites n01 and n02 on day 5: 2 x 20, and the inviter task's first tier (2 invites) +10.
    # n01 leaves on day 8 (3 days later): -20 clawback, and the tier paid 3 days before goes too: -10.
    # m01 invites n03 on day 12: +20, back at 2 valid invites: the tier pays again +10.
    # n02 leaves on day 27, 22 days after joining: outside the 7-day window, nothing is taken back.
    "m01": 40 + 10 - 20 - 10 + 20 + 10,
    # m02 invites m03 (already a member: not eligible) and n01 back on day 15 (returning: not eligible).
    "m02": 0,
    # the operator: 加分 @m04 @m05 50 on day 10, 扣分 @m04 20 on day 11.
    "m04": 50 - 20,
    "m05": 50,
    # m06 tries 加分 on himself: refused, nothing changes.
    "m06": 0,
    # newcomers: 10 each on their first join; n01's return on day 15 pays nothing.
    "n01": 10,
    "n02": 10,
    "n03": 10,
    "n05": 10,  # joined by QR code (no inviter) on day 18
}


def at(day: int, hh: int, mm: int = 0, ss: int = 0) -> str:
    d = FIRST + timedelta(days=day - 1)
    return datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=SH).isoformat()


def events() -> list[dict[str, Any]]:
    out: list[tuple[str, int, dict[str, Any]]] = []
    seq = 0

    def add(when: str, ev: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        out.append((when, seq, {"at": when, **ev}))

    def say(day: int, hh: int, mm: int, who: str, text: str, room: str | None, mentions: list[str] | None = None,
            mid: str | None = None) -> None:
        ev: dict[str, Any] = {"type": "message", "id": mid or f"d{day:02d}-{who}-{hh:02d}{mm:02d}", "from": who,
                              "name": who.upper(), "text": text, "mentions": mentions or []}
        if room:
            ev.update(room=room, room_name=ROOMS[room])
        add(at(day, hh, mm), ev)

    for day in range(1, DAYS + 1):
        add(at(day, 7), {"type": "tick"})
    for m in CORE:  # everyone says hello on day 1, so the bot knows who is in which group
        say(1, 6, 30 + int(m[1:]), m, "大家早上好", room_of(m))
    for who in [*CORE, "n02", "n03", "n05"]:
        for d in checkin_days(who):
            room = room_of(who) if who.startswith("m") else "g1" if who in ("n02",) else "g2"
            say(d, 8 + int(who[1:]) % 10, 5, who, "签到", room)
    # joins, leaves and invites
    add(at(5, 10), {"type": "join", "id": "join-d5", "room": "g1", "room_name": ROOMS["g1"], "inviter": "m01",
                    "members": [{"id": "n01", "name": "N01"}, {"id": "n02", "name": "N02"}]})
    add(at(6, 11), {"type": "join", "id": "join-d6", "room": "g2", "room_name": ROOMS["g2"], "inviter": "m02",
                    "members": [{"id": "m03", "name": "M03"}]})
    add(at(8, 12), {"type": "leave", "id": "leave-d8", "room": "g1", "room_name": ROOMS["g1"],
                    "members": [{"id": "n01", "name": "N01"}]})
    add(at(12, 9), {"type": "join", "id": "join-d12", "room": "g2", "room_name": ROOMS["g2"], "inviter": "m01",
                    "members": [{"id": "n03", "name": "N03"}]})
    add(at(15, 14), {"type": "join", "id": "join-d15", "room": "g3", "room_name": ROOMS["g3"], "inviter": "m02",
                     "members": [{"id": "n01", "name": "N01"}]})
    add(at(18, 20), {"type": "join", "id": "join-d18", "room": "g2", "room_name": ROOMS["g2"], "inviter": None,
                     "members": [{"id": "n05", "name": "N05"}]})
    add(at(27, 9), {"type": "leave", "id": "leave-d27", "room": "g1", "room_name": ROOMS["g1"],
                    "members": [{"id": "n02", "name": "N02"}]})
    # operator awards, and a member who tries one
    say(10, 19, 0, "op", "加分 @M04\u2005@M05\u2005 50 活动积极", "g1", ["m04", "m05"])
    say(11, 19, 0, "op", "扣分 @M04\u2005 20 刷屏", "g1", ["m04"])
    say(11, 19, 30, "m06", "加分 @M06\u2005 100 自己给自己", "g1", ["m06"])
    # everyday chatter and queries that change nothing
    for day in range(2, DAYS + 1, 3):
        say(day, 12, 0, "m07", "今天天气不错", "g2")
        say(day, 12, 1, "m08", "积分", "g3")
    say(20, 22, 0, "m01", "任务", None)
    say(20, 22, 1, "m01", "邀请", None)
    # the network delivers a message twice: the same id, time and text again
    say(9, 9, 5, "m01", "签到", room_of("m01"))
    out.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in out]


def expected() -> dict[str, int]:
    members = [*CORE, "n01", "n02", "n03", "n05", "op"]
    return {m: checkin_points(checkin_days(m)) + EXTRA.get(m, 0) for m in members}


def render() -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events())


if __name__ == "__main__":
    (HERE / "month.jsonl").write_text(render(), encoding="utf-8")
    print(json.dumps(expected(), indent=1))
