"""公告 as an admin sees it: a preview, 「确认」 posts to every served group (or one) through the send budget,
「取消」 posts nothing, bad input is refused and changes nothing, and only admins may announce."""

from __future__ import annotations

import itertools
from typing import Any

from tests.conftest import ChatBot
from tests.factories import OWNER, config

TEXT = "今晚 8 点直播抽奖，记得来！"


def announce_config(**outbox: Any) -> dict[str, Any]:
    return config(schedule=[], rate_limit=0, outbox={"interval_seconds": 2.0, "burst": 1, **outbox})


async def three_groups(bot: ChatBot) -> None:
    for room, name in (("g1", "会员群"), ("g2", "二群"), ("g3", "三群")):
        assert await bot.say("大家好", as_="bob", room=room, room_name=name) == []


async def test_an_announcement_goes_to_every_group_after_confirm_within_the_budget(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(announce_config(), url=db_url)
    await three_groups(bot)
    bot.at("2026-11-23 10:00")
    r = await bot.private(f"公告 {TEXT}", as_=OWNER)
    assert len(r) == 1 and r[0].to == OWNER and "发到全部 3 个群" in r[0].text and TEXT in r[0].text, r.texts
    assert "回复「确认」发送" in r[0].text and "会员群、二群、三群" in r[0].text
    bot.at("2026-11-23 10:01")
    r = await bot.private("确认", as_=OWNER)
    posts = [o for o in r if o.room is not None]
    assert sorted(str(o.room) for o in posts) == ["g1", "g2", "g3"] and all(TEXT in o.text for o in posts), r.texts
    assert all(o.mentions == () for o in posts)
    [done] = [o for o in r if o.to == OWNER]
    assert "3 个群" in done.text
    # the send budget holds: one message at a time, 2 s apart
    times = sorted(o.at for o in r)
    assert all((b - a).total_seconds() >= 2.0 - 1e-6 for a, b in itertools.pairwise(times)), times
    # a second 确认 is just chat: nothing is posted again
    assert await bot.private("确认", as_=OWNER) == []
    [op] = bot.rt.services.oplog.page()
    assert (op.actor_kind, op.actor, op.action, op.target) == ("chat", OWNER, "announce", "*")
    assert op.detail == {"text": TEXT, "rooms": "all"}


async def test_one_group_by_name_and_cancel_posts_nothing(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(announce_config(), url=db_url)
    await three_groups(bot)
    r = await bot.private(f"公告 二群 {TEXT}", as_=OWNER)
    assert "只发到「二群」" in r.text
    r = await bot.private("确认", as_=OWNER)
    assert [(o.room, o.to) for o in r] == [("g2", None), (None, OWNER)] and TEXT in r[0].text, r.texts
    r = await bot.private(f"公告 g3 {TEXT}", as_=OWNER)
    assert "只发到「三群」" in r.text
    r = await bot.private("取消", as_=OWNER)
    assert r.texts == ["已取消，公告没有发出"]
    assert await bot.private("确认", as_=OWNER) == []


async def test_bad_announcements_are_refused_and_members_cannot_announce(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(announce_config(), url=db_url)
    r = await bot.private(f"公告 {TEXT}", as_=OWNER)
    assert "还没有可以发公告的群" in r.text
    await three_groups(bot)
    r = await bot.private("公告", as_=OWNER)
    assert "请写上公告内容" in r.text
    r = await bot.private("公告 " + "长" * 1001, as_=OWNER)
    assert "最多 1000 个字" in r.text and "1001" in r.text
    r = await bot.private(f"公告 {TEXT}", as_="bob", name="Bob")
    assert r and "管理员" in r.text and TEXT not in r.text
    assert await bot.private("确认", as_="bob", name="Bob") == []
    assert [o for o in bot.transport.sent if o.room is not None] == []


async def test_an_announcement_confirmed_in_quiet_hours_goes_out_now_and_says_so(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(announce_config(), url=db_url)
    await three_groups(bot)
    bot.at("2026-11-23 23:00")
    r = await bot.private(f"公告 会员群 {TEXT}", as_=OWNER)
    assert "现在是免打扰时段" in r.text
    r = await bot.private("确认", as_=OWNER)
    [post] = [o for o in r if o.room == "g1"]
    assert post.at.hour == 23, post.at
    assert [o.to for o in r if o.room is None] == [OWNER]


async def test_an_announcement_after_a_colon_is_posted_as_typed(make_chat, db_url) -> None:  # type: ignore[no-untyped-def]
    bot: ChatBot = make_chat(announce_config(), url=db_url)
    await three_groups(bot)
    r = await bot.private("公告：二群 8点直播，不见不散！", as_=OWNER)
    assert "只发到「二群」" in r.text and "\n8点直播，不见不散！\n" in r.text, r.text
    r = await bot.private("确认", as_=OWNER)
    assert r[0].room == "g2" and r[0].text.endswith("\n8点直播，不见不散！"), r.texts
    assert r[1].to == OWNER and "1 个群" in r[1].text
