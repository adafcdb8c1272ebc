"""The one source of "now": the real clock, or one driven by events (replay, console, tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class Clock:
    """Real time, aware, in UTC; local days come from `local_day` in the configured zone."""

    def __init__(self, tz: ZoneInfo | None = None) -> None:
        self.tz = tz or ZoneInfo("Asia/Shanghai")

    def now(self) -> datetime:
        return datetime.now(UTC)

    def local(self, at: datetime | None = None) -> datetime:
        return (at or self.now()).astimezone(self.tz)

    def local_day(self, at: datetime | None = None) -> date:
        return self.local(at).date()


class ManualClock(Clock):
    """A clock that only moves when told: replay sets it to each event's time."""

    def __init__(self, start: datetime, tz: ZoneInfo | None = None) -> None:
        super().__init__(tz)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("clock times must carry a UTC offset")
        self._now = at

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta


class OffsetClock(Clock):
    """Real time shifted by an offset the operator sets (console /time); real time flows on from there."""

    def __init__(self, tz: ZoneInfo | None = None) -> None:
        super().__init__(tz)
        self.offset = timedelta(0)
        self.jumped = False  # the scheduler fires what the jump skipped over, then clears this

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def move_to(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)
        self.jumped = True

    def reset(self) -> None:
        self.offset = timedelta(0)
        self.jumped = True


def quiet_window(spec: str) -> tuple[time, time] | None:
    """ "22:30-07:30" -> (22:30, 07:30); "" -> None. The config validates the text before it gets here."""
    if not spec:
        return None
    a, b = spec.split("-")
    return time.fromisoformat(a.strip()), time.fromisoformat(b.strip())


def quiet_end(at: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> datetime | None:
    """When the quiet hours `at` falls in end (an aware datetime), or None when `at` is not in quiet hours.

    The window is local time and may wrap midnight ("22:30-07:30"); its end is not inside it."""
    if quiet is None:
        return None
    start, end = quiet
    local = at.astimezone(tz)
    t = local.time()
    inside = (start <= t < end) if start <= end else (t >= start or t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=end.second, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until
