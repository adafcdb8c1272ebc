"""Drives the official WeCom SDK (wecom-aibot-python-sdk, in .venv-wecom) against the local test server.

Run by tests/transports/test_wecom_sdk.py as `.venv-wecom/bin/python wecom_sdk_probe.py URL BOT_ID SECRET`: it
subscribes, keeps pinging, answers the first text callback with a markdown reply on its req_id and one
aibot_send_msg to the same chat, then prints the SDK's own protocol constants as one JSON line and exits.
Imports nothing of the bot: this environment has the SDK's pins (pyee>=11), not wechaty's.
"""

from __future__ import annotations

import asyncio
import json
import sys
from importlib import metadata
from typing import Any

import aibot
import aibot.ws
from aibot import EventType, MessageType, WSClient, WSClientOptions, WsCmd


class Quiet:
    def debug(self, message: str, *args: Any) -> None:
        pass

    info = warn = debug

    def error(self, message: str, *args: Any) -> None:
        print(message, file=sys.stderr)


async def main(url: str, bot_id: str, secret: str) -> None:
    # The SDK always connects with certifi's TLS context; the test server speaks ws:// on 127.0.0.1, and
    # websockets refuses a TLS context for a ws:// address.
    aibot.ws._SSL_CONTEXT = None  # type: ignore[assignment]
    client = WSClient(WSClientOptions(bot_id=bot_id, secret=secret, ws_url=url, heartbeat_interval=300,
                                      max_reconnect_attempts=0, logger=Quiet()))
    answered = asyncio.Event()
    errors: list[str] = []

    async def on_text(frame: dict[str, Any]) -> None:
        body = frame.get("body", {})
        try:
            await client.reply(frame, {"msgtype": "markdown", "markdown": {"content": "answer"}})
            chat = body.get("chatid") or body.get("from", {}).get("userid", "")
            await client.send_message(chat, {"msgtype": "markdown", "markdown": {"content": "post"}})
        except Exception as exc:  # reported, so the test says what the SDK did not like
            errors.append(f"{type(exc).__name__}: {exc}")
        answered.set()

    client.on("message.text", on_text)
    client.on("error", lambda exc: errors.append(f"{type(exc).__name__}: {exc}"))
    await client.connect()
    await asyncio.wait_for(answered.wait(), 30)
    client.disconnect()
    await asyncio.sleep(0.1)
    print(json.dumps({
        "version": metadata.version("wecom-aibot-python-sdk"),  # aibot.__version__ still says 1.0.0
        "cmd": {k: v for k, v in vars(WsCmd).items() if k.isupper()},
        "message_types": [m.value for m in MessageType],
        "event_types": [e.value for e in EventType],
        "errors": errors,
    }))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
