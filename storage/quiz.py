"""Quiz rounds (互动问答): a round per scheduled question, one counted answer per member, the first N right are paid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from storage import keys
from storage.ledger import Entry, Ledger
from storage.tables import MEMBERS, QUIZ_ANSWERS, QUIZ_ROUNDS
from storage.vocabulary import Kind

QR, QA, M = QUIZ_ROUNDS, QUIZ_ANSWERS, MEMBERS


@dataclass(frozen=True)
class Round:
    id: int
    number: int
    question: str
    answers: list[str]
    points: int
    winners: int
    rooms: list[str]
    started_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Answer:
    correct: bool
    place: int | None  # 1.. when paid
    entry: Entry | None
    already: bool = False  # the member had answered this round before; nothing changed


@dataclass(frozen=True)
class Result:
    round: Round
    winners: list[tuple[str, str, int]]  # (member, name, place)
    correct: int
    answered: int


def _round(r: Any) -> Round:
    return Round(id=r.id, number=r.number, question=r.question, answers=list(r.answers), points=r.points,
                 winners=r.winners, rooms=list(r.rooms), started_at=r.started_at, ends_at=r.ends_at)


def rounds_so_far(ledger: Ledger) -> int:
    with ledger.db.transaction() as conn:
        return int(conn.execute(select(func.count()).select_from(QR)).scalar_one())


def start(ledger: Ledger, *, key: str, number: int, question: str, answers: Sequence[str], points: int, winners: int,
          rooms: Sequence[str], at: datetime, ends_at: datetime) -> Round:
    with ledger.db.transaction() as conn:
        conn.execute(insert(QR).values(key=key, number=number, question=question,
                                       answers=list(answers), points=points,
                                       winners=winners, rooms=list(rooms),
                                       started_at=at, ends_at=ends_at, closed=False))
        return _round(conn.execute(select(QR).where(QR.c.key == key)).one())


def open_round(ledger: Ledger, room: str, at: datetime) -> Round | None:
    """The round taking answers in `room` at `at` (the newest, should two overlap)."""
    with ledger.db.transaction() as conn:
        q = (select(QR).where(QR.c.closed.is_(False), QR.c.started_at <= at, QR.c.ends_at > at)
             .order_by(QR.c.started_at.desc(), QR.c.id.desc()))
        for r in conn.execute(q).all():
            rnd = _round(r)
            if not rnd.rooms or room in rnd.rooms:
                return rnd
        return None


def answer(ledger: Ledger, rnd: Round, *, member: str, correct: bool, at: datetime, room: str | None) -> Answer:
    """Count `member`'s first answer; a right one within the first `winners` is paid (kind `quiz`)."""
    with ledger.db.transaction() as conn:
        lock = select(QR.c.id).where(QR.c.id == rnd.id)
        conn.execute(lock if ledger.db.sqlite else lock.with_for_update())  # winners counted one at a time
        if conn.execute(select(QA.c.correct).where(QA.c.round_id == rnd.id, QA.c.member_id == member)).first():
            return Answer(correct=False, place=None, entry=None, already=True)
        place = None
        if correct:
            paid = conn.execute(select(func.count()).select_from(QA)
                                .where(QA.c.round_id == rnd.id, QA.c.place.is_not(None))).scalar_one()
            place = int(paid) + 1 if paid < rnd.winners else None
        conn.execute(insert(QA).values(round_id=rnd.id, member_id=member, at=at, correct=correct, place=place))
        entry = None
        if place is not None:
            entry = ledger.award(member=member, points=rnd.points, kind=Kind.QUIZ, key=keys.quiz(rnd.id, member), at=at,
                                 room=room, detail=f"互动问答第{rnd.number}题 第{place}位答对")
        return Answer(correct=correct, place=place, entry=entry)


def close_due(ledger: Ledger, at: datetime) -> list[Result]:
    """Close every round whose window ended by `at`; what each one came to."""
    out = []
    with ledger.db.transaction() as conn:
        for r in conn.execute(select(QR).where(QR.c.closed.is_(False), QR.c.ends_at <= at).order_by(QR.c.id)).all():
            rnd = _round(r)
            conn.execute(update(QR).where(QR.c.id == rnd.id).values(closed=True))
            rows = conn.execute(select(QA.c.member_id, QA.c.correct, QA.c.place, M.c.name)
                                .select_from(QA.join(M, M.c.id == QA.c.member_id))
                                .where(QA.c.round_id == rnd.id)).all()
            winners = sorted(((x.member_id, x.name, int(x.place)) for x in rows if x.place is not None),
                             key=lambda w: w[2])
            out.append(Result(round=rnd, winners=winners, correct=sum(1 for x in rows if x.correct),
                              answered=len(rows)))
    return out
