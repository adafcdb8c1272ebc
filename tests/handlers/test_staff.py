"""Staff (bot.admins) earn nothing automatically and cannot award themselves, unless [bot] staff_earn."""

from __future__ import annotations

from typing import Any

from tests.conftest import ChatBot
from tests.factories import OWNER, config
from tests.helpers import checkin


def staff_config(staff_earn: bool | None = None) -> dict[str, Any]:
    data = config(schedule=[], invite={"points": 20}, newcomer={"points": 10, "welcome": False},
                  tasks=[{"id": "inv", "name": "邀请达人", "metric": "invites", "tiers": [{"at": 1, "points": 5}]},
                         {"id": "days", "name": "签到之星", "metric": "checkin_days", "tiers": [{"at": 1, "points": 7}]}])
    data["checkin"]["makeup"] = {"cost": 1}
    if staff_earn is not None:
        data["bot"]["staff_earn"] = staff_earn
    return data


async def test_a_staff_checkin_earns_nothing_and_is_told_so(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(staff_config(), url=db_url)
    r = await bot.say("签到", as_=OWNER)
    assert "管理员签到不计积分" in r.text and r[0].room == "g1"
    assert bot.entries(OWNER) == [] and bot.rt.services.checkins.checkins(OWNER) == []
    assert "管理员签到不计积分" in (await bot.say("补签", as_=OWNER)).text
    r = await bot.say("任务", as_=OWNER)
    assert "签到之星" in r.text and bot.entries(OWNER) == []


async def test_staff_cannot_award_themselves(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(staff_config(), url=db_url)
    r = await bot.say("加分 @Owner @Bob 50 辛苦了", as_=OWNER, mentions=(OWNER, "bob"))
    assert "不能给自己加分" in r.text and "没有给任何人加分" in r.text
    assert bot.entries() == []
    r = await bot.say("加分 @Bob 50 辛苦了", as_=OWNER, mentions=("bob",))
    assert "奖励 50 积分" in r.text and bot.balance("bob") == 50


async def test_staff_inviting_earns_nothing_and_a_staff_newcomer_is_not_paid(make_chat: Any, db_url: str) -> None:
    data = staff_config()
    data["bot"]["admins"] = [OWNER, "wxid_helper"]
    bot: ChatBot = make_chat(data, url=db_url)
    # silent, also about an admin among the invitees
    assert (await bot.join("g1", "bob", "carol", "wxid_helper", inviter=OWNER, id="j1")) == []
    assert bot.entries(OWNER) == []
    assert [e.kind for e in bot.entries("bob")] == ["newcomer"]  # the invitees are newcomers all the same
    assert [e.kind for e in bot.entries("carol")] == ["newcomer"]
    assert bot.entries("wxid_helper") == []  # a staff newcomer is not paid


async def test_with_staff_earn_staff_earn_like_members(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(staff_config(staff_earn=True), url=db_url)
    r = await checkin(bot, OWNER)
    assert "获得 5 积分" in r.text and "签到之星" in r.text  # the task tier in the check-in's own reply
    r = await bot.join("g1", "bob", inviter=OWNER, id="j1")
    assert "你获得 20 积分" in r.text and "邀请达人" in r.text
    r = await bot.say("加分 @Owner 50 自己的活动", as_=OWNER, mentions=(OWNER,))
    assert "奖励 50 积分" in r.text
    assert [e.delta for e in bot.entries(OWNER)] == [5, 7, 20, 5, 50]
    data = staff_config(staff_earn=True)
    data["bot"]["admins"] = [OWNER, "wxid_helper"]
    other: ChatBot = make_chat(data, url=db_url)
    assert (await other.join("g2", "wxid_helper", id="j2")) == []
    assert [e.kind for e in other.entries("wxid_helper")] == ["newcomer"]


async def test_staff_completing_the_profile_or_following_earn_nothing(make_chat: Any, db_url: str) -> None:
    data = staff_config()
    data["profile"] = {"points": 20, "fields": ["city"]}
    data["follow"] = {"points": 15, "accounts": [{"id": "official", "name": "公众号", "code": "A1B2"}]}
    bot: ChatBot = make_chat(data, url=db_url)
    r = await bot.private("完善资料", as_=OWNER)
    assert "城市" in r.text and "积分" not in r.text  # nothing promised either
    r = await bot.private("上海", as_=OWNER)
    assert "资料已完善" in r.text and "积分" not in r.text
    r = await bot.say("关注 A1B2", as_=OWNER)
    assert "感谢关注「公众号」" in r.text and "积分" not in r.text
    assert bot.entries(OWNER) == []
    # a member doing the same is paid, so the settings above do pay
    assert "全部填好可得 20 积分" in (await bot.private("完善资料", as_="bob")).text
    assert "获得 20 积分" in (await bot.private("上海", as_="bob")).text
    assert "获得 15 积分" in (await bot.say("关注 A1B2", as_="bob")).text
