"""Chinese users rarely type a space: "兑换1", "答８", "关注：A1B2", "加分@Bob 10 理由" work like the spaced
forms, and chat that merely starts with a keyword ("积分多少", "答应你了") is left alone."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

import handlers  # noqa: F401  (registers the commands)
from bot.config import parse
from bot.dispatch import REGISTRY, Matcher, normalize
from tests.conftest import ChatBot
from tests.factories import OWNER
from tests.handlers.test_follow import follow_config
from tests.handlers.test_mall import mall_config
from tests.handlers.test_quiz import quiz_config
from tests.helpers import give

ROOT = Path(__file__).resolve().parents[2]
# every feature on: the example config names every section
FULL = Matcher(REGISTRY.commands, parse(tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))))
# an argument each command that takes one accepts (what it means does not matter to the matcher)
ARGS = {"排行榜": "本群", "周榜": "本群", "月榜": "本群", "关注": "A1B2", "商城": "2", "商品": "3", "兑换": "1",
        "取消订单": "12", "收款": "12", "发货": "12 SF123", "完成": "12", "退款": "12 缺货", "回收卡密": "12",
        "上架": "mug", "下架": "mug", "补货": "mug 5", "答": "8", "加分": "@Bob 10 理由", "扣分": "@Bob 10 理由",
        "撤销": "12 输错了", "帮助": "商城", "统计": "本月", "冻结": "@Bob 刷签到", "解冻": "@Bob 误判",
        "公告": "8点直播"}


def test_every_command_that_takes_an_argument_is_listed_here() -> None:
    assert {c.keyword for c in FULL.commands if c.takes_args} == set(ARGS)


@pytest.mark.parametrize("keyword", sorted(ARGS))
@pytest.mark.parametrize("sep", [" ", "\u3000", "：", ":", " ： ", ""])
def test_an_argument_after_a_space_a_colon_or_nothing(keyword: str, sep: str) -> None:
    found = FULL.match(normalize(keyword + sep + ARGS[keyword]))
    assert found is not None and found.command.keyword == keyword and found.args == ARGS[keyword]
    assert found.glued == (sep == "")


def test_the_longest_keyword_still_wins() -> None:
    for text, keyword, args in (("取消订单5", "取消订单", "5"), ("商品详情3", "商品", "3"), ("积分榜本群", "排行榜", "本群"),
                                ("我的订单", "我的订单", ""), ("兑换商品1", "兑换", "1")):
        found = FULL.match(normalize(text))
        assert found is not None and (found.command.keyword, found.args) == (keyword, args), text


@pytest.mark.parametrize("text", ["积分多少", "签到了吗", "兑换码在哪", "商品不错", "关注一下", "加分吧", "取消吧", "我的订单呢"])
def test_chat_that_starts_with_a_keyword_is_no_command(text: str) -> None:
    assert FULL.match(normalize(text)) is None


async def test_item_redeem_and_cancel_glued_to_the_number(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(mall_config(), url=db_url)
    give(bot, "alice", 500)
    spaced = (await bot.say("商品 2", as_="alice")).text
    assert (await bot.say("商品2", as_="alice")).text == spaced
    assert "1. 品牌马克杯" in (await bot.say("商城１", as_="alice")).text  # a full-width digit, glued
    r = await bot.say("兑换2", as_="alice")
    group, private = r.texts
    assert "兑换成功（单号 1）" in group and "单号 1｜" in private
    r = await bot.say("取消订单1", as_="alice")
    assert "已取消" in r.text
    assert bot.balance("alice") == 500


async def test_follow_with_the_code_glued_or_after_a_colon(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(follow_config(), url=db_url)
    r = await bot.say("关注A1B2", as_="alice")
    assert "感谢关注「公众号」" in r.text and bot.balance("alice") == 15
    r = await bot.say("关注：V9X7", as_="alice")
    assert "感谢关注「视频号」" in r.text and bot.balance("alice") == 30
    assert await bot.say("关注一下我们的公众号吧", as_="bob") == []  # chat, not a code
    assert bot.balance("bob") == 0


async def test_award_glued_to_the_mention(chat: ChatBot) -> None:
    assert "签到成功" in (await chat.say("签到", as_="bob", name="Bob")).text
    spaced = await chat.say("加分 @Bob 10 活动奖励", as_=OWNER, mentions=("bob",))
    glued = await chat.say("加分@Bob 10 活动奖励", as_=OWNER, mentions=("bob",))
    assert glued.text == spaced.text.replace("15（记录 #2）", "25（记录 #3）") and "活动奖励" in glued.text
    assert chat.balance("bob") == 25


async def test_a_glued_quiz_answer_counts_and_glued_chat_does_not_use_up_the_answer(make_chat: Any) -> None:
    bot: ChatBot = make_chat(quiz_config(), start="2026-12-31 19:00")
    for who in ("alice", "bob", "carol"):
        assert "签到成功" in (await bot.say("签到", as_=who, name=who.title())).text
    assert await bot.say("答应你了", as_="alice") == []  # no quiz open: chat stays chat
    assert "没有进行中的问答" in (await bot.say("答 2015", as_="alice")).text  # spaced: an answer, so it is told
    assert "第 1 题" in (await bot.tick("2026-12-31 20:00")).texts[0]
    bot.at("2026-12-31 20:01")
    assert await bot.say("答应你了", as_="alice") == []  # a quiz is open: glued words that are wrong are chat
    assert await bot.say("答８", as_="bob") == []  # ... and so is a wrong glued answer: bob may still answer
    assert "第 1 位答对" in (await bot.say("答2015", as_="alice")).text  # her answer was not used up above
    assert "第 2 位答对" in (await bot.say("答：2015年", as_="carol")).text
    assert "回答错误" in (await bot.say("答 8", as_="bob")).text  # spaced, a wrong answer counts as his one
    assert "已经回答过" in (await bot.say("答2015", as_="bob")).text
    assert [(e.member, e.delta) for e in bot.entries() if e.kind == "quiz"] == [("alice", 5), ("carol", 5)]


async def test_a_board_glued_to_this_group_and_a_question_about_boards(chat: ChatBot) -> None:
    assert "签到成功" in (await chat.say("签到", as_="alice", name="Alice")).text
    r = await chat.say("排行榜本群", as_="alice", name="Alice")
    assert "本群积分排行榜" in r.text and "1. Alice" in r.text
    assert await chat.say("排名怎么算的", as_="alice") == []


def test_glued_arguments_keep_their_case() -> None:
    found = FULL.match(normalize("关注a1B2"))
    assert found is not None and found.args == "a1B2"
