"""Outbound queue between the pipeline and a transport: sends in order, survives a failed send."""

from __future__ import annotations

from collections.abc import Sequence

from loguru import logger

from bot.events import Outgoing
from bot.transports import Transport


class Outbox:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.sent = 0
        self.failed = 0

    async def deliver(self, outs: Sequence[Outgoing]) -> None:
        for out in outs:
            try:
                await self.transport.send(out)
                self.sent += 1
            except Exception:
                self.failed += 1
                logger.bind(room=out.room, member=out.to).exception("send failed: {!r}", out.text[:40])
