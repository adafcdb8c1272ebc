"""Input no member would type on purpose gets the usage reply, never the apology, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.conftest import ChatBot
from tests.factories import OWNER, config
from tests.helpers import checkin, give

ITEMS = [{"sku": "rp", "name": "10元红包", "kind": "red_packet", "points": 100, "stock": 3}]
APOLOGY = "抱歉，刚才没处理好"


async def test_huge_numbers_get_the_usage_reply(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[], mall={"items": ITEMS}, rate_limit=0), url=db_url)
    give(bot, "alice", 500)
    for text, usage in [("取消订单 99999999999999999999999", "取消订单 单号"),
                        ("兑换 " + "9" * 1_000_000, "兑换 编号"),
                        ("兑换 99999999999999999999", "兑换 编号"),
                        ("商品 " + "9" * 5000, "商品 编号")]:
        r = await bot.say(text, as_="alice")
        assert APOLOGY not in r.text and f"用法：{usage}" in r.text, r.text
    r = await bot.say("商城 " + "9" * 5000, as_="alice")
    assert "10元红包" in r.text and APOLOGY not in r.text
    assert bot.balance("alice") == 500
    r = await bot.say("补货 rp " + "9" * 1_000_000, as_=OWNER)
    assert APOLOGY not in r.text and "用法：补货 SKU 数量" in r.text


async def test_a_nul_in_a_name_or_text_is_dropped_at_the_event(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(config(schedule=[]), url=db_url)
    r = await bot.say("签\x00到", as_="alice", name="Al\x00ice")
    assert "获得 5 积分" in r.text
    await checkin(bot, "bob", name="B\x00ob")
    assert {m.id: m.name for m in bot.ledger.members()} == {"alice": "Alice", "bob": "Bob"}
    assert bot.balance("alice") == 5 and bot.balance("bob") == 5
