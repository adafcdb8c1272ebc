"""Refusals the ledger raises; handlers turn them into replies. Nothing was written when one is raised."""

from __future__ import annotations

from dataclasses import dataclass


class LedgerRefusal(Exception):
    """The ledger refused an operation; the database is unchanged."""


@dataclass
class AlreadyCheckedIn(LedgerRefusal):
    streak: int
    total_days: int
    points: int


@dataclass
class InsufficientPoints(LedgerRefusal):
    needed: int
    points: int


class DuplicateEvent(LedgerRefusal):
    """The idempotency key was used before: this is a replay."""


@dataclass
class NothingToMakeUp(LedgerRefusal):
    within_days: int


@dataclass
class MakeupLimit(LedgerRefusal):
    used: int
    limit: int
