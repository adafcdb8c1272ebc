"""帮助: five lines in the group, every command privately, a topic or one command on request; admin
commands only to admins, only privately."""

from __future__ import annotations

from typing import Any

from tests.conftest import ChatBot
from tests.factories import OWNER
from tests.handlers.test_mall import mall_config

ADMIN_WORDS = ("加分", "扣分", "撤销", "退款", "发货", "补货", "管理员")


async def test_the_group_reads_the_most_used_commands_and_where_the_rest_are(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(mall_config(), url=db_url)
    for who in ("alice", OWNER):
        text = (await bot.say("帮助", as_=who)).text
        lines = text.splitlines()
        assert len(lines) <= 7, text
        for kw in ("「签到」", "「积分」", "「排行榜」", "「商城」", "「任务」"):
            assert kw in text, kw
        assert "「帮助 积分」" in text and "「帮助 商城」" in text
        for word in ("加分", "扣分", "撤销", "退款", "发货", "补货"):
            assert word not in text, (who, word)
    assert "管理员命令请私聊" in text  # the admin is told where theirs are; a member is not


async def test_a_topic_lists_its_commands_with_their_usage(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(mall_config(), url=db_url)
    mall = (await bot.say("帮助 商城", as_="alice")).text
    for line in ("「兑换 编号」", "「我的订单」", "「取消订单 单号」", "「商品 编号」"):
        assert line in mall, line
    assert "「签到」" not in mall
    points = (await bot.say("帮助积分", as_="alice")).text  # glued
    assert "「签到」" in points and "「周榜 或 周榜 本群」" in points and "「兑换" not in points
    assert not any(w in points for w in ADMIN_WORDS)
    one = (await bot.say("帮助 兑换", as_="alice")).text
    assert "「兑换」用积分兑换商品" in one and "用法：兑换 编号" in one


async def test_admin_commands_go_to_admins_only_and_only_privately(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(mall_config(), url=db_url)
    member = (await bot.private("帮助", as_="alice")).text
    assert "「兑换 编号」" in member and not any(w in member for w in ("加分", "扣分", "撤销", "管理员命令"))
    r = await bot.say("帮助 管理", as_=OWNER)
    assert r[0].to == OWNER and r[0].room is None
    assert "「加分 @某人 50 理由」" in r.text and "「退款 单号 理由」" in r.text
    full = (await bot.private("帮助", as_=OWNER)).text
    assert "「签到」" in full and "管理员命令：" in full and "「撤销 记录号 理由」" in full
    r = await bot.say("帮助 加分", as_=OWNER)
    assert r[0].to == OWNER and "用法：加分 @某人 50 理由" in r.text
    # a member asking about an admin command learns nothing about it
    r = await bot.say("帮助 加分", as_="alice")
    assert r[0].room == "g1" and "没有找到「加分」" in r.text and "理由" not in r.text
    assert "没有找到「管理」" in (await bot.say("帮助 管理", as_="bob")).text
    assert await bot.say("帮助我一下", as_="bob") == []  # glued chat, no topic: silence
