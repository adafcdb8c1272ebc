"""Replay transport: JSON-lines events in, every message the bot sends out as one JSON line.

The clock follows each event's `at`; jobs that fell due since the previous event fire first, each at
its own due time. Consecutive events are handled in batches of one transaction (group commit); a
batch's replies are written only after it committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from loguru import logger

from bot.app import App
from bot.events import Event
from bot.scheduler import Schedule
from bot.transports.jsonl import BadLine, format_out, read_events


@dataclass
class ReplayStats:
    events: int = 0
    jobs: int = 0
    sent: int = 0
    bad_lines: int = 0


async def replay(
    app: App,
    schedule: Schedule,
    lines: Iterable[str],
    write: Callable[[str], None],
    *,
    batch_size: int = 256,
) -> ReplayStats:
    stats = ReplayStats()
    tz = app.tz
    prev: datetime | None = None
    batch: list[Event] = []

    async def flush() -> None:
        outs = await app.process(batch)
        for out in outs:
            write(format_out(out, tz) + "\n")
        stats.sent += len(outs)
        batch.clear()

    for item in read_events(lines):
        if isinstance(item, BadLine):
            stats.bad_lines += 1
            logger.error("line {}: {}; line skipped", item.lineno, item.reason)
            continue
        if prev is not None and item.at < prev:
            logger.warning("event at {} is earlier than the one before ({}); handled at its own time",
                           item.at.isoformat(), prev.isoformat())
        due = schedule.due_between(prev if prev is not None else item.at, item.at, include_start=prev is None)
        batch.extend(due)
        stats.jobs += len(due)
        batch.append(item)
        stats.events += 1
        prev = item.at if prev is None else max(prev, item.at)
        if len(batch) >= batch_size:
            await flush()
    await flush()
    return stats
