"""The bridge: its HTTP contract through Starlette's TestClient, and the real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

import run_bot
from bot.clock import Clock
from bot.config import parse
from bot.events import Event, MemberJoined, Message, Outgoing
from bot.outbox import Budget, Outbox
from bot.runner import LiveRunner
from bot.transports.bridge import MAX_BODY, MAX_MEMBERS, BridgeError, BridgeTransport
from storage.db import make_engine
from storage.store import Storage, Store
from tests.factories import SH, config, sh

with warnings.catch_warnings():  # Starlette 1.x would rather its TestClient ran on httpx2; httpx serves the same
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

SECRET = "s3cret"
AUTH = {"Authorization": f"Bearer {SECRET}"}
ROOT = Path(__file__).resolve().parents[2]


def settings(port: int = 0) -> SimpleNamespace:
    return SimpleNamespace(host="127.0.0.1", port=port, secret=SECRET)


def event(i: int, text: str = "签到", room: str | None = "r1") -> str:
    d: dict[str, Any] = {"type": "message", "id": f"m{i}", "at": Clock().now().isoformat(), "from": "wxid_a",
                         "name": "Alice", "text": text}
    if room:
        d["room"] = room
    return json.dumps(d, ensure_ascii=False)


def join(n: int) -> str:
    return json.dumps({"type": "join", "id": "j1", "at": Clock().now().isoformat(), "room": "r1",
                       "members": [{"id": f"wxid_{i}", "name": f"m{i}"} for i in range(n)]})


# -- the HTTP contract, in process ----------------------------------------------------------------


@pytest.fixture
def taken() -> list[Event]:
    return []


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Store]:
    """The bridge's inbox and out log on a SQLite file of their own (no bot behind them)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'journal.db'}", tz=SH)
    yield Storage.open(engine, SH).store()
    engine.dispose()


def taking(taken: list[Event]) -> Callable[[Event, int], None]:
    return lambda ev, _receipt: taken.append(ev)


@pytest.fixture
def bare(taken: list[Event], journal: Store) -> BridgeTransport:
    return BridgeTransport(settings(), taking(taken), journal, tz=SH)


@pytest.fixture
def client(bare: BridgeTransport) -> Iterator[TestClient]:
    with TestClient(bare.app, headers=AUTH) as c:
        yield c


def test_health_and_the_secret_on_every_route(client: TestClient, taken: list[Event]) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.json() == "ok"
    for method, path in [("GET", "/health"), ("GET", "/out"), ("POST", "/events")]:
        for headers in [{"Authorization": "Bearer guess"}, {"Authorization": f"Basic {SECRET}"}, {"Authorization": ""}]:
            r = client.request(method, path, headers=headers, content=event(1))
            assert r.status_code == 401, (method, path, headers)
            assert "Authorization: Bearer" in r.json()["error"]
    assert taken == []


def test_a_bad_request_is_refused_whole_naming_each_line(client: TestClient, taken: list[Event]) -> None:
    r = client.post("/events", content=event(1) + "\nnot json\n\n" + '{"type": "tick"}\n')
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert len(errors) == 2 and errors[0].startswith("line 2: not JSON") and errors[1].startswith('line 4: "at"')
    assert taken == []
    r = client.post("/events", content=b'{"type": "tick", "at": "2026-11-23T08:00:00+08:00"}\n\xff\n')
    assert r.status_code == 400 and r.json()["errors"][0].startswith("line 2: not UTF-8")
    assert taken == []


def test_lines_may_end_in_crlf_and_blank_lines_are_skipped(client: TestClient, taken: list[Event]) -> None:
    r = client.post("/events", content="\r\n" + event(1) + "\r\n\r\n" + event(2) + "\r\n")
    assert r.status_code == 202 and r.json() == {"accepted": 2}
    assert [ev.id for ev in taken if isinstance(ev, Message)] == ["m1", "m2"]


def test_a_lone_surrogate_is_refused_naming_the_line(client: TestClient, taken: list[Event]) -> None:
    lone = json.dumps({"type": "message", "id": "m2", "at": Clock().now().isoformat(), "from": "wxid_a",
                       "name": "A\ud800", "text": "签到", "room": "r1"})
    assert "\\ud800" in lone
    r = client.post("/events", content=event(1) + "\n" + lone + "\n")
    assert r.status_code == 400
    assert r.json() == {"errors": ["line 2: a string holds a lone UTF-16 surrogate (such as \\ud800), "
                                   "which is not valid Unicode"]}
    assert taken == []
    # a pair of escapes is one character, an emoji: taken as it is
    pair = json.dumps({"type": "message", "id": "m3", "at": Clock().now().isoformat(), "from": "wxid_a",
                       "name": "A\U0001f600", "text": "签到", "room": "r1"})
    assert "\\ud83d\\ude00" in pair
    r = client.post("/events", content=pair)
    assert r.status_code == 202
    assert isinstance(taken[0], Message) and taken[0].sender_name == "A\U0001f600"


