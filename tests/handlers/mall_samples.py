"""Sample data for every mall template (tests/test_templates.py renders each with it)."""

from __future__ import annotations

from typing import Any

ITEM = {"number": 1, "sku": "mug", "name": "品牌马克杯", "kind": "physical", "points": 300, "cash": "9.90", "stock": 5,
        "limit": 1, "starts": "2026-11-01 00:00", "ends": "2026-12-31 23:59", "description": "陶瓷 350ml", "why": "",
        "paid": 285, "discount": "白银9.5折", "min_level": "白银"}
ORDER = {"id": 7, "name": "会员卡密", "kind": "card_code", "points": 50, "cash": "", "status": "done",
         "secret": "CODE-1", "threshold": "", "expires_on": "", "recipient": "张三", "phone": "13812345678",
         "address": "上海市人民路 1 号", "tracking": "SF1", "note": "", "pay_by": "", "at": "2026-11-23 10:00",
         "member": "wxid_a", "pay_note": "请转账", "restocked": False, "refund_until": "12月9日"}

MALL_SAMPLES: dict[str, dict[str, Any]] = {
    "mall/list": {"rows": [ITEM], "page": 1, "pages": 2},
    "mall/item": {"item": ITEM, "confirm_above": 200},
    "mall/confirm": {"item": ITEM, "minutes": 2},
    "mall/redeemed_group": {"order": 7},
    "mall/not_friend": {"member_name": "Alice"},
    "mall/deliver": {"order": {**ORDER, "kind": "physical", "status": "address"}, "balance": 50, "question": "recipient"},
    "mall/orders": {"orders": [ORDER, {**ORDER, "kind": "coupon", "secret": "SAVE", "threshold": "满100减20",
                                       "expires_on": "2026-12-22"}], "size": 10, "question": "phone", "asking": 7},
    "mall/orders_moved": {},
    "mall/cancelled": {"order": ORDER, "balance": 100},
    "mall/refused": {"reason": "not_yet", "item": "圣诞礼包", "starts": None, "ends": None},
    "mall/address_ask": {"step": "phone", "invalid": "phone", "order": 7},
    "mall/address_done": {"order": {**ORDER, "kind": "physical", "status": "pending"}},
    "mall/notify": {"event": "shipped", "order": {**ORDER, "kind": "physical", "status": "shipped"}, "balance": 10},
    "mall/admin_pending": {"orders": [{**ORDER, "member_name": "Alice", "status": "unpaid", "pay_by": "2026-11-24 10:00"}]},
    "mall/admin_done": {"event": "refunded", "order": {**ORDER, "note": "卡密无效"}, "stock": 3},
    "mall/admin_item": {"event": "restocked", "item": ITEM, "added": 5},
    "mall/highlights": {"new": [{**ITEM, "sold": 0}], "low": [{**ITEM, "sold": 45}], "hot": [{**ITEM, "sold": 45}],
                        "new_days": 7, "discounts": True},
}
