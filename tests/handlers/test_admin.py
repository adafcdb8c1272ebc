"""加分 / 扣分 (admins, by @-mention ids) and 明细 (everyone), as the group sees them."""

from __future__ import annotations

import pytest

from handlers.admin import parse_order
from tests.conftest import ChatBot
from tests.factories import OWNER, sh
from tests.helpers import award


def lines(bot: ChatBot, member: str) -> list[tuple[str, int, str]]:
    return [(e.kind, e.delta, e.detail) for e in bot.entries(member)]


async def test_admin_awards_points_by_mention_with_a_reason(chat: ChatBot) -> None:
    await chat.say("大家好", as_="alice", name="Alice")  # alice has spoken: her name is known
    r = await chat.say("加分 @Alice 50 活动表现优秀", as_=OWNER, mentions=("alice",))
    out = r[0]
    assert len(r) == 1 and out.room == "g1" and out.mentions == ("alice",) and out.names == {"alice": "Alice"}
    assert "奖励 50 积分" in out.text and "理由：活动表现优秀" in out.text and "Alice 当前积分：50" in out.text
    assert lines(chat, "alice") == [("admin_award", 50, "活动表现优秀")]
    [entry] = chat.entries("alice")
    assert OWNER in entry.key and entry.room == "g1"
    assert chat.balance("alice") == 50 and chat.growth("alice") == 50
    assert chat.entries(OWNER) == []


async def test_several_members_at_once(chat: ChatBot) -> None:
    r = await chat.say("加分 @Alice @Bob @Carol 30 组织活动", as_=OWNER, mentions=("alice", "bob", "carol"))
    assert r[0].mentions == ("alice", "bob", "carol")
    for who in ("Alice", "Bob", "Carol"):  # never spoke: named as the operator's @ wrote them, never by id
        assert f"{who} 当前积分：30" in r.text and who.lower() not in r.text
    for who in ("alice", "bob", "carol"):
        assert lines(chat, who) == [("admin_award", 30, "组织活动")]


async def test_a_member_mentioned_twice_is_changed_once(chat: ChatBot) -> None:
    r = await chat.say("加分 @Alice @Alice 10 好", as_=OWNER, mentions=("alice", "alice"))
    assert r[0].mentions == ("alice",)
    assert chat.balance("alice") == 10


async def test_a_mention_of_the_bot_is_ignored(chat: ChatBot) -> None:
    r = await chat.say("@积分助手 加分 @Alice 20 答题正确", as_=OWNER, mentions=("bot", "alice"))
    assert r[0].mentions == ("alice",) and "理由：答题正确" in r.text
    r = await chat.say("加分 @积分助手 @Alice 20 再来", as_=OWNER, mentions=("bot", "alice"))
    assert r[0].mentions == ("alice",)
    assert chat.entries("bot") == [] and chat.balance("alice") == 40
    only_bot = await chat.say("加分 @积分助手 20 给机器人", as_=OWNER, mentions=("bot",))
    assert "请 @ 要加分的成员" in only_bot.text
    assert chat.balance("alice") == 40 and chat.entries("bot") == []


async def test_names_are_never_trusted_only_mention_ids(chat: ChatBot) -> None:
    # "Alice" typed without a real mention: nobody is changed, even though alice exists
    await chat.say("大家好", as_="alice", name="Alice")
    r = await chat.say("加分 @Alice 50 活动", as_=OWNER)
    assert "请 @ 要加分的成员" in r.text and "用法：加分 @某人 50 理由" in r.text
    # the id the transport reports wins over whatever name is typed
    r = await chat.say("加分 @Alice 5 活动", as_=OWNER, mentions=("bob",))
    assert r[0].mentions == ("bob",)
    assert chat.balance("alice") == 0 and chat.balance("bob") == 5


async def test_wechat_mentions_with_spaces_in_names(chat: ChatBot) -> None:
    text = "加分 @Alice Wang\u2005@小 明\u200525 周报写得好 👍"
    r = await chat.say(text, as_=OWNER, mentions=("alice", "ming"))
    assert "奖励 25 积分" in r.text and "理由：周报写得好 👍" in r.text
    assert lines(chat, "alice") == [("admin_award", 25, "周报写得好 👍")]
    assert lines(chat, "ming") == [("admin_award", 25, "周报写得好 👍")]


