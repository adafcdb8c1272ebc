"""The bridge over real HTTP: events POSTed as replay JSON, the bot's messages read back as replay lines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import run_bot
from bot.clock import Clock
from bot.config import parse
from bot.events import Event
from bot.outbox import Budget, Outbox
from bot.runner import LiveRunner
from bot.transports.bridge import BridgeTransport
from tests.factories import SH, config

SECRET = "s3cret"


async def http(port: int, method: str, path: str, body: str = "", secret: str = SECRET) -> tuple[int, dict[str, str], str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = body.encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
    if secret:
        head += f"Authorization: Bearer {secret}\r\n"
    writer.write((head + "\r\n").encode() + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    top, _, payload = raw.partition(b"\r\n\r\n")
    lines = top.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return int(lines[0].split()[1]), headers, payload.decode()


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Any]:
    settings = parse(config(schedule=[]))
    settings = settings.model_copy(update={"storage": settings.storage.model_copy(
        update={"url": f"sqlite:///{tmp_path / 'b.db'}"})})
    clock = Clock(SH)
    rt = run_bot.build(settings, clock)
    holder: list[LiveRunner] = []

    def submit(ev: Event) -> None:
        holder[0].submit(ev)

    br = BridgeTransport(SimpleNamespace(host="127.0.0.1", port=0, secret=SECRET), submit, tz=SH)
    runner = LiveRunner(rt.app, Outbox(br, Budget(tz=SH)), rt.schedule, clock)
    holder.append(runner)
    await br.start()
    tasks = [asyncio.create_task(runner.run(drain=1)), asyncio.create_task(br.run())]
    yield br
    br.stop()
    runner.stop()
    await asyncio.gather(*tasks)
    rt.ledger.engine.dispose()


def event(i: int, text: str = "签到", room: str | None = "r1") -> str:
    d: dict[str, Any] = {"type": "message", "id": f"m{i}", "at": Clock().now().isoformat(), "from": "wxid_a",
                         "name": "Alice", "text": text}
    if room:
        d["room"] = room
    return json.dumps(d, ensure_ascii=False)


async def test_events_in_and_replies_out_over_http(bridge: BridgeTransport) -> None:
    port = bridge.bound_port
    assert port is not None
    status, _, body = await http(port, "POST", "/events", event(1) + "\n" + event(2, "积分", room=None) + "\n")
    assert status == 202 and json.loads(body) == {"accepted": 2}
    got: list[dict[str, Any]] = []
    after = 0
    while len(got) < 2:
        status, headers, body = await http(port, "GET", f"/out?after={after}&wait=10")
        assert status == 200
        got += [json.loads(line) for line in body.splitlines()]
        after = int(headers["x-next-after"])
    assert [(o["type"], o["room"], o["to"], o["reply_to"], o["mentions"]) for o in got] == [
        ("say", "r1", None, "m1", ["wxid_a"]), ("say", None, "wxid_a", "m2", [])]
    assert "签到成功" in got[0]["text"] and "当前积分" in got[1]["text"]
    # nothing new: an empty answer, the same position
    status, headers, body = await http(port, "GET", f"/out?after={after}&wait=0")
    assert status == 200 and body == "" and headers["x-next-after"] == str(after)


async def test_a_wrong_secret_or_a_bad_line_is_refused(bridge: BridgeTransport) -> None:
    port = bridge.bound_port
    assert port is not None
    status, _, _ = await http(port, "POST", "/events", event(1), secret="guess")
    assert status == 401
    status, _, _ = await http(port, "GET", "/out", secret="")
    assert status == 401
    status, _, body = await http(port, "POST", "/events", event(1) + "\nnot json\n")
    assert status == 400 and "line 2: not JSON" in body
    status, _, body = await http(port, "GET", "/out?after=0&wait=0")
    assert status == 200 and body == ""  # nothing of the bad request was taken
