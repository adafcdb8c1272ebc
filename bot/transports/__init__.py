"""Transports: how events reach the bot and replies leave it. Only wechaty.py may import wechaty."""

from __future__ import annotations

from typing import Protocol

from bot.events import Outgoing


class Transport(Protocol):
    async def send(self, out: Outgoing) -> None: ...
