"""Sample data for every template: `check-config` renders each with it under StrictUndefined, so a typo in a
template fails there (naming the file and line), not at the first 签到. A new template gets its sample here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

CAMPAIGN = {"campaign": "双倍积分周", "description": "12月第一周，签到和邀请都加倍",
            "perks": ["签到积分 ×2", "邀请每人 30 积分"], "starts": "12月1日 00:00", "ends": "12月8日 00:00",
            "hours_to_start": 24, "hours_left": 5}

CAMPAIGN_SAMPLES: dict[str, dict[str, Any]] = {
    "campaign/warmup": CAMPAIGN,
    "campaign/start": CAMPAIGN,
    "campaign/closing": {**CAMPAIGN, "description": "", "perks": []},
}


ITEM = {"number": 1, "sku": "mug", "name": "品牌马克杯", "kind": "physical", "points": 300, "cash": "9.90", "stock": 5,
        "limit": 1, "starts": "2026-11-01 00:00", "ends": "2026-12-31 23:59", "description": "陶瓷 350ml", "why": "",
        "paid": 285, "discount": "白银9.5折", "min_level": "白银"}
ORDER = {"id": 7, "name": "会员卡密", "kind": "card_code", "points": 50, "cash": "", "status": "done",
         "secret": "CODE-1", "threshold": "", "expires_on": "", "recipient": "张三", "phone": "13812345678",
         "address": "上海市人民路 1 号", "tracking": "SF1", "note": "", "pay_by": "", "at": "2026-11-23 10:00",
         "member": "wxid_a", "pay_note": "请转账", "restocked": False, "refund_until": "12月9日"}

MALL_SAMPLES: dict[str, dict[str, Any]] = {
    "mall/list": {"rows": [ITEM], "page": 2, "pages": 2, "beyond": True, "uncoded": ["vip-card"]},
    "mall/admin_uncoded": {"skus": ["vip-card"]},
    "mall/item": {"item": ITEM, "confirm_above": 200},
    "mall/confirm": {"item": ITEM, "minutes": 2},
    "mall/redeemed_group": {"order": 7},
    "mall/not_friend": {"member_name": "Alice"},
    "mall/deliver": {"order": {**ORDER, "kind": "physical", "status": "address"}, "balance": 50, "question": "recipient"},
    "mall/orders": {"orders": [ORDER, {**ORDER, "kind": "coupon", "secret": "SAVE", "threshold": "满100减20",
                                       "expires_on": "2026-12-22"}], "size": 10, "question": "phone", "asking": 7,
                    "known_phone": "138****5678"},
    "mall/orders_moved": {},
    "mall/cancelled": {"order": ORDER, "balance": 100},
    "mall/refused": {"reason": "not_yet", "item": "圣诞礼包", "starts": None, "ends": None},
    "mall/address_ask": {"step": "phone", "invalid": "phone", "order": 7, "known_phone": "138****5678"},
    "mall/address_done": {"order": {**ORDER, "kind": "physical", "status": "pending"}},
    "mall/notify": {"event": "shipped", "order": {**ORDER, "kind": "physical", "status": "shipped"}, "balance": 10},
    "mall/admin_pending": {"orders": [{**ORDER, "member_name": "Alice", "status": "unpaid", "pay_by": "2026-11-24 10:00"}]},
    "mall/admin_done": {"event": "refunded", "order": {**ORDER, "note": "卡密无效"}, "stock": 3},
    "mall/admin_item": {"event": "restocked", "item": ITEM, "added": 5},
    "mall/highlights": {"new": [{**ITEM, "sold": 0}], "low": [{**ITEM, "sold": 45}], "hot": [{**ITEM, "sold": 45}],
                        "new_days": 7, "discounts": True},
}


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
    "rank": {"first": False, "percent": 87}, "is_admin": False,
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


UNDO_ENTRY = {"id": 123, "kind": "admin_award", "delta": 10000, "detail": "活动优秀", "at": "11-23 08:00"}
ROW = {"rank": 1, "name": "Alice", "points": 25, "me": True}
SAMPLES: dict[str, dict[str, Any]] = {
    "checkin/ok": {"earned": 15, "base": 5, "bonuses": [{"name": "连续签到3天奖励", "points": 10}], "streak": 3,
                   "total_days": 3, "points": 25, "upcoming": [{"name": "连续签到7天奖励", "bonus": 30, "in_days": 4}],
                   "multiplier": 2, "campaign": "双倍积分周", "level": {"name": "白银", "multiplier": "1.2"},
                   "tiers": [{"name": "签到之星", "at": 3, "unit": "天", "points": 30}]},
    "checkin/already": {"streak": 3, "total_days": 3, "points": 25},
    "checkin/digest": {"count": 326},
    "checkin/makeup_ok": {"day": date(2026, 11, 22), "cost": 20, "points": 5, "streak": 4, "total_days": 9, "used": 1,
                          "limit": 2, "earned": 50, "bonuses": [{"name": "累计签到10天奖励", "points": 50}],
                          "tiers": [{"name": "签到之星", "at": 10, "unit": "天", "points": 30}]},
    "checkin/staff": {},
    "checkin/makeup_none": {"within_days": 3},
    "checkin/makeup_limit": {"used": 2, "limit": 2},
    "checkin/makeup_poor": {"cost": 20, "points": 5},
    "checkin/reminder": {"keyword": "签到", "points": 10, "consecutive": [{"days": 3, "bonus": 20}], "checked_in": 12,
                         "campaign": "双倍积分周", "usual": 5, "levels": True},
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
    "help/list": {"title": "可用命令",
                  "commands": [{"keyword": "签到", "help": "每日签到", "usage": "签到", "admin": False}],
                  "admin_commands": [{"keyword": "加分", "help": "给成员加分", "usage": "加分 @某人 50 理由", "admin": True}]},
    "help/short": {"commands": [{"keyword": "签到", "help": "每日签到", "usage": "签到", "admin": False}],
                   "topics": ["积分", "商城"], "is_admin": True},
    "help/one": {"command": {"keyword": "兑换", "help": "用积分兑换商品", "usage": "兑换 编号", "admin": False}},
    "help/unknown": {"topic": "抽奖", "topics": ["积分", "商城"]},
    "me/id": {"member": "wxid_alice", "room": "r1@chatroom", "room_name": "会员群"},
    "me/sent": {},
    "me/not_friend": {"member_name": "Alice"},
    "errors/generic": {"message": "出错了"},
    "errors/not_admin": {"keyword": "加分"},
    "errors/usage": {"message": "缺少理由", "usage": "加分 @某人 50 理由"},
    "errors/wrong_place": {"keyword": "签到", "where": "group"},
    "errors/internal": {},
    "newcomer/welcome": {"points": 10, "paid": ["Bob"], "all_paid": False, "pending": [], "all_pending": False,
                         "claim_hours": 0, "claim_keyword": "新人礼",
                         "checkin": {"keyword": "签到", "points": 10, "consecutive": [], "campaign": "双倍积分周", "usual": 5,
                                     "levels": False},
                         "invite": {"points": 20}, "tasks": True},
    "newcomer/claimed": {"points": 10, "balance": 10},
    "newcomer/already": {},
    "newcomer/expired": {"hours": 24},
    "newcomer/not_new": {},
    "invite/paid": {"paid": ["Bob"], "earned": 20, "refused": [{"name": "Carol", "reason": "returning"}],
                    "over": 3, "max_per_event": 20,
                    "tiers": [{"name": "邀请达人", "at": 3, "unit": "人", "points": 10}], "within_days": 7,
                    "balance": 45},
    "invite/revoked": {"names": ["Bob"], "points": 30, "tiers": [{"name": "邀请达人", "at": 3, "unit": "人", "points": 10}],
                       "within_days": 7, "balance": -5},
    "invite/mine": {"valid": 3, "points": 60, "watching": 1, "within_days": 7, "per_invite": 20, "task_points": 10,
                    "next": {"name": "邀请达人", "at": 10, "points": 50, "remaining": 7}},
    "tasks/list": {"tasks": [{"name": "邀请达人", "label": "已邀请", "unit": "人", "value": 3, "done": 1, "total": 2,
                              "verb": "邀请", "next": {"at": 10, "points": 50, "remaining": 7}}],
                   "fresh": [{"name": "签到之星", "at": 7, "unit": "天", "points": 30}]},
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
    "admin/self_award": {},
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
    "freeze/usage": {"problem": "reason", "keyword": "冻结", "max_reason": 100, "member": "wxid_b"},
    "freeze/done": {"action": "freeze", "changed": True, "reason": "刷签到", "member_name": "Bob", "points": 55,
                    "record": 3},
    "freeze/told": {},
    "announce/usage": {"problem": "long", "length": 1200, "max_chars": 1000},
    "announce/preview": {"text": "今晚 8 点直播抽奖", "rooms": ["会员群", "二群"], "all": True, "quiet": "22:30-07:30",
                         "minutes": 10},
    "announce/post": {"text": "今晚 8 点直播抽奖"},
    "announce/queued": {"count": 2, "seconds": 4},
    "announce/waiting": {"minutes": 10},
    "announce/cancelled": {},
    "freeze/told_group": {},
}

SAMPLES.update(MALL_SAMPLES)
SAMPLES.update(CAMPAIGN_SAMPLES)
SAMPLES.update(STATEMENT_SAMPLES)

# what every reply's data carries besides its own (bot.app.App._render)
BASE: dict[str, Any] = {"name": "Alice", "keyword": "签到", "now": datetime(2026, 11, 23, 8, 0)}
