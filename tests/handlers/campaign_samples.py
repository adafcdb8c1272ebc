"""Sample data for every campaign post template (tests/test_templates.py renders each with it)."""

from __future__ import annotations

from typing import Any

CAMPAIGN = {"campaign": "双倍积分周", "description": "12月第一周，签到和邀请都加倍",
            "perks": ["签到积分 ×2", "邀请每人 30 积分"], "starts": "12月1日 00:00", "ends": "12月8日 00:00",
            "hours_to_start": 24, "hours_left": 5}

CAMPAIGN_SAMPLES: dict[str, dict[str, Any]] = {
    "campaign/warmup": CAMPAIGN,
    "campaign/start": CAMPAIGN,
    "campaign/closing": {**CAMPAIGN, "description": "", "perks": []},
}
