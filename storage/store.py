"""Storage put together: every service on one database (Storage), and the runtime's Store composed of them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from storage import invites
from storage.accounts import Accounts
from storage.boards import Boards
from storage.browse import Browse
from storage.checkins import Checkins
from storage.conversations import Conversations, Pending
from storage.db import Database, lock_members, transient
from storage.expiry import Lots, Policy
from storage.freezes import Freezes
from storage.growth import Growth
from storage.inbox import Accepted, Inbox, OutLog
from storage.ledger import Ledger
from storage.mall import Mall
from storage.oplog import OpLog
from storage.presence import Presence
from storage.privacy import Privacy
from storage.profiles import Profiles
from storage.stats import Figures


class Store:
    """What the pipeline needs: transactions and savepoints, presence, active days, the pending conversation."""

    def __init__(self, db: Database, presence: Presence, checkins: Checkins, conversations: Conversations,
                 inbox: Inbox | None = None, out_log: OutLog | None = None) -> None:
        self.db = db
        self.presence = presence
        self.checkins = checkins
        self.conversations = conversations
        self.inbox = inbox or Inbox(db)
        self.out_log = out_log or OutLog(db)

    def transaction(self) -> AbstractContextManager[Connection]:
        return self.db.transaction()

    def savepoint(self) -> AbstractContextManager[Connection]:
        return self.db.savepoint()

    def claim_event(self, event_id: str, at: datetime) -> bool:
        return self.presence.claim_event(event_id, at)

    def lock_members(self, members: Sequence[str]) -> None:
        with self.db.transaction() as conn:
            lock_members(conn, members)

    def transient(self, exc: BaseException) -> bool:
        return transient(exc)

    def see_member(self, member: str, name: str, at: datetime) -> None:
        self.presence.see_member(member, name, at)

    def see_room(self, room: str, name: str, at: datetime) -> None:
        self.presence.see_room(room, name, at)

    def see_in_room(self, room: str, member: str, at: datetime) -> None:
        self.presence.see_in_room(room, member, at)

    def left_room(self, room: str, member: str, at: datetime) -> None:
        self.presence.left_room(room, member, at)

    def rooms(self, only: Sequence[str] = ()) -> list[tuple[str, str]]:
        return self.presence.rooms(only)

    def mark_active(self, day: date) -> None:
        self.checkins.mark_active(day)

    def mark_members_active(self, days: Sequence[tuple[str, date]]) -> None:
        """The batch's first-of-the-day senders and the days of its earning entries, in one statement."""
        self.checkins.mark_members_active(days)

    def pending(self, chat: str, member: str, at: datetime) -> Pending | None:
        return self.conversations.pending(chat, member, at)

    # -- the bridge's inbox and out log (each write commits on its own: it is acknowledged next) --------

    def accept(self, lines: Sequence[str], at: datetime) -> list[int]:
        return self.inbox.put(lines, at)

    def accepted(self) -> list[Accepted]:
        return self.inbox.waiting()

    def handled(self, ids: Sequence[int]) -> None:
        self.inbox.done(ids)

    def log_out(self, line: str, at: datetime) -> int:
        return self.out_log.append(line, at)

    def logged_out(self, n: int) -> list[tuple[int, str]]:
        return self.out_log.recent(n)

    def last_out(self) -> int:
        return self.out_log.last()

    def trim_out(self, keep: int) -> None:
        self.out_log.trim(keep)


__all__ = ["Store"]


@dataclass
class Storage:
    """Every storage service on one database, wired together (what run_bot.build and the tests open)."""

    db: Database
    ledger: Ledger
    presence: Presence
    checkins: Checkins
    conversations: Conversations
    boards: Boards
    growth: Growth
    mall: Mall
    profiles: Profiles
    inbox: Inbox
    out_log: OutLog
    figures: Figures
    oplog: OpLog
    accounts: Accounts
    browse: Browse
    privacy: Privacy
    lots: Lots | None = None  # None when points expiry is off
    freezes: Freezes | None = None  # 冻结 / 解冻 (always set by open)

    @classmethod
    def open(cls, engine: Engine, tz: ZoneInfo, expiry: Policy | None = None) -> Storage:
        db = Database(engine)
        ledger = Ledger(db)
        ledger.audits.append(invites.audit)
        ledger.audits.append(Freezes.audit)
        presence = Presence(db)
        oplog = OpLog(db)
        return cls(db=db, ledger=ledger, presence=presence, checkins=Checkins(ledger, tz),
                   conversations=Conversations(db), boards=Boards(ledger, tz, presence), growth=Growth(ledger),
                   mall=Mall(ledger, tz), profiles=Profiles(db), inbox=Inbox(db), out_log=OutLog(db),
                   figures=Figures(db, tz), oplog=oplog, accounts=Accounts(db), browse=Browse(db),
                   privacy=Privacy(db),
                   lots=Lots(ledger, expiry) if expiry is not None else None, freezes=Freezes(db, oplog))

    def store(self) -> Store:
        """The runtime's view: bot.app.Store."""
        return Store(self.db, self.presence, self.checkins, self.conversations, self.inbox, self.out_log)
