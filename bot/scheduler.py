"""Scheduled jobs from config: APScheduler cron triggers, asked "what fell due between t0 and t1".

One path serves every mode: replay asks it between two events' times; the live runner asks it as
the clock moves. Each run has an exact due time, so its id (job id + due time) makes a second run of
the same slot (a restart, a second process on the same database) a no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from loguru import logger

from bot.clock import Clock, quiet_end
from bot.events import JobDue

_TINY = timedelta(microseconds=1)


def _length(quiet: tuple[time, time]) -> timedelta:
    """How long a quiet window lasts (it may wrap midnight), plus an hour for a clock change inside it."""
    start, end = (datetime.combine(date(2000, 1, 1), t) for t in quiet)
    if end <= start:
        end += timedelta(days=1)
    return end - start + timedelta(hours=1)


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
    """The runs of every entry. With `quiet` (local start, end) and `deferred` (names of jobs that post to groups),
    a run of such a job due inside quiet hours runs when they end: it keeps its slot (`JobDue.due`, its id) and
    runs, and so renders, at `JobDue.run_at`, so what it says is true when it goes out."""

    def __init__(self, entries: Sequence[Any], tz: ZoneInfo, *, quiet: tuple[time, time] | None = None,
                 deferred: Iterable[str] = ()) -> None:
        self.tz = tz
        self.entries = list(entries)
        self.triggers = [(e, CronTrigger.from_crontab(e.cron, timezone=tz)) for e in self.entries]
        self.offsets = [getattr(e, "offset", timedelta(0)) for e in self.entries]
        self.quiet = quiet
        later = set(deferred) if quiet is not None else set()
        self.held = [e.job in later for e in self.entries]
        self._span = _length(quiet) if quiet is not None else timedelta(0)
        self._memo: dict[int, tuple[datetime, datetime | None, datetime | None]] = {}

    def adopt(self, other: Schedule) -> None:
        """Run `other`'s entries from now on (a config reload): the live loop asking this object sees them at
        its next look; where it last looked stays, so nothing already fired fires again (claims would drop it)."""
        self.entries, self.triggers, self.offsets = other.entries, other.triggers, other.offsets
        self.quiet, self.held, self._span = other.quiet, other.held, other._span
        self._memo = {}

    def rooms(self) -> dict[str, Sequence[str]]:
        return {e.id: tuple(e.rooms) for e in self.entries}

    def _run_time(self, order: int, due: datetime) -> datetime:
        if not self.held[order]:
            return due
        return quiet_end(due, self.quiet, self.tz) or due

    def due_between(self, start: datetime, end: datetime, *, include_start: bool = False) -> list[JobDue]:
        """Every run that runs in (start, end] (or [start, end]), in time order, config order on a tie."""
        runs: list[tuple[datetime, int, JobDue]] = []
        if end < start:
            return []
        after = start - _TINY if include_start else start
        for order, (entry, trig) in enumerate(self.triggers):
            off = self.offsets[order]
            t, run = self._first_after(order, trig, after)
            while t is not None and run is not None and run <= end:
                due = t + off
                runs.append((run, order, JobDue(job_id=entry.id, job=entry.job, due=due,
                                                run_at=None if run == due else run)))
                t = trig.get_next_fire_time(t, t + _TINY)
                run = None if t is None else self._run_time(order, t + off)
        runs.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in runs]

    def _first_after(self, order: int, trig: CronTrigger, after: datetime) -> tuple[datetime | None, datetime | None]:
        """(fire time, run time) of the first run that runs after `after`; remembered, since replay asks this once
        per event. Run times never decrease with fire times, so one answer holds until its run time."""
        memo = self._memo.get(order)
        if memo is not None and memo[0] <= after and (memo[2] is None or after < memo[2]):
            return memo[1], memo[2]
        t, run = self._search(order, trig, after)
        self._memo[order] = (after, t, run)
        return t, run

    def _search(self, order: int, trig: CronTrigger, after: datetime) -> tuple[datetime | None, datetime | None]:
        off = self.offsets[order]
        # a run held by quiet hours runs up to their length after it was due: look back that far
        back = self._span if self.held[order] else timedelta(0)
        t = trig.get_next_fire_time(None, after - off - back + _TINY)
        while t is not None:
            run = self._run_time(order, t + off)
            if run > after:
                return t, run
            t = trig.get_next_fire_time(t, t + _TINY)
        return None, None

    def next_due(self, after: datetime) -> datetime | None:
        """When the next run runs (its run time, after quiet hours where they hold it)."""
        times = [run for order, (_e, trig) in enumerate(self.triggers)
                 if (run := self._search(order, trig, after)[1]) is not None]
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
        leader: Callable[[], bool] | None = None,
    ) -> None:
        """Enqueue each run as it falls due on `clock`.

        A run missed by less than `grace` (a stall, a restart) still fires; an older one is skipped
        with a warning, unless the clock was moved on purpose (`clock.jumped`, the console's /time).
        `wake` makes the loop look at the clock again at once. With `leader`, only while it answers True are
        runs fired (one process of several on a database leads); a process that takes the lead looks back
        `grace`, so what fell due while the lead changed hands still fires (claims drop what already ran).
        """
        last = clock.now() - grace
        leading = False
        stop = stop or asyncio.Event()
        wake = wake or asyncio.Event()
        while not stop.is_set():
            now = clock.now()
            if now < last:  # the clock was moved back: start again from here
                last = now
            deliberate = bool(getattr(clock, "jumped", False))
            was, leading = leading, leader is None or leader()
            if leading and not was:
                last = min(last, now - grace)
            for run in self.due_between(last, now) if leading else ():
                if now - run.at > grace and not deliberate:
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
