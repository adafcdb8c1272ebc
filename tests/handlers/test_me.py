"""我的ID: a member's id, and the group's, privately; the group only hears that they were sent."""

from __future__ import annotations

from tests.conftest import ChatBot


async def test_my_id_goes_privately_with_the_groups_id(chat: ChatBot) -> None:
    r = await chat.say("我的ID", as_="wxid_alice", name="Alice", room_name="会员群")
    group, private = r
    assert group.room == "g1" and "已私信" in group.text and "wxid_alice" not in group.text and "g1" not in group.text
    assert private.to == "wxid_alice" and private.room is None
    assert "你的 ID：wxid_alice" in private.text and "本群「会员群」的 ID：g1" in private.text
    r = await chat.private("我的id", as_="wxid_bob")
    assert r[0].to == "wxid_bob" and "你的 ID：wxid_bob" in r.text and "本群" not in r.text
    assert chat.entries() == []
