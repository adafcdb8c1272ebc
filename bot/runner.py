"""Live runner: one consumer drains the event queue in batches (group commit) and hands replies to the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta

from loguru import logger

from bot.app import App
from bot.clock import Clock
from bot.events import Event, as_received
from bot.outbox import Outbox
from bot.scheduler import Schedule


class LiveRunner:
    """`settle(receipts)` is told which stored events (a transport's inbox ids) a committed batch handled."""

    def __init__(self, app: App, outbox: Outbox, schedule: Schedule, clock: Clock, batch_size: int = 256,
                 grace: timedelta = timedelta(minutes=10),
                 settle: Callable[[Sequence[int]], None] | None = None,
                 leader: Callable[[], bool] | None = None) -> None:
        self.app = app
        self.outbox = outbox
        self.schedule = schedule
        self.clock = clock
        self.batch_size = batch_size
        self.grace = grace
        self.settle = settle
        self.leader = leader  # whether this process fires scheduled runs now (None: always)
        self.queue: asyncio.Queue[tuple[Event, int | None] | None] = asyncio.Queue()
        self.stopping = asyncio.Event()
        self.wake = asyncio.Event()  # set when the clock was moved: look for due jobs now
        # held while a batch is processed and delivered: a config reload swaps the rules between two batches
        self.busy = asyncio.Lock()

    def submit(self, ev: Event, receipt: int | None = None) -> None:
        """Queue `ev` (dated no later than now, see as_received); `receipt`: its id in the transport's inbox."""
        self.queue.put_nowait((as_received(ev, self.clock.now()), receipt))

    async def consume(self) -> None:
        while True:
            first = await self.queue.get()
            if first is None:
                return
            batch: list[tuple[Event, int | None]] = [first]
            end = False
            while len(batch) < self.batch_size and not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt is None:
                    end = True
                    break
                batch.append(nxt)
            try:
                async with self.busy:
                    outs = await self.app.process([ev for ev, _r in batch])
                    await self.outbox.deliver(outs)
                receipts = [r for _ev, r in batch if r is not None]
                if receipts and self.settle is not None:
                    # after the commit: a crash before this handles them again, and their claims stop repeats
                    self.settle(receipts)
            except Exception:  # the loop must outlive any one batch
                logger.exception("batch of {} events failed", len(batch))
            if end:
                return

    async def run(self, drain: float = 30.0) -> None:
        """Consume events, fire scheduled jobs and send on the budget until stop() is called.

        At the end the outbox gets up to `drain` seconds to send what is queued; the rest is logged.
        """
        sched = asyncio.create_task(self.schedule.run_live(self.clock, self.submit, grace=self.grace,
                                                           stop=self.stopping, wake=self.wake, leader=self.leader))
        sender_stop = asyncio.Event()
        sender = asyncio.create_task(self.outbox.run(self.clock, sender_stop))
        try:
            await self.consume()
        finally:
            self.stopping.set()
            await sched
            sender_stop.set()
            await sender
            await self.outbox.drain(self.clock, drain)

    def stop(self) -> None:
        self.stopping.set()
        self.queue.put_nowait(None)