@pytest.mark.parametrize(("text", "says"), [
    ("加分 @Alice 50", "请写上理由"),
    ("加分 @Alice", "请写上积分数"),
    ("加分 @Alice abc 理由", "积分数「abc」不对"),
    ("加分 @Alice 0 理由", "积分数「0」不对"),
    ("加分 @Alice -5 理由", "积分数「-5」不对"),
    ("加分 @Alice 1.5 理由", "积分数「1.5」不对"),
    ("加分 @Alice 100001 理由", "积分数「100001」不对"),
    ("加分 @Alice 50 " + "很" * 101, "理由太长"),
    ("扣分 @Alice 10", "请写上理由"),
])
async def test_a_bad_command_is_explained_and_changes_nothing(chat: ChatBot, text: str, says: str) -> None:
    r = await chat.say(text, as_=OWNER, mentions=("alice",))
    assert says in r.text and "用法：" in r.text
    assert chat.entries() == []


async def test_no_mention_is_refused(chat: ChatBot) -> None:
    r = await chat.say("扣分 50 刷屏", as_=OWNER)
    assert "请 @ 要扣分的成员" in r.text and "用法：扣分 @某人 50 理由" in r.text


async def test_anyone_else_is_refused_and_nothing_changes(chat: ChatBot) -> None:
    for text in ("加分 @Bob 50 辛苦了", "扣分 @Bob 5 刷屏"):
        r = await chat.say(text, as_="alice", mentions=("bob",))
        assert r[0].mentions == ("alice",)
        assert "只有管理员可以使用" in r.text
    assert chat.entries() == []
    assert chat.ledger.member("bob") is None  # not even recorded as a member


async def test_admin_commands_belong_in_a_group(chat: ChatBot) -> None:
    r = await chat.private("加分 50 理由", as_=OWNER)
    assert "请在群里发送" in r.text
    r = await chat.private("加分 50 理由", as_="alice")
    assert "只有管理员" in r.text
    assert chat.entries() == []


async def test_a_deduction_takes_points_and_leaves_growth(chat: ChatBot) -> None:
    await award(chat, "alice", 50, reason="准备")
    r = await chat.say("扣分 @Alice 20 发广告", as_=OWNER, mentions=("alice",))
    assert r[0].mentions == ("alice",)
    assert "扣除 20 积分" in r.text and "理由：发广告" in r.text and "当前积分：30" in r.text
    assert lines(chat, "alice") == [("admin_award", 50, "准备"), ("admin_deduct", -20, "发广告")]
    assert chat.balance("alice") == 30 and chat.growth("alice") == 50
    # down to exactly zero is fine
    assert "当前积分：0" in (await chat.say("扣分 @Alice 30 再犯", as_=OWNER, mentions=("alice",))).text


async def test_a_deduction_below_zero_is_refused_for_everyone(chat: ChatBot) -> None:
    await award(chat, "alice", 50, reason="准备")
    await award(chat, "bob", 10, reason="准备")
    r = await chat.say("扣分 @Alice @Bob @Carol 20 违规", as_=OWNER, mentions=("alice", "bob", "carol"))
    assert "积分不足" in r.text and "没有扣任何人的分" in r.text
    assert "Bob 只有 10 分" in r.text and "Carol 只有 0 分" in r.text and "Alice" not in r.text
    # all or nothing: alice, who could pay, is untouched too
    assert chat.balance("alice") == 50 and chat.balance("bob") == 10 and chat.balance("carol") == 0
    assert [e.kind for e in chat.entries()] == ["admin_award", "admin_award"]
    r = await chat.say("扣分 @Alice @Bob 10 违规", as_=OWNER, mentions=("alice", "bob"))
    assert "Alice 当前积分：40" in r.text and "Bob 当前积分：0" in r.text


async def test_a_replayed_award_changes_nothing(chat: ChatBot) -> None:
    first = await chat.say("加分 @Alice 50 好", as_=OWNER, mentions=("alice",), id="wx-9")
    again = await chat.say("加分 @Alice 50 好", as_=OWNER, mentions=("alice",), id="wx-9")
    assert "奖励 50 积分" in first.text and again == []
    assert chat.balance("alice") == 50 and len(chat.entries()) == 1


# -- 明细 ---------------------------------------------------------------------------------------


