"""The console's 商城 (items: 上架 / 下架 / 补货, card-code upload) and 订单 (by status: 收款 / 发货 / 完成 / 退款, bulk
发货, the courier export) screens.

Every change goes through the storage verbs the chat's admin commands use (storage.mall) and writes its operator-log
row in the same transaction (actor_kind "console"). Addresses are shown to operators only, on the order pages; the
courier export (operators only) is logged before its first byte is sent, as `orders --csv` is on the CLI.
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from loguru import logger
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from console.common import HEADERS, Refused, as_int, mask, one_line
from storage.accounts import Account
from storage.errors import MallRefusal, NoSuchOrder, WrongStatus
from storage.mall import DIGITAL, ItemView, read_codes
from storage.vocabulary import LIVE, STATUS_LABELS, OrderMove, OrderStatus

PREFIX = "/console"
MAX_RESTOCK = 100_000  # as the chat's 补货
TRACKING_MAX = 40  # as the chat's 发货
REASON_MAX = 100
ORDER_PAGE = 50
BULK_MAX_LINES = 2000
KIND_NAMES = {"physical": "实物", "red_packet": "红包", "card_code": "卡密", "link": "链接", "coupon": "优惠券"}
TABS = (OrderStatus.PENDING, OrderStatus.UNPAID, OrderStatus.ADDRESS, OrderStatus.SHIPPED, OrderStatus.DONE,
        OrderStatus.REFUNDED, OrderStatus.CANCELLED, OrderStatus.EXPIRED)
ACTIONS = {"paid": "收款", "ship": "发货", "done": "完成", "refund": "退款"}


@dataclass
class CodeImport:
    """A card-code file being imported in a worker thread: what its page shows while it runs and after."""

    id: str
    sku: str
    name: str
    file: str
    user: str
    total: int  # codes in the file (blank lines aside), counted before the import starts
    started: datetime
    done: int = 0  # codes handled so far (added or skipped)
    added: int = 0
    dupes: int = 0
    state: str = "running"  # running | done | failed
    error: str = ""

    def percent(self, state: str) -> int:
        return 100 if state != "running" else min(99, self.done * 100 // max(1, self.total))


class Imports:
    """The latest imports by id (this process's memory: a page to follow, not a record; the operator log is that)."""

    KEEP = 50

    def __init__(self) -> None:
        self._jobs: dict[str, CodeImport] = {}

    def add(self, job: CodeImport) -> None:
        self._jobs[job.id] = job
        while len(self._jobs) > self.KEEP:
            self._jobs.pop(next(iter(self._jobs)))

    def get(self, job: str) -> CodeImport | None:
        return self._jobs.get(job)


@dataclass(frozen=True)
class BadLine:
    number: int
    text: str
    why: str


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}" if fen % 100 else str(fen // 100)


