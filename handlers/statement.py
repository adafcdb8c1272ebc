"""我的账单: the member's personal statement of the year, by private message, as text and as a PNG card.

The year is the local calendar year of now (bot.timezone). How ledger kinds become the statement's lines:

- 获得 (earned), by source: check-in (base, streak and cumulative bonuses), invites, 新人礼, tasks,
  完善资料, 关注, 问答, 管理员加分; any other kind whose year sums above zero is 其他. A reversal
  (a clawback, a refund) nets against the kind of the entry it undoes (ledger.reverses; see
  storage.statement for rows from before that column), so a source can read negative when this year
  took back what an earlier year paid.
- 支出 (spent): 兑换 (redeem, net of `refund`), 补签 (makeup), 管理员扣分 (admin_deduct), and any other
  kind whose year sums below zero (其他).
- 过期 (expired): entries of kind `expire`.

So 年初 + 获得 - 支出 - 过期 = 当前积分 for the current year. Growth, level and what the balance buys
are as of now. Rank: balance against every member still in a group, admins left out, as the boards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.config import Flag, Section, section
from bot.dispatch import Context, Reply, command
from handlers.common import ledger, member_name
from handlers.lib import cards, statement_card
from handlers.lib.levels import level_of, meets, member_price, next_level
from storage.statement import Offer, Year, offers, read_year
from storage.vocabulary import Kind


class StatementSettings(Section):
    """我的账单: the member's statement of the year, privately; as a PNG card where the transport sends images."""

    card: Flag = True  # also draw the statement as a PNG card (needs a CJK font; text only without one)
    font: str = ""  # path of a TTF/OTF/TTC font with Chinese glyphs; "" = look in the usual system places
    cards_dir: str = ""  # where the PNG cards are written; "" = cards/ beside the SQLite database, else data/cards


section("statement", StatementSettings)  # 我的账单; section left out: off

SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("签到", ("checkin", "checkin_streak", "checkin_total")),
    ("邀请", ("invite",)),
    ("新人礼", ("newcomer",)),
    ("任务", ("task",)),
    ("完善资料", ("profile",)),
    ("关注", ("follow",)),
    ("问答", ("quiz",)),
    ("管理员加分", ("admin_award",)),
    ("迁入", ("import",)),
)
SPENDING: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("兑换", ("redeem", "refund")),
    ("补签", ("makeup",)),
    ("管理员扣分", ("admin_deduct",)),
)
EXPIRE = Kind.EXPIRE
OTHER = "其他"
OFFERS_NAMED = 4

_EARN = {kind: name for name, kinds in SOURCES for kind in kinds}
_SPEND = {kind: name for name, kinds in SPENDING for kind in kinds}


def classify(kind: str, total: int) -> tuple[str, str]:
    """("earned" | "spent" | "expired", line name) for a ledger kind whose year sums to `total`."""
    if kind in _EARN:
        return "earned", _EARN[kind]
    if kind in _SPEND:
        return "spent", _SPEND[kind]
    if kind == EXPIRE:
        return "expired", ""
    return ("earned", OTHER) if total > 0 else ("spent", OTHER)


def _lines(sums: dict[str, int], order: list[str], sign: int) -> list[dict[str, Any]]:
    return [{"name": n, "points": sign * sums[n]} for n in order if sums.get(n)]


def _year_bounds(ctx: Context) -> tuple[int, datetime, datetime, date, date]:
    tz = ctx.settings.bot.tz
    year = ctx.now.astimezone(tz).year
    return year, datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz), date(year, 1, 1), date(year, 12, 31)


def _buyable(ctx: Context, found: list[Offer], points: int, growth: int) -> list[dict[str, Any]]:
    """What `points` buys now at the member's level price, the dearest first."""
    out: list[dict[str, Any]] = []
    for o in found:
        price = member_price(ctx.settings, o.points, growth)
        if price <= points and meets(ctx.settings, growth, o.min_level or None):
            out.append({"number": o.number, "name": o.name, "points": price, "cash": o.cash > 0})
    out.sort(key=lambda o: (-o["points"], o["number"]))
    return out


