"""The console's 群 screens (the groups served, their members, who checked in lately) and 规则 (the settings in force as
the bot reads them, the next scheduled runs, the ledger audit on demand). Both only read."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from starlette.requests import Request
from starlette.responses import Response

from bot.clock import quiet_window
from bot.dispatch import REGISTRY
from bot.scheduler import Schedule, follow_ups, standing_jobs
from console.common import Refused
from storage.accounts import Account

AUDITING = threading.Lock()  # one audit at a time in this process
ROOM_PAGE = 50
ACTIVE_DAYS = 7
JOB_NAMES = {"checkin_reminder": "签到提醒", "leaderboard": "排行榜", "campaign": "活动播报", "mall_highlights": "商城上新",
             "mall_expire": "取消超时未付订单", "quiz": "答题", "quiz_close": "答题揭晓", "weekly_report": "周报",
             "expire_points": "积分过期"}
SECTION_NAMES = {"checkin": "签到", "invite": "邀请", "newcomer": "新人礼", "mall": "商城", "quiz": "答题"}
FIELD_NAMES = {"multiplier": "倍数", "points": "积分"}
PERIODS = {"all": "总积分", "week": "本周", "month": "本月"}
METRICS = {"invites": "邀请人数", "checkin_days": "累计签到天数"}
POLICIES = {"none": "不过期", "rolling": "获得后按天数过期", "year_end": "次年年底过期"}


def yes(v: Any) -> str:
    return "是" if v else "否"


class GroupPages:
    st: Any
    settings: Any
    now: Callable[[], datetime]
    page: Callable[..., Response]

    async def groups(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        today = self.now().astimezone(self.settings.bot.tz).date()
        since = today - timedelta(days=ACTIVE_DAYS - 1)
        rooms = self.st.browse.rooms_summary(since, today)
        served = set(self.settings.bot.rooms)
        return self.page(request, "groups.html", user=user, rooms=rooms, since=since, days=ACTIVE_DAYS,
                         served=served)

    async def group(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        room = request.path_params["room"]
        row = self.st.browse.room(room)
        if row is None:
            raise Refused(404, f"没有群 {room}：机器人没见过这个群")
        after = request.query_params.get("after") or None
        members = self.st.browse.room_members(room, after=after, limit=ROOM_PAGE)
        return self.page(request, "group.html", user=user, room=row, members=members,
                         next_after=members[-1].member if len(members) == ROOM_PAGE else None)


class RulesPages:
    st: Any
    settings: Any
    now: Callable[[], datetime]
    page: Callable[..., Response]
    local: Callable[..., str]

    def schedule(self) -> Schedule:
        """The schedule as run_bot.build makes it (entries, their follow-ups, standing jobs, quiet hours)."""
        s = self.settings
        return Schedule([*s.schedule, *follow_ups(s.schedule, REGISTRY.followups, s),
                         *standing_jobs(REGISTRY.standing, s)], s.bot.tz,
                        quiet=quiet_window(s.outbox.quiet_hours), deferred=REGISTRY.posts)

    def next_runs(self, per_entry: int = 3, days: int = 35) -> list[dict[str, Any]]:
        now = self.now()
        sched = self.schedule()
        runs: dict[str, list[str]] = {}
        for due in sched.due_between(now, now + timedelta(days=days)):
            got = runs.setdefault(due.job_id, [])
            if len(got) < per_entry:
                at = due.run_at or due.due
                got.append(self.local(at) + ("（免打扰时段后）" if due.run_at else ""))
        out = []
        for e in sched.entries:
            rooms = "、".join(getattr(e, "rooms", ())) or "所有群"
            name = JOB_NAMES.get(e.job, e.job)
            if e.job == "leaderboard":
                name += f"（{PERIODS.get(getattr(e, 'period', 'all'), '')}）"
            out.append({"id": e.id, "job": name, "cron": e.cron, "rooms": rooms, "next": runs.get(e.id, [])})
        return out

    def sections(self) -> list[dict[str, Any]]:
        s = self.settings
        out: list[dict[str, Any]] = []
        c = getattr(s, "checkin", None)
        if c is not None:
            rows = [("每日签到", f"{c.points} 积分" + (f" × {c.multiplier}" if c.multiplier != 1 else "")),
                    ("签到口令", "、".join(c.keywords)), ("只在群里签到", yes(c.group_only))]
            rows += [(b.name or f"连续 {b.days} 天", f"连续 {b.days} 天 +{b.bonus}") for b in c.consecutive]
            rows += [(b.name or f"累计 {b.days} 天", f"累计 {b.days} 天 +{b.bonus}") for b in c.cumulative]
            if c.makeup is not None:
                rows.append(("补签", f"每次 {c.makeup.cost} 积分，每月最多 {c.makeup.max_per_month} 次，"
                                     f"{c.makeup.within_days} 天内"))
            out.append({"title": "签到", "rows": rows})
        extra = []
        for name, label in (("invite", "邀请"), ("newcomer", "新人礼"), ("profile", "完善资料"), ("follow", "关注")):
            sec = getattr(s, name, None)
            if sec is not None:
                extra.append((label, f"{sec.points} 积分"))
        if extra:
            out.append({"title": "其他奖励", "rows": extra})
        camps = getattr(s, "campaigns", None) or []
        if camps:
            rows = []
            for cp in camps:
                base = {"id", "name", "starts", "ends", "description", "warmup_hours", "closing_hours"}
                over = {k: v for k, v in cp.model_dump(exclude=base).items() if v}
                shown = "；".join(f"{SECTION_NAMES.get(k, k)}：" + "，".join(f"{FIELD_NAMES.get(f, f)} {x}" for f, x in v.items())
                                 if isinstance(v, dict) else f"{k}: {v}" for k, v in over.items())
                rows.append((cp.name, f"{self.local(cp.starts)} 至 {self.local(cp.ends)}" + (f"（{shown}）" if shown else "")))
            out.append({"title": "活动", "rows": rows})
        tasks = getattr(s, "tasks", None) or []
        if tasks:
            out.append({"title": "任务", "rows": [
                (t.name, f"{METRICS.get(t.metric, t.metric)}：" + "、".join(f"满 {x.at} 得 {x.points}" for x in t.tiers))
                for t in tasks]})
        levels = getattr(s, "levels", None) or []
        if levels:
            out.append({"title": "等级", "rows": [
                (lv.name, f"成长值 {lv.growth} 起；签到 × {lv.checkin_multiplier}；商城 {lv.mall_discount * 10:g} 折"
                 if lv.mall_discount != 1 else f"成长值 {lv.growth} 起；签到 × {lv.checkin_multiplier}") for lv in levels]})
        ex = getattr(s, "expiry", None)
        if ex is not None:
            rows = [("过期方式", POLICIES.get(ex.policy, ex.policy))]
            if ex.policy != "none":
                rows += [("有效天数", str(ex.days)), ("提前提醒", f"{ex.warn_days} 天"), ("每天运行", ex.run_at)]
            out.append({"title": "积分过期", "rows": rows})
        m = getattr(s, "mall", None)
        if m is not None:
            out.append({"title": "商城", "rows": [
                ("商品数", str(len(m.items))), ("兑换前确认", f"超过 {m.confirm_above} 积分时，{m.confirm_minutes} 分钟内确认"),
                ("填写地址", f"{m.address_minutes} 分钟内"), ("现金付款期限", f"{m.pay_within_hours} 小时"),
                ("付款说明", m.pay_note)]})
        out.append({"title": "免打扰", "rows": [("时段", s.outbox.quiet_hours or "无")]})
        return out

    async def rules(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        return self.page(request, "rules.html", user=user, sections=self.sections(), runs=self.next_runs(),
                         audited=False, problems=[], audited_at="")

    async def audit(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        """The whole ledger audit (a minute on 5M ledger rows): in a worker thread, so the bot's loop, which may serve
        this console, goes on; one at a time (a second click while one runs is told to wait)."""
        if not AUDITING.acquire(blocking=False):
            raise Refused(429, "账本核对正在进行（大数据库要一分钟左右）：请稍后刷新规则页再点")
        try:
            t0 = time.monotonic()
            problems = await asyncio.to_thread(self.st.ledger.audit)
            logger.info("console: {} ran the audit: {} problem(s) in {:.1f} s", user.name, len(problems),
                        time.monotonic() - t0)
        finally:
            AUDITING.release()
        return self.page(request, "rules.html", user=user, sections=self.sections(), runs=self.next_runs(),
                         audited=True, problems=problems, audited_at=self.local(self.now()))