def test_a_lone_surrogate_the_bot_sends_is_escaped_and_out_keeps_working(bare: BridgeTransport,
                                                                      client: TestClient) -> None:
    async def say() -> None:
        await bare.send(Outgoing(at=sh("2026-11-23 08:00"), text="欢迎 A\ud800", room="r1"))
        await bare.send(Outgoing(at=sh("2026-11-23 08:00"), text="下一条", room="r1"))

    asyncio.run(say())
    for _ in range(2):  # every reader, every time
        r = client.get("/out?after=0&wait=0")
        assert r.status_code == 200 and r.headers["x-next-after"] == "2"
        first, second = (json.loads(line) for line in r.text.splitlines())
        assert first["text"] == "欢迎 A\ud800" and second["text"] == "下一条"
        assert "\\ud800" in r.text.splitlines()[0] and "下一条" in r.text  # escaped; the rest stays readable


def test_a_raw_line_separator_inside_a_json_string_is_accepted(client: TestClient, taken: list[Event]) -> None:
    body = event(1, text="第一行\u2028第二行\u2029第三段") + "\n" + event(2) + "\n"
    assert "\u2028" in body and "\\u2028" not in body  # raw, as JSON.stringify writes it
    r = client.post("/events", content=body.encode("utf-8"))
    assert r.status_code == 202 and r.json() == {"accepted": 2}
    assert isinstance(taken[0], Message) and taken[0].text == "第一行\u2028第二行\u2029第三段"


def test_a_join_naming_too_many_members_is_refused(client: TestClient, taken: list[Event]) -> None:
    r = client.post("/events", content=event(1) + "\n" + join(MAX_MEMBERS + 1) + "\n")
    assert r.status_code == 400
    assert r.json() == {"errors": [f"line 2: a join event names {MAX_MEMBERS + 1} members; "
                                   f"at most {MAX_MEMBERS} per event"]}
    assert taken == []
    r = client.post("/events", content=join(MAX_MEMBERS))
    assert r.status_code == 202
    assert isinstance(taken[0], MemberJoined) and len(taken[0].members) == MAX_MEMBERS


