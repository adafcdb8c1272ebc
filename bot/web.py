"""The process's one web server: a Starlette app built from parts, served by uvicorn inside the bot's loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator, Iterable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection (or a new one that sends nothing) is closed after this
READ_SECONDS = 30  # from a request's first byte to its last (headers and body), or the connection is closed
MAX_CONNECTIONS = 100  # beyond this many open connections a request is answered 503
MAX_HEADER_BYTES = 16 * 1024  # a request line plus headers larger than this is answered 400
SHUTDOWN_SECONDS = 5  # on stop, requests still running after this are cancelled


class WebError(Exception):
    pass


def build_app(*parts: Iterable[BaseRoute]) -> Starlette:
    """One app from every part's routes and mounts (the bridge's now; the operator console's later)."""
    return Starlette(routes=[route for part in parts for route in part])


class _TimedH11(H11Protocol):
    """uvicorn's h11 protocol with the two deadlines it lacks.

    uvicorn arms its keep-alive timer only after a response, and nothing limits how long a request takes
    to arrive: a connection that never sends (or sends half a header) was held for ever.
    """

    read_seconds: float = READ_SECONDS

    def __init__(self, config: uvicorn.Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # Python 3.11's event loop leaves Nagle on for accepted sockets, and h11 writes a response's head and its
        # body separately: the body then waited ~40 ms for the client's delayed ACK on every kept-alive request
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        # a new connection is as idle as one between requests
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the read deadline while the client owes the rest of a request it has begun; disarm it otherwise."""
        if self.transport.is_closing():
            owes = False
        elif self.cycle is not None and not self.cycle.response_complete:
            owes = self.cycle.more_body
        else:
            owes = bool(self.conn.trailing_data[0])  # part of the next request's head
        if not owes:
            self._disarm()
        elif self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.read_seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            self.logger.debug("closing a connection whose request took over %s s to arrive", self.read_seconds)
            self.transport.close()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # the bot's loop owns SIGINT/SIGTERM (run_bot._live) and stops us through stop()
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.set()


class WebServer:
    """Serves `app` on host:port: start() binds (errors as WebError), serve() runs until stop()."""

    def __init__(self, app: Starlette, host: str, port: int, *, keep_alive: int = KEEP_ALIVE_SECONDS,
                 read_seconds: float = READ_SECONDS, max_connections: int = MAX_CONNECTIONS) -> None:
        self.app = app
        self.host = host
        self.port = port
        limit = read_seconds

        class Protocol(_TimedH11):
            read_seconds = limit

        self.config = uvicorn.Config(
            app, host=host, port=port, http=Protocol, ws="none", lifespan="auto",
            log_config=None, log_level="warning", access_log=False,  # stdlib logging, which run_bot sends to loguru
            proxy_headers=False, server_header=False,
            timeout_keep_alive=keep_alive, timeout_graceful_shutdown=SHUTDOWN_SECONDS,
            limit_concurrency=max_connections, h11_max_incomplete_event_size=MAX_HEADER_BYTES)
        self.server = _Server(self.config)
        self.sock: socket.socket | None = None
        self.bound_port: int | None = None

    @property
    def started(self) -> bool:
        return self.server.started

    async def wait_started(self) -> None:
        await self.server.ready.wait()

    async def start(self) -> None:
        """Bind the port now, so that a busy port is an error here and not uvicorn's sys.exit."""
        if self.sock is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            self.sock = socket.create_server((self.host, self.port), family=family, backlog=self.config.backlog)
        except OSError as exc:
            raise WebError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.bound_port = self.sock.getsockname()[1]

    async def serve(self) -> None:
        await self.start()
        assert self.sock is not None
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True
