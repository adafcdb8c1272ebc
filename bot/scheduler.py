"""Scheduled jobs from config: APScheduler cron triggers, asked "what fell due between t0 and t1".

One path serves every mode: replay asks it between two events' times; the live runner asks it as
the clock moves. Each run has an exact due time, so its id (job id + due time) makes a second run of
the same slot (a restart, a second process on the same database) a no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from loguru import logger

from bot.clock import Clock
from bot.events import JobDue

_TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class FollowUp:
    """A schedule entry the code adds: a job run `offset` after each run of a [[schedule]] entry (a quiz's
    result when its window closes), or a standing job on a cron of its own (the daily expiry run)."""

    id: str
    job: str
    cron: str
    rooms: tuple[str, ...]
    offset: timedelta


def follow_ups(entries: Sequence[Any], followups: dict[str, tuple[str, Callable[[Any], Any]]],
               settings: Any) -> list[FollowUp]:
    """The follow-up entries the registered jobs ask for, one per schedule entry running such a job."""
    out = []
    for e in entries:
        if e.job in followups:
            then, after = followups[e.job]
            out.append(FollowUp(f"{e.id}:{then}", then, e.cron, tuple(e.rooms), after(settings)))
    return out


def standing_jobs(standing: dict[str, Callable[[Any], str | None]], settings: Any) -> list[FollowUp]:
    """Jobs on whenever their feature is configured, each on the cron its settings give."""
    return [FollowUp(name, name, cron, (), timedelta(0)) for name, cron_of in standing.items()
            if (cron := cron_of(settings)) is not None]


class Schedule:
    def __init__(self, entries: Sequence[Any], tz: ZoneInfo) -> None:
        self.tz = tz
        self.entries = list(entries)
        self.triggers = [(e, CronTrigger.from_crontab(e.cron, timezone=tz)) for e in self.entries]
        self.offsets = [getattr(e, "offset", timedelta(0)) for e in self.entries]
        self._memo: dict[int, tuple[datetime, datetime | None]] = {}

    def rooms(self) -> dict[str, Sequence[str]]:
        return {e.id: tuple(e.rooms) for e in self.entries}

    def due_between(self, start: datetime, end: datetime, *, include_start: bool = False) -> list[JobDue]:
        """Every run due in (start, end] (or [start, end]), in time order, config order on a tie."""
        runs: list[tuple[datetime, int, JobDue]] = []
        if end < start:
            return []
        for order, (entry, trig) in enumerate(self.triggers):
            off = self.offsets[order]
            t = self._first_after(order, trig, (start - _TINY if include_start else start) - off)
            while t is not None and t + off <= end:
                runs.append((t + off, order, JobDue(job_id=entry.id, job=entry.job, due=t + off)))
                t = trig.get_next_fire_time(t, t + _TINY)
        runs.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in runs]

    def _first_after(self, order: int, trig: CronTrigger, after: datetime) -> datetime | None:
        """The first fire time > `after`; remembered, since replay asks this once per event."""
        memo = self._memo.get(order)
        if memo is not None and memo[0] <= after and (memo[1] is None or after < memo[1]):
            return memo[1]
        t = trig.get_next_fire_time(None, after + _TINY)
        self._memo[order] = (after, t)
        return t

    def next_due(self, after: datetime) -> datetime | None:
        times = [t + off for (_e, trig), off in zip(self.triggers, self.offsets, strict=True)
                 if (t := trig.get_next_fire_time(None, after - off + _TINY)) is not None]
        return min(times) if times else None

    async def run_live(
        self,
        clock: Clock,
        enqueue: Callable[[JobDue], None],
        *,
        grace: timedelta = timedelta(minutes=10),
        poll: float = 30.0,
        stop: asyncio.Event | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        """Enqueue each run as it falls due on `clock`.

        A run missed by less than `grace` (a stall, a restart) still fires; an older one is skipped
        with a warning, unless the clock was moved on purpose (`clock.jumped`, the console's /time).
        `wake` makes the loop look at the clock again at once.
        """
        last = clock.now() - grace
        stop = stop or asyncio.Event()
        wake = wake or asyncio.Event()
        while not stop.is_set():
            now = clock.now()
            if now < last:  # the clock was moved back: start again from here
                last = now
            deliberate = bool(getattr(clock, "jumped", False))
            for run in self.due_between(last, now):
                if now - run.due > grace and not deliberate:
                    logger.warning("job {} due {} missed by more than {}; skipped", run.job_id, run.due, grace)
                    continue
                enqueue(run)
            if deliberate:
                clock.jumped = False  # type: ignore[attr-defined]
            last = now
            nxt = self.next_due(now)
            wait = poll if nxt is None else max(0.05, min(poll, (nxt - now).total_seconds()))
            wake.clear()
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(wake.wait())
            await asyncio.wait({stopper, waker}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            waker.cancel()
