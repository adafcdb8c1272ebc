"""New-member points and the welcome, pinned through the chat on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.conftest import ChatBot
from tests.factories import config


def newcomer_config(**newcomer: Any) -> dict[str, Any]:
    return config(schedule=[], newcomer={"points": 10, "scope": "company", "claim_within_hours": 0, **newcomer})


def ledger_rows(bot: ChatBot, member: str | None = None) -> list[tuple[str, str, int, str]]:
    return [(e.member, e.kind, e.delta, e.key) for e in bot.entries(member) if e.kind == "newcomer"]


async def test_a_newcomer_is_paid_on_joining_and_welcomed_by_mention(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(), url=db_url)
    r = await bot.join("g1", "bob")
    out = r[0]
    assert len(r) == 1 and out.room == "g1" and out.to is None
    assert out.mentions == ("bob",) and out.names == {"bob": "bob"} and out.reply_to is None
    assert "欢迎新朋友" in out.text and "新人礼 10 积分已到账" in out.text
    assert "每天发「签到」得 5 积分" in out.text and "帮助" in out.text
    assert ledger_rows(bot) == [("bob", "newcomer", 10, "newcomer:bob")]
    assert bot.balance("bob") == 10


async def test_one_welcome_greets_every_newcomer_of_a_join(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(), url=db_url)
    r = await bot.join("g1", "bob", "carol", "dave")
    assert len(r) == 1
    assert r[0].mentions == ("bob", "carol", "dave")
    assert set(r[0].names) == {"bob", "carol", "dave"}
    assert "新人礼 10 积分已到账" in r[0].text and "（" not in r[0].text
    assert sorted(m for m, *_ in ledger_rows(bot)) == ["bob", "carol", "dave"]


async def test_leaving_and_rejoining_never_pays_again_nor_greets_again(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(), url=db_url)
    assert "已到账" in (await bot.join("g1", "bob")).text
    assert (await bot.leave("g1", "bob")) == []
    assert (await bot.join("g1", "bob")) == []
    assert ledger_rows(bot) == [("bob", "newcomer", 10, "newcomer:bob")]
    assert bot.balance("bob") == 10


async def test_company_scope_pays_only_who_was_never_in_any_group(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(scope="company"), url=db_url)
    assert "已到账" in (await bot.join("g1", "bob")).text
    # bob is new to g2, so he is greeted there, but he was in g1: no second payment
    r = await bot.join("g2", "bob")
    assert r[0].mentions == ("bob",) and "欢迎" in r.text and "新人礼" not in r.text
    # carol only ever talked in g1 (no join seen): she was a member, so g2 does not pay her either
    assert "获得" in (await bot.say("签到", as_="carol", room="g1")).text
    r = await bot.join("g2", "carol", "dave")
    assert r[0].mentions == ("carol", "dave")
    assert "新人礼 10 积分已到账（dave）" in r.text
    assert ledger_rows(bot) == [("bob", "newcomer", 10, "newcomer:bob"), ("dave", "newcomer", 10, "newcomer:dave")]


async def test_room_scope_pays_once_per_group(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(scope="room"), url=db_url)
    assert "已到账" in (await bot.join("g1", "bob")).text
    assert "已到账" in (await bot.join("g2", "bob")).text
    await bot.leave("g2", "bob")
    assert (await bot.join("g2", "bob")) == []
    assert ledger_rows(bot) == [("bob", "newcomer", 10, "newcomer:bob:g1"), ("bob", "newcomer", 10, "newcomer:bob:g2")]
    assert bot.balance("bob") == 20


async def test_admins_and_the_bot_are_neither_paid_nor_greeted(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(), url=db_url)
    assert (await bot.join("g1", "wxid_owner", "bot")) == []
    r = await bot.join("g1", "wxid_owner", "bob")
    assert r[0].mentions == ("bob",)
    assert ledger_rows(bot) == [("bob", "newcomer", 10, "newcomer:bob")]


async def test_a_replayed_join_event_pays_once(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(), url=db_url)
    assert "已到账" in (await bot.join("g1", "bob", id="join-1")).text
    assert (await bot.join("g1", "bob", id="join-1")) == []
    assert len(ledger_rows(bot)) == 1


async def test_welcome_can_be_turned_off_and_points_still_pay(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(welcome=False), url=db_url)
    assert (await bot.join("g1", "bob")) == []
    assert ledger_rows(bot) == [("bob", "newcomer", 10, "newcomer:bob")]


async def test_with_a_claim_window_the_newcomer_claims_with_the_keyword(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(claim_within_hours=24), url=db_url)
    bot.at("2026-11-23 09:00")
    r = await bot.join("g1", "bob")
    assert "24 小时内发送「新人礼」领取 10 积分新人礼" in r.text
    assert ledger_rows(bot) == []
    bot.at("2026-11-24 08:59")
    r = await bot.say("新人礼", as_="bob")
    assert r[0].mentions == ("bob",) and "获得 10 积分" in r.text and "当前积分：10" in r.text
    assert ledger_rows(bot) == [("bob", "newcomer", 10, "newcomer:bob")]
    again = await bot.say("新人礼", as_="bob")
    assert "已经领过" in again.text
    assert bot.balance("bob") == 10


async def test_a_claim_after_the_window_is_told_it_has_passed(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(claim_within_hours=24), url=db_url)
    bot.at("2026-11-23 09:00")
    assert "领取" in (await bot.join("g1", "bob")).text
    bot.at("2026-11-24 09:01")
    r = await bot.private("新人礼", as_="bob")
    assert r[0].to == "bob" and "24 小时内领取" in r.text and "已过" in r.text
    assert "已过" in (await bot.private("新人礼", as_="bob")).text
    assert bot.entries() == []


async def test_a_claim_works_privately_and_configured_keywords_work(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(claim_within_hours=2, keywords=["领新人礼", "见面礼"]), url=db_url)
    assert "「领新人礼」" in (await bot.join("g1", "bob")).text
    assert (await bot.private("新人礼", as_="bob")) == []
    r = await bot.private("见面礼", as_="bob")
    assert r[0].to == "bob" and "获得 10 积分" in r.text


async def test_someone_who_is_not_new_is_told_so(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(claim_within_hours=24), url=db_url)
    assert "获得" in (await bot.say("签到", as_="carol")).text
    assert (await bot.join("g1", "carol")) == []  # back in a group she was in: no welcome, no claim
    r = await bot.say("新人礼", as_="carol")
    assert "之前已经在群里" in r.text
    assert ledger_rows(bot) == []


async def test_paid_on_joining_then_the_keyword_says_already(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(), url=db_url)
    assert "已到账" in (await bot.join("g1", "bob")).text
    assert "已经领过" in (await bot.say("新人礼", as_="bob")).text
    assert bot.balance("bob") == 10


async def test_leaving_before_claiming_closes_the_claim(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(claim_within_hours=24), url=db_url)
    assert "领取" in (await bot.join("g1", "bob")).text
    await bot.leave("g1", "bob")
    assert (await bot.join("g1", "bob")) == []
    assert "已过" in (await bot.say("新人礼", as_="bob")).text
    assert bot.entries() == []


async def test_only_some_of_a_join_being_paid_names_them(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(newcomer_config(claim_within_hours=24), url=db_url)
    assert "领取" in (await bot.join("g2", "bob")).text
    assert "获得 10 积分" in (await bot.private("新人礼", as_="bob")).text
    r = await bot.join("g1", "bob", "carol")
    assert r[0].mentions == ("bob", "carol") and "领取 10 积分新人礼（carol）" in r.text


async def test_a_campaign_override_pays_its_amount_and_is_recorded(make_chat: Any, db_url: str) -> None:
    data = newcomer_config()
    data["campaigns"] = [{"id": "spring", "name": "拉新月", "starts": "2026-11-23T00:00:00+08:00",
                          "ends": "2026-11-24T00:00:00+08:00", "newcomer": {"points": 30}}]
    bot: ChatBot = make_chat(data, url=db_url)
    bot.at("2026-11-23 10:00")
    assert "新人礼 30 积分已到账" in (await bot.join("g1", "bob")).text
    bot.at("2026-11-24 10:00")
    assert "新人礼 10 积分已到账" in (await bot.join("g1", "carol")).text
    assert [(e.member, e.delta, e.campaign) for e in bot.entries()] == [("bob", 30, "spring"), ("carol", 10, None)]


async def test_no_newcomer_section_means_no_welcome_and_no_keyword(chat: ChatBot) -> None:
    assert (await chat.join("g1", "bob")) == []
    assert (await chat.say("新人礼", as_="bob")) == []
    assert chat.entries() == []
