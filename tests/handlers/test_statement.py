"""我的账单 as chats: this year's figures, privately; only a short note in the group; the PNG card where a font exists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from PIL import Image

from handlers.lib import statement_card
from handlers.statement import classify
from storage.statement import legacy_source, longest_run
from tests.conftest import ChatBot
from tests.factories import OWNER, config, sh
from tests.handlers.statement_samples import STATEMENT
from tests.helpers import award, checkin, redeem

ITEMS: list[dict[str, Any]] = [
    {"sku": "rp", "name": "10元红包", "kind": "red_packet", "points": 30},
    {"sku": "box", "name": "白银礼盒", "kind": "red_packet", "points": 200, "min_level": "白银"},
    {"sku": "gold", "name": "黄金礼盒", "kind": "red_packet", "points": 100, "min_level": "黄金"},
    {"sku": "mug", "name": "品牌马克杯", "kind": "physical", "points": 230},
    {"sku": "tv", "name": "电视机", "kind": "physical", "points": 5000},
    {"sku": "xmas", "name": "圣诞礼包", "kind": "red_packet", "points": 10,
     "starts": "2026-12-24T00:00:00+08:00", "ends": "2026-12-26T00:00:00+08:00"},
]
LEVELS = [{"name": "青铜", "growth": 0}, {"name": "白银", "growth": 100, "mall_discount": 0.9},
          {"name": "黄金", "growth": 1000}]


def statement_config(tmp_path: Path, **statement: Any) -> dict[str, Any]:
    return config(schedule=[], invite={"points": 20}, mall={"confirm_above": 1000, "items": ITEMS},
                  statement={"cards_dir": str(tmp_path / "cards"), **statement}, levels=LEVELS, rate_limit=0)


def cjk_font() -> str:
    """The font the card is drawn with; the test is skipped (with the reason) only when there is none."""
    font = statement_card.find_font("")
    if font is None:
        if os.environ.get("REQUIRE_FONT"):
            pytest.fail("REQUIRE_FONT is set but no font with Chinese glyphs was found: apt install fonts-wqy-microhei")
        pytest.skip("no font with Chinese glyphs on this machine (apt install fonts-wqy-microhei): the card is not drawn")
    return font


def assert_card(path: str | None) -> None:
    assert path is not None and Path(path).is_file()
    assert Path(path).stat().st_size < statement_card.MAX_BYTES
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (statement_card.WIDTH, statement_card.HEIGHT) == (750, 1200)
        img.verify()


async def year_of_alice(bot: ChatBot) -> int:
    """Two weeks across New Year; returns what the 10元红包 cost her (the ledger's redeem entry)."""
    # 2025: 2 check-ins, an invite and an award, none of which belong in the 2026 statement
    await checkin(bot, "alice", "2025-12-30 09:00")
    await checkin(bot, "alice", "2025-12-31 09:00")
    bot.at("2025-12-31 10:00")
    r = await bot.join("g1", "dave", inviter="alice")
    assert [o.to for o in r] == ["alice"] and "20" in r[0].text
    r = await award(bot, "alice", 100, "2025-12-31 11:00", extra=1)  # growth 130: 白银 is announced in the same step
    assert "升级为「白银」" in r[1].text and r[1].mentions == ("alice",)
    # 2026: Jan 1 and 2 (the streak from December goes on: 3 days, +10), Jan 3 missed while the bot ran,
    # Jan 4, 5, 6 (3 days again, +10)
    await checkin(bot, "alice", "2026-01-01 09:00")
    await checkin(bot, "alice", "2026-01-02 09:00")
    bot.at("2026-01-03 12:00")
    assert not await bot.say("大家好", as_="bob", name="Bob")  # the bot ran that day: the streak breaks
    await checkin(bot, "alice", "2026-01-04 09:00")
    await checkin(bot, "alice", "2026-01-05 09:00")
    bot.at("2026-01-05 10:00")
    r = await bot.join("g1", "carol", inviter="alice")
    assert [o.to for o in r] == ["alice"]
    await checkin(bot, "alice", "2026-01-06 09:00")
    await award(bot, "alice", 50, "2026-01-06 10:00")
    r = await award(bot, "bob", 500, "2026-01-06 10:01", extra=1)
    assert "升级为「白银」" in r[1].text and r[1].mentions == ("bob",)
    bot.at("2026-01-06 11:00")
    await redeem(bot, "alice", "10元红包")
    [entry] = [e for e in bot.entries("alice") if e.kind == "redeem"]
    return -int(entry.delta)


async def test_statement_of_the_year_goes_privately_with_only_a_note_in_the_group(make_chat, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(statement_config(tmp_path), start="2025-12-30 08:00", url=db_url)
    price = await year_of_alice(bot)
    balance = bot.balance("alice")
    assert balance == 130 + 45 + 20 + 50 - price and bot.growth("alice") == 245
    sent_before = len(bot.transport.sent)
    bot.at("2026-01-07 10:00")
    r = await bot.say("我的账单", as_="alice", name="Alice")
    assert len(r) == 2
    note, private = r[0], r[1]
    assert note.room == "g1" and note.mentions == ("alice",) and note.text == "账单已私信发给你"
    assert private.to == "alice" and private.room is None and private.reply_to == note.reply_to
    t = private.text
    assert t.startswith("📒 Alice 的 2026 年积分账单（1月1日—1月7日）")
    assert f"💰 当前积分：{balance}（年初 130）" in t
    # Jan 1: 5 + 10 (3 days running), Jan 2: 5, Jan 4-6: 5 + 5 + 5 + 10; the invite of Jan 5; the award of Jan 6
    assert "➕ 今年获得：115 积分\n  · 签到 45\n  · 邀请 20\n  · 管理员加分 50\n" in t
    assert f"➖ 今年支出：{price} 积分\n  · 兑换 {price}\n" in t
    assert "📅 今年签到 5 天，最长连续 3 天" in t
    assert "🤝 今年成功邀请 1 人" in t and "🎁 今年兑换商品 1 件：10元红包" in t
    # ranked: bob (500) above, carol and dave (0) below; the admin is left out
    assert "🏆 你的积分超过了 66% 的成员" in t
    assert "🏅 会员等级：白银（成长值 245）" in t and "再得 755 成长值升级为「黄金」" in t
    # 白银 pays 9 折: the mug (230 -> 207) and the 白银 box (200 -> 180) fit the balance; 黄金礼盒 needs 黄金
    assert "🛒 现在可兑换：品牌马克杯（207 积分）、白银礼盒（180 积分）、10元红包（27 积分），发送「商城」查看" in t
    assert "黄金礼盒" not in t and "电视机" not in t and "圣诞礼包" not in t and "过期" not in t
    # 年初 + 获得 - 支出 = 当前积分
    assert 130 + 115 - price == balance
    # the group saw the note, nothing of the statement
    for o in bot.transport.sent[sent_before:]:
        if o.room is not None:
            assert o.text == "账单已私信发给你" and o.image is None
    # asked privately: the same statement, one private message
    r = await bot.private("年度账单", as_="alice", name="Alice")
    assert len(r) == 1 and r[0].to == "alice" and r[0].text == t


async def test_a_stranger_is_told_in_the_group_to_add_the_bot(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(statement_config(tmp_path), start="2026-01-05 08:00")
    r = await award(bot, "bob", 500, "2026-01-05 09:00", extra=1)
    assert "升级为「白银」" in r[1].text
    bot.transport.strangers.add("bob")
    bot.at("2026-01-05 10:00")
    r = await bot.say("账单", as_="bob", name="Bob")
    assert [o.room for o in r] == ["g1", "g1"] and all(o.to is None and o.image is None for o in r)
    assert r[0].text == "账单已私信发给你"
    assert "加我为好友" in r[1].text and "「我的账单」" in r[1].text and r[1].mentions == ("bob",)
    assert not any("500" in o.text for o in bot.transport.sent if o.room is not None and o.reply_to == r[0].reply_to)
    bot.transport.strangers.discard("bob")  # bob added the bot
    r = await bot.private("我的账单", as_="bob", name="Bob")
    assert "💰 当前积分：500（年初 0）" in r.text and "· 管理员加分 500" in r.text


async def test_refunds_net_against_spending_expiry_has_its_line_and_admins_are_not_ranked(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = {**statement_config(tmp_path), "expiry": {"policy": "rolling", "days": 1, "warn_days": 0}}
    bot: ChatBot = make_chat(data, start="2026-03-01 08:00")
    r = await award(bot, "alice", 300, "2026-03-01 09:00", extra=1)
    assert "升级为「白银」" in r[1].text
    bot.at("2026-03-01 10:00")
    await redeem(bot, "alice", "品牌马克杯")  # physical: asks for the address privately
    r = await bot.private("取消", as_="alice", name="Alice")  # cancelling the address questions refunds it
    assert r[0].to == "alice"
    r = await redeem(bot, "alice", "10元红包")
    assert "红包将由管理员在微信中发给你" in r[1].text
    kinds = [(e.kind, e.delta) for e in bot.entries("alice")]
    assert [k for k, _ in kinds] == ["admin_award", "redeem", "refund", "redeem"]
    redeemed = -sum(d for k, d in kinds if k in ("redeem", "refund"))
    refunded = sum(d for k, d in kinds if k == "refund")
    # the daily expiry run takes what is left of Mar 1's award; the refunded points stay a week (max(warn_days,
    # 7) days after the refund), Mar 3's check-in stays
    assert await bot.tick("2026-03-03 00:06") == []
    expired = -sum(e.delta for e in bot.entries("alice") if e.kind == "expire")
    assert expired == 300 - redeemed - refunded > 0
    await checkin(bot, "alice", "2026-03-03 09:00")
    bot.at("2026-03-03 10:00")
    r = await bot.private("我的账单", as_="alice", name="Alice")
    t = r.text
    assert "➕ 今年获得：305 积分\n  · 签到 5\n  · 管理员加分 300\n" in t
    assert f"➖ 今年支出：{redeemed} 积分（已扣除退款 {refunded}）\n  · 兑换 {redeemed}\n" in t
    assert f"⌛ 今年过期：{expired} 积分" in t and "🎁 今年兑换商品 1 件：10元红包" in t
    assert f"💰 当前积分：{5 + refunded}（年初 0）" in t and 0 + 305 - redeemed - expired == 5 + refunded
    r = await bot.private("我的账单", as_=OWNER, name="Owner")
    assert "🏆 管理员不参与排名" in r.text and "💰 当前积分：0（年初 0）" in r.text and "➕ 今年获得：0 积分" in r.text


async def test_with_a_font_the_private_reply_is_a_png_card_of_the_fixed_size(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cjk_font()
    bot: ChatBot = make_chat(statement_config(tmp_path), start="2026-01-05 08:00")
    await checkin(bot, "alice", "2026-01-05 09:00")
    bot.at("2026-01-05 10:00")
    r = await bot.say("我的账单", as_="alice", name="Alice")
    private = r[1]
    assert r[0].image is None and private.to == "alice"
    assert_card(private.image)
    assert Path(private.image or "").parent == tmp_path / "cards"
    assert "📒 Alice 的 2026 年积分账单" in private.text  # the image's text version
    # a new request draws a new file; the first stays for its send
    r = await bot.private("我的账单", as_="alice", name="Alice")
    assert_card(r[0].image)
    assert r[0].image != private.image and Path(private.image or "").is_file()


async def test_without_a_usable_font_or_with_card_off_the_statement_is_text_only(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        bot: ChatBot = make_chat(statement_config(tmp_path, font=str(tmp_path / "no-such-font.ttc")), start="2026-01-05 08:00")
        for _ in range(2):
            r = await bot.private("我的账单", as_="alice", name="Alice")
            assert r[0].image is None and "年积分账单" in r[0].text
        off: ChatBot = make_chat(statement_config(tmp_path / "off", card=False), start="2026-01-05 08:00")
        r = await off.private("我的账单", as_="alice", name="Alice")
        assert r[0].image is None and "年积分账单" in r[0].text
    finally:
        logger.remove(sink)
    said = [w for w in warnings if "我的账单 goes as text only" in w]
    assert len(said) == 1 and "no-such-font.ttc" in said[0] and "apt install fonts-wqy-microhei" in said[0]
    assert not (tmp_path / "off" / "cards").exists()


async def test_without_the_section_the_command_is_off(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(config(schedule=[]))
    assert not await bot.private("我的账单", as_="alice")


def test_the_card_from_sample_data_is_a_png_of_the_fixed_size(tmp_path: Path) -> None:
    font = cjk_font()
    path = statement_card.render(STATEMENT, tmp_path / "sample.png", font)
    assert_card(path)
    # every optional part left out still draws
    bare = {**STATEMENT, "sources": [], "spending": [], "checkin": None, "invites": None, "redeemed": None,
            "rank": None, "levels": False, "level": None, "next": None, "offers": None, "member_name": ""}
    assert_card(statement_card.render(bare, tmp_path / "bare.png", font))


def test_ledger_kinds_become_statement_lines() -> None:
    assert classify("checkin_streak", 10) == ("earned", "签到")
    # rows from before ledger.reverses: the clawback's kind names what it undoes
    assert classify(legacy_source("invite_revoke"), -20) == ("earned", "邀请")
    assert classify(legacy_source("task_revoke"), -5) == ("earned", "任务") and classify("refund", 30) == ("spent", "兑换")
    assert classify("makeup", -20) == ("spent", "补签") and classify("expire", -7) == ("expired", "")
    assert classify("lucky_draw", 8) == ("earned", "其他") and classify("fine", -3) == ("spent", "其他")


def test_longest_streak_follows_the_ledger_rule_for_days_the_bot_was_down() -> None:
    from datetime import date

    days = [date(2026, 1, d) for d in (1, 2, 4, 5, 6, 9)]
    assert longest_run(days, active={date(2026, 1, 3), date(2026, 1, 7)}) == 3  # the bot ran on Jan 3 and 7: broken
    assert longest_run(days, active={date(2026, 1, 3)}) == 4  # down on Jan 7 and 8: 4, 5, 6 and 9 run on
    assert longest_run(days, active=set()) == 6  # the bot was down in between: nothing broke
    assert longest_run([], active=set()) == 0


async def test_console_and_replay_show_the_text_and_where_the_card_is() -> None:
    import io
    import json

    from bot.clock import OffsetClock
    from bot.events import Outgoing
    from bot.transports.console import ConsoleTransport
    from bot.transports.jsonl import format_out
    from tests.factories import SH

    out = Outgoing(at=sh("2026-01-05 10:00"), text="📒 账单\n💰 当前积分：5", to="alice", image="data/cards/s.png",
                   reply_to="m1")
    buf = io.StringIO()
    await ConsoleTransport(OffsetClock(SH), "积分助手", "bot", out=buf).send(out)
    assert buf.getvalue() == "01-05 10:00 [私聊 → alice] 📒 账单\n    💰 当前积分：5\n    [图片] data/cards/s.png\n"
    line = json.loads(format_out(out, SH))
    assert line["type"] == "image" and line["file"] == "data/cards/s.png" and line["text"] == out.text


def test_the_repo_config_turns_the_statement_on_with_its_card() -> None:
    from bot.config import load

    s = load(Path(__file__).resolve().parents[2] / "config.toml")
    assert s.statement is not None and s.statement.card and s.statement.font == "" and s.statement.cards_dir == ""