def test_a_body_over_the_cap_is_refused_413(client: TestClient, taken: list[Event]) -> None:
    line = (event(1) + "\n").encode()
    big = line * (MAX_BODY // len(line) + 1)
    assert len(big) > MAX_BODY
    r = client.post("/events", content=big)
    assert r.status_code == 413 and r.json() == {"error": "body too large"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for i in range(0, len(big), 64 * 1024):
            yield big[i:i + 64 * 1024]

    r = client.post("/events", content=chunks())
    assert r.status_code == 413
    assert taken == []
    r = client.post("/events", content=big[:MAX_BODY - MAX_BODY % len(line)])  # just under: taken
    assert r.status_code == 202 and r.json() == {"accepted": MAX_BODY // len(line)}


def test_out_refuses_a_bad_position_and_caps_the_wait(bare: BridgeTransport, client: TestClient) -> None:
    r = client.get("/out?after=x")
    assert r.status_code == 400 and "after" in r.json()["errors"][0]
    r = client.get("/out?wait=soon")
    assert r.status_code == 400 and "wait" in r.json()["errors"][0]
    asyncio.run(bare.send(Outgoing(at=sh("2026-11-23 08:00"), text="早", room="r1")))
    r = client.get("/out?after=0&wait=-5")
    assert r.status_code == 200 and r.headers["x-next-after"] == "1" and json.loads(r.text)["text"] == "早"
    r = client.get("/out?after=1&wait=nan")
    assert r.status_code == 200 and r.text == "" and r.headers["x-next-after"] == "1"
    r = client.get("/out?after=0&wait=0")
    assert r.headers["content-type"] == "application/json; charset=utf-8"


def test_unknown_paths_and_methods(client: TestClient) -> None:
    assert client.get("/nowhere").status_code == 404
    assert client.get("/events").status_code == 405


# -- the real server ---------------------------------------------------------------------------


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[BridgeTransport]:
    """The whole bot behind a bridge on an ephemeral port."""
    s = parse(config(schedule=[]))
    s = s.model_copy(update={"storage": s.storage.model_copy(update={"url": f"sqlite:///{tmp_path / 'b.db'}"})})
    clock = Clock(SH)
    rt = run_bot.build(s, clock)
    holder: list[LiveRunner] = []

    def submit(ev: Event, receipt: int) -> None:
        holder[0].submit(ev, receipt)

    br = BridgeTransport(settings(), submit, rt.services.store(), tz=SH)
    runner = LiveRunner(rt.app, Outbox(br, Budget(tz=SH)), rt.schedule, clock, settle=br.settle)
    holder.append(runner)
    await br.start()
    tasks = [asyncio.create_task(runner.run(drain=1)), asyncio.create_task(br.run())]
    await asyncio.wait_for(br.web.wait_started(), 10)
    assert br.web.started
    yield br
    br.stop()
    runner.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    rt.ledger.engine.dispose()


Serve = Callable[..., Awaitable[BridgeTransport]]


@pytest.fixture
async def serve(taken: list[Event], journal: Store) -> AsyncIterator[Serve]:
    """A bridge on uvicorn without the bot behind it (events land in `taken`), timeouts as the test says."""
    running: list[tuple[BridgeTransport, asyncio.Task[None]]] = []

    async def start(**timeouts: Any) -> BridgeTransport:
        br = BridgeTransport(settings(), taking(taken), journal, tz=SH, **timeouts)
        running.append((br, asyncio.create_task(br.run())))
        await asyncio.wait_for(br.web.wait_started(), 10)
        return br

    yield start
    for br, task in running:
        br.stop()
        await asyncio.wait_for(task, 10)


def http(br: BridgeTransport, secret: str = SECRET) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{br.bound_port}", headers=headers, timeout=20)


async def test_events_in_and_replies_out_over_http(bridge: BridgeTransport) -> None:
    async with http(bridge) as c:
        r = await c.post("/events", content=event(1) + "\n" + event(2, "积分", room=None) + "\n")
        assert r.status_code == 202 and r.json() == {"accepted": 2}
        got: list[dict[str, Any]] = []
        after = 0
        while len(got) < 2:
            r = await c.get("/out", params={"after": after, "wait": 10})
            assert r.status_code == 200
            got += [json.loads(line) for line in r.text.splitlines()]
            after = int(r.headers["x-next-after"])
        assert [(o["type"], o["room"], o["to"], o["reply_to"], o["mentions"]) for o in got] == [
            ("say", "r1", None, "m1", ["wxid_a"]), ("say", None, "wxid_a", "m2", [])]
        assert "签到成功" in got[0]["text"] and "当前积分" in got[1]["text"]
        # nothing new: an empty answer, the same position
        r = await c.get("/out", params={"after": after, "wait": 0})
        assert r.status_code == 200 and r.text == "" and r.headers["x-next-after"] == str(after)


async def test_a_wrong_secret_or_a_bad_line_is_refused(bridge: BridgeTransport) -> None:
    async with http(bridge, secret="guess") as c:
        assert (await c.post("/events", content=event(1))).status_code == 401
    async with http(bridge, secret="") as c:
        assert (await c.get("/out")).status_code == 401
    async with http(bridge) as c:
        r = await c.post("/events", content=event(1) + "\nnot json\n")
        assert r.status_code == 400 and "line 2: not JSON" in r.text
        r = await c.get("/out", params={"after": 0, "wait": 0})
        assert r.status_code == 200 and r.text == ""  # nothing of the bad request was taken


async def test_a_chunked_post_is_read_whole(serve: Serve, taken: list[Event]) -> None:
    br = await serve()
    lines = [event(i) + "\n" for i in range(1, 4)]

    async def body() -> AsyncIterator[bytes]:
        for line in lines:  # each chunk splits a line in two
            raw = line.encode()
            yield raw[:10]
            yield raw[10:]

    async with http(br) as c:
        request = c.build_request("POST", "/events", content=body())
        assert request.headers["transfer-encoding"] == "chunked" and "content-length" not in request.headers
        r = await c.send(request)
    assert r.status_code == 202 and r.json() == {"accepted": 3}
    assert [ev.id for ev in taken if isinstance(ev, Message)] == ["m1", "m2", "m3"]


async def test_a_long_poll_wakes_on_a_new_line_and_on_stop(serve: Serve) -> None:
    br = await serve()
    async with http(br) as c:
        poll = asyncio.create_task(c.get("/out", params={"after": 0, "wait": 60}))
        while br.polling == 0:
            await asyncio.sleep(0)
        await br.send(Outgoing(at=sh("2026-11-23 08:00"), text="早", room="r1"))
        r = await asyncio.wait_for(poll, 10)
        assert r.headers["x-next-after"] == "1" and json.loads(r.text)["text"] == "早"

        poll = asyncio.create_task(c.get("/out", params={"after": 1, "wait": 60}))
        while br.polling == 0:
            await asyncio.sleep(0)
        br.stop()  # the shutdown does not wait out the minute
        r = await asyncio.wait_for(poll, 10)
        assert r.status_code == 200 and r.text == "" and r.headers["x-next-after"] == "1"


async def read_to_close(br: BridgeTransport, first: bytes) -> bytes:
    """What the server writes on a raw connection after `first`, until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", br.bound_port)
    writer.write(first)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_an_idle_connection_is_closed(serve: Serve) -> None:
    br = await serve(keep_alive=1, read_seconds=60)
    assert await read_to_close(br, b"") == b""  # a new connection that never sends
    got = await read_to_close(br, f"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\r\n\r\n".encode())
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b'"ok"')  # answered, kept alive, then closed idle


async def test_a_request_that_stops_arriving_is_closed(serve: Serve, taken: list[Event]) -> None:
    br = await serve(keep_alive=60, read_seconds=0.5)
    assert await read_to_close(br, b"GET /health HTTP/1.1\r\nHost: x\r\n") == b""  # half a head
    line = event(1).encode()
    head = (f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\r\n"
            f"Content-Length: {len(line) + 100}\r\n\r\n").encode()
    assert await read_to_close(br, head + line) == b""  # a body short of its length
    assert taken == []


async def test_an_accepted_connection_sends_without_waiting_for_acks(serve: Serve) -> None:
    """TCP_NODELAY on the server's side of every connection: with Nagle on (Python 3.11's default for accepted
    sockets) the body of each response on a kept-alive connection waited for the client's delayed ACK (~40 ms)."""
    import socket

    br = await serve()
    async with http(br) as c:
        for _ in range(2):  # the second request rides the kept-alive connection
            assert (await c.get("/health")).status_code == 200
        open_ = list(br.web.server.server_state.connections)
        assert open_, "the kept-alive connection is gone"
        for protocol in open_:
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def test_a_busy_port_is_a_bridge_error(serve: Serve, journal: Store) -> None:
    br = await serve()
    other = BridgeTransport(settings(port=br.bound_port or 0), taking([]), journal, tz=SH)
    with pytest.raises(BridgeError, match=f"cannot listen on 127.0.0.1:{br.bound_port}"):
        await other.start()


# -- run_bot.py --transport bridge -----------------------------------------------------------------


def test_the_bridge_will_not_start_without_a_secret(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "config.toml").write_text("[bot]\nadmins = []\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "BOT_BRIDGE_SECRET"}
    p = subprocess.run([sys.executable, str(ROOT / "run_bot.py"), "--transport", "bridge"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "needs a shared secret" in p.stderr


async def test_run_bot_serves_the_bridge_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[bot]\nadmins = []\n[storage]\nurl = "sqlite:///b.db"\n[bridge]\nport = 0\n', encoding="utf-8")
    env = {**os.environ, "BOT_BRIDGE_SECRET": SECRET, "LOG_LEVEL": "INFO"}
    proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "run_bot.py"), "--transport", "bridge",
                                                cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    try:
        port = 0
        while not port:
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
            assert line, "run_bot.py ended before it listened"
            if "bridge listening on http://127.0.0.1:" in line:
                port = int(line.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=20) as c:
            r = await c.get("/health")
            assert r.status_code == 200 and r.json() == "ok"
        async with httpx.AsyncClient(timeout=20) as plain:  # /healthz on the bridge's port, for a monitor: no secret
            r = await plain.get(f"http://127.0.0.1:{port}/healthz")
            body = r.json()
            assert r.status_code == 200 and body["status"] == "ok" and SECRET not in r.text
            assert body["transport"]["kind"] == "bridge" and body["transport"]["state"] == "connected"
        proc.send_signal(signal.SIGTERM)  # the bot's handler, not uvicorn's, stops it: a clean exit
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
