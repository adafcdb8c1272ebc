"""撤销 as operators and members see it: a mistaken 加分 undone as if it never happened (points, growth, boards,
level), refusals that name what undoes an entry, 明细 with entry ids for admins, and idempotence."""

from __future__ import annotations

import re
from typing import Any

from storage import keys
from storage.boards import period_key
from storage.errors import AlreadyReversed
from tests.conftest import ChatBot, Replies
from tests.factories import OWNER, config, sh
from tests.helpers import award, checkin, redeem, replayed, sent_lines

LEVELS = [
    {"name": "青铜", "growth": 0},
    {"name": "白银", "growth": 100},
    {"name": "黄金", "growth": 5000},
]


def undo_config(**extra: Any) -> dict[str, Any]:
    return config(schedule=[], levels=LEVELS, rate_limit=0, **extra)


def entry_id(r: Replies, name: str = "Carol", level: str | None = None) -> int:
    """The entry id the 加分 / 扣分 reply shows beside `name`; `level`: the level-up announced after it."""
    if level is not None:
        assert len(r) == 2 and f"恭喜 {name} 升级为「{level}」会员" in r[1].text, r.texts
    m = re.search(rf"{name} 当前积分：-?\d+（记录 #(\d+)）", r[0].text)
    assert m, r[0].text
    return int(m.group(1))


async def meet(bot: ChatBot, who: str = "carol") -> None:
    """`who` says hello in g1 (no reply): their name is known from then on."""
    assert await bot.say("大家好", as_=who, name=who.title()) == []


def board_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1].isdigit() and ". " in line]