async def test_history_names_each_kind_in_words_newest_first(chat: ChatBot) -> None:
    assert "获得 5 积分" in (await chat.say("签到", as_="alice", name="Alice", at=sh("2026-11-23 08:00"))).text
    r = await chat.say("加分 @Alice 50 活动表现优秀", as_=OWNER, mentions=("alice",), at=sh("2026-11-23 09:30"))
    assert "奖励 50 积分" in r.text
    at = sh("2026-11-23 10:00")
    book = chat.ledger
    for kind, points, detail in [("newcomer", 10, ""), ("invite", 20, "邀请 Bob"), ("task", 30, "邀请达人 3 人"),
                                 ("follow", 15, "公众号"), ("profile", 20, "完善资料"), ("mystery_bonus", 7, "")]:
        book.award(member="alice", points=points, kind=kind, key=f"t:{kind}", at=at, detail=detail)
    book.reverse(original_key="t:invite", key="t:invite_revoke", kind="invite_revoke", at=at, detail="Bob 7 天内退群")
    book.reverse(original_key="t:task", key="t:task_revoke", kind="task_revoke", at=at)
    book.spend(member="alice", points=20, kind="makeup", key="t:makeup", at=at, detail="补签 11月22日")
    chat.at("2026-11-23 10:05")
    r = await chat.say("明细", as_="alice")
    assert r[0].mentions == ("alice",)
    assert r.text.splitlines() == [
        "📒 最近 10 条积分明细",
        "11-23 10:00 补签 11月22日 -20，余 87",  # its own text names the act: not 补签（补签 …）
        "11-23 10:00 任务奖励撤回 -30，余 107",
        "11-23 10:00 邀请撤回（Bob 7 天内退群） -20，余 137",
        "11-23 10:00 mystery_bonus +7，余 157",
        "11-23 10:00 完善资料 +20，余 150",
        "11-23 10:00 关注奖励（公众号） +15，余 130",
        "11-23 10:00 任务奖励（邀请达人 3 人） +30，余 115",
        "11-23 10:00 邀请奖励（邀请 Bob） +20，余 85",
        "11-23 10:00 新人礼 +10，余 65",
        "11-23 09:30 管理员加分（活动表现优秀） +50，余 55",
    ]
    # only the last 10: the check-in of 08:00 is the 11th
    assert "每日签到" not in r.text


async def test_history_of_streak_bonuses_and_deductions(chat: ChatBot) -> None:
    for day in (21, 22, 23):
        assert "获得" in (await chat.say("签到", as_="bob", at=sh(f"2026-11-{day} 08:00"))).text
    assert "扣除" in (await chat.say("扣分 @Bob 5 刷屏", as_=OWNER, mentions=("bob",),
                                      at=sh("2026-11-23 12:00"))).text
    r = await chat.private("明细", as_="bob")
    assert r[0].to == "bob"
    assert r.text.splitlines()[1:] == [
        "11-23 12:00 管理员扣分（刷屏） -5，余 20",
        "11-23 08:00 连续签到奖励（连续签到3天奖励） +10，余 25",
        "11-23 08:00 每日签到 +5，余 15",
        "11-22 08:00 每日签到 +5，余 10",
        "11-21 08:00 每日签到 +5，余 5",
    ]


async def test_history_is_your_own(chat: ChatBot) -> None:
    await award(chat, "alice", 50, reason="准备")
    r = await chat.say("明细", as_="bob")
    assert r.text == "还没有积分记录哦"


# -- parsing (pure) -------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "amount", "reason"), [
    ("加分 @甲 50 理由", "50", "理由"),
    ("加分 @甲 @乙 50 两个 人", "50", "两个 人"),
    ("加分 50 @甲 理由", "50", "理由"),
    ("@积分助手\u2005加分 @Alice Wang\u2005@Bob\u200550 表现好", "50", "表现好"),
    ("加分\u2005@甲\u2005５０\u3000全角也行", "50", "全角也行"),
    ("加分 @甲 50 邮件发到 a@b.com 了", "50", "邮件发到 a@b.com 了"),
    ("加分 @甲", "", ""),
    ("加分", "", ""),
    ("加分 @甲 50", "50", ""),
])
def test_parse_order(raw: str, amount: str, reason: str) -> None:
    order = parse_order(raw)
    assert (order.amount, order.reason) == (amount, reason)
