"""The leaderboard as a PNG card ([leaderboard] card = true), drawn when sent and off the event loop."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loguru import logger
from PIL import Image

from bot.events import Outgoing
from bot.outbox import Budget, Outbox
from handlers.lib import board_card
from tests.conftest import ChatBot
from tests.factories import SH, config, sh
from tests.handlers.test_statement import cjk_font
from tests.helpers import checkin


def card_config(tmp_path: Path, **board: Any) -> dict[str, Any]:
    data = config(schedule=[{"id": "evening-board", "job": "leaderboard", "cron": "0 21 * * *"}])
    data["leaderboard"] = {"card": True, "cards_dir": str(tmp_path / "cards"), **board}
    return data


def pixel(path: str, xy: tuple[int, int]) -> tuple[int, ...]:
    with Image.open(path) as img:
        return img.convert("RGB").getpixel(xy)  # type: ignore[no-any-return]


async def test_the_board_a_member_asks_for_is_a_card_of_its_rows_with_theirs_marked(make_chat: Any,
                                                                                    tmp_path: Path) -> None:
    cjk_font()
    bot: ChatBot = make_chat(card_config(tmp_path), start="2026-11-23 08:00")
    for i, who in enumerate(("alice", "bob", "carol")):
        await checkin(bot, who, f"2026-11-23 09:0{i}")
    bot.at("2026-11-23 10:00")
    [r] = await bot.say("排行榜", as_="bob", name="Bob")
    assert r.image is not None and Path(r.image).parent == tmp_path / "cards"
    assert "1. Alice  5 分" in r.text and "1. Bob  5 分 ← 你" in r.text  # the text version goes with it
    with Image.open(r.image) as img:
        assert img.format == "PNG" and img.size == (board_card.WIDTH, board_card.TOP + 3 * board_card.ROW
                                                    + board_card.BOTTOM)
    # every one of the three is first on 5 points (a tie): a gold medal on each row, Bob's row marked
    for row in range(3):
        assert pixel(r.image, (64, board_card.TOP + row * board_card.ROW + 27)) == board_card.GOLD
    assert pixel(r.image, (48, board_card.TOP + 1 * board_card.ROW + 30)) == board_card.ME
    assert pixel(r.image, (48, board_card.TOP + 0 * board_card.ROW + 30)) == board_card.PANEL


async def test_the_scheduled_board_is_drawn_once_for_every_group(make_chat: Any, tmp_path: Path) -> None:
    cjk_font()
    bot: ChatBot = make_chat(card_config(tmp_path), start="2026-11-23 08:00")
    await checkin(bot, "alice", "2026-11-23 09:00")
    await checkin(bot, "bob", "2026-11-23 09:01", room="g2")
    r = await bot.tick("2026-11-23 21:01")
    assert [o.room for o in r] == ["g1", "g2"] and "积分排行榜" in r[0].text
    assert r[0].image is not None and r[0].image == r[1].image and Path(r[0].image).is_file()
    assert len(list((tmp_path / "cards").glob("board-*.png"))) == 1


async def test_with_cards_off_or_no_usable_font_the_board_is_text(make_chat: Any, tmp_path: Path) -> None:
    bot: ChatBot = make_chat(card_config(tmp_path, card=False), start="2026-11-23 08:00")
    await checkin(bot, "alice", "2026-11-23 09:00")
    [r] = await bot.say("排行榜", as_="alice")
    assert r.image is None and "1. alice  5 分" in r.text
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(str(m)), level="WARNING")
    try:
        bot = make_chat(card_config(tmp_path, font=str(tmp_path / "missing.ttf")), start="2026-11-23 08:00")
        await checkin(bot, "alice", "2026-11-23 09:00")
        [r] = await bot.say("排行榜", as_="alice")
    finally:
        logger.remove(sink)
    assert r.image is None and "1. alice  5 分" in r.text
    assert any("leaderboard goes as text only" in m for m in seen)


class Sent:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, out: Outgoing) -> None:
        self.sent.append(out)


async def test_a_picture_is_drawn_in_a_worker_thread_from_when_it_is_queued_and_a_failure_sends_the_text(
        tmp_path: Path) -> None:
    release, started = threading.Event(), threading.Event()
    threads: list[int] = []

    def slow() -> str:
        threads.append(threading.get_ident())
        started.set()
        release.wait(10)
        return str(tmp_path / "card.png")

    def broken() -> str:
        raise OSError("disk full")

    rec = Sent()
    box = Outbox(rec, Budget(unlimited=True, tz=SH))  # type: ignore[arg-type]
    at = sh("2026-11-23 21:00")
    box.put([Outgoing(at=at, text="榜单", room="g1", draw=slow),
             Outgoing(at=at + timedelta(seconds=1), text="另一张", room="g2", draw=broken)])
    # drawing began when the message was queued, in another thread, and the loop is free meanwhile
    deadline = datetime.now() + timedelta(seconds=10)
    while not started.is_set() and datetime.now() < deadline:
        await asyncio.sleep(0.01)
    assert started.is_set() and threads == [t for t in threads if t != threading.get_ident()]
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0.001)
        ticks += 1
    assert ticks == 5 and rec.sent == []
    release.set()
    await box.pump(at + timedelta(seconds=5))
    assert [(o.room, o.image, o.text) for o in rec.sent] == [("g1", str(tmp_path / "card.png"), "榜单"),
                                                            ("g2", None, "另一张")]
