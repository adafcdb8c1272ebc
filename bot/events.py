"""Transport-neutral events the core understands, and what the bot sends back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from loguru import logger


def _strip_nul(ev: Any) -> None:
    """Drop NUL characters from an event's strings: PostgreSQL refuses them in text, so one name would
    fail every write of its batch. Done here, where every transport's events are made."""
    for f in fields(ev):
        v = getattr(ev, f.name)
        if isinstance(v, str):
            if "\x00" in v:
                object.__setattr__(ev, f.name, v.replace("\x00", ""))
        elif isinstance(v, tuple) and any(isinstance(x, str) and "\x00" in x for x in v):
            object.__setattr__(ev, f.name, tuple(x.replace("\x00", "") if isinstance(x, str) else x for x in v))


@dataclass(frozen=True)
class Person:
    id: str
    name: str = ""

    def __post_init__(self) -> None:
        _strip_nul(self)


@dataclass(frozen=True)
class Message:
    """A text message in a group (room set) or sent privately to the bot (room None)."""

    id: str
    at: datetime
    sender: str
    text: str
    sender_name: str = ""
    room: str | None = None
    room_name: str = ""
    mentions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _strip_nul(self)


@dataclass(frozen=True)
class MemberJoined:
    id: str
    at: datetime
    room: str
    members: tuple[Person, ...]
    inviter: str | None = None
    room_name: str = ""

    def __post_init__(self) -> None:
        _strip_nul(self)


@dataclass(frozen=True)
class MemberLeft:
    id: str
    at: datetime
    room: str
    members: tuple[Person, ...]
    room_name: str = ""

    def __post_init__(self) -> None:
        _strip_nul(self)


@dataclass(frozen=True)
class Tick:
    """Time passes: fires whatever scheduled job fell due; carries nothing else."""

    at: datetime


@dataclass(frozen=True)
class Down:
    """Replay: the bot stopped at `at`; until the next Up nothing fires and no day counts as online."""

    at: datetime


@dataclass(frozen=True)
class Up:
    """Replay: the bot started again at `at`; scheduled runs fire again from then on."""

    at: datetime


@dataclass(frozen=True)
class Group:
    id: str
    name: str = ""

    def __post_init__(self) -> None:
        _strip_nul(self)


@dataclass(frozen=True)
class Rooms:
    """The groups the bot is in, as its transport knows them (wechaty's room list at login; the bridge and
    replay announce them): scheduled posts reach a group from then on, even before anyone spoke in it."""

    at: datetime
    rooms: tuple[Group, ...]


@dataclass(frozen=True)
class JobDue:
    """A scheduled job whose due time has come (from the live scheduler or from event time)."""

    job_id: str
    job: str
    due: datetime  # the slot: the run's id (claimed once) is job id + due time
    # when it runs, if not at `due`: a job that posts, due inside quiet hours, runs when they end (rendered then)
    run_at: datetime | None = None

    @property
    def at(self) -> datetime:
        return self.due if self.run_at is None else self.run_at


Event = Message | MemberJoined | MemberLeft | Tick | JobDue | Down | Up | Rooms


@dataclass(frozen=True)
class Outgoing:
    """One message the bot sends: to a room (optionally @-mentioning) or privately to a contact."""

    at: datetime
    text: str
    room: str | None = None
    to: str | None = None
    mentions: tuple[str, ...] = ()
    reply_to: str | tuple[str, ...] | None = None
    image: str | None = None
    names: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # sent instead when this one cannot be delivered (a private message to a contact who is not the
    # bot's friend): typically a note in the group saying how to get it
    fallback: Outgoing | None = field(default=None, compare=False, hash=False)
    scheduled: bool = False  # a scheduled post: quiet hours hold it
    # a group @-reply a digest may answer together with others of its kind, when too many wait to be
    # @-mentioned: the digest's template (rendered with `count`, the members it answers), e.g. "checkin/digest";
    # a hint to the outbox like `fallback`, not part of what is said
    digest: str | None = field(default=None, compare=False, hash=False)
    # draws the image (returns its file, or None: the text goes alone) when the message is sent, in a worker
    # thread: a picture is drawn after its batch committed, and never holds up the pipeline or other groups
    draw: Callable[[], str | None] | None = field(default=None, compare=False, hash=False)


AHEAD = timedelta(seconds=5)  # a source clock this far ahead of ours is still believed


def as_received(ev: Event, received: datetime) -> Event:
    """`ev`, or, when it is dated more than AHEAD after it was `received`, `ev` as of `received`.

    A live event from the future would hold every later reply until it is due (the outbox sends in
    order) and date its ledger effects ahead: a connector's or puppet's clock is not trusted that far.
    """
    if isinstance(ev, JobDue) or ev.at - received <= AHEAD:
        return ev
    logger.warning("{} {} is dated {} ({:.0f} s after it arrived): taken as of its arrival",
                   type(ev).__name__, getattr(ev, "id", ""), ev.at.isoformat(), (ev.at - received).total_seconds())
    return replace(ev, at=received)
