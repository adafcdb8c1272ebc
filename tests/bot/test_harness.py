"""The chat-test harness itself: what counts as checking a reply, and steps that must follow each other in time."""

from __future__ import annotations

import pytest

from tests.conftest import ChatBot
from tests.factories import sh


async def test_counting_replies_is_not_checking_them(chat: ChatBot) -> None:
    r = await chat.say("签到", as_="alice")
    assert len(r) == 1 and r and sum(1 for _ in r) == 1 and next(iter(r)) is r[0]
    assert r.unread() == [r[0].out.text]  # reading it for the message is the first look
    assert chat.unasserted() == []


async def test_a_reply_nobody_looked_at_is_reported(chat: ChatBot) -> None:
    first = await chat.say("签到", as_="alice")
    second = await chat.say("积分", as_="alice")
    assert len(first) == len(second) == 1
    assert [t[0].splitlines()[0] for t in chat.unasserted()] == ["签到成功！获得 5 积分", "💰 当前积分：5"]
    assert first[0].mentions == ("alice",)  # one field read is a look
    assert [t[0].splitlines()[0] for t in chat.unasserted()] == ["💰 当前积分：5"]
    assert second == [second[0].out]  # comparing the messages is a look too
    assert chat.unasserted() == []


async def test_a_step_before_the_last_answer_is_refused(chat: ChatBot) -> None:
    chat.at("2026-11-23 09:00")
    for who in ("a", "b", "c", "d"):  # the fourth waits 1.5 s for the send budget
        assert "签到成功" in (await chat.say("签到", as_=who)).text
    assert chat.transport.clock.now() == sh("2026-11-23 09:00:01.5")
    with pytest.raises(ValueError, match="earlier than the step before it"):
        await chat.say("积分", as_="a", at=sh("2026-11-23 09:00:01"))
    assert "当前积分：5" in (await chat.say("积分", as_="a", at=sh("2026-11-23 09:00:02"))).text