def bulk_fields(text: str) -> list[tuple[int, str, str, str]]:
    """(line number, line, 单号, 快递单号) of each non-blank line. Either the courier export filled in (a CSV whose
    header names 单号, 快递单号 and more: those two columns, rows still without a 快递单号 skipped), or
    「单号,快递单号」 lines (a comma, a full-width comma, a tab or spaces between; a first line starting 单号 is a
    header)."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines:
        return []
    header = [h.strip() for h in next(csv.reader([lines[0]]))]
    out: list[tuple[int, str, str, str]] = []
    if "单号" in header and "快递单号" in header and len(header) > 2:
        i, j = header.index("单号"), header.index("快递单号")
        for n, row in enumerate(csv.reader(lines[1:]), 2):
            tracking = " ".join(row[j].split()) if j < len(row) else ""
            if tracking:  # a row left without its 快递单号 is an order not shipped yet: left alone
                out.append((n, lines[n - 1], row[i].strip() if i < len(row) else "", tracking))
        return out
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.replace("，", ",").replace("\t", ",").split(",", 1)]
        if len(parts) == 1:
            parts = [*line.split(None, 1), ""]
        if n == 1 and parts[0] in ("单号", "订单号"):
            continue
        out.append((n, raw, parts[0], " ".join(parts[1].split())))
    return out


def parse_bulk(text: str) -> tuple[list[tuple[int, int, str]], list[BadLine]]:
    """The lines of a bulk 发货 as (line number, order, tracking), and what is wrong with the others (an order's
    state is checked later, against the database)."""
    good: list[tuple[int, int, str]] = []
    bad: list[BadLine] = []
    seen: dict[int, int] = {}
    for n, raw, number, tracking in bulk_fields(text):
        if not number.isdecimal() or len(number) > 9:
            bad.append(BadLine(n, raw, "单号应当是数字"))
        elif not tracking:
            bad.append(BadLine(n, raw, "缺少快递单号"))
        elif len(tracking) > TRACKING_MAX:
            bad.append(BadLine(n, raw, f"快递单号最多 {TRACKING_MAX} 个字符"))
        elif int(number) in seen:
            bad.append(BadLine(n, raw, f"单号 {int(number)} 和第 {seen[int(number)]} 行重复"))
        else:
            seen[int(number)] = n
            good.append((n, int(number), tracking))
    return good, bad


def text_of(form: dict[str, Any], field: str, limit: int) -> str:
    """A textarea, or an uploaded text file in `field`_file when one was chosen (UTF-8, BOM or not)."""
    up = form.get(field + "_file")
    if isinstance(up, UploadFile) and up.filename:
        data = up.file.read(limit + 1)
        if len(data) > limit:
            raise Refused(413, f"文件太大：最多 {limit // 1024} KB")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Refused(400, "文件不是 UTF-8 编码的文本：用记事本或 Excel「另存为 UTF-8」后再上传") from None
    value = form.get(field, "")
    return value if isinstance(value, str) else ""


class ShopPages:
    """Routes of 商城 and 订单; mixed into console.app.Console (which provides st, settings, now, page, local, tz)."""

    st: Any
    settings: Any
    now: Callable[[], datetime]
    page: Callable[..., Response]
    local: Callable[..., str]
    quiet_growth: Callable[[], None]
    imports: Imports

    def log(self, user: Account, action: str, target: str, detail: dict[str, Any], reason: str = "") -> None:
        self.st.oplog.record(at=self.now(), actor_kind="console", actor=user.name, action=action, target=target,
                             detail=detail, reason=reason)

    # -- 商城 ----------------------------------------------------------------------------------

    def item_rows(self) -> list[dict[str, Any]]:
        now = self.now()
        rows = []
        for it in self.st.mall.items():
            off = it.unavailable(now)
            window = ""
            if it.starts or it.ends:
                window = f"{self.local(it.starts) or '…'} 至 {self.local(it.ends) or '…'}"
            status = {None: "在售", "off": "已下架", "not_yet": "未开始", "ended": "已结束"}.get(
                str(off) if off is not None else None, str(off))
            rows.append({"it": it, "kind": KIND_NAMES.get(it.kind, it.kind),
                         "price": f"{it.points} 积分" + (f" + {yuan(it.cash)} 元" if it.cash else ""),
                         "stock": "不限" if it.stock is None else str(it.stock),
                         "status": status, "window": window, "coded": it.kind == "card_code",
                         "restockable": it.kind != "card_code" and it.stock is not None})
        return rows

    async def mall_page(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        return self.page(request, "mall.html", user=user, rows=self.item_rows(), error="")

    def mall_error(self, request: Request, user: Account, message: str, status: int = 400) -> Response:
        return self.page(request, "mall.html", status, user=user, rows=self.item_rows(), error=message)

    def item_of(self, request: Request) -> ItemView:
        it = self.st.mall.item(request.path_params["sku"])
        if it is None or not it.in_config:
            raise Refused(404, f"没有商品 {request.path_params['sku']}：商品在 config.toml 的 [[mall.items]] 里配置")
        return it

    async def listing(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        it = self.item_of(request)
        op = form.get("op", "")
        if op not in ("list", "unlist"):
            return self.mall_error(request, user, "请选择上架或下架")
        reason = one_line(str(form.get("reason", "")))
        if len(reason) > REASON_MAX:
            return self.mall_error(request, user, f"理由最多 {REASON_MAX} 个字")
        listed = op == "list"
        with self.st.db.transaction():
            self.st.mall.set_listed(it.sku, listed)
            self.log(user, "listed" if listed else "unlisted", f"sku:{it.sku}", {}, reason)
        request.session["flash"] = f"「{it.name}」已{'上架' if listed else '下架'}"
        logger.info("console: {} {} {}", user.name, "listed" if listed else "unlisted", it.sku)
        return RedirectResponse(f"{PREFIX}/mall", 303)

    async def restock(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        it = self.item_of(request)
        count, reason = str(form.get("count", "")).strip(), one_line(str(form.get("reason", "")))
        if it.kind == "card_code":
            return self.mall_error(request, user, f"「{it.name}」是卡密商品：请上传卡密文件来补货")
        if it.stock is None:
            return self.mall_error(request, user, f"「{it.name}」库存不限，不需要补货")
        if not count.isdecimal() or len(count) > 9 or not 0 < int(count) <= MAX_RESTOCK:
            return self.mall_error(request, user, f"补货数量需要是 1 到 {MAX_RESTOCK} 的整数")
        if not reason or len(reason) > REASON_MAX:
            return self.mall_error(request, user, f"补货需要写明理由（1–{REASON_MAX} 字）")
        with self.st.db.transaction():
            after = self.st.mall.restock(it.sku, int(count))
            self.log(user, "restocked", f"sku:{it.sku}", {"added": int(count)}, reason)
        request.session["flash"] = f"「{it.name}」补货 {count} 件，现有库存 {after.stock}"
        return RedirectResponse(f"{PREFIX}/mall", 303)

    async def import_codes(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        """Check the file (UTF-8 throughout, codes counted) and start its import in a worker thread; the operator
        follows it on the job's page. Bad input is refused before anything is written."""
        it = self.item_of(request)
        up = form.get("codes")
        if it.kind != "card_code":
            return self.mall_error(request, user, f"「{it.name}」不是卡密商品：实物等商品用「补货」")
        if not isinstance(up, UploadFile) or not up.filename:
            return self.mall_error(request, user, "请选择卡密文件（每行一个卡密，或带 code 列的 CSV）")
        data = await up.read()  # at most the upload cap (console.app.MAX_UPLOAD_BYTES), spooled by Starlette
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return self.mall_error(request, user, "文件不是 UTF-8 编码的文本：另存为 UTF-8 后再上传，没有导入任何卡密")
        del data
        total = sum(1 for _ in read_codes(io.StringIO(text, newline="")))
        if not total:
            return self.mall_error(request, user, f"「{up.filename}」里没有卡密：每行一个卡密，或带 code 列的 CSV")
        job = CodeImport(id=secrets.token_urlsafe(9), sku=it.sku, name=it.name, file=up.filename[:100], user=user.name,
                         total=total, started=self.now())
        self.imports.add(job)
        threading.Thread(target=self.run_import, args=(job, text, user), name=f"import-codes-{it.sku}",
                         daemon=True).start()
        logger.info("console: {} started importing {} codes for {} ({})", user.name, total, it.sku, job.id)
        return RedirectResponse(f"{PREFIX}/mall/imports/{job.id}", 303)

    def run_import(self, job: CodeImport, text: str, user: Account) -> None:
        """The import itself, off the event loop: chunks of 500 codes, each its own transaction (storage.mall), so a
        bot writing beside it waits for one chunk at most, never for the whole file; the operator log's row when
        it ends, with what was added (also when it stopped early: the chunks before stand, and running the
        same file again adds only what is missing)."""
        def advanced(n: int) -> None:
            job.done += n

        state, error = "done", ""
        try:
            job.added, job.dupes = self.st.mall.import_codes(job.sku, read_codes(io.StringIO(text, newline="")),
                                                             job.started, progress=advanced)
        except Exception as exc:  # the operator reads it on the job page; the log has the trace
            logger.exception("console: importing codes for {} ({}) stopped", job.sku, job.id)
            job.added = self.st.mall.codes_imported_at(job.sku, job.started)
            state, error = "failed", f"导入中断：{type(exc).__name__}"
        detail: dict[str, Any] = {"added": job.added, "skipped": job.dupes, "file": job.file}
        if error:
            detail["stopped"] = error
        self.log(user, "import_codes", f"sku:{job.sku}", detail)
        job.error, job.state = error, state  # last: the job's page shows the end once the log has its row
        logger.info("console: {} imported {} codes for {} ({} duplicates, {})", job.user, job.added, job.sku,
                    job.dupes, state)

    async def import_status(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        job = self.imports.get(request.path_params["job"])
        if job is None:
            raise Refused(404, "没有这个导入任务（控制台重启后，进行中的任务不再显示：到商城页看现有库存）")
        state = job.state  # read once: the worker thread may end the job while this page is drawn
        left = self.st.mall.item(job.sku) if state != "running" else None
        data = {"user": user, "job": job, "state": state, "stock": left.stock if left else None,
                "started": self.local(job.started, "%H:%M:%S")}
        if request.query_params.get("part"):
            return self.page(request, "_import.html", **data)
        return self.page(request, "import.html", **data)

    # -- 订单 ----------------------------------------------------------------------------------

    def order_rows(self, rows: list[Any], reveal: bool) -> list[dict[str, Any]]:
        out = []
        for r in rows:
            show = (lambda v: v) if reveal else mask
            out.append({"id": r.id, "member": r.member_id, "member_name": r.member_name or "", "item": r.name,
                        "kind": r.kind, "points": r.points, "cash": yuan(r.cash) if r.cash else "",
                        "status": r.status, "status_label": STATUS_LABELS.get(OrderStatus(r.status), r.status),
                        "at": self.local(r.created_at), "tracking": r.tracking, "note": r.note,
                        "recipient": show(r.recipient) if r.recipient else "",
                        "phone": show(r.phone) if r.phone else "", "address": show(r.address) if r.address else "",
                        "physical": r.kind == "physical", "live": r.status in LIVE})
        return out

    def orders_data(self, request: Request, user: Account) -> dict[str, Any]:
        status = request.query_params.get("status", OrderStatus.PENDING)
        if status != "all" and status not in {str(s) for s in OrderStatus}:
            raise Refused(400, "没有这个订单状态：从上面的标签里选")
        before = as_int(request.query_params.get("before"))
        rows = self.st.browse.orders_page([] if status == "all" else [status], before=before, limit=ORDER_PAGE)
        counts = self.st.browse.order_counts()
        tabs = [{"key": str(s), "label": STATUS_LABELS[s], "n": counts.get(str(s), 0)} for s in TABS]
        tabs.append({"key": "all", "label": "全部", "n": sum(counts.values())})
        return {"tab": status, "tabs": tabs, "orders": self.order_rows(rows, user.role == "operator"),
                "next_before": rows[-1].id if len(rows) == ORDER_PAGE else None,
                "operator": user.role == "operator", "bad": [], "bulk": "", "error": ""}

    async def orders(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        return self.page(request, "orders.html", user=user, **self.orders_data(request, user))

    def back_to(self, form: dict[str, Any]) -> str:
        status = str(form.get("back", ""))
        return f"{PREFIX}/orders" + (f"?status={quote(status)}" if status in {str(s) for s in OrderStatus} | {"all"} else "")

    async def order_action(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        order_id, action = request.path_params["order"], request.path_params["action"]
        if action not in ACTIONS:
            raise Refused(404, "没有这个操作")
        o = self.st.mall.order(order_id)
        if o is None:
            raise Refused(404, f"没有单号 {order_id} 的订单")
        now = self.now()
        tracking = " ".join(str(form.get("tracking", "")).split())
        reason = one_line(str(form.get("reason", "")))
        problem = ""
        if action == "ship" and o.kind != "physical":
            problem = f"单号 {o.id} 不是实物订单，不用发货：办妥后点「完成」"
        elif action == "ship" and len(tracking) > TRACKING_MAX:
            problem = f"快递单号最多 {TRACKING_MAX} 个字符"
        elif action == "refund" and (not reason or len(reason) > REASON_MAX):
            problem = f"退款需要写明理由（1–{REASON_MAX} 字，成员会看到）"
        if problem:
            return self.order_error(request, user, problem)
        word = ACTIONS[action]
        try:
            with self.st.db.transaction():
                if action == "paid":
                    nxt = OrderStatus.DONE if o.kind in DIGITAL else OrderStatus.PENDING
                    done = self.st.mall.move(order=o.id, move=OrderMove.PAY, status=nxt, at=now, paid_at=now,
                                             pay_by=None)
                    self.log(user, "order_paid", f"order:{o.id}", {"member": o.member})
                elif action == "ship":
                    done = self.st.mall.move(order=o.id, move=OrderMove.SHIP, status=OrderStatus.SHIPPED, at=now,
                                             tracking=tracking)
                    self.log(user, "order_shipped", f"order:{o.id}", {"member": o.member, "tracking": tracking})
                elif action == "done":
                    done = self.st.mall.move(order=o.id, move=OrderMove.COMPLETE, status=OrderStatus.DONE, at=now)
                    self.log(user, "order_done", f"order:{o.id}", {"member": o.member})
                else:
                    done = self.st.mall.refund(order=o.id, at=now, move=OrderMove.REFUND, reason=reason)
                    self.log(user, "order_refunded", f"order:{o.id}", {"member": o.member, "points": o.points},
                             reason)
                    pending = self.st.conversations.pending("", o.member, now)
                    if pending is not None and pending.kind == "mall_address" and int(pending.data.get("order", 0)) == o.id:
                        self.st.conversations.clear_pending("", o.member)
        except WrongStatus as err:
            label = STATUS_LABELS.get(OrderStatus(err.status), err.status) if err.status in set(OrderStatus) else err.status
            return self.order_error(request, user, f"单号 {o.id} 现在是「{label}」，不能{word}：没有修改")
        except MallRefusal:
            return self.order_error(request, user, f"单号 {o.id} 不能{word}：没有修改")
        finally:
            self.quiet_growth()
        request.session["flash"] = f"单号 {o.id}：已{word}（{STATUS_LABELS.get(OrderStatus(done.status), done.status)}）"
        logger.info("console: {} {} order {}", user.name, action, o.id)
        return RedirectResponse(self.back_to(form), 303)

    def order_error(self, request: Request, user: Account, message: str, **extra: Any) -> Response:
        data = self.orders_data(request, user)
        data.update(error=message, **extra)
        return self.page(request, "orders.html", 400, user=user, **data)

    async def bulk_ship(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        """Bulk 发货: every line is checked first; one bad line and nothing is applied (the list says which and why),
        else all of them ship in one transaction, each logged."""
        text = text_of(form, "lines", 256 * 1024)
        good, bad = parse_bulk(text)
        if len(good) + len(bad) > BULK_MAX_LINES:
            return self.order_error(request, user, f"一次最多 {BULK_MAX_LINES} 行，请分批提交", bulk=text[:20000])
        if not good and not bad:
            return self.order_error(request, user, "请粘贴或上传「单号,快递单号」，每行一单", bulk=text)
        found = {o.id: o for o in self.st.mall.orders_by_id([n for _, n, _ in good])}
        lines = text.lstrip("\ufeff").splitlines()
        for line, number, _tracking in good:
            o = found.get(number)
            raw = lines[line - 1]
            if o is None:
                bad.append(BadLine(line, raw, f"没有单号 {number} 的订单"))
            elif o.kind != "physical":
                bad.append(BadLine(line, raw, f"单号 {number} 不是实物订单"))
            elif o.status != OrderStatus.PENDING:
                bad.append(BadLine(line, raw, f"单号 {number} 现在是「{STATUS_LABELS.get(OrderStatus(o.status), o.status)}」，"
                                              "只有「待处理」的订单能发货"))
        if bad:
            bad.sort(key=lambda b: b.number)
            return self.order_error(request, user, f"有 {len(bad)} 行不对，全部没有发货：改好后重新提交", bad=bad,
                                    bulk=text)
        now = self.now()
        try:
            with self.st.db.transaction():
                for _line, number, tracking in good:
                    o = self.st.mall.move(order=number, move=OrderMove.SHIP, status=OrderStatus.SHIPPED, at=now,
                                          tracking=tracking)
                    self.log(user, "order_shipped", f"order:{o.id}", {"member": o.member, "tracking": tracking,
                                                                       "bulk": len(good)})
        except (WrongStatus, NoSuchOrder) as err:  # changed between the check and now: nothing was applied
            return self.order_error(request, user, f"单号 {err.order} 刚刚被改过，全部没有发货：请刷新后重新提交",
                                    bulk=text)
        request.session["flash"] = f"已发货 {len(good)} 单"
        logger.info("console: {} shipped {} orders in bulk", user.name, len(good))
        return RedirectResponse(f"{PREFIX}/orders?status=shipped", 303)

    async def courier_csv(self, request: Request, user: Account, form: dict[str, Any]) -> Response:
        """Physical orders waiting to ship, with recipient, phone and address: operators only, logged first."""
        if user.role != "operator":
            raise Refused(403, "快递单导出含收货人、电话和地址，只有 operator 账号能导出")
        count = self.st.browse.count_orders(OrderStatus.PENDING, "physical")
        name = f"courier-{self.now().astimezone(self.settings.bot.tz):%Y%m%d-%H%M}.csv"
        with self.st.db.transaction():
            self.log(user, "export_orders", "", {"orders": count, "file": name, "status": STATUS_LABELS[OrderStatus.PENDING]})
        browse, local = self.st.browse, self.local

        async def rows() -> AsyncIterator[bytes]:
            out = io.StringIO()
            w = csv.writer(out)
            out.write("\ufeff")
            w.writerow(["单号", "下单时间", "成员 ID", "昵称", "商品", "收件人", "电话", "地址", "快递单号"])
            before = None
            while True:
                chunk = browse.orders_page([OrderStatus.PENDING], before=before, limit=500)
                for r in chunk:
                    if r.kind == "physical":
                        w.writerow([r.id, local(r.created_at), r.member_id, r.member_name or "", r.name, r.recipient,
                                    r.phone, r.address, ""])
                yield out.getvalue().encode("utf-8")
                out.seek(0)
                out.truncate()
                if len(chunk) < 500:
                    return
                before = chunk[-1].id

        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                                 headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})
