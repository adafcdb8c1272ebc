"""Levels: a level follows growth, multiplies check-in points, is announced once, and 等级 explains it."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

import run_bot
from handlers.lib.levels import level_of, meets, member_price, multiply
from tests.conftest import ChatBot
from tests.factories import config, sh

LEVELS = [
    {"name": "青铜", "growth": 0},
    {"name": "白银", "growth": 20, "checkin_multiplier": 1.5, "mall_discount": 0.95},
    {"name": "黄金", "growth": 60, "checkin_multiplier": 2, "mall_discount": 0.9},
]


def level_config(**extra: Any) -> dict[str, Any]:
    return config(schedule=[], levels=LEVELS, **extra)


async def test_level_up_is_announced_once_and_then_multiplies_checkin(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(level_config(), url=db_url)
    for day in ("2026-11-28", "2026-11-29"):  # Saturday, Sunday: 5 + 5
        bot.at(f"{day} 09:00")
        r = await bot.say("签到", as_="alice", name="Alice")
        assert "获得 5 积分" in r.text and "会员" not in r.text
    bot.at("2026-11-30 09:00")  # Monday: 5 + streak bonus 10 -> growth 25
    r = await bot.say("签到", as_="alice", name="Alice")
    assert len(r) == 2 and "获得 15 积分" in r[0].text
    assert r[1].text.startswith("🎉 恭喜 Alice 升级为「白银」会员！")
    assert "签到积分 ×1.5，商城9.5折" in r[1].text
    assert r[1].room == "g1" and r[1].mentions == ("alice",) and r[1].reply_to == r[0].reply_to
    bot.at("2026-12-01 09:00")  # 白银: 5 x 1.5 = 7.5, rounded down
    r = await bot.say("签到", as_="alice", name="Alice")
    assert "获得 7 积分" in r.text and "🏅 白银会员 签到积分 ×1.5" in r.text
    assert bot.growth("alice") == 32
    # a reversal takes growth back below 白银; reaching it again is not announced twice
    bot.ledger.reverse(original_key="checkin:2026-12-01:alice", key="undo-1", kind="test_reverse", at=sh("2026-12-01 10:00"))
    bot.ledger.reverse(original_key="checkin:2026-11-30:alice", key="undo-2", kind="test_reverse", at=sh("2026-12-01 10:00"))
    bot.ledger.reverse(original_key="checkin:2026-11-30:alice:checkin_streak:1", key="undo-3", kind="test_reverse",
                       at=sh("2026-12-01 10:00"))
    assert bot.growth("alice") == 10
    bot.at("2026-12-02 09:00")
    r = await bot.say("签到", as_="alice", name="Alice")
    assert "获得 5 积分" in r.text  # below 白银 again: no multiplier
    bot.at("2026-12-03 09:00")
    r = await bot.say("签到", as_="alice", name="Alice")
    assert bot.growth("alice") == 20 and "升级" not in r.text


async def test_campaign_and_level_multiply_together_rounded_down_once(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    data = level_config()
    data["levels"] = [{"name": "白银", "growth": 1, "checkin_multiplier": 1.25}]
    data["campaigns"] = [{"id": "double", "name": "双倍周", "starts": "2026-11-24T00:00:00+08:00",
                          "ends": "2026-11-26T00:00:00+08:00", "checkin": {"multiplier": 2}}]
    bot: ChatBot = make_chat(data, url=db_url)
    bot.at("2026-11-23 09:00")
    r = await bot.say("签到", as_="bob", name="Bob")
    assert len(r) == 2 and "获得 5 积分" in r[0].text and "升级为「白银」" in r[1].text
    bot.at("2026-11-24 09:00")
    r = await bot.say("签到", as_="bob", name="Bob")
    # 5 x 2 (campaign) x 1.25 (level) = 12.5 -> 12
    assert "获得 12 积分" in r.text and "×2" in r.text and "白银会员 签到积分 ×1.25" in r.text


async def test_level_command_shows_level_growth_and_next(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(level_config(), url=db_url)
    r = await bot.say("等级", as_="carol")
    assert "会员等级：青铜" in r.text and "成长值：0" in r.text
    assert "再得 20 成长值升级为「白银」（20）" in r.text and "升级后：签到积分 ×1.5，商城9.5折" in r.text
    bot.rt.services.presence.see_member("carol", "Carol", sh("2026-11-23 07:30"))
    bot.ledger.award(member="carol", points=70, kind="test", key="t1", at=sh("2026-11-23 07:31"))
    r = await bot.private("我的等级", as_="carol")
    assert "会员等级：黄金" in r[0].text and "当前权益：签到积分 ×2，商城9折" in r[0].text and "已是最高等级" in r[0].text
    # an award made outside a chat (here: straight on the ledger) is congratulated at the next event; from a
    # private chat, in the group carol is in
    assert len(r) == 2 and "升级为「黄金」" in r[1].text and r[1].room == "g1" and r[1].mentions == ("carol",)


async def test_without_levels_the_command_says_so(chat: ChatBot) -> None:
    r = await chat.say("等级", as_="alice")
    assert "还没有设置会员等级" in r.text


async def test_a_level_up_from_a_private_chat_is_posted_in_the_members_groups(make_chat) -> None:  # type: ignore[no-untyped-def]
    data = level_config()
    data["profile"] = {"points": 20, "fields": ["city"]}
    bot: ChatBot = make_chat(data)
    assert "获得" in (await bot.say("签到", as_="dan", name="Dan", room="g2")).text
    r = await bot.private("完善资料", as_="dan", name="Dan")
    assert "城市" in r.text or r.text
    r = await bot.private("上海", as_="dan", name="Dan")
    ups = [o for o in r if "升级为「白银」" in o.text]
    assert len(ups) == 1 and ups[0].room == "g2" and ups[0].mentions == ("dan",)
    assert [o.to for o in r if o not in ups] == ["dan"]


def test_level_of_meets_and_exact_rounding() -> None:
    s = run_bot.config_mod.parse(level_config())
    assert level_of(s, 0).name == "青铜" and level_of(s, 19).name == "青铜"  # type: ignore[union-attr]
    assert level_of(s, 20).name == "白银" and level_of(s, 10_000).name == "黄金"  # type: ignore[union-attr]
    assert meets(s, 59, "黄金") is False and meets(s, 60, "黄金") and meets(s, 0, None) and meets(s, 0, "钻石")
    assert multiply(20, 1.15) == 23 and multiply(5, 2, 1.25) == 12 and multiply(3, 1.1) == 3


def test_a_member_price_is_the_discount_rounded_down_and_never_below_one_point() -> None:
    data = level_config()
    data["levels"] = [{"name": "青铜", "growth": 0}, {"name": "白银", "growth": 20, "mall_discount": 0.5}]
    s = run_bot.config_mod.parse(data)
    assert member_price(s, 300, 0) == 300 and member_price(s, 300, 20) == 150 and member_price(s, 5, 20) == 2
    assert member_price(s, 1, 20) == 1  # 0.5 of 1 point would be free


def test_levels_config_errors_name_the_key() -> None:
    import pytest

    from bot.config import ConfigError, parse

    for levels, msg in (
        ([{"name": "a", "growth": 10}, {"name": "b", "growth": 10}], "levels[1].growth must be above levels[0].growth"),
        ([{"name": "a", "growth": 0, "checkin_multiplier": 0.5}], "levels[0].checkin_multiplier must be a number >= 1"),
        ([{"name": "a", "growth": 0, "mall_discount": 0}], "levels[0].mall_discount must be a number > 0 and <= 1"),
        ([{"name": "a", "growth": 0}, {"name": "a", "growth": 5}], "levels[1].name repeats"),
    ):
        with pytest.raises(ConfigError, match=msg.replace("[", r"\[").replace("]", r"\]")):
            parse({**config(), "levels": levels})


async def test_balances_json_fills_level(make_chat, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    bot: ChatBot = make_chat(level_config(), url=db)
    for day in ("2026-11-28", "2026-11-29", "2026-11-30"):
        bot.at(f"{day} 09:00")
        r = await bot.say("签到", as_="alice", name="Alice")
        assert "获得" in r.texts[0]
    assert "升级" in r.texts[-1]
    assert "获得" in (await bot.say("签到", as_="bob", name="Bob")).text
    cfg = tmp_path / "config.toml"
    cfg.write_text('[bot]\nadmins = ["wxid_owner"]\n[checkin]\npoints = 5\n'
                   + "".join(f'[[levels]]\nname = "{lv["name"]}"\ngrowth = {lv["growth"]}\n' for lv in LEVELS),
                   encoding="utf-8")
    out = CliRunner().invoke(run_bot.cli, ["balances", "--json", "--config", str(cfg), "--db", db])
    assert out.exit_code == 0, out.output
    rows = {r["member"]: r for r in json.loads(out.output)}
    assert rows["alice"]["level"] == "白银" and rows["alice"]["growth"] == 25
    assert rows["bob"]["level"] == "青铜"
