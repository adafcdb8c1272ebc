"""The pipeline: a handler bug costs one apology and nothing else; batches keep order and commit together."""

from __future__ import annotations

import shutil
from pathlib import Path

import handlers  # noqa: F401
import run_bot
from bot.app import FALLBACK_APOLOGY
from bot.clock import ManualClock
from bot.config import parse
from bot.dispatch import REGISTRY, Context, Registry, Reply
from bot.transports.memory import MemoryTransport
from storage.ledger import Ledger
from tests.factories import config, sh


def registry_with_a_buggy_command() -> Registry:
    reg = Registry(commands=list(REGISTRY.commands), jobs=dict(REGISTRY.jobs))

    @reg.command("炸")
    async def boom(ctx: Context, args: str) -> None:
        """writes, then fails"""
        led: Ledger = ctx.services.ledger
        led.award(member=ctx.sender, points=100, kind="bug", key=f"bug:{ctx.event_id}", at=ctx.now)
        raise ZeroDivisionError("a bug in a handler")

    return reg


async def test_a_failing_handler_gets_an_apology_and_its_writes_are_undone(tmp_path: Path) -> None:
    settings = parse({**config(schedule=[]), "storage": {"url": f"sqlite:///{tmp_path / 'a.db'}"}})
    clock = ManualClock(sh("2026-11-23 09:00"), settings.bot.tz)
    rt = run_bot.build(settings, clock, registry=registry_with_a_buggy_command())
    t = MemoryTransport(rt.app, clock)
    batch = [t.message("签到", as_="alice", room="g1"), t.message("炸", as_="alice", room="g1"),
             t.message("签到", as_="bob", room="g1")]
    outs = await t.feed(*batch)
    assert [o.reply_to for o in outs] == [batch[0].id, batch[1].id, batch[2].id]
    assert "获得 5 积分" in outs[0].text and "获得 5 积分" in outs[2].text
    assert outs[1].text == "抱歉，刚才没处理好，请稍后再试一次" and outs[1].mentions == ("alice",)
    assert [(e.member, e.kind) for e in rt.ledger.entries()] == [("alice", "checkin"), ("bob", "checkin")]
    assert rt.ledger.audit() == []


async def test_the_apology_falls_back_to_a_built_in_text_when_its_template_fails(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(Path(run_bot.__file__).parent / "templates", templates)
    # passes check-config (the sample member is Alice) but fails for a member with a short name
    (templates / "errors" / "internal.txt.j2").write_text(
        "抱歉 {{ name }}{% if name|length < 5 %}{{ nickname }}{% endif %}", encoding="utf-8")
    settings = parse({**config(schedule=[]), "storage": {"url": f"sqlite:///{tmp_path / 'a.db'}"}})
    clock = ManualClock(sh("2026-11-23 09:00"), settings.bot.tz)
    rt = run_bot.build(settings, clock, templates=templates, registry=registry_with_a_buggy_command())
    t = MemoryTransport(rt.app, clock)
    outs = await t.feed(t.message("炸", as_="alice", name="Alice", room="g1"), t.message("炸", as_="bob", name="Bob", room="g1"))
    assert [o.text for o in outs] == ["抱歉 Alice", FALLBACK_APOLOGY]
    assert [o.mentions for o in outs] == [("alice",), ("bob",)]
    assert rt.ledger.entries() == [] and rt.ledger.audit() == []


async def test_events_of_one_member_in_one_batch_apply_in_order(tmp_path: Path) -> None:
    settings = parse({**config(schedule=[]), "storage": {"url": f"sqlite:///{tmp_path / 'b.db'}"}})
    clock = ManualClock(sh("2026-11-23 09:00"), settings.bot.tz)
    rt = run_bot.build(settings, clock)
    t = MemoryTransport(rt.app, clock)
    outs = await t.feed(t.message("积分", as_="alice", room="g1"), t.message("签到", as_="alice", room="g1"),
                        t.message("签到", as_="alice", room="g2"), t.message("积分", as_="alice", room="g1"))
    assert "当前积分：0" in outs[0].text
    assert "获得 5 积分" in outs[1].text
    assert "已经签到" in outs[2].text
    assert "当前积分：5" in outs[3].text and "第 1 名" in outs[3].text
    assert rt.ledger.audit() == []


async def test_a_private_reply_to_a_stranger_falls_back_to_the_group(tmp_path: Path) -> None:
    reg = Registry(commands=list(REGISTRY.commands), jobs=dict(REGISTRY.jobs))

    @reg.command("秘密")
    async def secret(ctx: Context, args: str) -> Reply:
        """sends a secret privately"""
        return Reply("errors/generic", {"message": "卡密 XYZ"}, private=True,
                     fallback=Reply("errors/generic", {"message": "请先加我为好友，再私聊我「我的订单」"}))

    settings = parse({**config(schedule=[]), "storage": {"url": f"sqlite:///{tmp_path / 'c.db'}"}})
    clock = ManualClock(sh("2026-11-23 09:00"), settings.bot.tz)
    rt = run_bot.build(settings, clock, registry=reg)
    t = MemoryTransport(rt.app, clock)
    friend = await t.say("秘密", as_="alice", room="g1")
    assert [(o.to, o.room, o.text) for o in friend] == [("alice", None, "卡密 XYZ")]
    t.strangers.add("bob")
    stranger = await t.say("秘密", as_="bob", room="g1")
    assert [(o.to, o.room, o.mentions, o.text) for o in stranger] == [
        (None, "g1", ("bob",), "请先加我为好友，再私聊我「我的订单」")]
