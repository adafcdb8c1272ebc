"""Matching is pure: normalisation, the bot's @-mention, keywords and arguments; the admin gate."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

import handlers  # noqa: F401  (registers the commands)
from bot.config import parse
from bot.dispatch import REGISTRY, Context, Matcher, gate, normalize, strip_bot_mention
from bot.errors import NotAdmin, WrongPlace
from tests.factories import config, sh

MATCHER = Matcher(REGISTRY.commands, parse(config()))


def match(text: str, mentions: tuple[str, ...] = ()) -> str | None:
    found = MATCHER.match(strip_bot_mention(normalize(text), "积分助手", "bot", mentions))
    return found[0].keyword if found else None


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("签到", "签到"), ("打卡", "签到"), ("  签到  ", "签到"), ("签到！", "签到"), ("签到!!!", "签到"),
        ("【签到】", "签到"), ("签到~", "签到"), ("签到🎉", "签到"), ("　签到　", "签到"),
        ("＠积分助手　签到", "签到"), ("@积分助手\u2005积分", "积分"), ("积分？", "积分"),
        ("排行榜", "排行榜"), ("积分榜", "排行榜"), ("帮助", "帮助"), ("ＨＥＬＰ", "帮助"), ("help", "帮助"),
    ],
)
def test_commands_match_through_width_space_punctuation_and_bot_mention(text: str, keyword: str | None) -> None:
    assert match(text) == keyword


def test_a_mention_of_someone_else_is_not_stripped() -> None:
    assert match("@Bob 签到", ("wxid_bob",)) is None
    assert match("@机器人 签到", ("bot",)) == "签到"  # the client wrote another name, but the mention is the bot


def test_arguments_follow_the_keyword_after_a_space() -> None:
    found = MATCHER.match(normalize("签到  今天也来了"))
    assert found is not None and found[0].keyword == "签到" and found[2] == "今天也来了"
    assert MATCHER.match("签到今天") is None


@given(st.text(alphabet=string.ascii_letters + "啦我要的了吗 ,.!", max_size=30))
def test_text_that_is_no_keyword_never_matches(text: str) -> None:
    t = normalize(text)
    if t.split(" ")[0] not in MATCHER.table:
        assert MATCHER.match(t) is None


@given(st.sampled_from(["签到", "打卡", "积分", "排行榜", "帮助"]),
       st.text(alphabet=" \t\u3000!！。，~…", max_size=5), st.text(alphabet=" \t\u3000!！。，~…", max_size=5))
def test_keywords_survive_any_padding(keyword: str, before: str, after: str) -> None:
    assert match(before + keyword + after) is not None


def _ctx(**kw: object) -> Context:
    return Context(now=sh("2026-11-23 08:00"), day=sh("2026-11-23 08:00").date(), settings=None, services=None, **kw)  # type: ignore[arg-type]


def test_gate_refuses_admin_commands_to_members_and_wrong_places() -> None:
    from bot.dispatch import Command

    async def f(ctx: Context, args: str) -> None:
        return None

    admin_cmd = Command("加分", f, admin=True)
    with pytest.raises(NotAdmin):
        gate(admin_cmd, _ctx(sender="alice", is_admin=False, room="g1"))
    gate(admin_cmd, _ctx(sender="wxid_owner", is_admin=True, room="g1"))
    with pytest.raises(WrongPlace):
        gate(Command("x", f, where="group"), _ctx(sender="alice", room=None))
    with pytest.raises(WrongPlace):
        gate(Command("y", f, where="private"), _ctx(sender="alice", room="g1"))


def test_cancel_steps_are_in_the_one_registry() -> None:
    """取消 during the parcel address refunds the order: a step the mall registers with @on_cancel."""
    assert REGISTRY.cancels["mall_address"].__module__ == "handlers.mall"
    assert set(REGISTRY.cancels) <= set(REGISTRY.conversations)
