"""Points expiry as members see it: the daily run from event time, warnings by private message, 积分 and 明细."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import ChatBot
from tests.factories import OWNER, config, sh
from tests.helpers import checkin
from tests.storage.test_expiry import lot_expiry, replay_fifo


def expiring(policy: str = "year_end", **kw: object) -> dict:
    return config(schedule=[], expiry={"policy": policy, "days": 30, "warn_days": 7, **kw})


async def test_year_end_expiry_across_two_years(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(expiring(), start="2026-12-30 07:00")
    await checkin(bot, "alice", "2026-12-30 08:00")
    await checkin(bot, "alice", "2026-12-31 08:00")
    await checkin(bot, "alice", "2027-01-01 08:00")  # 5 + the 3-day streak's 10, earned in 2027: good through 2028
    assert bot.balance("alice") == 25
    r = await bot.say("扣分 @alice 7 测试", as_=OWNER, mentions=("alice",), at=sh("2027-03-01 10:00"))
    assert "扣除 7 积分" in r.text and "Alice 当前积分：18" in r.text
    # a week before 2026's points expire, alice is told privately, once
    r = await bot.tick("2027-12-25 00:05")
    [warn] = r
    assert warn.to == "alice" and warn.room is None
    assert "3 积分将于 12月31日 24 点到期" in warn.text and "当前积分：18" in warn.text
    assert await bot.tick("2027-12-26 00:05") == []
    r = await bot.say("积分", as_="alice", at=sh("2027-12-27 09:00"))
    assert "其中 3 积分将于 12月31日到期" in r.text
    # the run at 00:05 on Jan 1st takes the 3 unspent points of 2026; 2027's 15 stay
    assert await bot.tick("2028-01-01 00:06") == []
    assert bot.balance("alice") == 15 and bot.growth("alice") == 25
    assert [(e.kind, e.delta) for e in bot.entries("alice")][-1] == ("expire", -3)
    r = await bot.say("明细", as_="alice", at=sh("2028-01-02 09:00"))
    assert "积分过期 -3，余 15" in r.text
    # the next year warns about the rest, then takes it
    r = await bot.tick("2028-12-25 00:05")
    assert r.text.startswith("⏳") and "15 积分将于 12月31日" in r.text
    await bot.tick("2029-01-01 00:06")
    assert bot.balance("alice") == 0
    assert [e.delta for e in bot.entries("alice") if e.kind == "expire"] == [-3, -15]
    assert replay_fifo(bot.entries(), lot_expiry(bot.rt.services.lots, bot.entries())) == []


async def test_rolling_expiry_spends_oldest_first_through_the_mall(make_chat) -> None:  # type: ignore[no-untyped-def]
    mall = {"confirm_above": 1000, "items": [{"sku": "pen", "name": "签字笔", "kind": "link", "points": 8,
                                              "link": "https://example.com/pen"}]}
    bot: ChatBot = make_chat({**expiring("rolling", warn_days=0), "mall": mall}, start="2026-11-01 07:00")
    for day in range(1, 4):  # 5 points each on Nov 1, 2, 3 (the third is the 3-day streak: +10)
        await checkin(bot, "alice", f"2026-11-0{day} 08:00")
    assert bot.balance("alice") == 25
    r = await bot.say("兑换 1", as_="alice", at=sh("2026-11-05 09:00"))  # 5 of Nov 1 and 3 of Nov 2
    assert any("兑换成功" in t for t in r.texts)
    # Nov 1 is good through Dec 1, Nov 2 through Dec 2: only the unspent 2 of Nov 2 expire on Dec 3
    assert await bot.tick("2026-12-02 00:06") == []
    assert bot.balance("alice") == 17
    assert await bot.tick("2026-12-03 00:06") == []
    assert bot.balance("alice") == 15
    await bot.tick("2026-12-04 00:06")
    assert bot.balance("alice") == 0
    assert [e.delta for e in bot.entries("alice") if e.kind == "expire"] == [-2, -15]
    assert replay_fifo(bot.entries(), lot_expiry(bot.rt.services.lots, bot.entries())) == []


async def test_without_a_policy_nothing_expires_and_no_job_runs(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(config(schedule=[]), start="2026-01-01 07:00")
    await checkin(bot, "alice", "2026-01-01 08:00")
    assert bot.rt.schedule.next_due(sh("2026-01-01 09:00")) is None
    assert await bot.tick(sh("2026-01-01 09:00") + timedelta(days=900)) == []
    assert bot.balance("alice") == 5
    assert bot.rt.services.lots is None


async def test_the_run_fires_at_run_at_local_time(make_chat) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(expiring("rolling", run_at="03:30"), start="2026-01-01 07:00")
    assert bot.rt.schedule.next_due(sh("2026-01-01 07:00")) == sh("2026-01-02 03:30")