def _rank(y: Year) -> dict[str, Any] | None:
    """Where the member stands: first when every other member holds fewer points ("超过了 100%" reads as a
    boast the figure cannot make: it rounds), else the share of the others below them, rounded down (at most 99)."""
    if not y.others:
        return None
    if y.below == y.others:
        return {"first": True, "percent": None}
    return {"first": False, "percent": y.below * 100 // y.others}


def statement_data(ctx: Context) -> dict[str, Any]:
    """Every figure of the statement, for the text template and the card alike."""
    s = ctx.settings
    year, start, end, first, last = _year_bounds(ctx)
    book = ledger(ctx)
    m = book.member(ctx.sender)
    points, growth = (m.points, m.growth) if m else (0, 0)
    y: Year = read_year(book, ctx.sender, start=start, end=end, first=first, last=last, exclude=s.bot.admins)
    earned: dict[str, int] = {}
    spent: dict[str, int] = {}
    expired = 0
    for kind, total in y.by_source.items():
        where, name = classify(kind, total)
        if where == "earned":
            earned[name] = earned.get(name, 0) + total
        elif where == "spent":
            spent[name] = spent.get(name, 0) + total
        else:
            expired -= total
    refunded = y.by_kind.get(Kind.REFUND, 0)
    net = sum(y.by_kind.values())
    sources = _lines(earned, [n for n, _ in SOURCES] + [OTHER], 1)
    spending = _lines(spent, [n for n, _ in SPENDING] + [OTHER], -1)
    lv, nxt = level_of(s, growth), next_level(s, growth)
    offer_rows = _buyable(ctx, offers(book, ctx.sender, ctx.now), points, growth) if s.mall is not None else None
    return {
        "year": year,
        "member_name": (m.name if m and m.name else "") or ctx.sender_name,
        "until": f"{ctx.day.month}月{ctx.day.day}日",
        "points": points,
        "opening": points - net,
        "growth": growth,
        "earned": sum(earned.values()),
        "sources": sources,
        "spent": -sum(spent.values()),
        "spending": spending,
        "refunded": refunded,
        "expired": expired,
        "show_expired": bool(expired) or (s.expiry is not None and s.expiry.policy != "none"),
        "checkin": ({"days": y.checkin_days, "longest": y.longest_streak}
                    if s.checkin is not None or y.checkin_days else None),
        "invites": y.invites if s.invite is not None or y.invites else None,
        "redeemed": ({"count": sum(n for _, n in y.redeemed), "names": [name for name, _ in y.redeemed]}
                     if s.mall is not None or y.redeemed else None),
        "rank": _rank(y) if not ctx.is_admin else None,
        "is_admin": ctx.is_admin,
        "levels": bool(s.levels),
        "level": {"name": lv.name, "growth": lv.growth} if lv else None,
        "next": {"name": nxt.name, "growth": nxt.growth, "remaining": nxt.growth - growth} if nxt else None,
        "offers": offer_rows[:OFFERS_NAMED] if offer_rows is not None else None,
        "offer_count": len(offer_rows or []),
    }


def cards_dir(settings: Any) -> Path:
    """[statement] cards_dir, else cards/ beside a SQLite database file, else data/cards."""
    return cards.cards_dir(settings, settings.statement.cards_dir)


def card(ctx: Context, data: dict[str, Any]) -> Callable[[], str | None] | None:
    """What draws the PNG card for `data` (a unique file per member and message) when it is sent, off the event
    loop (Outgoing.draw); None: text only."""
    cfg = ctx.settings.statement
    if not cfg.card:
        return None
    directory = cards_dir(ctx.settings)
    digest = hashlib.sha256(f"{ctx.sender}\0{ctx.event_id}".encode()).hexdigest()[:20]
    path, font = directory / f"statement-{data['year']}-{digest}.png", cfg.font

    def draw() -> str | None:
        cards.prune(directory, "statement-*.png")
        return statement_card.render(data, path, font)

    return draw


@command("我的账单", aliases=("账单", "年度账单"), feature="statement")
async def my_statement(ctx: Context, args: str) -> list[Reply]:
    """查看我今年的积分账单（私信发送）"""
    data = statement_data(ctx)
    image = card(ctx, data)
    if ctx.room is None:
        return [Reply("statement/mine", data, private=True, image=image)]
    names = {ctx.sender: member_name(ctx, ctx.sender)}
    fallback = Reply("statement/not_friend", {"member_name": names[ctx.sender]}, room=ctx.room, mentions=(ctx.sender,),
                     names=names)
    return [ctx.reply("statement/moved"),
            Reply("statement/mine", data, to=ctx.sender, image=image, fallback=fallback)]
