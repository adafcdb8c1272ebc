"""Sample data for every 我的账单 template (tests/test_templates.py renders each with it); the card test draws it too."""

from __future__ import annotations

from typing import Any

STATEMENT = {
    "year": 2026, "member_name": "Alice", "until": "11月23日", "points": 420, "opening": 30, "growth": 1620,
    "earned": 740,
    "sources": [{"name": "签到", "points": 310}, {"name": "邀请", "points": 60}, {"name": "新人礼", "points": 10},
                {"name": "任务", "points": 80}, {"name": "完善资料", "points": 20}, {"name": "关注", "points": 15},
                {"name": "问答", "points": 40}, {"name": "管理员加分", "points": 200}, {"name": "其他", "points": 5}],
    "spent": 320, "spending": [{"name": "兑换", "points": 280}, {"name": "补签", "points": 20},
                               {"name": "管理员扣分", "points": 20}],
    "refunded": 50, "expired": 30, "show_expired": True,
    "checkin": {"days": 143, "longest": 37}, "invites": 3,
    "redeemed": {"count": 4, "names": ["品牌马克杯", "会员卡密", "满减券", "10元红包"]},
    "rank": {"percent": 87}, "is_admin": False,
    "levels": True, "level": {"name": "白银", "growth": 500}, "next": {"name": "黄金", "growth": 2000, "remaining": 380},
    "offers": [{"number": 1, "name": "品牌马克杯", "points": 285, "cash": False},
               {"number": 6, "name": "录播课", "points": 57, "cash": True},
               {"number": 4, "name": "一个名字特别特别特别特别特别特别特别长的商品", "points": 38, "cash": False}],
    "offer_count": 5,
}

STATEMENT_SAMPLES: dict[str, dict[str, Any]] = {
    "statement/mine": STATEMENT,
    "statement/moved": {},
    "statement/not_friend": {"member_name": "Alice"},
}
