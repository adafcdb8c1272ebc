"""The points mall's storage: catalogue sync by sku, card codes, orders; a redemption or refund is one transaction.

Stock is taken by a guarded `UPDATE ... SET stock = stock - 1 WHERE stock > 0` with a row-count check,
after the member's row is locked (SQLite: the transaction began IMMEDIATE, so it already holds the
write lock; PostgreSQL: SELECT ... FOR UPDATE on the member and the item). A card code is reserved
by a guarded update of its `order_id`. Points move only through Ledger.spend (kind `redeem`, key
`order.key`) and Ledger.reverse (kind `refund`, key `order.key:refund`), so a refund returns exactly
what was paid.

Member levels stay outside storage: a redemption is given `price` ((list price, growth) -> what the
member pays) and `level_ok` ((min_level, growth) -> may buy), and applies them to the growth read
under the member's lock, so a level reached or lost in another transaction cannot slip between the
price shown and the price charged.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain, pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, exists, func, insert, select, update

from storage import keys
from storage.db import Database, lock_member
from storage.errors import (
    BelowLevel,
    InsufficientPoints,
    MallRefusal,
    MemberFrozen,
    NoSuchOrder,
    NotOnSale,
    NotRecyclable,
    OffSale,
    OutOfStock,
    OverLimit,
    UnknownItem,
    WrongStatus,
)
from storage.ledger import Ledger
from storage.tables import (
    LEDGER,
    MALL_CODES,
    MALL_DELIVERIES,
    MALL_ITEMS,
    MALL_ORDERS,
    MALL_RETURNS,
    MEMBERS,
)
from storage.vocabulary import CLOSED, LIVE, MOVES, Kind, OrderMove, OrderStatus

I, C, O, L, M = MALL_ITEMS, MALL_CODES, MALL_ORDERS, LEDGER, MEMBERS  # noqa: E741
D, R = MALL_DELIVERIES, MALL_RETURNS
GONE = (OrderStatus.SHIPPED, OrderStatus.DONE)  # a physical order in these has left the shelf for good

DIGITAL = ("card_code", "link", "coupon")

Price = Callable[[int, int], int]  # (list price, member's growth) -> the points the member pays
LevelOk = Callable[[str, int], bool]  # (item's min_level, member's growth) -> may the member buy it

__all__ = [
    "CLOSED",
    "DIGITAL",
    "LIVE",
    "BelowLevel",
    "ItemView",
    "Mall",
    "MallRefusal",
    "NoSuchOrder",
    "NotOnSale",
    "NotRecyclable",
    "OrderMove",
    "OrderStatus",
    "OrderView",
    "OutOfStock",
    "OverLimit",
    "UnknownItem",
    "WrongStatus",
    "read_codes",
]


def read_codes(lines: Iterable[str]) -> Iterator[str]:
    """Card codes from a file's lines, read lazily: one per line, or CSV with a `code` column (a header row naming
    it). Blank lines are dropped. The CLI's import-codes and the console's upload both read files through this."""
    it = iter(lines)
    first = next(it, None)
    if first is None:
        return
    header = [h.strip().lower() for h in first.rstrip("\r\n").split(",")]
    if "," in first and "code" in header:
        for row in csv.DictReader(it, fieldnames=header, skipinitialspace=True):
            if (code := (row.get("code") or "").strip()):
                yield code
        return
    for ln in chain((first,), it):
        if (code := ln.strip()):
            yield code


# -- views ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    sku: str
    name: str
    kind: str
    points: int
    cash: int  # fen
    stock: int | None
    sold: int
    limit_per_member: int
    starts: datetime | None
    ends: datetime | None
    min_level: str
    position: int
    in_config: bool
    listed: bool
    detail: dict[str, Any] = field(default_factory=dict)
    first_seen: datetime | None = None  # when the sku first reached the database (None: before this was kept)
    supplied: int | None = None  # units ever put on the shelf (limited items but card codes)

    @property
    def number(self) -> int:
        """What 商城 shows and 兑换 N takes: the item's place in config, stable while the catalogue is."""
        return self.position + 1

    def unavailable(self, at: datetime) -> OffSale | None:
        """Why it cannot be bought at `at`, or None when it is on sale."""
        if not (self.in_config and self.listed):
            return OffSale.OFF
        if self.starts is not None and at < self.starts:
            return OffSale.NOT_YET
        if self.ends is not None and at >= self.ends:
            return OffSale.ENDED
        return None


