"""Transport-neutral events the core understands, and what the bot sends back."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from loguru import logger


@dataclass(frozen=True)
class Person:
    id: str
    name: str = ""


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


@dataclass(frozen=True)
class MemberJoined:
    id: str
    at: datetime
    room: str
    members: tuple[Person, ...]
    inviter: str | None = None
    room_name: str = ""


@dataclass(frozen=True)
class MemberLeft:
    id: str
    at: datetime
    room: str
    members: tuple[Person, ...]
    room_name: str = ""


@dataclass(frozen=True)
class Tick:
    """Time passes: fires whatever scheduled job fell due; carries nothing else."""

    at: datetime


@dataclass(frozen=True)
class JobDue:
    """A scheduled job whose due time has come (from the live scheduler or from event time)."""

    job_id: str
    job: str
    due: datetime

    @property
    def at(self) -> datetime:
        return self.due


Event = Message | MemberJoined | MemberLeft | Tick | JobDue


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
