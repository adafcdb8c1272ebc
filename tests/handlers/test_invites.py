"""Invite points, clawback and 邀请, pinned through the chat on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from storage.tables import INVITES
from tests.conftest import ChatBot
from tests.factories import config, sh


def invite_config(tasks: list[dict[str, Any]] | None = None, **invite: Any) -> dict[str, Any]:
    return config(schedule=[], invite={"points": 20, "revoke_within_days": 7, "count_returning": False, **invite},
                  tasks=tasks or [])


def rows(bot: ChatBot, member: str = "alice") -> list[tuple[str, int, str]]:
    return [(e.kind, e.delta, e.key) for e in bot.entries(member)]


async def test_the_inviter_earns_per_invitee_and_is_told_privately(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    bot.at("2026-11-23 09:00")
    r = await bot.join("g1", "bob", "carol", inviter="alice", id="j1")
    assert len(r) == 1 and r[0].to == "alice" and r[0].room is None
    assert "bob、carol 已入群，你获得 40 积分" in r.text and "7 天内退群" in r.text and "当前积分：40" in r.text
    assert rows(bot) == [("invite", 20, "invite:j1:bob"), ("invite", 20, "invite:j1:carol")]
    assert bot.entries("bob") == [] and bot.entries("carol") == []


async def test_a_join_without_an_inviter_pays_no_one(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    assert (await bot.join("g1", "bob")) == []
    assert bot.entries() == []


async def test_self_bot_admin_and_returning_invitees_do_not_count(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    assert "获得" in (await bot.say("签到", as_="dave", room="g2")).text  # dave was in a company group before
    # inviting oneself or the bot is silent
    assert (await bot.join("g1", "alice", "bot", inviter="alice")) == []
    r = await bot.join("g1", "wxid_owner", "dave", inviter="alice")
    assert r[0].to == "alice"
    assert "wxid_owner 是管理员，不计入邀请奖励" in r.text
    assert "dave 之前已在群里，不计入邀请奖励" in r.text
    assert "当前积分：0" in r.text and "感谢邀请" not in r.text
    assert rows(bot) == []


async def test_the_bot_as_inviter_pays_no_one(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    assert (await bot.join("g1", "bob", inviter="bot")) == []
    assert bot.entries() == []


async def test_rejoin_after_leaving_never_pays_again(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    bot.at("2026-11-01 09:00")
    assert "获得 20 积分" in (await bot.join("g1", "bob", inviter="alice", id="j1")).text
    bot.at("2026-11-20 09:00")  # after the window: the invite stands
    assert (await bot.leave("g1", "bob")) == []
    r = await bot.join("g1", "bob", inviter="carol")
    assert r[0].to == "carol" and "之前已在群里" in r.text
    assert rows(bot) == [("invite", 20, "invite:j1:bob")]
    assert bot.entries("carol") == []


async def test_count_returning_pays_for_returning_invitees_once_per_inviter(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(count_returning=True), url=db_url)
    assert "获得" in (await bot.say("签到", as_="dave", room="g2")).text
    r = await bot.join("g1", "dave", inviter="alice", id="j1")
    assert "dave 已入群，你获得 20 积分" in r.text
    bot.at("2026-12-10 09:00")
    await bot.leave("g1", "dave")  # long after the window: stands
    again = await bot.join("g1", "dave", inviter="alice", id="j2")
    assert "已经算过你的邀请" in again.text
    other = await bot.join("g3", "dave", inviter="carol", id="j3")
    assert other[0].to == "carol" and "获得 20 积分" in other.text
    assert rows(bot) == [("invite", 20, "invite:j1:dave")]
    assert rows(bot, "carol") == [("invite", 20, "invite:j3:dave")]


async def test_leaving_within_the_window_claws_back_by_a_new_entry(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    bot.at("2026-11-23 09:00")
    assert "获得 40 积分" in (await bot.join("g1", "bob", "carol", inviter="alice", id="j1")).text
    bot.at("2026-11-30 08:59")  # 6 days 23:59 later
    r = await bot.leave("g1", "bob")
    assert len(r) == 1 and r[0].to == "alice" and r[0].room is None
    assert "bob 入群不满 7 天就退群了，邀请积分已扣回" in r.text and "当前积分：20" in r.text
    assert rows(bot) == [("invite", 20, "invite:j1:bob"), ("invite", 20, "invite:j1:carol"),
                         ("invite_revoke", -20, "invite:j1:bob:revoke")]
    # the original entry is untouched
    assert [e.balance_after for e in bot.entries("alice")] == [20, 40, 20]
    # leaving at exactly 7 days is no longer within the window
    bot.at("2026-11-30 09:00")
    assert (await bot.leave("g1", "carol")) == []
    assert bot.balance("alice") == 20


async def test_leaving_another_group_claws_nothing_back(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    assert "获得" in (await bot.join("g1", "bob", inviter="alice")).text
    assert "获得" in (await bot.say("签到", as_="bob", room="g2")).text
    assert (await bot.leave("g2", "bob")) == []
    assert bot.balance("alice") == 20


async def test_revoke_within_zero_days_claws_back_at_any_time(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(revoke_within_days=0), url=db_url)
    bot.at("2026-01-01 09:00")
    r = await bot.join("g1", "bob", inviter="alice", id="j1")
    assert "（对方退群的话，邀请积分会扣回）" in r.text
    bot.at("2026-11-23 09:00")
    r = await bot.leave("g1", "bob")
    assert "bob 退群了，邀请积分已扣回" in r.text
    assert rows(bot) == [("invite", 20, "invite:j1:bob"), ("invite_revoke", -20, "invite:j1:bob:revoke")]


async def test_a_clawback_may_leave_a_debt_the_member_sees(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    assert "获得 20 积分" in (await bot.join("g1", "bob", inviter="alice")).text
    bot.ledger.spend(member="alice", points=15, kind="redeem", key="order:1", at=bot.transport.clock.now())
    r = await bot.leave("g1", "bob")
    assert "当前积分：-15" in r.text and "欠下的积分" in r.text
    assert bot.balance("alice") == -15
    assert "当前积分：-15" in (await bot.say("积分", as_="alice")).text


async def test_a_campaign_pays_its_invite_amount_and_is_recorded(make_chat: Any, db_url: str) -> None:
    data = invite_config()
    data["campaigns"] = [{"id": "invite-week", "name": "邀请周", "starts": "2026-11-23T00:00:00+08:00",
                          "ends": "2026-11-30T00:00:00+08:00", "invite": {"points": 30}}]
    bot: ChatBot = make_chat(data, url=db_url)
    bot.at("2026-11-23 10:00")
    assert "获得 30 积分" in (await bot.join("g1", "bob", inviter="alice")).text
    bot.at("2026-11-30 10:00")
    assert "获得 20 积分" in (await bot.join("g1", "carol", inviter="alice")).text
    assert [(e.delta, e.campaign) for e in bot.entries("alice")] == [(30, "invite-week"), (20, None)]


async def test_invites_command_shows_valid_invites_points_and_the_window(make_chat: Any, db_url: str) -> None:
    tasks = [{"id": "inv", "name": "邀请达人", "metric": "invites", "tiers": [{"at": 2, "points": 10},
                                                                         {"at": 5, "points": 50}]}]
    bot: ChatBot = make_chat(invite_config(tasks=tasks), url=db_url)
    bot.at("2026-10-31 09:00")
    r = await bot.say("邀请", as_="alice")
    assert r[0].mentions == ("alice",)
    assert "还没有成功邀请" in r.text and "再邀请 2 位可完成「邀请达人」，奖励 10 积分" in r.text
    assert "每位得 20 积分" in r.text
    bot.at("2026-11-01 09:00")
    assert "获得" in (await bot.join("g1", "bob", inviter="alice")).text
    bot.at("2026-11-20 09:00")
    r = await bot.join("g1", "carol", "dave", inviter="alice")
    assert "获得 40 积分" in r.text and "任务「邀请达人」达成 2 人，奖励 10 积分" in r.text
    bot.at("2026-11-21 09:00")
    assert "扣回" in (await bot.leave("g1", "dave")).text
    r = await bot.private("我的邀请", as_="alice")
    assert r[0].to == "alice"
    assert "你已成功邀请 2 位好友，邀请得 40 积分" in r.text
    assert "邀请任务奖励 10 积分" in r.text
    assert "其中 1 位入群未满 7 天" in r.text
    assert "再邀请 3 位可完成「邀请达人」，奖励 50 积分" in r.text


async def test_invites_command_is_off_without_the_section(chat: ChatBot) -> None:
    assert (await chat.say("邀请", as_="alice")) == []
    assert (await chat.join("g1", "bob", inviter="alice")) == []
    assert chat.entries() == []


async def test_a_replayed_join_or_leave_event_changes_nothing(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    assert "获得 20 积分" in (await bot.join("g1", "bob", inviter="alice", id="j1")).text
    assert (await bot.join("g1", "bob", inviter="alice", id="j1")) == []
    assert "扣回" in (await bot.leave("g1", "bob", id="l1")).text
    assert (await bot.leave("g1", "bob", id="l1")) == []
    assert rows(bot) == [("invite", 20, "invite:j1:bob"), ("invite_revoke", -20, "invite:j1:bob:revoke")]


async def test_no_clawback_while_the_invitee_is_still_in_another_group(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    bot.at("2026-11-23 09:00")
    assert "获得 20 积分" in (await bot.join("g1", "carol", inviter="alice", id="j1")).text
    r = await bot.join("g2", "carol", inviter="alice", id="j2")  # also in group 2: not a new invite
    assert "carol 之前已在群里" in r.text
    bot.at("2026-11-24 09:00")
    assert (await bot.leave("g1", "carol")) == []  # still in the community
    assert bot.balance("alice") == 20
    bot.at("2026-11-25 09:00")
    r = await bot.leave("g2", "carol")  # gone from every group within the window
    assert r[0].to == "alice" and "carol 入群不满 7 天就退群了" in r.text and "当前积分：0" in r.text
    assert rows(bot) == [("invite", 20, "invite:j1:carol"), ("invite_revoke", -20, "invite:j1:carol:revoke")]


async def test_a_clawed_back_invitee_coming_back_pays_nothing_again(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(count_returning=True), url=db_url)
    assert "获得 20 积分" in (await bot.join("g1", "carol", inviter="alice", id="j1")).text
    assert "扣回" in (await bot.leave("g1", "carol", id="l1")).text
    r = await bot.join("g1", "carol", inviter="alice", id="j2")
    assert "carol 之前退群时邀请积分已扣回，不计入邀请奖励" in r.text and "当前积分：0" in r.text
    assert rows(bot) == [("invite", 20, "invite:j1:carol"), ("invite_revoke", -20, "invite:j1:carol:revoke")]


async def test_a_group_the_bot_no_longer_serves_does_not_hold_a_clawback_off(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    assert "获得 20 积分" in (await bot.join("g1", "carol", inviter="alice", id="j1")).text
    assert "获得" in (await bot.say("签到", as_="carol", room="g9")).text
    data = invite_config()
    data["bot"]["rooms"] = ["g1", "g2"]  # the operator stopped serving g9
    served: ChatBot = make_chat(data, url=db_url)
    r = await served.leave("g1", "carol")
    assert r[0].to == "alice" and "扣回" in r.text
    assert served.balance("alice") == 0


async def test_one_join_event_pays_for_at_most_max_per_event_invitees(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(max_per_event=3), url=db_url)
    members = [f"m{i:02d}" for i in range(10)]
    r = await bot.join("g1", *members, inviter="alice", id="j1")
    assert r[0].to == "alice" and "你获得 60 积分" in r.text
    assert "一次入群最多按 3 人计邀请奖励，另外 7 人不计入" in r.text
    assert rows(bot) == [("invite", 20, f"invite:j1:m0{i}") for i in range(3)]
    with bot.rt.services.db.reading() as conn:
        got = conn.execute(select(INVITES.c.invitee_id, INVITES.c.status, INVITES.c.reason)
                           .order_by(INVITES.c.id)).all()
    assert [tuple(g) for g in got] == [(m, "valid", "") for m in members[:3]] + \
        [(m, "ineligible", "limit") for m in members[3:]]
    # a second event pays again, up to its own cap
    assert "你获得 20 积分" in (await bot.join("g2", "n1", inviter="alice", id="j2")).text


async def test_audit_reports_an_invite_paid_twice_or_without_its_entries(make_chat: Any, db_url: str) -> None:
    bot: ChatBot = make_chat(invite_config(), url=db_url)
    assert "获得 20 积分" in (await bot.join("g1", "carol", inviter="alice", id="j1")).text
    assert "扣回" in (await bot.leave("g1", "carol", id="l1")).text
    assert bot.ledger.audit() == []
    db = bot.rt.services.db
    with db.transaction() as conn:  # by hand: a second payment row for the same pair, and a reversal lost
        conn.execute(insert(INVITES).values(event_id="j9", inviter_id="alice", invitee_id="carol", room_id="g1",
                                            joined_at=sh("2026-11-24 09:00"), status="valid", reason="", points=0,
                                            key=""))
        conn.execute(update(INVITES).where(INVITES.c.event_id == "j1").values(key="invite:j1:nobody"))
    problems = bot.ledger.audit()
    assert any("alice was paid 2 times for inviting carol" in p for p in problems), problems
    assert any("no ledger entry invite:j1:nobody paying 20" in p for p in problems), problems
    assert any("clawed back without its reversal entry" in p for p in problems), problems
    with db.transaction() as conn:
        conn.execute(delete(INVITES).where(INVITES.c.event_id == "j9"))
        conn.execute(update(INVITES).where(INVITES.c.event_id == "j1").values(key="invite:j1:carol"))
