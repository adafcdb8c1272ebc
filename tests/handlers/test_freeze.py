"""冻结 / 解冻 as operators and members see it: a frozen member earns nothing, cannot redeem, is told once;
admins' 扣分 still works; 解冻 restores earning; the ledger and audit stay right (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from tests.conftest import ChatBot
from tests.factories import OWNER, config
from tests.helpers import award, checkin, give

ITEMS: list[dict[str, Any]] = [{"sku": "rp", "name": "10元红包", "kind": "red_packet", "points": 10}]


def freeze_config() -> dict[str, Any]:
    return config(schedule=[], mall={"confirm_above": 200, "items": ITEMS}, rate_limit=0)


async def test_a_frozen_member_earns_nothing_is_told_once_and_unfreezing_restores(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(freeze_config(), url=db_url)
    await checkin(bot, "bob", "2026-11-23 09:00")
    give(bot, "bob", 50, name="Bob")
    before = bot.balance("bob")
    lines = len(bot.entries("bob"))

    bot.at("2026-11-23 10:00")
    r = await bot.say("冻结 @Bob 刷签到", as_=OWNER, mentions=("bob",))
    assert len(r) == 1 and r[0].room == "g1" and "已冻结 Bob" in r[0].text and "理由：刷签到" in r[0].text, r.texts
    assert "wxid" not in r[0].text and "bob" not in r[0].text  # named, never by id
    assert bot.rt.services.freezes.frozen() == ["bob"]

    # the first refused action is told, privately; the check-in writes nothing
    bot.at("2026-11-24 09:00")
    r = await bot.say("签到", as_="bob", name="Bob")
    assert len(r) == 1 and r[0].to == "bob" and r[0].room is None, r.texts
    assert "你的账户已被冻结" in r[0].text and "联系管理员" in r[0].text
    # later ones are silent, whatever they are
    assert await bot.say("签到", as_="bob", name="Bob") == []
    assert await bot.say("兑换 rp", as_="bob", name="Bob") == []
    assert await bot.private("兑换 rp", as_="bob", name="Bob") == []
    assert bot.balance("bob") == before and len(bot.entries("bob")) == lines
    r = await bot.say("积分", as_="bob", name="Bob")  # reading still answers
    assert r and f"{before}" in r.text

    # an admin's 扣分 still works on a frozen member
    r = await bot.say("扣分 @Bob 20 刷签到收回", as_=OWNER, mentions=("bob",))
    assert r and "扣除 20 积分" in r[0].text, r.texts
    assert bot.balance("bob") == before - 20
    # 冻结 twice records once
    r = await bot.say("冻结 @Bob 又一次", as_=OWNER, mentions=("bob",))
    assert "已经是冻结状态" in r.text
    assert [c.action for c in bot.rt.services.freezes.history("bob")] == ["freeze"]

    bot.at("2026-11-24 11:00")
    r = await bot.private("解冻 bob 误判，已核实", as_=OWNER)
    assert len(r) == 1 and r[0].to == OWNER and "已解冻 Bob" in r[0].text and "误判，已核实" in r[0].text, r.texts
    await checkin(bot, "bob", "2026-11-24 11:01")
    assert bot.balance("bob") == before - 20 + 5
    history = bot.rt.services.freezes.history("bob")
    assert [(c.action, c.actor, c.reason) for c in history] == [("freeze", OWNER, "刷签到"),
                                                                ("unfreeze", OWNER, "误判，已核实")]
    # the operator log has both, by the admin's contact id, beside the 扣分 (the repeated 冻结 changed nothing)
    ops = [(o.actor_kind, o.actor, o.action, o.target, o.reason) for o in reversed(bot.rt.services.oplog.page())]
    assert [o for o in ops if o[2] in ("freeze", "unfreeze")] == [("chat", OWNER, "freeze", "bob", "刷签到"),
                                                                 ("chat", OWNER, "unfreeze", "bob", "误判，已核实")]
    assert bot.ledger.audit() == []


async def test_freeze_refusals_change_nothing_and_non_admins_are_refused(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(freeze_config(), url=db_url)
    await checkin(bot, "bob", "2026-11-23 09:00")
    r = await bot.say("冻结 @Bob", as_=OWNER, mentions=("bob",))
    assert "请写上理由" in r.text
    r = await bot.say("冻结 刷签到", as_=OWNER)
    assert "请 @ 要冻结的成员" in r.text
    r = await bot.private("冻结 nobody 刷签到", as_=OWNER)
    assert "没有 ID 为 nobody 的成员" in r.text
    r = await bot.say("冻结 @Bob 刷签到", as_="carol", name="Carol", mentions=("bob",))
    assert r and "管理员" in r.text  # the usual refusal for a non-admin
    assert bot.rt.services.freezes.frozen() == [] and bot.rt.services.freezes.history() == []
    await award(bot, "bob", 10, "2026-11-23 10:00")  # still pays: nobody was frozen


async def test_a_frozen_inviter_gets_nothing_and_the_newcomer_is_still_welcomed(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    data = freeze_config()
    data["invite"] = {"points": 20}
    data["newcomer"] = {"points": 10, "scope": "company", "claim_within_hours": 0}
    bot: ChatBot = make_chat(data, url=db_url)
    await checkin(bot, "bob", "2026-11-23 09:00")
    bot.at("2026-11-23 09:30")
    r = await bot.say("冻结 @Bob 拉小号", as_=OWNER, mentions=("bob",))
    assert "已冻结 Bob" in r.text
    before = bot.balance("bob")
    r = await bot.join("g1", "dave", inviter="bob")
    assert [o.room for o in r] == ["g1"] and "dave" in r[0].mentions, r.texts  # the welcome; no note to bob
    assert bot.balance("dave") == 10 and bot.balance("bob") == before
    assert not [e for e in bot.entries("bob") if e.kind == "invite"]
    assert bot.ledger.audit() == []


async def test_freeze_glued_or_after_a_colon_keeps_the_reason_as_typed(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(freeze_config(), url=db_url)
    await checkin(bot, "bob", "2026-11-23 09:00")
    r = await bot.say("冻结：@Bob 刷签到，多个小号", as_=OWNER, mentions=("bob",))
    assert "已冻结 Bob" in r.text and "理由：刷签到，多个小号" in r.text, r.texts
    r = await bot.say("解冻@Bob 误判", as_=OWNER, mentions=("bob",))
    assert "已解冻 Bob" in r.text and "理由：误判" in r.text, r.texts
