"""Replay transport: JSON-lines events in, every message the bot sends out as one JSON line.

The clock follows each event's `at`; jobs that fell due since the previous event fire first, each at
its own due time. Between a `down` and the next `up` event the bot was not running: nothing fires,
no day counts as online, and any other event there is logged and ignored. Consecutive events are
handled in batches of one transaction (group commit); a batch's replies are written only after it
committed. Replies pass through the outbox on event time: its send budget and coalescing decide each
line's `at` as they would live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from loguru import logger

from bot.app import App
from bot.events import Down, Event, Outgoing, Up
from bot.outbox import Budget, Outbox, digest_text
from bot.scheduler import Schedule
from bot.transports.jsonl import BadLine, format_out, read_events


@dataclass
class ReplayStats:
    events: int = 0
    jobs: int = 0
    sent: int = 0
    bad_lines: int = 0
    while_down: int = 0  # events between down and up, ignored


async def replay(
    app: App,
    schedule: Schedule,
    lines: Iterable[str | bytes],
    write: Callable[[str], None],
    *,
    batch_size: int = 256,
    budget: Budget | None = None,
) -> ReplayStats:
    stats = ReplayStats()
    tz = app.tz
    prev: datetime | None = None
    down_since: datetime | None = None
    batch: list[Event] = []
    outbox = Outbox(_Lines(write, tz), budget or Budget(tz=tz), digest=digest_text(app.renderer))

    async def flush() -> None:
        outs = await app.process(batch)
        for out in outs:
            await outbox.pump(out.at)  # what the budget let out before this reply existed
            outbox.put([out])
        if batch:
            await outbox.pump(max(ev.at for ev in batch))
        batch.clear()

    for item in read_events(lines):
        if isinstance(item, BadLine):
            stats.bad_lines += 1
            logger.error("line {}: {}; line skipped", item.lineno, item.reason)
            continue
        if down_since is not None:
            if isinstance(item, Up):
                # nothing due while it was down fires; the schedule goes on from here
                down_since = None
                prev = item.at if prev is None else max(prev, item.at)
                batch.append(item)
                stats.events += 1
            else:
                stats.while_down += 1
                logger.warning("{} event at {} came while the bot was down (since {}); ignored",
                               _kind(item), item.at.isoformat(), down_since.isoformat())
            continue
        if isinstance(item, Up):
            logger.warning("up event at {} without a down before it; handled as a tick", item.at.isoformat())
        if prev is not None and item.at < prev:
            logger.warning("event at {} is earlier than the one before ({}); handled at its own time",
                           item.at.isoformat(), prev.isoformat())
        due = schedule.due_between(prev if prev is not None else item.at, item.at, include_start=prev is None)
        batch.extend(due)
        stats.jobs += len(due)
        batch.append(item)
        if isinstance(item, Down):
            down_since = item.at
        stats.events += 1
        prev = item.at if prev is None else max(prev, item.at)
        if len(batch) >= batch_size:
            await flush()
    await flush()
    await outbox.flush()
    stats.sent = outbox.sent
    return stats


def _kind(ev: Event) -> str:
    return type(ev).__name__.lower()


class _Lines:
    """The replay 'transport': every message sent is one JSON line."""

    def __init__(self, write: Callable[[str], None], tz: ZoneInfo) -> None:
        self.write = write
        self.tz = tz

    async def send(self, out: Outgoing) -> None:
        self.write(format_out(out, self.tz) + "\n")
