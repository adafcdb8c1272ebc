"""Keeps a connection up: a session that ends or goes deaf is a failure, retried with capped backoff.

Knows nothing about wechaty: a transport hands it `connect` (runs one session until it ends),
`probe` (a cheap call that must answer while the session lives) and `fatal` (which errors must not
be retried, such as a refused token).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loguru import logger


class FatalConnectionError(Exception):
    """A failure retrying cannot fix (a refused token): the process should exit with this text."""


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    cap: float = 60.0
    factor: float = 2.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures (1, 2, ...)."""
        return float(min(self.cap, self.initial * self.factor ** max(0, failures - 1)))


class Supervisor:
    def __init__(
        self,
        connect: Callable[[], Awaitable[None]],
        *,
        probe: Callable[[], Awaitable[None]] | None = None,
        fatal: Callable[[BaseException], str | None] = lambda exc: None,
        is_up: Callable[[], bool] = lambda: True,
        backoff: Backoff = Backoff(),
        probe_every: float = 30.0,
        probe_timeout: float = 10.0,
        stable_after: float = 60.0,
        name: str = "connection",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.connect = connect
        self.probe = probe
        self.fatal = fatal
        self.is_up = is_up
        self.backoff = backoff
        self.probe_every = probe_every
        self.probe_timeout = probe_timeout
        self.stable_after = stable_after
        self.name = name
        self.sleep = sleep
        self.monotonic = monotonic or (lambda: asyncio.get_running_loop().time())
        self.attempts = 0
        self.sessions = 0  # sessions that got connected (is_up() seen true)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Connect, watch, reconnect, until stop(); raises FatalConnectionError on a fatal failure."""
        failures = 0
        while not self._stop.is_set():
            self.attempts += 1
            started = self.monotonic()
            reason = await self._session()
            if self._stop.is_set():
                return
            if self.monotonic() - started >= self.stable_after:
                failures = 0  # it held for a while: start the backoff over
            failures += 1
            delay = self.backoff.delay(failures)
            logger.warning("{} lost ({}); reconnect attempt {} in {:.1f}s", self.name, reason, failures, delay)
            await self._wait(delay)

    async def _wait(self, seconds: float) -> None:
        stopper = asyncio.ensure_future(self._stop.wait())
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        await asyncio.wait({stopper, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        sleeper.cancel()

    async def _session(self) -> str:
        """Run one session; return why it ended (raise when that is fatal)."""
        task = asyncio.ensure_future(self.connect())
        stopper = asyncio.ensure_future(self._stop.wait())
        counted = False
        try:
            while True:
                done, _ = await asyncio.wait({task, stopper}, timeout=self.probe_every,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not counted and self.is_up():
                    counted = True
                    self.sessions += 1
                if task in done:
                    exc = task.exception()
                    if exc is None:
                        return "the event stream ended"
                    why = self.fatal(exc)
                    if why is not None:
                        raise FatalConnectionError(why) from exc
                    return f"{type(exc).__name__}: {exc}".strip()
                if stopper in done:
                    return "stopped"
                if self.probe is not None and self.is_up():
                    try:
                        await asyncio.wait_for(self.probe(), self.probe_timeout)
                    except Exception as exc:  # any failure of the cheap call means the link is deaf
                        why = self.fatal(exc)
                        if why is not None:
                            raise FatalConnectionError(why) from exc
                        return f"no answer to the liveness probe ({type(exc).__name__}: {exc})"
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                # the session is being torn down; its error was reported
                with contextlib.suppress(BaseException):
                    await task