async def test_a_mistaken_award_is_undone_as_if_it_never_happened(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(undo_config(), url=db_url)
    await checkin(bot, "bob", "2026-11-24 09:00")
    await checkin(bot, "carol", "2026-11-24 09:01")
    r = await award(bot, "carol", 10000, "2026-11-24 10:00", reason="活动优秀", extra=1)
    assert "恭喜 Carol 升级为「黄金」会员" in r[1].text
    wrong = entry_id(r)
    r = await bot.say("周榜", as_="bob", name="Bob")
    assert board_rows(r.text)[0] == "1. Carol  10005 分"

    bot.at("2026-11-24 10:05")
    r = await bot.private(f"撤销 #{wrong} 多打了两个零", as_=OWNER)
    done, notice = r
    assert done.to == OWNER and f"已撤销记录 #{wrong}" in done.text
    assert "Carol 11-24 10:00 管理员加分（活动优秀） +10000" in done.text and "理由：多打了两个零" in done.text
    assert "Carol 当前积分：5，成长值：5" in done.text
    assert notice.to == "carol" and notice.room is None
    assert notice.text.startswith("管理员撤销了一笔积分：11-24 10:00 管理员加分（活动优秀） +10000")
    assert "理由：多打了两个零" in notice.text and "当前积分：5" in notice.text
    assert bot.balance("carol") == 5 and bot.growth("carol") == 5
    [reversal] = [e for e in bot.entries("carol") if e.kind == "reversal"]
    assert (reversal.delta, reversal.growth_delta, reversal.reverses) == (-10000, -10000, wrong)

    # the boards and the level fall back
    for board in ("周榜", "月榜"):
        r = await bot.say(board, as_="bob", name="Bob")
        assert board_rows(r.text) == ["1. Bob  5 分 ← 你", "1. Carol  5 分"], board
    r = await bot.say("排行榜", as_="bob", name="Bob")
    assert board_rows(r.text) == ["1. Bob  5 分 ← 你", "1. Carol  5 分"]
    r = await bot.say("等级", as_="carol", name="Carol")
    assert "会员等级：青铜" in r.text and "成长值：5" in r.text and "再得 95 成长值升级为「白银」" in r.text
    r = await bot.say("积分", as_="carol", name="Carol")
    assert "当前积分：5" in r.text and "成长值：5" in r.text

    # reaching 黄金 again for real is not announced a second time
    await award(bot, "carol", 6000, "2026-11-25 10:00", reason="年度贡献", extra=0)
    r = await bot.say("等级", as_="carol", name="Carol")
    assert "会员等级：黄金" in r.text


async def test_an_undo_counts_in_the_week_and_month_of_the_entry_it_undoes(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(undo_config(), url=db_url)
    await meet(bot)
    # Monday 30 November: the award, last day of the month; undone on Tuesday 1 December
    await meet(bot)
    await checkin(bot, "bob", "2026-11-30 09:00")
    wrong = entry_id(await award(bot, "carol", 10000, "2026-11-30 10:00", extra=1), level="黄金")
    await checkin(bot, "carol", "2026-12-01 09:00")
    r = await bot.private(f"撤销 {wrong} 输错了", as_=OWNER, at=sh("2026-12-01 10:00"))
    assert len(r) == 2 and "已撤销" in r[0].text and r[1].to == "carol"
    # December holds Carol's 5 of today, not 5 - 10000; November no longer holds the 10000
    r = await bot.say("月榜", as_="bob", name="Bob")
    assert board_rows(r.text) == ["1. Carol  5 分"]
    r = await bot.say("周榜", as_="bob", name="Bob")
    assert board_rows(r.text) == ["1. Bob  5 分 ← 你", "1. Carol  5 分"]
    boards = bot.rt.services.boards
    november = period_key("month", sh("2026-11-30 12:00").date())
    assert [(b.member, b.points) for b in boards.top(10, period=november)] == [("bob", 5)]


async def test_undo_is_private_admin_only_and_needs_an_entry_and_a_reason(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(undo_config(), url=db_url)
    await meet(bot)
    wrong = entry_id(await award(bot, "carol", 50, "2026-11-24 10:00", extra=0))
    r = await bot.say(f"撤销 #{wrong} 输错了", as_=OWNER)
    assert "请私聊我发送「撤销」" in r.text and r[0].room == "g1"
    r = await bot.private(f"撤销 #{wrong} 输错了", as_="carol")
    assert "只有管理员可以使用" in r.text
    r = await bot.private(f"撤销 #{wrong}", as_=OWNER)
    assert "请写上撤销的理由" in r.text and "用法：撤销 记录号 理由" in r.text
    r = await bot.private("撤销 输错了", as_=OWNER)
    assert "请写上要撤销的记录号" in r.text
    r = await bot.private("撤销 #999 输错了", as_=OWNER)
    assert "没有记录 #999" in r.text
    assert [e.kind for e in bot.entries()] == ["admin_award"] and bot.balance("carol") == 50


async def test_an_entry_is_undone_once(make_chat, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(undo_config(), url=db_url)
    await meet(bot)
    wrong = entry_id(await award(bot, "carol", 50, "2026-11-24 10:00", extra=0))
    msg = bot.message(f"撤销 #{wrong} 输错了", as_=OWNER, room=None, at=sh("2026-11-24 10:05"))
    r = await bot.feed(msg)
    assert "已撤销" in r[0].text and r[1].to == "carol"
    # the same message again (a transport delivering twice): taken once
    assert await bot.feed(msg) == []
    # ... and its key, should it reach the ledger again, changes nothing
    again = bot.ledger.undo(entry=wrong, key=keys.undo(msg.id, OWNER), at=sh("2026-11-24 10:06"), detail="输错了")
    assert again.repeated and again.reversal.reverses == wrong
    # another 撤销 of the same entry is refused
    r = await bot.private(f"撤销 #{wrong} 再撤一次", as_=OWNER, at=sh("2026-11-24 10:07"))
    assert f"记录 #{wrong} 已撤销（撤销记录 #{again.reversal.id}），不会重复撤销" in r.text
    # and a reversal is no entry to undo
    r = await bot.private(f"撤销 #{again.reversal.id} 撤回撤销", as_=OWNER)
    assert "这是一笔撤销记录，不能再撤销" in r.text
    assert [e.kind for e in bot.entries()] == ["admin_award", "reversal"] and bot.balance("carol") == 0
    # a replay of everything said gives the same answers on a fresh database
    assert await replayed(bot, f"sqlite:///{tmp_path / 'replay.db'}") == sent_lines(bot)


async def test_entries_with_their_own_flows_are_refused_naming_what_undoes_them(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    mall = {"items": [{"sku": "cup", "name": "杯子", "kind": "red_packet", "points": 10}]}
    bot: ChatBot = make_chat(undo_config(mall=mall), url=db_url)
    await checkin(bot, "carol", "2026-11-24 09:00")
    await award(bot, "carol", 50, "2026-11-24 09:30", extra=0)
    await redeem(bot, "carol", "cup", "2026-11-24 10:00")
    ids = {e.kind: e.id for e in bot.entries("carol")}
    bot.at("2026-11-24 10:05")
    r = await bot.private(f"撤销 #{ids['checkin']} 输错了", as_=OWNER)
    assert "「撤销」只用于管理员的加分和扣分" in r.text and "签到和补签的积分不能撤销" in r.text
    r = await bot.private(f"撤销 #{ids['redeem']} 输错了", as_=OWNER)
    order = bot.rt.services.mall.orders(member="carol")[0].id
    assert f"兑换请用「退款 {order} 理由」退回积分" in r.text and " 兑换 杯子（单号 1） -10" in r.text
    assert [e.kind for e in bot.entries("carol")] == ["checkin", "admin_award", "redeem"]


async def test_taking_back_spent_points_is_refused_and_a_deduction_can_be_undone(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(undo_config(), url=db_url)
    await meet(bot)
    gift = entry_id(await award(bot, "carol", 100, "2026-11-24 10:00", extra=1), level="白银")
    r = await bot.say("扣分 @Carol 60 兑换礼品", as_=OWNER, mentions=("carol",), at=sh("2026-11-24 10:30"))
    fine = entry_id(r)
    bot.at("2026-11-24 11:00")
    r = await bot.private(f"撤销 #{gift} 输错了", as_=OWNER)
    assert "没有撤销：Carol 现在只有 40 积分，不够收回这 100 积分" in r.text
    assert "撤销不会让成员的积分变成负数" in r.text
    assert bot.balance("carol") == 40 and bot.growth("carol") == 100
    # undoing the deduction gives the 60 back (growth unchanged), then the award can go
    r = await bot.private(f"撤销 #{fine} 扣错了", as_=OWNER)
    assert "Carol 当前积分：100，成长值：100" in r[0].text
    assert "管理员扣分（兑换礼品） -60" in r[1].text and r[1].to == "carol"
    r = await bot.private(f"撤销 #{gift} 输错了", as_=OWNER)
    assert "Carol 当前积分：0，成长值：0" in r[0].text and r[1].to == "carol"
    r = await bot.say("等级", as_="carol", name="Carol")
    assert "会员等级：青铜" in r.text


async def test_history_shows_entry_ids_to_admins_only(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(undo_config(), url=db_url)
    await meet(bot)
    wrong = entry_id(await award(bot, "carol", 50, "2026-11-24 10:00", extra=0))
    r = await bot.private(f"撤销 #{wrong} 输错了", as_=OWNER, at=sh("2026-11-24 10:05"))
    reversal = next(e for e in bot.entries("carol") if e.kind == "reversal").id
    assert len(r) == 2 and "已撤销" in r[0].text and r[1].to == "carol"
    r = await bot.say("明细", as_="carol", name="Carol")
    assert "管理员撤销（输错了） -50，余 0" in r.text and "管理员加分（活动优秀） +50，余 50" in r.text
    assert "#" not in r.text
    # a member cannot read someone else's
    r = await bot.say("明细 @Bob", as_="carol", name="Carol", mentions=("bob",))
    assert "管理员加分" in r.text and r[0].room == "g1"
    # an admin reads a member's, privately, with ids
    r = await bot.say("明细 @Carol", as_=OWNER, mentions=("carol",))
    [out] = r
    assert out.to == OWNER and out.room is None
    assert out.text.startswith("📒 Carol 的最近 2 条积分明细")
    assert f"#{reversal} 11-24 10:05 管理员撤销（输错了） 撤回 #{wrong} -50，余 0" in out.text
    assert f"#{wrong} 11-24 10:00 管理员加分（活动优秀） +50，余 50" in out.text
    assert "私聊我发送「撤销 记录号 理由」" in out.text
    r = await bot.private("明细", as_=OWNER)
    assert "还没有积分记录" in r.text


async def test_a_concurrent_second_undo_of_the_same_entry_is_refused(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    import threading

    from storage.db import make_engine
    from storage.store import Storage

    bot: ChatBot = make_chat(undo_config(), url=db_url)
    await meet(bot)
    wrong = entry_id(await award(bot, "carol", 50, "2026-11-24 10:00", extra=0))
    ledgers = [Storage.open(make_engine(db_url, create=False), bot.settings.bot.tz).ledger for _ in range(4)]
    barrier = threading.Barrier(len(ledgers))
    outcomes: list[str] = []

    def undo(i: int) -> None:
        barrier.wait()
        try:
            ledgers[i].undo(entry=wrong, key=f"reversal:m{i}:{OWNER}", at=sh("2026-11-24 10:05"), detail="输错了")
            outcomes.append("undone")
        except AlreadyReversed:
            outcomes.append("refused")

    threads = [threading.Thread(target=undo, args=(i,)) for i in range(len(ledgers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for led in ledgers:
        led.engine.dispose()
    assert sorted(outcomes) == ["refused", "refused", "refused", "undone"]
    assert bot.balance("carol") == 0 and [e.kind for e in bot.entries()] == ["admin_award", "reversal"]


async def test_undo_with_points_expiry_takes_back_the_awards_own_lot(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(undo_config(expiry={"policy": "rolling", "days": 30, "warn_days": 7}), url=db_url)
    await checkin(bot, "carol", "2026-11-24 09:00")
    wrong = entry_id(await award(bot, "carol", 200, "2026-11-24 10:00", extra=1), level="白银")
    r = await bot.private(f"撤销 #{wrong} 输错了", as_=OWNER, at=sh("2026-11-25 10:00"))
    assert "Carol 当前积分：5，成长值：5" in r[0].text and r[1].to == "carol"
    # only the check-in's 5 are left to expire: warned about, then taken on their day
    [warn] = await bot.tick("2026-12-25 00:10")
    assert warn.to == "carol" and "你有 5 积分" in warn.text
    assert bot.balance("carol") == 0
    assert [(e.kind, e.delta) for e in bot.entries("carol")][-1] == ("expire", -5)
