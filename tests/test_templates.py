"""Every template renders with sample data, so an operator's broken edit is caught before 8 am."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.templating import Renderer, TemplateProblem
from tests.handlers.campaign_samples import CAMPAIGN_SAMPLES
from tests.handlers.mall_samples import MALL_SAMPLES
from tests.handlers.statement_samples import STATEMENT_SAMPLES

UNDO_ENTRY = {"id": 123, "kind": "admin_award", "delta": 10000, "detail": "活动优秀", "at": "11-23 08:00"}
ROW = {"rank": 1, "name": "Alice", "points": 25, "me": True}
SAMPLES: dict[str, dict[str, Any]] = {
    "checkin/ok": {"earned": 15, "base": 5, "bonuses": [{"name": "连续签到3天奖励", "points": 10}], "streak": 3,
                   "total_days": 3, "points": 25, "upcoming": [{"name": "连续签到7天奖励", "bonus": 30, "in_days": 4}],
                   "multiplier": 2, "campaign": "双倍积分周", "level": {"name": "白银", "multiplier": "1.2"}},
    "checkin/already": {"streak": 3, "total_days": 3, "points": 25},
    "checkin/makeup_ok": {"day": date(2026, 11, 22), "cost": 20, "points": 5, "streak": 4, "total_days": 9, "used": 1,
                          "limit": 2},
    "checkin/makeup_none": {"within_days": 3},
    "checkin/makeup_limit": {"used": 2, "limit": 2},
    "checkin/makeup_poor": {"cost": 20, "points": 5},
    "checkin/reminder": {"keyword": "签到", "points": 5, "consecutive": [{"days": 3, "bonus": 10}], "checked_in": 12},
    "points/me": {"points": 25, "growth": 30, "streak": 3, "total_days": 9, "rank": 2, "is_admin": False,
                  "checked_in": True, "expiring": {"points": 30, "last_day": date(2026, 12, 31)}},
    "expiry/warn": {"points": 30, "last_day": date(2026, 12, 31), "balance": 45, "rule": "积分自获得之日起 365 天内有效",
                    "mall": True},
    "points/board": {"rows": [ROW], "mine": {"rank": 12, "points": 3}, "size": 10, "period": "week",
                     "title": "本周积分榜", "scope": "本群", "since": "本周一（11月23日）"},
    "points/board_post": {"rows": [ROW], "size": 10, "period": "month", "title": "本月积分榜", "since": "11月1日"},
    "levels/mine": {"configured": True, "growth": 620,
                    "level": {"name": "白银", "growth": 500, "multiplier": "1.2", "discount": "9.5折"},
                    "next": {"name": "黄金", "growth": 2000, "multiplier": "1.5", "discount": "9折", "remaining": 1380}},
    "levels/up": {"member": "Alice", "name": "白银", "growth": 500, "multiplier": "1.2", "discount": "9.5折"},
    "quiz/question": {"number": 3, "question": "公司成立于哪一年？", "points": 5, "winners": 3, "minutes": 30,
                      "keyword": "答", "ends": datetime(2026, 11, 23, 21, 30)},
    "quiz/result": {"number": 3, "question": "公司成立于哪一年？", "answers": ["2015"], "points": 5, "correct": 4,
                    "answered": 6, "winners": [{"name": "Alice", "place": 1}]},
    "quiz/answered": {"already": False, "correct": True, "place": 1, "points": 5, "winners": 3, "balance": 30},
    "quiz/none": {},
    "quiz/admin": {},
    "help/list": {"commands": [{"keyword": "签到", "help": "每日签到", "usage": "签到", "admin": False},
                               {"keyword": "加分", "help": "给成员加分", "usage": "加分 @某人 50 理由", "admin": True}],
                  "is_admin": True},
    "errors/generic": {"message": "出错了"},
    "errors/not_admin": {"keyword": "加分"},
    "errors/usage": {"message": "缺少理由", "usage": "加分 @某人 50 理由"},
    "errors/wrong_place": {"keyword": "签到", "where": "group"},
    "errors/internal": {},
    "newcomer/welcome": {"points": 10, "paid": ["Bob"], "all_paid": False, "pending": [], "all_pending": False,
                         "claim_hours": 0, "claim_keyword": "新人礼", "checkin": {"keyword": "签到", "points": 5},
                         "invite": {"points": 20}, "tasks": True},
    "newcomer/claimed": {"points": 10, "balance": 10},
    "newcomer/already": {},
    "newcomer/expired": {"hours": 24},
    "newcomer/not_new": {},
    "invite/paid": {"paid": ["Bob"], "earned": 20, "refused": [{"name": "Carol", "reason": "returning"}],
                    "tiers": [{"name": "邀请达人", "at": 3, "unit": "人", "points": 10}], "within_days": 7,
                    "balance": 45},
    "invite/revoked": {"names": ["Bob"], "points": 30, "tiers": [{"name": "邀请达人", "at": 3, "unit": "人", "points": 10}],
                       "within_days": 7, "balance": -5},
    "invite/mine": {"valid": 3, "points": 60, "watching": 1, "within_days": 7, "per_invite": 20, "task_points": 10,
                    "next": {"name": "邀请达人", "at": 10, "points": 50, "remaining": 7}},
    "tasks/list": {"tasks": [{"name": "邀请达人", "label": "已邀请", "unit": "人", "value": 3, "done": 1, "total": 2,
                              "next": {"at": 10, "points": 50, "remaining": 7}}],
                   "fresh": [{"name": "签到之星", "at": 7, "unit": "天", "points": 30}]},
    "tasks/reached": {"tiers": [{"name": "签到之星", "at": 7, "unit": "天", "points": 30}], "points": 80},
    "profile/moved_private": {"showing": False},
    "profile/start": {"update": False, "count": 3, "field": "phone", "points": 20, "minutes": 30},
    "profile/ask": {"field": "birthday", "saved": "phone"},
    "profile/invalid": {"field": "phone", "reason": "phone"},
    "profile/done": {"earned": 20, "missing": [], "update": False, "points": 45,
                     "profile": [{"field": "phone", "value": "13812345678"}, {"field": "city", "value": "上海"}]},
    "profile/mine": {"profile": [{"field": "phone", "value": "13812345678"}, {"field": "city", "value": ""}],
                     "complete": False},
    "profile/cancel": {"kind": "profile"},
    "follow/usage": {"accounts": ["公众号", "视频号"]},
    "follow/wrong": {"left": 3},
    "follow/locked": {"limit": 5},
    "follow/already": {"account": "公众号"},
    "follow/ok": {"account": "公众号", "earned": 15, "points": 40},
    "admin/usage": {"problem": "amount_bad", "amount": "abc", "usage": "加分 @某人 50 理由", "max_amount": 100000,
                    "max_reason": 100},
    "admin/short": {"amount": 20, "short": [{"name": "Bob", "points": 5}]},
    "admin/done": {"deduct": False, "amount": 50, "reason": "活动优秀", "rows": [{"name": "Bob", "points": 55, "id": 123}]},
    "admin/history": {"rows": [{"id": 123, "at": "11-23 08:00", "kind": "reversal", "detail": "输错了", "delta": -50,
                                "balance": 55, "reverses": 120}], "size": 10, "ids": True, "whose": "Bob"},
    "admin/not_friend": {},
    "undo/usage": {"problem": "reason", "usage": "撤销 记录号 理由", "max_reason": 100},
    "undo/refused": {"problem": "kind", "member_name": "Bob", "order": 3, "points": 5, "needed": 50,
                     "entry": UNDO_ENTRY | {"kind": "redeem", "delta": -50}},
    "undo/done": {"repeated": False, "entry": UNDO_ENTRY, "reversal": 130, "reason": "输错了", "member_name": "Bob",
                  "points": 5, "growth": 5},
    "undo/notice": {"entry": UNDO_ENTRY, "reversal": 130, "reason": "输错了", "member_name": "Bob", "points": 5,
                    "growth": 5},
    "undo/not_friend": {"member_name": "Bob"},
}

SAMPLES.update(MALL_SAMPLES)
SAMPLES.update(CAMPAIGN_SAMPLES)
SAMPLES.update(STATEMENT_SAMPLES)


def test_every_template_has_sample_data_and_renders() -> None:
    r = Renderer()
    r.check()
    assert sorted(SAMPLES) == r.names(), "add sample data here for every new template"
    for name, data in SAMPLES.items():
        text = r.render(name, {"name": "Alice", "keyword": "签到", "now": None, **data})
        assert text and "{{" not in text and "{%" not in text, name


def test_a_missing_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateProblem, match="undefined"):
        Renderer().render("checkin/already", {"streak": 1})


def test_a_broken_template_stops_the_start_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "checkin").mkdir()
    (tmp_path / "checkin" / "ok.txt.j2").write_text("签到成功\n{% if earned %}\n获得 {{ earned }}\n", encoding="utf-8")
    with pytest.raises(TemplateProblem) as err:
        Renderer(tmp_path).check()
    assert "ok.txt.j2 line" in str(err.value) and "fix it" in str(err.value)


def test_a_line_ending_in_a_tag_keeps_its_line_break_and_a_tag_only_line_leaves_none(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.txt.j2").write_text("a{% if on %}，b{% endif %}\n{% if on %}\nc\n{% endif %}\nd", encoding="utf-8")
    assert Renderer(tmp_path).render("t/x", {"on": True}) == "a，b\nc\nd"
    assert Renderer(tmp_path).render("t/x", {"on": False}) == "a\nd"
    text = Renderer().render("checkin/ok", {"name": "Alice", **SAMPLES["checkin/ok"]})
    assert "签到积分 ×2\n🏅 白银会员" in text
