"""Config dicts and times for tests; every scenario starts from these."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
OWNER = "wxid_owner"  # the one admin in BASE_CONFIG

BASE_CONFIG: dict[str, Any] = {
    "bot": {"name": "积分助手", "self_id": "bot", "timezone": "Asia/Shanghai", "admins": [OWNER]},
    "transport": {"kind": "replay"},
    "checkin": {
        "points": 5,
        "keywords": ["签到", "打卡"],
        "consecutive": [{"days": 3, "bonus": 10}, {"days": 7, "bonus": 30}],
        "cumulative": [{"days": 10, "bonus": 50}],
    },
    "schedule": [
        {"id": "morning-reminder", "job": "checkin_reminder", "cron": "0 8 * * *"},
        {"id": "evening-leaderboard", "job": "leaderboard", "cron": "0 21 * * *"},
    ],
}


def config(*, rate_limit: int | None = None, **sections: Any) -> dict[str, Any]:
    """BASE_CONFIG with whole sections replaced (None drops a section); `rate_limit` sets bot.rate_limit
    (0: off, for scenarios that send many commands within a minute)."""
    data = copy.deepcopy(BASE_CONFIG)
    for k, v in sections.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    if rate_limit is not None:
        data["bot"]["rate_limit"] = rate_limit
    return data


def sh(text: str) -> datetime:
    """A Shanghai local time: sh("2026-11-23 08:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)