@dataclass(frozen=True)
class OrderView:
    id: int
    member: str
    sku: str
    name: str
    kind: str
    points: int
    cash: int
    status: str
    key: str
    room: str | None
    secret: str
    expires_on: date | None
    recipient: str
    phone: str
    address: str
    tracking: str
    note: str
    pay_by: datetime | None
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)  # the item's link/coupon/description when read with it
    restocked: bool = False  # its refund put the unit (or the undelivered code) back in stock

    @property
    def live(self) -> bool:
        return self.status in LIVE


def _item(r: Any) -> ItemView:
    return ItemView(**r._mapping)


def _order(r: Any) -> OrderView:
    row = dict(r._mapping)
    row.pop("code_id")
    return OrderView(member=row.pop("member_id"), room=row.pop("room_id"), **row)


class Mall:
    """Mall verbs on the ledger's connection, so they share the pipeline's transaction and savepoints."""

    def __init__(self, ledger: Ledger, tz: ZoneInfo) -> None:
        self.ledger = ledger
        self.db: Database = ledger.db
        self.tz = tz
        self._pg = not self.db.sqlite
        if audit not in ledger.audits:
            ledger.audits.append(audit)

    # -- catalogue ------------------------------------------------------------------------------

    def sync(self, items: Sequence[Any], at: datetime) -> list[str]:
        """Bring the configured items (bot.config.MallItem) into the database by sku; returns notes for the log.

        Descriptive fields follow the config. Stock is the opening stock only when a sku is first
        seen (a restart never resets it; 补货 adds to it); taking `stock` out makes an item
        unlimited, putting it back sets it. Items no longer configured stay for their orders, off sale.
        """
        notes: list[str] = []
        with self.db.transaction() as conn:
            stored = {r.sku: r for r in conn.execute(select(I))}
            for pos, it in enumerate(items):
                detail = {"link": it.link, "coupon": it.coupon.model_dump() if it.coupon else None,
                          "description": it.description}
                values = {"name": it.name, "kind": it.kind, "points": it.points, "cash": it.cash,
                          "limit_per_member": it.limit_per_member, "starts": it.starts, "ends": it.ends,
                          "min_level": it.min_level, "detail": detail, "position": pos, "in_config": True}
                row = stored.pop(it.sku, None)
                if row is None:
                    stock = self._free_codes(conn, it.sku) if it.kind == "card_code" else it.stock
                    supplied = None if it.kind == "card_code" else it.stock
                    conn.execute(insert(I).values(sku=it.sku, stock=stock, sold=0, listed=True, first_seen=at,
                                                  supplied=supplied, **values))
                    continue
                if it.kind == "card_code":
                    values["stock"] = self._free_codes(conn, it.sku)
                    values["supplied"] = None
                elif row.kind == "card_code" or (row.stock is None) != (it.stock is None):
                    values["stock"] = it.stock
                    # the units out before now were not taken from this stock
                    values["supplied"] = None if it.stock is None else it.stock + self._out(conn, it.sku)
                elif it.stock is not None and row.stock != it.stock:
                    notes.append(f"mall item {it.sku}: stock in the database is {row.stock} (config says "
                                 f"{it.stock}, the opening stock only); use 补货 {it.sku} N to add")
                conn.execute(update(I).where(I.c.sku == it.sku).values(**values))
            for sku in stored:
                conn.execute(update(I).where(I.c.sku == sku).values(in_config=False))
        notes += [f"mall item {sku} (card_code) has no card codes: members read 暂时缺货 until you load them "
                  f"with python run_bot.py import-codes {sku} FILE" for sku in self.uncoded()]
        return notes

    def uncoded(self) -> list[str]:
        """The configured card-code items no code was ever imported for, in config order: nothing to sell yet."""
        with self.db.reading() as conn:
            q = (select(I.c.sku).where(I.c.in_config.is_(True), I.c.kind == "card_code",
                                       ~exists().where(C.c.sku == I.c.sku)).order_by(I.c.position))
            return [str(sku) for sku in conn.execute(q).scalars()]

    def items(self) -> list[ItemView]:
        """Every configured item in config order (off-sale ones too); callers filter by `unavailable`."""
        with self.db.reading() as conn:
            rows = conn.execute(select(I).where(I.c.in_config.is_(True)).order_by(I.c.position)).all()
            return [_item(r) for r in rows]

    def item(self, sku: str) -> ItemView | None:
        with self.db.reading() as conn:
            row = conn.execute(select(I).where(I.c.sku == sku)).first()
            if row is None:
                row = conn.execute(select(I).where(func.lower(I.c.sku) == sku.lower())).first()
            return _item(row) if row else None

    def find(self, wanted: str) -> ItemView:
        """An item by the number 商城 shows, its sku (any case) or its exact name; UnknownItem otherwise."""
        w = wanted.strip()
        items = self.items()
        if w.isdecimal():
            for it in items:
                if it.number == int(w):
                    return it
        for it in items:
            if it.name == w:
                return it
        for it in items:
            if it.sku.lower() == w.lower():
                return it
        raise UnknownItem(wanted=w)

    def set_listed(self, sku: str, listed: bool) -> ItemView:
        with self.db.transaction() as conn:
            it = self._item_for_update(conn, sku)
            conn.execute(update(I).where(I.c.sku == it.sku).values(listed=listed))
        return self.item(it.sku)  # type: ignore[return-value]

    def restock(self, sku: str, count: int) -> ItemView:
        """补货: add `count` units; refused (ValueError) for card codes (import them) and unlimited items."""
        with self.db.transaction() as conn:
            it = self._item_for_update(conn, sku)
            if it.kind == "card_code":
                raise ValueError("card_code")
            if it.stock is None:
                raise ValueError("unlimited")
            conn.execute(update(I).where(I.c.sku == it.sku).values(stock=I.c.stock + count,
                                                                    supplied=I.c.supplied + count))
        return self.item(it.sku)  # type: ignore[return-value]

    def _item_for_update(self, conn: Connection, sku: str) -> ItemView:
        row = conn.execute(select(I).where(I.c.sku == sku).with_for_update()).first()
        if row is None:
            row = conn.execute(select(I).where(func.lower(I.c.sku) == sku.lower()).with_for_update()).first()
        if row is None:
            raise UnknownItem(wanted=sku)
        return _item(row)

    @staticmethod
    def _out(conn: Connection, sku: str) -> int:
        """Units of `sku` off the shelf: standing orders and refunds that did not put theirs back."""
        return int(conn.execute(select(func.count()).select_from(O).where(
            O.c.sku == sku, O.c.status.in_(LIVE) | O.c.restocked.is_(False))).scalar_one())

    @staticmethod
    def _free_codes(conn: Connection, sku: str) -> int:
        return int(conn.execute(select(func.count()).select_from(C)
                                .where(C.c.sku == sku, C.c.order_id.is_(None))).scalar_one())

    # -- card codes -----------------------------------------------------------------------------

    def codes_imported_at(self, sku: str, at: datetime) -> int:
        """How many of the item's codes an import stamped `at` added (what stands of one that stopped early)."""
        with self.db.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(C)
                                    .where(C.c.sku == sku, C.c.imported_at == at)).scalar_one())

    def import_codes(self, sku: str, codes: Iterable[str], at: datetime, chunk: int = 500,
                     progress: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Add card codes to a card_code item; returns (added, duplicates skipped).

        A duplicate is a code already imported for the item or repeated in `codes`. Each chunk is
        its own transaction that also raises the item's stock, so an interrupted import can be run
        again and adds only what is missing.
        """
        item = self.item(sku)
        if item is None:
            raise UnknownItem(wanted=sku)
        if item.kind != "card_code":
            raise ValueError(f"item {item.sku} is kind {item.kind}, not card_code")
        added = dupes = 0
        batch: list[str] = []

        def flush() -> None:
            nonlocal added, dupes
            if not batch:
                return
            with self.db.transaction() as conn:
                self._item_for_update(conn, item.sku)
                have = set(conn.execute(select(C.c.code).where(C.c.sku == item.sku, C.c.code.in_(batch))).scalars())
                new = list(dict.fromkeys(c for c in batch if c not in have))
                dupes += len(batch) - len(new)
                if new:
                    conn.execute(insert(C), [{"sku": item.sku, "code": c, "order_id": None, "imported_at": at}
                                             for c in new])
                    conn.execute(update(I).where(I.c.sku == item.sku).values(stock=I.c.stock + len(new)))
                added += len(new)
            if progress is not None:
                progress(len(batch))
            batch.clear()

        seen: set[str] = set()
        for raw in codes:
            code = raw.strip()
            if not code:
                continue
            if code in seen:
                dupes += 1
                if progress is not None:
                    progress(1)
                continue
            seen.add(code)
            batch.append(code)
            if len(batch) >= chunk:
                flush()
        flush()
        return added, dupes

    # -- orders ---------------------------------------------------------------------------------

    def check(self, *, member: str, sku: str, at: datetime, price: Price | None = None,
              level_ok: LevelOk | None = None) -> tuple[ItemView, int]:
        """What redeem would refuse now (window, level, limit, balance, stock), without writing: for asking 确认.

        Returns the item and the points the member would pay now.
        """
        with self.db.reading() as conn:
            row = conn.execute(select(I).where(I.c.sku == sku)).first()
            if row is None:
                raise UnknownItem(wanted=sku)
            it = _item(row)
            member_row = conn.execute(select(M.c.points, M.c.growth, M.c.frozen).where(M.c.id == member)).first()
            if member_row is not None and member_row.frozen:
                raise MemberFrozen(member=member)
            points, growth = (int(member_row.points), int(member_row.growth)) if member_row else (0, 0)
            return it, self._refuse(conn, it, member, at, points, growth, price, level_ok)

    def _refuse(self, conn: Connection, it: ItemView, member: str, at: datetime, points: int, growth: int,
                price: Price | None, level_ok: LevelOk | None) -> int:
        """Raise the refusal a redemption of `it` meets now; otherwise return the points it costs `member`."""
        why = it.unavailable(at)
        if why is not None:
            raise NotOnSale(name=it.name, why=why, starts=it.starts, ends=it.ends)
        if it.min_level and level_ok is not None and not level_ok(it.min_level, growth):
            raise BelowLevel(name=it.name, level=it.min_level)
        if it.limit_per_member:
            held = int(conn.execute(select(func.count()).select_from(O).where(
                O.c.member_id == member, O.c.sku == it.sku, O.c.status.in_(LIVE))).scalar_one())
            if held >= it.limit_per_member:
                raise OverLimit(name=it.name, limit=it.limit_per_member, held=held)
        cost = price(it.points, growth) if price is not None else it.points
        if points < cost:
            raise InsufficientPoints(needed=cost, points=points)
        if it.stock is not None and it.stock <= 0:
            raise OutOfStock(name=it.name)
        return cost

    def redeem(self, *, member: str, sku: str, key: str, at: datetime, room: str | None = None,
               pay_within: timedelta = timedelta(hours=24), price: Price | None = None,
               level_ok: LevelOk | None = None) -> tuple[OrderView, bool]:
        """Buy one unit of `sku` for `member`: (the order, True), or (the order made before with `key`, False).

        One transaction: the member's row locked, window, level and per-member limit checked, the
        price (`price` of the list price and the growth just locked; the list price without it) and
        the balance checked, a unit (or a card code) taken, the order written with the points paid,
        the points debited. Raises UnknownItem, NotOnSale, BelowLevel, OverLimit, InsufficientPoints,
        OutOfStock or MemberFrozen with nothing written.
        """
        with self.db.savepoint() as conn:
            locked = lock_member(conn, member)
            points, growth = locked.points, locked.growth
            before = conn.execute(select(O).where(O.c.key == key)).first()
            if before is not None:
                return _order(before), False
            if locked.frozen:
                raise MemberFrozen(member=member)
            it = self._item_for_update(conn, sku)
            # under the member's lock: the balance, growth (so level and price) and limit stand
            cost = self._refuse(conn, it, member, at, points, growth, price, level_ok)
            taken = conn.execute(update(I).where(I.c.sku == it.sku, (I.c.stock.is_(None)) | (I.c.stock > 0))
                                 .values(stock=I.c.stock - 1, sold=I.c.sold + 1))
            if taken.rowcount != 1:
                raise OutOfStock(name=it.name)
            if it.kind == "physical":
                status = OrderStatus.ADDRESS
            elif it.cash > 0:
                status = OrderStatus.UNPAID
            elif it.kind == "red_packet":
                status = OrderStatus.PENDING
            else:
                status = OrderStatus.DONE
            secret, expires = "", None
            if it.kind == "link":
                secret = str(it.detail.get("link") or "")
            elif it.kind == "coupon":
                coupon = it.detail.get("coupon") or {}
                secret = str(coupon.get("code") or "")
                expires = at.astimezone(self.tz).date() + timedelta(days=int(coupon.get("valid_days") or 30) - 1)
            res = conn.execute(insert(O).values(
                member_id=member, sku=it.sku, name=it.name, kind=it.kind, points=cost, cash=it.cash,
                status=status, key=key, room_id=room, secret=secret, expires_on=expires,
                pay_by=at + pay_within if status == OrderStatus.UNPAID else None, created_at=at, updated_at=at).returning(O.c.id))
            order_id = int(res.scalar_one())
            if it.kind == "card_code":
                code = self._reserve_code(conn, it, order_id)
                conn.execute(update(O).where(O.c.id == order_id).values(code_id=code[0], secret=code[1]))
                if status == OrderStatus.DONE:  # shown to the member now (a cash order: once paid)
                    self._deliver(conn, order_id, code[0], member, at)
            entry = self.ledger.spend(member=member, points=cost, kind=Kind.REDEEM, key=key, at=at, room=room,
                              detail=f"兑换 {it.name}（单号 {order_id}）")
            if entry is None:  # the ledger knows the key but no order has it: never expected
                raise RuntimeError(f"ledger key {key} used without an order")
            row = conn.execute(select(O).where(O.c.id == order_id)).first()
            return _order(row), True

    def _reserve_code(self, conn: Connection, it: ItemView, order_id: int) -> tuple[int, str]:
        for _ in range(5):
            q = select(C.c.id, C.c.code).where(C.c.sku == it.sku, C.c.order_id.is_(None)).order_by(C.c.id).limit(1)
            row = conn.execute(q.with_for_update(skip_locked=True) if self._pg else q).first()
            if row is None:
                break
            got = conn.execute(update(C).where(C.c.id == row.id, C.c.order_id.is_(None)).values(order_id=order_id))
            if got.rowcount == 1:
                return int(row.id), str(row.code)
        raise OutOfStock(name=it.name)

    @staticmethod
    def _deliver(conn: Connection, order: int, code: int, member: str, at: datetime) -> None:
        conn.execute(insert(D).values(code_id=code, order_id=order, member_id=member, at=at))

    @staticmethod
    def _delivered(conn: Connection, order: int) -> bool:
        return conn.execute(select(D.c.id).where(D.c.order_id == order)).first() is not None

    def refund(self, *, order: int, at: datetime, move: OrderMove, reason: str = "", member: str | None = None,
               unpaid_only: bool = False) -> OrderView:
        """Close an order by `move` (cancel, refund, expire; see vocabulary.MOVES): a new `refund` entry returns
        exactly what was paid. The unit goes back in stock unless it left: a physical order shipped or done
        keeps it, a card code shown to the member stays burnt on the order (回收卡密 puts it back: recycle).
        `restocked` on the order says which. `member` set: only that member's order.

        Raises NoSuchOrder or WrongStatus (also for a paid cash order when `unpaid_only`).
        """
        start, [status] = MOVES[move]
        if status not in CLOSED:
            raise ValueError(f"{move} does not close an order")
        with self.db.savepoint() as conn:
            row = conn.execute(select(O.c.member_id).where(O.c.id == order)).first()
            if row is None or (member is not None and row.member_id != member):
                raise NoSuchOrder(order=order)
            lock_member(conn, row.member_id)
            o = _order(conn.execute(select(O).where(O.c.id == order).with_for_update()).first())
            if o.status not in start or (unpaid_only and o.paid_at is not None):
                raise WrongStatus(order=order, status="paid" if o.status in start else o.status)
            self.ledger.reverse(original_key=o.key, key=keys.refund(o.key), kind=Kind.REFUND, at=at,
                                detail=f"退款 {o.name}（单号 {o.id}）")
            left = self._delivered(conn, o.id) if o.kind == "card_code" else o.kind == "physical" and o.status in GONE
            back = not left
            self._item_for_update(conn, o.sku)
            conn.execute(update(I).where(I.c.sku == o.sku).values(stock=I.c.stock + (1 if back else 0),
                                                                  sold=I.c.sold - 1))
            if o.kind == "card_code" and back:
                conn.execute(update(C).where(C.c.order_id == o.id).values(order_id=None))
            conn.execute(update(O).where(O.c.id == order).values(status=status, note=reason, updated_at=at,
                                                                 restocked=back))
            return _order(conn.execute(select(O).where(O.c.id == order)).first())

    def recycle(self, *, order: int, operator: str, at: datetime) -> tuple[OrderView, str]:
        """回收卡密: put the card code a refunded order delivered back in stock, logged with `operator`.

        Returns the order and the code. Raises NoSuchOrder or NotRecyclable with nothing written.
        """
        with self.db.savepoint() as conn:
            row = conn.execute(select(O).where(O.c.id == order).with_for_update()).first()
            if row is None:
                raise NoSuchOrder(order=order)
            o = _order(row)
            if o.kind != "card_code" or row.code_id is None:
                raise NotRecyclable(order=order, why="not_card_code")
            if o.status not in CLOSED:
                raise NotRecyclable(order=order, why="not_closed")
            if not self._delivered(conn, o.id):
                raise NotRecyclable(order=order, why="not_delivered")
            self._item_for_update(conn, o.sku)
            freed = conn.execute(update(C).where(C.c.id == row.code_id, C.c.order_id == o.id).values(order_id=None))
            if freed.rowcount != 1 or conn.execute(select(R.c.id).where(R.c.order_id == o.id)).first() is not None:
                raise NotRecyclable(order=order, why="recycled")
            conn.execute(insert(R).values(code_id=row.code_id, order_id=o.id, operator_id=operator, at=at))
            conn.execute(update(I).where(I.c.sku == o.sku).values(stock=I.c.stock + 1))
            return o, o.secret

    def deliveries(self, sku: str | None = None) -> list[dict[str, Any]]:
        """The card codes shown to members, oldest first: code, order, member, at, and who recycled it when."""
        with self.db.reading() as conn:
            q = (select(D.c.order_id, D.c.member_id, D.c.at, C.c.code, C.c.sku, R.c.operator_id, R.c.at.label("recycled_at"))
                 .join(C, C.c.id == D.c.code_id).outerjoin(R, R.c.order_id == D.c.order_id).order_by(D.c.id))
            if sku is not None:
                q = q.where(C.c.sku == sku)
            return [dict(r._mapping) for r in conn.execute(q)]

    def move(self, *, order: int, move: OrderMove, status: OrderStatus, at: datetime, **values: Any) -> OrderView:
        """Move an order on by `move` (paid, shipped, done, an address given) to `status`; WrongStatus unless
        vocabulary.MOVES lets `move` start from the order's status."""
        start, end = MOVES[move]
        if status not in end:
            raise ValueError(f"{move} does not lead to {status}")
        with self.db.transaction() as conn:
            row = conn.execute(select(O).where(O.c.id == order).with_for_update()).first()
            if row is None:
                raise NoSuchOrder(order=order)
            if row.status not in start:
                raise WrongStatus(order=order, status=row.status)
            conn.execute(update(O).where(O.c.id == order).values(status=status, updated_at=at, **values))
            if row.code_id is not None and row.status == OrderStatus.UNPAID and not self._delivered(conn, order):
                self._deliver(conn, order, row.code_id, row.member_id, at)  # paid: the code is shown now
            return _order(conn.execute(select(O).where(O.c.id == order)).first())

    def order(self, order: int) -> OrderView | None:
        with self.db.reading() as conn:
            row = conn.execute(select(O).where(O.c.id == order)).first()
            return _order(row) if row else None

    def orders_by_id(self, ids: Sequence[int]) -> list[OrderView]:
        """The orders among `ids` that exist (one statement on the primary key)."""
        if not ids:
            return []
        with self.db.reading() as conn:
            return [_order(r) for r in conn.execute(select(O).where(O.c.id.in_(list(ids))).order_by(O.c.id))]

    def orders(self, *, member: str | None = None, statuses: Sequence[str] = (), limit: int | None = None,
               newest_first: bool = False) -> list[OrderView]:
        with self.db.reading() as conn:
            q = select(O)
            if member is not None:
                q = q.where(O.c.member_id == member)
            if statuses:
                q = q.where(O.c.status.in_(list(statuses)))
            q = q.order_by(O.c.id.desc() if newest_first else O.c.id)
            if limit:
                q = q.limit(limit)
            return [_order(r) for r in conn.execute(q)]

    def overdue(self, at: datetime) -> list[OrderView]:
        """Points + cash orders still unpaid at their deadline."""
        with self.db.reading() as conn:
            rows = conn.execute(select(O).where(O.c.status == OrderStatus.UNPAID, O.c.pay_by <= at).order_by(O.c.id)).all()
            return [_order(r) for r in rows]

    def expire_overdue(self, at: datetime) -> list[OrderView]:
        """Cancel and refund every unpaid order past its deadline; returns them as closed."""
        out = []
        for o in self.overdue(at):
            try:
                out.append(self.refund(order=o.id, at=at, move=OrderMove.EXPIRE, reason="超时未付款"))
            except WrongStatus:  # paid or cancelled meanwhile
                continue
        return out


# -- audit ----------------------------------------------------------------------------------------


def audit(conn: Connection) -> list[str]:
    """The mall's invariants: stock never below zero and matching codes, supplies and sales, every card code
    delivered to one order at a time for ever, every order's points matched by its ledger entries."""
    problems: list[str] = []
    live: dict[str, int] = {}
    for r in conn.execute(select(O.c.sku, func.count().label("n")).where(O.c.status.in_(LIVE)).group_by(O.c.sku)):
        live[r.sku] = int(r.n)
    kept: dict[str, int] = {}  # closed orders whose unit did not come back
    for r in conn.execute(select(O.c.sku, func.count().label("n"))
                          .where(O.c.status.in_(CLOSED), O.c.restocked.is_(False)).group_by(O.c.sku)):
        kept[r.sku] = int(r.n)
    free: dict[str, int] = {}
    for r in conn.execute(select(C.c.sku, func.count().label("n")).where(C.c.order_id.is_(None)).group_by(C.c.sku)):
        free[r.sku] = int(r.n)
    for it in conn.execute(select(I)):
        if it.stock is not None and it.stock < 0:
            problems.append(f"mall item {it.sku}: stock below zero ({it.stock})")
        if it.kind == "card_code" and it.stock != free.get(it.sku, 0):
            problems.append(f"mall item {it.sku}: stock {it.stock} != unused codes {free.get(it.sku, 0)}")
        if it.kind != "card_code" and it.stock is not None:
            out = live.get(it.sku, 0) + kept.get(it.sku, 0)
            if it.supplied is None or it.stock != it.supplied - out:
                problems.append(f"mall item {it.sku}: stock {it.stock} != supplied {it.supplied} less {out} units "
                                "out (standing orders, refunds that kept theirs)")
        if it.sold != live.get(it.sku, 0):
            problems.append(f"mall item {it.sku}: sold {it.sold} != standing orders {live.get(it.sku, 0)}")
    for r in conn.execute(select(O.c.code_id, func.count().label("n"))
                          .where(O.c.code_id.is_not(None), O.c.status.in_(LIVE)).group_by(O.c.code_id)):
        if r.n > 1:
            problems.append(f"mall code {r.code_id} is on {r.n} orders")
    problems += _audit_codes(conn)
    entries = {r.key: r for r in conn.execute(select(L.c.key, L.c.member_id, L.c.delta, L.c.kind)
                                              .where(L.c.kind.in_((Kind.REDEEM, Kind.REFUND))))}
    for o in conn.execute(select(O.c.id, O.c.member_id, O.c.points, O.c.status, O.c.key)):
        paid = entries.get(o.key)
        if paid is None or paid.member_id != o.member_id or paid.delta != -o.points or paid.kind != Kind.REDEEM:
            problems.append(f"mall order {o.id}: no redeem entry of {-o.points} for {o.member_id}")
        back = entries.get(keys.refund(o.key))
        if o.status in CLOSED and (back is None or back.delta != o.points or back.member_id != o.member_id):
            problems.append(f"mall order {o.id} is {o.status} but no refund entry returns its {o.points} points")
        if o.status in LIVE and back is not None:
            problems.append(f"mall order {o.id} is {o.status} yet was refunded")
    return problems


def _audit_codes(conn: Connection) -> list[str]:
    """Card codes against their history: a code delivered again was recycled from its previous order first;
    a code in stock was never delivered or was recycled since; a delivered code not recycled stays on its order;
    each item's stock is the codes never delivered plus the recycled ones not delivered again (and not reserved)."""
    problems: list[str] = []
    orders = {r.id: r for r in conn.execute(select(O.c.id, O.c.code_id, O.c.status, O.c.member_id, O.c.kind)
                                            .where(O.c.code_id.is_not(None)))}
    returned = {r.order_id: r.code_id for r in conn.execute(select(R.c.order_id, R.c.code_id))}
    history: dict[int, list[Any]] = {}
    for d in conn.execute(select(D).order_by(D.c.id)):
        history.setdefault(d.code_id, []).append(d)
        o = orders.get(d.order_id)
        if o is None or o.code_id != d.code_id or o.member_id != d.member_id:
            problems.append(f"mall delivery {d.id}: order {d.order_id} does not hold code {d.code_id} for {d.member_id}")
    for order, code in returned.items():
        if all(d.order_id != order for d in history.get(code, [])):
            problems.append(f"mall code {code} was recycled from order {order}, which never delivered it")
    for o in orders.values():
        if o.status in LIVE and o.status != OrderStatus.UNPAID and all(
                d.order_id != o.id for d in history.get(o.code_id, [])):
            problems.append(f"mall order {o.id} ({o.status}) shows code {o.code_id} but no delivery records it")
    expected_free: dict[str, int] = {}
    for c in conn.execute(select(C.c.id, C.c.sku, C.c.order_id)):
        ds = history.get(c.id, [])
        for prev, nxt in pairwise(ds):
            if returned.get(prev.order_id) != c.id:
                problems.append(f"mall code {c.id} was delivered to order {prev.order_id} and again to order "
                                f"{nxt.order_id} without 回收卡密 between")
        burnt = bool(ds) and ds[-1].order_id not in returned  # its last delivery still owns it
        h = orders.get(c.order_id) if c.order_id is not None else None
        if c.order_id is not None and (h is None or h.code_id != c.id):
            problems.append(f"mall code {c.id} is held by order {c.order_id}, which does not hold it")
        elif burnt and c.order_id != ds[-1].order_id:
            problems.append(f"mall code {c.id} was delivered by order {ds[-1].order_id} and not recycled, yet "
                            + ("is back in stock" if c.order_id is None else f"is held by order {c.order_id}"))
        elif h is not None and h.status in CLOSED and not burnt:
            problems.append(f"mall code {c.id} is held by order {c.order_id}, which is {h.status} and never "
                            "delivered it")
        if not burnt and (h is None or h.status in CLOSED):
            expected_free[c.sku] = expected_free.get(c.sku, 0) + 1
    for o in orders.values():
        if o.status in LIVE:
            owner = conn.execute(select(C.c.order_id).where(C.c.id == o.code_id)).scalar()
            if owner != o.id:
                problems.append(f"mall order {o.id} holds code {o.code_id}, which is not marked as its")
    for it in conn.execute(select(I.c.sku, I.c.stock).where(I.c.kind == "card_code")):
        want = expected_free.get(it.sku, 0)
        if it.stock != want:
            problems.append(f"mall item {it.sku}: stock {it.stock} != codes never delivered or recycled since {want}")
    return problems
