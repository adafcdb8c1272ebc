"""The console's routes: login, 成员 (search, a member's page, 加分 / 扣分 / 撤销, reveal), 账本 (+ CSV), 操作日志; the other
screens' handlers live in their own modules (shop, places, announce, personal) and are mixed in or routed here.

Every page needs a signed session (SessionMiddleware: HttpOnly, SameSite=Lax, path /console); every POST
needs the session's CSRF token (form field `csrf` or header X-CSRF-Token); a viewer's POST is refused
(403). Changes go through the storage verbs the chat commands use, with the operator log row written
in the same transaction (actor: the console user).
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from loguru import logger
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from console import overview, personal, security
from console.announce import AnnouncePages, Announcer, Draft
from console.common import HEADERS, KIND_LABELS, Refused, as_day, as_int, mask
from console.places import GroupPages, RulesPages
from console.shop import Imports, ShopPages
from handlers.lib.levels import level_name
from storage import keys
from storage.accounts import Account
from storage.browse import LedgerFilter
from storage.errors import AlreadyReversed, InsufficientPoints, NoSuchEntry, NotUndoable
from storage.ledger import Entry
from storage.vocabulary import STATUS_LABELS, Kind, OrderStatus

HERE = Path(__file__).resolve().parent
PREFIX = "/console"
COOKIE = "qjf_console"
MAX_FORM_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 20 * 2**20
MAX_AMOUNT = 100_000  # as the chat's 加分 / 扣分
MAX_REASON = 100
PAGE = 50
MEMBER_PAGE = 20
FIGURES_SECONDS = 60.0  # 概览's figures are kept this long (the page says when they were computed)

ACTOR_LABELS = {"console": "后台", "chat": "群聊管理员", "cli": "命令行"}
ACTION_LABELS = {
    "award": "加分", "deduct": "扣分", "undo": "撤销", "reveal": "查看个人资料", "order_paid": "确认收款",
    "order_shipped": "发货", "order_done": "完成订单", "order_refunded": "退款", "code_recycled": "回收卡密",
    "listed": "上架", "unlisted": "下架", "restocked": "补货", "import_codes": "导入卡密",
    "import_balances": "迁入余额", "export_orders": "导出订单（含收货信息）",
    "freeze": "冻结", "unfreeze": "解冻", "announce": "公告", "reload": "重新加载配置",
    "export_personal": "导出个人数据", "erase_personal": "删除个人数据",
    "console_user_add": "新建后台账号", "console_user_passwd": "修改后台密码", "console_user_disable": "停用后台账号",
}
PROFILE_LABELS = {"phone": "手机号", "birthday": "生日", "city": "城市"}


class Console(ShopPages, GroupPages, RulesPages, AnnouncePages):
    """The console on one Storage; `routes()` is what bot.web.build_app takes. `announcer`: how 公告 are sent (none:
    the 公告 screen only lists them)."""

    def __init__(self, services: Any, settings: Any, now: Callable[[], datetime], *, secret: str,
                 throttle: security.Throttle | None = None, announcer: Announcer | None = None) -> None:
        self.st = services
        self.announcer = announcer
        self.drafts: dict[str, Draft] = {}
        self.settings = settings
        self.tz = settings.bot.tz
        self.now = now
        self.throttle = throttle or security.Throttle()
        self.figures_cache: dict[tuple[Any, ...], tuple[float, Any, datetime]] = {}
        self.figures_lock = asyncio.Lock()
        self.imports = Imports()
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(base=PREFIX, kind_label=lambda k: KIND_LABELS.get(k, k),
                                actor_label=lambda k: ACTOR_LABELS.get(k, k),
                                action_label=lambda k: ACTION_LABELS.get(k, k), local=self.local)
        inner = [
            Route("/", self.home, methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.view(self.logout, write=False), methods=["POST"]),
            Route("/overview", self.view(self.overview), methods=["GET"]),
            Route("/members", self.view(self.members), methods=["GET"]),
            Route("/members/{member:path}/reveal", self.view(self.reveal, write=False), methods=["POST"]),
            Route("/members/{member:path}/adjust", self.view(self.adjust, write=True), methods=["POST"]),
            *personal.routes_for(self),
            Route("/entries/{entry:int}/undo", self.view(self.undo, write=True), methods=["POST"]),
            Route("/members/{member:path}", self.view(self.member), methods=["GET"]),
            Route("/ledger", self.view(self.ledger), methods=["GET"]),
            Route("/ledger.csv", self.view(self.ledger_csv), methods=["GET"]),
            Route("/oplog", self.view(self.oplog), methods=["GET"]),
            Route("/mall", self.view(self.mall_page), methods=["GET"]),
            Route("/mall/{sku:path}/listing", self.view(self.listing, write=True), methods=["POST"]),
            Route("/mall/{sku:path}/restock", self.view(self.restock, write=True), methods=["POST"]),
            Route("/mall/imports/{job}", self.view(self.import_status), methods=["GET"]),
            Route("/mall/{sku:path}/codes", self.view(self.import_codes, write=True, upload=True), methods=["POST"]),
            Route("/orders", self.view(self.orders), methods=["GET"]),
            Route("/orders/courier.csv", self.view(self.courier_csv), methods=["GET"]),
            Route("/orders/ship-bulk", self.view(self.bulk_ship, write=True, upload=True), methods=["POST"]),
            Route("/orders/{order:int}/{action}", self.view(self.order_action, write=True), methods=["POST"]),
            Route("/groups", self.view(self.groups), methods=["GET"]),
            Route("/groups/{room:path}", self.view(self.group), methods=["GET"]),
            Route("/rules", self.view(self.rules), methods=["GET"]),
            Route("/rules/audit", self.view(self.audit, write=False), methods=["POST"]),
            Route("/announce", self.view(self.announce_page), methods=["GET"]),
            Route("/announce/preview", self.view(self.announce_preview, write=True), methods=["POST"]),
            Route("/announce/send", self.view(self.announce_send, write=True), methods=["POST"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ]
        hours = settings.console.session_hours
        self.app = Starlette(routes=inner, middleware=[Middleware(
            SessionMiddleware, secret_key=secret, session_cookie=COOKIE, max_age=hours * 3600, path=PREFIX,
            same_site="lax", https_only=False)])

    def routes(self) -> list[BaseRoute]:
        return [Mount(PREFIX, app=self.app), Route("/", lambda r: RedirectResponse(PREFIX + "/", 303))]

    # -- plumbing ------------------------------------------------------------------------------

    def local(self, at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return at.astimezone(self.tz).strftime(fmt) if at else ""

    def page(self, request: Request, template: str, status: int = 200, **data: Any) -> HTMLResponse:
        session = request.session
        if "csrf" not in session:
            session["csrf"] = security.new_token()
        flash = session.pop("flash", "")
        html = self.env.get_template(template).render(csrf=session["csrf"], user=data.pop("user", None),
                                                      flash=flash, nonce=security.new_token(), **data)
        return HTMLResponse(html, status, headers=HEADERS)

    def account(self, request: Request) -> Account | None:
        name = request.session.get("user")
        if not name:
            return None
        acc = self.st.accounts.get(name)
        # a disabled account, or a password changed since this login, ends the session
        if acc is None or acc.disabled or not security.same(request.session.get("pw"), security.fingerprint(acc.password_hash)):
            request.session.clear()
            return None
        return acc

    async def form(self, request: Request) -> dict[str, str]:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refused(413, "提交的内容太长")
        if request.headers.get("content-type", "").split(";")[0].strip() not in ("application/x-www-form-urlencoded", ""):
            raise Refused(415, "只接受表单提交")
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in fields.items()}

    def view(self, fn: Callable[..., Awaitable[Response]], *, write: bool = False,
             upload: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """`upload`: the POST may be multipart (a file; the whole body at most MAX_UPLOAD_BYTES, spooled to disk)."""
        async def run(request: Request) -> Response:
            user = self.account(request)
            if user is None:
                if request.method != "GET":
                    return self.error(request, None, Refused(401, "登录已过期，请重新登录"))
                return RedirectResponse(f"{PREFIX}/login?next={quote(request.url.path)}", 303)
            form: dict[str, Any] = {}
            parsed = None
            try:
                if request.method == "POST":
                    if upload and request.headers.get("content-type", "").startswith("multipart/form-data"):
                        size = as_int(request.headers.get("content-length"))
                        if size is None:
                            raise Refused(411, "上传需要 Content-Length：请用浏览器的表单上传")
                        if size > MAX_UPLOAD_BYTES:
                            raise Refused(413, f"文件太大：一次最多上传 {MAX_UPLOAD_BYTES // 2**20} MB，请分成几个文件")
                        parsed = await request.form(max_files=2, max_fields=20)
                        form = {k: v if isinstance(v, UploadFile) else str(v) for k, v in parsed.items()}
                    else:
                        form = await self.form(request)
                    token = form.get("csrf") or request.headers.get("x-csrf-token")
                    if not security.same(token, request.session.get("csrf")):
                        raise Refused(403, "页面已过期或来源不明（CSRF 校验失败）：请刷新页面后重试")
                    if write and user.role != "operator":
                        raise Refused(403, "只读账号（viewer）不能修改数据：请让管理员用有 operator 角色的账号操作")
                return await fn(request, user, form)
            except Refused as why:
                return self.error(request, user, why)
            finally:
                if parsed is not None:
                    await parsed.close()
        return run

    def error(self, request: Request, user: Account | None, why: Refused) -> HTMLResponse:
        return self.page(request, "error.html", why.status, user=user, message=why.message)

    # -- login ---------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/overview", 303)

    async def login_page(self, request: Request) -> Response:
        nxt = request.query_params.get("next", "")
        return self.page(request, "login.html", next=_safe_next(nxt), name="", message="")

    async def login(self, request: Request) -> Response:
        try:
            form = await self.form(request)
        except Refused as why:
            return self.error(request, None, why)
        name, password, nxt = form.get("name", "").strip(), form.get("password", ""), _safe_next(form.get("next", ""))
        if not security.same(form.get("csrf"), request.session.get("csrf")):
            return self.page(request, "login.html", 403, next=nxt, name=name, message="页面已过期，请重新输入后登录")
        address = request.client.host if request.client else ""
        wait = self.throttle.locked_for(name, address)
        if wait > 0:
            logger.warning("console: login of {} from {} refused, locked for {:.0f} s", name, address, wait)
            return self.page(request, "login.html", 429, next=nxt, name=name,
                             message=f"密码错误次数太多，请 {int(wait // 60) + 1} 分钟后再试")
        acc = self.st.accounts.get(name) if name else None
        ok = security.verify_password(acc.password_hash if acc else security.DUMMY_HASH, password)
        if not ok or acc is None or acc.disabled:
            self.throttle.failed(name, address)
            logger.warning("console: failed login as {!r} from {}", name, address)
            return self.page(request, "login.html", 401, next=nxt, name=name, message="用户名或密码不对")
        self.throttle.succeeded(name, address)
        request.session.clear()  # a new session: nothing of the one before the login is kept
        request.session.update(user=acc.name, pw=security.fingerprint(acc.password_hash), csrf=security.new_token(),
                               at=int(time.time()))
        logger.info("console: {} ({}) logged in from {}", acc.name, acc.role, address)
        return RedirectResponse(nxt or f"{PREFIX}/overview", 303)

    async def logout(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        request.session.clear()
        return RedirectResponse(f"{PREFIX}/login", 303)

    # -- 概览 ----------------------------------------------------------------------------------

    async def overview(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        now = self.now()
        try:
            start, end, key = overview.period(dict(request.query_params), now.astimezone(self.tz).date())
        except overview.BadPeriod as why:
            raise Refused(400, str(why)) from None
        report, computed = await self.figures(start, end)
        return self.page(request, "overview.html", user=user, **overview.context(report, key, computed))

    async def figures(self, start: date | None, end: date) -> tuple[Any, datetime]:
        """The period's figures, computed in a worker thread (on a big ledger they take seconds, and the console may
        share the bot's event loop: every group would wait), kept for FIGURES_SECONDS; one computation at a time
        for the same period, however many operators open the page."""
        key = (start, end, tuple(self.settings.bot.admins))
        async with self.figures_lock:
            hit = self.figures_cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < FIGURES_SECONDS:
                return hit[1], hit[2]
            computed = self.now()
            report = await asyncio.to_thread(self.st.figures.compute, start=start, end=end,
                                             staff=self.settings.bot.admins)
            self.figures_cache = {k: v for k, v in self.figures_cache.items()
                                  if time.monotonic() - v[0] < FIGURES_SECONDS}
            self.figures_cache[key] = (time.monotonic(), report, computed)
            return report, computed

    # -- 成员 ----------------------------------------------------------------------------------

    async def members(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        q = request.query_params.get("q", "").strip()[:64]
        found = self.st.browse.search_members(q) if q else []
        rows = [{"id": m.id, "name": m.name, "points": m.points, "growth": m.growth,
                 "level": level_name(self.settings, m.growth)} for m in found]
        if request.headers.get("hx-request"):
            return self.page(request, "_results.html", user=user, q=q, rows=rows)
        return self.page(request, "members.html", user=user, q=q, rows=rows)

    def member_data(self, request: Request, member: str, *, revealed: bool = False) -> dict[str, Any]:
        m = self.st.ledger.member(member)
        if m is None:
            raise Refused(404, f"没有成员 {member}：检查 ID，或在「成员」里按昵称搜索")
        before = as_int(request.query_params.get("before"))
        entries = self.st.browse.ledger_page(LedgerFilter(member=member), before=before, limit=MEMBER_PAGE)
        profile = self.st.profiles.get(member)
        fields = [{"label": PROFILE_LABELS.get(k, k), "value": v if revealed else mask(v)}
                  for k, v in (profile.data.items() if profile else [])]
        orders = [{"id": o.id, "item": o.name, "points": o.points, "at": self.local(o.created_at),
                   "status": STATUS_LABELS.get(OrderStatus(o.status), o.status)}
                  for o in self.st.mall.orders(member=member, limit=20, newest_first=True)]
        freezes = self.st.freezes
        frozen = freezes.is_frozen(member) if freezes is not None else False
        last = (freezes.history(member) or [None])[-1] if freezes is not None else None
        return {"m": m, "level": level_name(self.settings, m.growth), "rooms": self.st.browse.rooms_of(member),
                "orders": orders, "fields": fields, "revealed": revealed, "frozen": frozen,
                "freeze": last if frozen else None, **self.entry_rows(entries, MEMBER_PAGE)}

    def entry_rows(self, entries: list[Entry], size: int) -> dict[str, Any]:
        undone = self.st.browse.reversed_by([e.id for e in entries])
        rows = [{"e": e, "undone_by": undone.get(e.id), "undoable": e.kind in (Kind.ADMIN_AWARD, Kind.ADMIN_DEDUCT)
                 and e.id not in undone} for e in entries]
        return {"entries": rows, "next_before": entries[-1].id if len(entries) == size else None}

    async def member(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        member = request.path_params["member"]
        return self.page(request, "member.html", user=user, error="", **self.member_data(request, member))

    async def reveal(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        member = request.path_params["member"]
        reason = " ".join(form.get("reason", "").split())
        if not reason or len(reason) > MAX_REASON:
            data = self.member_data(request, member)
            return self.page(request, "member.html", 400, user=user,
                             error=f"查看个人资料需要写明理由（1–{MAX_REASON} 字）", **data)
        profile = self.st.profiles.get(member)
        with self.st.db.transaction():
            self.st.oplog.record(at=self.now(), actor_kind="console", actor=user.name, action="reveal", target=member,
                                 detail={"fields": sorted(profile.data) if profile else []}, reason=reason)
        data = self.member_data(request, member, revealed=True)
        return self.page(request, "member.html", user=user, error="", **data)

    async def adjust(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        member = request.path_params["member"]
        op = form.get("op", "")
        amount, reason, nonce = form.get("amount", "").strip(), " ".join(form.get("reason", "").split()), form.get("nonce", "")
        problem = ""
        if op not in ("award", "deduct"):
            problem = "请选择加分或扣分"
        elif not amount.isdecimal() or not 0 < int(amount) <= MAX_AMOUNT:
            problem = f"积分需要是 1 到 {MAX_AMOUNT} 的整数"
        elif not reason:
            problem = "请写上理由（成员和操作日志里都看得到）"
        elif len(reason) > MAX_REASON:
            problem = f"理由最多 {MAX_REASON} 个字"
        elif not 16 <= len(nonce) <= 64:
            problem = "表单已失效，请刷新页面后重试"
        if self.st.ledger.member(member) is None:
            raise Refused(404, f"没有成员 {member}")
        if problem:
            return self.page(request, "member.html", 400, user=user, error=problem, **self.member_data(request, member))
        points = int(amount)
        kind = Kind.ADMIN_AWARD if op == "award" else Kind.ADMIN_DEDUCT
        try:
            with self.st.db.transaction():
                key = keys.console(str(kind), nonce, member)
                if op == "award":
                    entry = self.st.ledger.award(member=member, points=points, kind=kind, key=key, at=self.now(),
                                                 detail=reason)
                else:
                    entry = self.st.ledger.spend(member=member, points=points, kind=kind, key=key, at=self.now(),
                                                 detail=reason)
                if entry is not None:
                    self.st.oplog.record(at=self.now(), actor_kind="console", actor=user.name, action=op,
                                         target=member, detail={"entry": entry.id, "points": points}, reason=reason)
        except InsufficientPoints as low:
            return self.page(request, "member.html", 400, user=user, error=f"余额只有 {low.points}，不够扣 {points}：没有扣分",
                             **self.member_data(request, member))
        finally:
            self.quiet_growth()
        word = "加" if op == "award" else "扣"
        request.session["flash"] = (f"已{word} {points} 积分（记录 #{entry.id}），余额 {entry.balance_after}"
                                    if entry else "这张表单已经提交过：没有重复操作")
        logger.info("console: {} {} {} points of {} (entry {})", user.name, op, points, member, entry.id if entry else "-")
        return RedirectResponse(f"{PREFIX}/members/{quote(member)}", 303)

    async def undo(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        entry_id = request.path_params["entry"]
        original = self.st.ledger.entry(entry_id)
        if original is None:
            raise Refused(404, f"没有记录 #{entry_id}")
        reason, nonce = " ".join(form.get("reason", "").split()), form.get("nonce", "")
        member = original.member
        problem = ""
        if not reason:
            problem = "撤销需要写明理由"
        elif len(reason) > MAX_REASON:
            problem = f"理由最多 {MAX_REASON} 个字"
        elif not 16 <= len(nonce) <= 64:
            problem = "表单已失效，请刷新页面后重试"
        if not problem:
            try:
                with self.st.db.transaction():
                    done = self.st.ledger.undo(entry=entry_id, key=keys.console("reversal", nonce, member),
                                               at=self.now(), detail=reason)
                    if not done.repeated:
                        self.st.oplog.record(at=self.now(), actor_kind="console", actor=user.name, action="undo",
                                             target=member, detail={"entry": entry_id, "reversal": done.reversal.id,
                                                                    "points": -original.delta}, reason=reason)
            except AlreadyReversed as err:
                problem = f"记录 #{entry_id} 已经撤销过（撤销记录 #{err.by}）"
            except NotUndoable:
                problem = f"记录 #{entry_id} 是「{KIND_LABELS.get(original.kind, original.kind)}」：这里只能撤销管理员加分和扣分"
            except InsufficientPoints as low:
                problem = f"成员余额只有 {low.points}，撤销要收回 {low.needed}：积分已经花掉了，先退款订单再撤销"
            except NoSuchEntry:
                raise Refused(404, f"没有记录 #{entry_id}") from None
            finally:
                self.quiet_growth()
        if problem:
            return self.page(request, "member.html", 400, user=user, error=problem, **self.member_data(request, member))
        request.session["flash"] = (f"已撤销记录 #{entry_id}（撤销记录 #{done.reversal.id}）" if not done.repeated
                                    else "这张表单已经提交过：没有重复撤销")
        return RedirectResponse(f"{PREFIX}/members/{quote(member)}", 303)

    def quiet_growth(self) -> None:
        """The console tells no chat: the growth its change noted for the level-up announcer is dropped here, or the
        bot's next event (in the same process) would announce it in whatever group that event came from."""
        self.st.growth.take()

    # -- 账本 ----------------------------------------------------------------------------------

    def ledger_filter(self, request: Request) -> tuple[LedgerFilter, dict[str, str]]:
        p = request.query_params
        raw = {k: p.get(k, "").strip() for k in ("kind", "member", "room", "since", "until")}
        since, until = as_day(raw["since"]), as_day(raw["until"])
        if (raw["since"] and since is None) or (raw["until"] and until is None):
            raise Refused(400, "日期请写成 2026-12-01 这样的格式")
        f = LedgerFilter(kind=raw["kind"] or None, member=raw["member"] or None, room=raw["room"] or None,
                         since=datetime.combine(since, datetime.min.time(), self.tz) if since else None,
                         until=datetime.combine(until + timedelta(days=1), datetime.min.time(), self.tz) if until else None)
        return f, raw

    async def ledger(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        f, raw = self.ledger_filter(request)
        entries = self.st.browse.ledger_page(f, before=as_int(request.query_params.get("before")), limit=PAGE)
        query = "&".join(f"{k}={quote(v)}" for k, v in raw.items() if v)
        return self.page(request, "ledger.html", user=user, raw=raw, query=query, kinds=KIND_LABELS,
                         **self.entry_rows(entries, PAGE))

    async def ledger_csv(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        f, _raw = self.ledger_filter(request)
        browse, local = self.st.browse, self.local

        async def rows() -> AsyncIterator[bytes]:
            out = io.StringIO()
            w = csv.writer(out)
            out.write("\ufeff")  # the BOM tells Excel it is UTF-8
            w.writerow(["记录号", "时间", "成员 ID", "积分变动", "成长值变动", "变动后余额", "类型", "说明", "群 ID",
                        "撤销的记录"])
            before = None
            while True:
                chunk = browse.ledger_page(f, before=before, limit=1000)
                for e in chunk:
                    w.writerow([e.id, local(e.at, "%Y-%m-%d %H:%M:%S"), e.member, e.delta, e.growth_delta,
                                e.balance_after, KIND_LABELS.get(e.kind, e.kind), e.detail, e.room or "", e.reverses or ""])
                yield out.getvalue().encode("utf-8")
                out.seek(0)
                out.truncate()
                if len(chunk) < 1000:
                    return
                before = chunk[-1].id

        name = f"ledger-{self.now().astimezone(self.tz):%Y%m%d-%H%M}.csv"
        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                                 headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})

    # -- 操作日志 --------------------------------------------------------------------------------

    async def oplog(self, request: Request, user: Account, form: dict[str, str]) -> Response:
        target = request.query_params.get("target", "").strip() or None
        ops = self.st.oplog.page(before=as_int(request.query_params.get("before")), limit=PAGE, target=target)
        return self.page(request, "oplog.html", user=user, ops=ops, target=target or "",
                         next_before=ops[-1].id if len(ops) == PAGE else None)


def _safe_next(nxt: str) -> str:
    """Only a path inside the console (never another site: //evil.example)."""
    return nxt if nxt.startswith(PREFIX + "/") and not nxt.startswith("//") and "\\" not in nxt else ""


__all__ = ["COOKIE", "PREFIX", "Console", "mask"]
