"""互动问答: the `quiz` job asks the next question; members answer with 答; the result follows when the window closes.

Only a member's first answer counts (right or wrong), so guessing every option wins nothing. The
first `winners` right answers, across every group the question went to, earn its points.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import Any

from pydantic import Field, model_validator

from bot.config import PosInt, PosMinutes, PosPoints, Section, Text, problem, section
from bot.dispatch import Context, Reply, command, job
from bot.errors import UsageError
from handlers.common import display_name, ledger
from storage import keys
from storage import quiz as store


class QuizQuestion(Section):
    question: Text
    answers: list[Text]  # any of them is right; compared without regard to case, width and spaces
    points: PosPoints = 5

    @model_validator(mode="after")
    def _some_answer(self) -> QuizQuestion:
        if not self.answers:
            raise problem("answers must list at least one right answer")
        return self


class QuizSettings(Section):
    winners: PosInt = 3  # the first this many right answers earn the points
    window_minutes: PosMinutes = 30  # answers count this long after the question; then the result is posted
    keywords: list[Text] = Field(default_factory=lambda: ["答", "回答"])  # members answer with "答 A"
    questions: list[QuizQuestion] = Field(default_factory=list)  # asked in turn, then from the top again


def _questions_for_schedule(settings: Any) -> None:
    for i, e in enumerate(settings.schedule):
        if e.job == "quiz" and (settings.quiz is None or not settings.quiz.questions):
            raise problem(f"schedule[{i}] asks quiz questions: add [quiz] and at least one [[quiz.questions]]")


section("quiz", QuizSettings, check=_questions_for_schedule)  # 互动问答; section left out: off


def _window(settings: Any) -> timedelta:
    return timedelta(minutes=settings.quiz.window_minutes if settings.quiz is not None else 30)


def same_answer(given: str, right: str) -> bool:
    """Equal but for case, full/half width and spaces ("Ａ" == "a", "上 海" == "上海")."""
    def norm(s: str) -> str:
        return "".join(unicodedata.normalize("NFKC", s).casefold().split())

    return norm(given) == norm(right) and norm(given) != ""


@job("quiz", then="quiz_close", after=_window)
async def ask(ctx: Context) -> Reply | None:
    """Post the next question in turn and open its answer window."""
    cfg = ctx.settings.quiz
    if cfg is None or not cfg.questions:
        return None
    entry = next((e for e in ctx.settings.schedule if e.id == ctx.event_id), None)
    number = store.rounds_so_far(ledger(ctx)) + 1
    q = cfg.questions[(number - 1) % len(cfg.questions)]
    ends = ctx.now + _window(ctx.settings)
    store.start(ledger(ctx), key=keys.quiz_round(ctx.event_id, ctx.now), number=number, question=q.question,
                answers=q.answers, points=q.points, winners=cfg.winners, rooms=entry.rooms if entry else (),
                at=ctx.now, ends_at=ends)
    return Reply("quiz/question", {"number": number, "question": q.question, "points": q.points,
                                   "winners": cfg.winners, "minutes": cfg.window_minutes,
                                   "keyword": cfg.keywords[0], "ends": ends.astimezone(ctx.settings.bot.tz)},
                 broadcast=True)


@job("quiz_close")
async def close(ctx: Context) -> list[Reply]:
    """Post the result of every round whose window has closed."""
    return [Reply("quiz/result", {"number": r.round.number, "question": r.round.question, "answers": r.round.answers,
                                  "points": r.round.points, "correct": r.correct, "answered": r.answered,
                                  "winners": [{"name": display_name(name), "place": place}
                                              for _member, name, place in r.winners]},
                  broadcast=True)
            for r in store.close_due(ledger(ctx), ctx.now)]


@command("答", aliases=("回答",), feature="quiz", where="group", config_aliases=lambda s: s.quiz.keywords, glue=True)
async def answer(ctx: Context, args: str) -> Reply | None:
    """回答互动问答，每人只有一次机会
    答 你的答案"""
    rnd = store.open_round(ledger(ctx), ctx.room or "", ctx.now)
    if rnd is None:
        return None if ctx.glued else ctx.reply("quiz/none")  # "答应你了" is chat, not an answer
    if not args.strip():
        raise UsageError("请写上你的答案", usage=f"{ctx.keyword} 你的答案")
    if ctx.is_admin:
        return ctx.reply("quiz/admin")
    correct = any(same_answer(args, a) for a in rnd.answers)
    if ctx.glued and not correct:
        # "答八点" counts when it is right; glued words that are wrong may be chat ("答应你了"), so they
        # neither use up the member's one answer nor get a reply
        return None
    res = store.answer(ledger(ctx), rnd, member=ctx.sender, correct=correct, at=ctx.now, room=ctx.room)
    return ctx.reply("quiz/answered", already=res.already, correct=res.correct, place=res.place, points=rnd.points,
                     winners=rnd.winners, balance=res.entry.balance_after if res.entry else None)
