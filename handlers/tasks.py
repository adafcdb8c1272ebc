"""Tier tasks (任务): invites, check-in days and streaks pay tiers once; reversals take tiers back.

Settlement, which check-in and invites call, is in handlers.lib.tasks.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from bot.config import PosInt, PosPoints, Section, Text, problem, section, unique_ids
from bot.dispatch import Context, Reply, command
from handlers.common import earns, ledger, live_streak
from handlers.lib.tasks import LABELS, VERBS, next_tier, tier_rows
from storage import invites as store


class Tier(Section):
    at: PosInt
    points: PosPoints


class TaskSettings(Section):
    id: Text
    name: Text
    metric: Literal["invites", "checkin_days", "checkin_streak"]
    tiers: list[Tier]

    @model_validator(mode="after")
    def _ascending(self) -> TaskSettings:
        if not self.tiers:
            raise problem("tiers must list at least one {at = N, points = P}")
        ats = [t.at for t in self.tiers]
        if ats != sorted(set(ats)):
            raise problem("tiers must be in ascending order of `at`, each `at` once")
        return self


def _unique(settings: Any) -> None:
    unique_ids("tasks", settings.tasks)


section("tasks", TaskSettings, many=True, check=_unique)


@command("任务", aliases=("我的任务",))
async def my_tasks(ctx: Context, args: str) -> Reply:
    """查看任务进度和下一档奖励

    Also pays any tier already reached but not yet paid (a task the operator added later), so what
    the list shows is what the member holds. A check-in streak is shown as it stands today (0 once
    a day was missed), while a streak tier, once paid, stays paid.
    """
    tasks = list(ctx.settings.tasks)
    if not tasks:
        return ctx.reply("tasks/list", tasks=[], fresh=[])
    fresh = (store.settle_tasks(ledger(ctx), member=ctx.sender, tasks=tasks, at=ctx.now, room=ctx.room)
             if earns(ctx, ctx.sender) else [])  # staff earn no task points unless bot.staff_earn
    m = ledger(ctx).member(ctx.sender)
    rows = []
    for p in store.task_progress(ledger(ctx), ctx.sender, tasks):
        value = p.value
        if p.task.metric == "checkin_streak":
            value = live_streak(m.last_checkin, m.checkin_streak, ctx) if m else 0
        label, unit = LABELS[p.task.metric]
        rows.append({"name": p.task.name, "label": label, "unit": unit, "value": value, "verb": VERBS[p.task.metric],
                     "done": len(p.done), "total": len(p.task.tiers), "next": next_tier(p.task, value, p.done)})
    return ctx.reply("tasks/list", tasks=rows, fresh=tier_rows(fresh))
