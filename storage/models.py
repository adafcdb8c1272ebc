"""Every table of the bot, with its constraints, declared once: the schema alembic's revisions are made from.

Datetimes are stored in UTC and come back aware (storage.types.UTCDateTime). The code that runs reads and
writes storage.tables instead: the same tables as plain SQLAlchemy Core, generated from these classes by
`python -m storage.gen_tables` (importing sqlmodel and mapping these classes costs ~0.15 s of every start).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, Table, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class _Table(SQLModel):
    """The tables' base: pydantic builds a model's validator when it is first used, not at import."""

    model_config = {"defer_build": True}  # type: ignore[assignment]


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: type(default)(), sa_column=Column(JSON(), nullable=False))


class Member(_Table, table=True):
    """A contact who has taken part, with the stored balance kept beside the ledger."""

    __tablename__ = "members"
    # the console's member search: a name prefix is a range on ix_members_name (no scan of every member);
    # join-week cohorts (storage.stats) read members by when they were first seen
    __table_args__ = (Index("ix_members_points", "points"), Index("ix_members_name", "name"),
                      Index("ix_members_created_at", "created_at"))

    id: str = Field(primary_key=True)  # WeChat contact id, never a nickname
    name: str = ""
    points: int = 0  # stored balance == sum of the member's ledger deltas (audit checks)
    growth: int = 0  # 成长值: sum of growth deltas; spending never lowers it
    checkin_days: int = 0
    checkin_streak: int = 0
    last_checkin: date | None = None
    points_at: datetime | None = _ts(nullable=True)  # when the balance last changed: ties on boards
    created_at: datetime = _ts(nullable=False)
    # 冻结: no rule pays a frozen member and they cannot redeem (storage.freezes; member_freezes keeps who/why/when)
    frozen: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    frozen_told: bool = Field(default=False, sa_column_kwargs={"server_default": false()})  # told once since frozen


class MemberFreeze(_Table, table=True):
    """One 冻结 or 解冻 of a member: who did it, why and when (ledger-neutral: no points move)."""

    __tablename__ = "member_freezes"
    __table_args__ = (Index("ix_member_freezes_member", "member_id", "id"),
                      CheckConstraint("action IN ('freeze', 'unfreeze')", name="ck_member_freezes_action"))

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    action: str  # freeze | unfreeze
    actor: str  # the operator: a contact id (chat), or what the console / CLI names
    actor_kind: str = "chat"  # chat | console | cli
    reason: str
    at: datetime = _ts(nullable=False)


class Room(_Table, table=True):
    """A group the bot has seen."""

    __tablename__ = "rooms"

    id: str = Field(primary_key=True)
    name: str = ""
    active: bool = True
    created_at: datetime = _ts(nullable=False)


class RoomMember(_Table, table=True):
    """Who is (or was) in which group."""

    __tablename__ = "room_members"
    # who is in a group at all (boards, 本群 counts, ever_member) without scanning every group
    __table_args__ = (Index("ix_room_members_member", "member_id", "active"),
                      Index("ix_room_members_room", "room_id", "active"))  # members per group, index only (console 群)

    room_id: str = Field(primary_key=True, foreign_key="rooms.id")
    member_id: str = Field(primary_key=True, foreign_key="members.id")
    active: bool = True
    joined_at: datetime = _ts(nullable=False)
    left_at: datetime | None = _ts(nullable=True)


class Checkin(_Table, table=True):
    """One check-in: at most one per member per local day, whichever group it came from."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("member_id", "day", name="uq_checkins_member_day"),
                      Index("ix_checkins_day", "day", "makeup"),  # check-ins per day, read off the index (storage.stats)
                      # the console's 群 page: who checked in where lately, read off the index alone
                      Index("ix_checkins_day_room", "day", "room_id", "member_id"))

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    day: date
    at: datetime = _ts(nullable=False)
    room_id: str | None = None
    streak: int
    total_days: int
    points: int
    makeup: bool = False  # filled later by 补签, paid for in points


class LedgerEntry(_Table, table=True):
    """An append-only ledger line; corrections are new lines, never edits."""

    __tablename__ = "ledger"
    __table_args__ = (
        UniqueConstraint("key", name="uq_ledger_key"),
        Index("ix_ledger_member_id", "member_id", "id"),
        Index("ix_ledger_at", "at"),
        Index("uq_ledger_reverses", "reverses", unique=True),  # no entry is undone twice
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    delta: int
    growth_delta: int = 0
    balance_after: int
    kind: str
    key: str  # idempotency key derived from the source event
    at: datetime = _ts(nullable=False)
    room_id: str | None = None
    detail: str = ""
    campaign: str | None = None  # the campaign whose override paid this entry
    reverses: int | None = None  # the entry a reversal (refund, clawback) undoes; NULL on rows from before


class ProcessedEvent(_Table, table=True):
    """Source events already handled (message ids, join ids, scheduled runs): a replay is dropped."""

    __tablename__ = "processed_events"

    id: str = Field(primary_key=True)
    at: datetime = _ts(nullable=False)


class ActiveDay(_Table, table=True):
    """Local days on which the bot handled any event; a day missing here (bot down) breaks no streak."""

    __tablename__ = "active_days"

    day: date = Field(primary_key=True)


class MemberDay(_Table, table=True):
    """A local day on which a member sent the bot a message (any message, command or not): who is active.

    Written at most once per member per day, in one statement per batch (bot.app collects the batch's
    first-of-the-day senders); days before revision 0009 were back-filled from check-ins (storage.stats).
    """

    __tablename__ = "member_days"
    # read by its key only (one probe per member); on SQLite the key is the table: one b-tree to write, not two
    __table_args__ = {"sqlite_with_rowid": False}

    member_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)


class Newcomer(_Table, table=True):
    """A join that may earn new-member points: paid on joining, or pending a 新人礼 claim."""

    __tablename__ = "newcomers"

    member_id: str = Field(primary_key=True, foreign_key="members.id")
    room_id: str = Field(primary_key=True)
    joined_at: datetime = _ts(nullable=False)
    status: str  # pending | paid | expired
    key: str = ""  # ledger key of the payment


class Invite(_Table, table=True):
    """Who brought whom into which group; `valid` invites are paid, `reversed` ones were clawed back."""

    __tablename__ = "invites"
    __table_args__ = (
        UniqueConstraint("event_id", "invitee_id", name="uq_invites_event_invitee"),
        Index("ix_invites_inviter", "inviter_id", "status"),
        Index("ix_invites_invitee", "invitee_id", "room_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    inviter_id: str = Field(foreign_key="members.id")
    invitee_id: str = Field(foreign_key="members.id")
    room_id: str
    joined_at: datetime = _ts(nullable=False)
    status: str  # valid | reversed | ineligible
    reason: str = ""  # why an invite is ineligible
    points: int = 0
    key: str = ""  # ledger key of the award
    reversed_at: datetime | None = _ts(nullable=True)


class TaskTier(_Table, table=True):
    """A tier of a task paid to a member; a reversed tier can be paid again (next generation)."""

    __tablename__ = "task_tiers"
    __table_args__ = (
        UniqueConstraint("member_id", "task_id", "tier_at", "generation", name="uq_task_tiers"),
        Index("ix_task_tiers_member", "member_id", "task_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    task_id: str
    tier_at: int
    generation: int
    points: int
    key: str
    paid_at: datetime = _ts(nullable=False)
    reversed_at: datetime | None = _ts(nullable=True)


class Profile(_Table, table=True):
    """What a member told the bot about themself; shown back only to that member."""

    __tablename__ = "profiles"

    member_id: str = Field(primary_key=True, foreign_key="members.id")
    data: dict[str, str] = _json({})  # field -> value
    completed_at: datetime | None = _ts(nullable=True)


class Conversation(_Table, table=True):
    """A multi-step chat in progress, keyed by chat (room id, or "" for private) and member."""

    __tablename__ = "conversations"

    chat: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True)
    kind: str
    step: str = ""
    data: dict[str, Any] = _json({})
    expires_at: datetime = _ts(nullable=False)


class MallItem(_Table, table=True):
    """A mall item synced from config by sku at start; stock, sales and listing live here, never reset by a restart."""

    __tablename__ = "mall_items"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="ck_mall_items_stock"),
        CheckConstraint("sold >= 0", name="ck_mall_items_sold"),
    )

    sku: str = Field(primary_key=True)
    name: str
    kind: str  # physical | red_packet | card_code | link | coupon
    points: int
    cash: int = 0  # fen
    stock: int | None = None  # None: unlimited; card_code: the number of unused codes
    # limited items but card codes: units ever put on the shelf (opening stock, 补货); stock == supplied less
    # the units standing orders and unrestocked refunds took (audit checks)
    supplied: int | None = None
    sold: int = 0  # orders standing (not cancelled or refunded)
    limit_per_member: int = 0
    starts: datetime | None = _ts(nullable=True)
    ends: datetime | None = _ts(nullable=True)
    min_level: str = ""
    detail: dict[str, Any] = _json({})  # link, coupon, description as configured
    position: int = 0  # order in config: the number 商城 shows
    in_config: bool = True  # false once the item is removed from config.toml
    listed: bool = True  # 上架 / 下架 by an operator
    # when the sku first reached the database: a 新品 without `starts` is new from then (NULL: it was there
    # before this column, so not new)
    first_seen: datetime | None = _ts(nullable=True)


class MallCode(_Table, table=True):
    """A card code (卡密) imported for a card_code item; `order_id` is set while an order holds it.

    A code an order delivered stays held by that order after a refund (burnt) until an operator recycles it
    (回收卡密); mall_code_deliveries and mall_code_returns keep its history."""

    __tablename__ = "mall_codes"
    __table_args__ = (
        UniqueConstraint("sku", "code", name="uq_mall_codes_sku_code"),
        Index("ix_mall_codes_free", "sku", "order_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(foreign_key="mall_items.sku")
    code: str
    order_id: int | None = None
    imported_at: datetime = _ts(nullable=False)


class MallOrder(_Table, table=True):
    """An order (单号 = id). Points move only by the ledger entries `key` (redeem) and `key`:refund."""

    __tablename__ = "mall_orders"
    __table_args__ = (
        UniqueConstraint("key", name="uq_mall_orders_key"),
        Index("ix_mall_orders_member", "member_id", "sku", "status"),
        Index("ix_mall_orders_status", "status", "pay_by"),
        Index("ix_mall_orders_status_id", "status", "id"),  # the console's order pages by status, keyset on id
        # the figures' redeemers (distinct members with a standing order in a period) and top items (orders by sku),
        # each off its index alone: no temporary B-tree for the DISTINCT or the GROUP BY
        Index("ix_mall_orders_buyer", "member_id", "created_at", "status"),
        Index("ix_mall_orders_items", "sku", "created_at", "status", "points", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    sku: str = Field(foreign_key="mall_items.sku")
    name: str  # the item's name when ordered
    kind: str
    points: int  # what the redeem entry took; a refund returns exactly this
    cash: int = 0  # fen
    status: str  # address | unpaid | pending | shipped | done | cancelled | refunded | expired
    key: str  # ledger key of the redeem entry
    room_id: str | None = None  # where it was ordered: a note goes there when a private message cannot
    code_id: int | None = None  # card_code: the code it holds
    secret: str = ""  # what it delivers privately: the card code, the link, the coupon code
    expires_on: date | None = None  # coupon: last valid local day
    recipient: str = ""
    phone: str = ""
    address: str = ""
    tracking: str = ""
    note: str = ""  # refund reason
    restocked: bool = False  # its refund put the unit (or the undelivered code) back in stock
    pay_by: datetime | None = _ts(nullable=True)
    paid_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class MallCodeDelivery(_Table, table=True):
    """A card code shown to a member by an order (paid, or without a cash part); never updated nor deleted."""

    __tablename__ = "mall_code_deliveries"
    __table_args__ = (UniqueConstraint("order_id", name="uq_mall_code_deliveries_order"),
                      Index("ix_mall_code_deliveries_code", "code_id", "id"))

    id: int | None = Field(default=None, primary_key=True)
    code_id: int = Field(foreign_key="mall_codes.id")
    order_id: int = Field(foreign_key="mall_orders.id")
    member_id: str
    at: datetime = _ts(nullable=False)


class MallCodeReturn(_Table, table=True):
    """A delivered code an operator put back in stock (回收卡密) after its order was refunded; never updated."""

    __tablename__ = "mall_code_returns"
    __table_args__ = (UniqueConstraint("order_id", name="uq_mall_code_returns_order"),
                      Index("ix_mall_code_returns_code", "code_id"))

    id: int | None = Field(default=None, primary_key=True)
    code_id: int = Field(foreign_key="mall_codes.id")
    order_id: int = Field(foreign_key="mall_orders.id")  # the closed order that had delivered it
    operator_id: str  # who recycled it ("" for returns back-filled by revision 0003)
    at: datetime = _ts(nullable=False)
    note: str = ""


class DailyCounter(_Table, table=True):
    """Per-member counters that reset each local day (wrong follow codes, ...)."""

    __tablename__ = "daily_counters"

    member_id: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    count: int = 0


class LevelUp(_Table, table=True):
    """A level a member reached and was congratulated on: each level is announced once, ever."""

    __tablename__ = "level_ups"

    member_id: str = Field(primary_key=True, foreign_key="members.id")
    level: str = Field(primary_key=True)
    at: datetime = _ts(nullable=False)


class CheckinCount(_Table, table=True):
    """Check-ins (not makeups) of each local day, for the figures' check-in rate: kept like ledger_hours (one upsert
    per transaction, storage.checkins), in the writing process's shard; readers sum over shards."""

    __tablename__ = "checkin_counts"

    day: date = Field(primary_key=True)
    shard: int = Field(primary_key=True)
    n: int = 0


class LedgerHour(_Table, table=True):
    """The ledger summed by UTC hour and kind: the figures' points accounting reads whole hours here, not the entries.

    Written once per transaction (storage.hours: the entries noted by the ledger's hook, one executemany upsert
    just before commit). `shard` is the writing process's (pid % storage.hours.SHARDS), so processes sharing a
    PostgreSQL do not queue on one row; readers sum over shards.
    """

    __tablename__ = "ledger_hours"

    hour: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))  # the start of a UTC hour
    kind: str = Field(primary_key=True)
    shard: int = Field(primary_key=True)
    delta: int = 0  # sum of the entries' points
    growth_delta: int = 0
    entries: int = 0


class PeriodSum(_Table, table=True):
    """Growth earned by a member in one local week ("week:2026-11-23", from Monday) or month ("month:2026-11-01").

    Kept by the ledger beside each entry, so 周榜/月榜 read an index instead of summing the ledger.
    """

    __tablename__ = "period_sums"
    __table_args__ = (Index("ix_period_sums_board", "period", "points", "reached_at"),
                      Index("ix_period_sums_member", "member_id"))

    period: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True, foreign_key="members.id")
    points: int = 0
    reached_at: datetime = _ts(nullable=False)  # when the sum last changed: ties go to whoever got there first


class BoardCount(_Table, table=True):
    """How many listed members hold each score on a board, kept beside every balance, period sum and group move.

    A rank is 1 + the members above it: a sum over the scores above, so it costs O(distinct scores), not
    O(members ahead). `board` is "all" (balances) or a period_sums key; `room` is "" for the company-wide
    board (members in some served group) or a group id (本群). Staff are counted like anyone: the config says
    who they are, and readers take them out (O(#admins)), so a change of `bot.admins` needs no rebuild.
    Only scores above zero are counted; a row may hold n = 0.
    """

    __tablename__ = "board_counts"

    board: str = Field(primary_key=True)
    room: str = Field(primary_key=True)
    score: int = Field(primary_key=True)
    n: int = 0


class QuizRound(_Table, table=True):
    """One question asked by the `quiz` job; answers count in [started_at, ends_at)."""

    __tablename__ = "quiz_rounds"
    __table_args__ = (UniqueConstraint("key", name="uq_quiz_rounds_key"), Index("ix_quiz_rounds_open", "closed", "ends_at"))

    id: int | None = Field(default=None, primary_key=True)
    key: str  # schedule entry id and due time
    number: int  # 1 for the first round ever; picks the question in turn
    question: str
    answers: list[str] = _json([])  # as configured when asked
    points: int
    winners: int
    rooms: list[str] = _json([])  # groups it was asked in; [] = every group served
    started_at: datetime = _ts(nullable=False)
    ends_at: datetime = _ts(nullable=False)
    closed: bool = False


class QuizAnswer(_Table, table=True):
    """A member's one counted answer to a round."""

    __tablename__ = "quiz_answers"

    round_id: int = Field(primary_key=True, foreign_key="quiz_rounds.id")
    member_id: str = Field(primary_key=True, foreign_key="members.id")
    at: datetime = _ts(nullable=False)
    correct: bool
    place: int | None = None  # 1.. for the paid winners


class PointLot(_Table, table=True):
    """Points one credit brought, while expiry is on: spending draws on the lots that expire first."""

    __tablename__ = "point_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= points", name="ck_point_lots_remaining"),
        Index("ix_point_lots_member", "member_id", "expires_at", "id"),
        Index("ix_point_lots_due", "expires_at", "remaining"),
        Index("ix_point_lots_entry", "entry_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id")
    entry_id: int | None = None  # the credit that opened it; None: the balance held when expiry was turned on
    points: int
    remaining: int  # == points - what entries drew from it (audit checks)
    earned_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False)  # from then on its remainder is expired by the daily run
    warned: bool = False  # the member was told before it expires


class LotUse(_Table, table=True):
    """What a ledger entry drew from (points > 0) or put back into (points < 0) a lot."""

    __tablename__ = "lot_uses"
    __table_args__ = (Index("ix_lot_uses_entry", "entry_id"), Index("ix_lot_uses_lot", "lot_id"))

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int | None = None  # None: settled at start (lots held more than the balance)
    lot_id: int = Field(foreign_key="point_lots.id")
    points: int


class InboxEvent(_Table, table=True):
    """An event a live transport accepted (answered 202) and the pipeline has not handled yet: kept across a crash."""

    __tablename__ = "inbox"
    __table_args__ = {"sqlite_autoincrement": True}  # ids only grow: the order events were accepted in

    id: int | None = Field(default=None, primary_key=True)
    line: str  # the event as the connector sent it (a replay-format JSON line)
    received_at: datetime = _ts(nullable=False)  # an event dated later than this is taken as of this time


class OutLine(_Table, table=True):
    """A line the bridge gave out, by its number: numbers go on across restarts, and a reader may catch up."""

    __tablename__ = "out_log"
    __table_args__ = {"sqlite_autoincrement": True}  # a number is never given twice, even after a trim

    seq: int | None = Field(default=None, primary_key=True)
    line: str
    at: datetime = _ts(nullable=False)


class ConsoleUser(_Table, table=True):
    """An account of the operator console (console/): argon2 hash, never the password."""

    __tablename__ = "console_users"

    name: str = Field(primary_key=True)
    password_hash: str
    role: str  # viewer (reads) | operator (also changes)
    disabled: bool = False
    created_at: datetime = _ts(nullable=False)


class ConsoleState(_Table, table=True):
    """The console's own values kept in the database: the session-signing secret made on first start."""

    __tablename__ = "console_state"

    name: str = Field(primary_key=True)
    value: str


class OperatorLogEntry(_Table, table=True):
    """One change an operator made, whatever the channel (console, chat admin command, CLI): who, when, what, why."""

    __tablename__ = "operator_log"
    __table_args__ = (Index("ix_operator_log_target", "target", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    actor_kind: str  # console | chat | cli
    actor: str  # console user name, contact id, or the OS user of the CLI
    action: str  # award, deduct, undo, reveal, import_codes, import_balances, export_orders, ship, ...
    target: str = ""  # member id, order id, sku
    detail: dict[str, Any] = _json({})
    reason: str = ""


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model (SQLModel declares `__table__` untyped)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


MEMBERS = table_of(Member)
MEMBER_FREEZES = table_of(MemberFreeze)
ROOMS = table_of(Room)
ROOM_MEMBERS = table_of(RoomMember)
CHECKINS = table_of(Checkin)
LEDGER = table_of(LedgerEntry)
PROCESSED_EVENTS = table_of(ProcessedEvent)
ACTIVE_DAYS = table_of(ActiveDay)
MEMBER_DAYS = table_of(MemberDay)
NEWCOMERS = table_of(Newcomer)
INVITES = table_of(Invite)
TASK_TIERS = table_of(TaskTier)
PROFILES = table_of(Profile)
CONVERSATIONS = table_of(Conversation)
MALL_ITEMS = table_of(MallItem)
MALL_CODES = table_of(MallCode)
MALL_ORDERS = table_of(MallOrder)
MALL_DELIVERIES = table_of(MallCodeDelivery)
MALL_RETURNS = table_of(MallCodeReturn)
DAILY_COUNTERS = table_of(DailyCounter)
LEVEL_UPS = table_of(LevelUp)
PERIOD_SUMS = table_of(PeriodSum)
LEDGER_HOURS = table_of(LedgerHour)
CHECKIN_COUNTS = table_of(CheckinCount)
BOARD_COUNTS = table_of(BoardCount)
QUIZ_ROUNDS = table_of(QuizRound)
QUIZ_ANSWERS = table_of(QuizAnswer)
POINT_LOTS = table_of(PointLot)
LOT_USES = table_of(LotUse)
INBOX = table_of(InboxEvent)
OUT_LOG = table_of(OutLine)
CONSOLE_USERS = table_of(ConsoleUser)
CONSOLE_STATE = table_of(ConsoleState)
OPERATOR_LOG = table_of(OperatorLogEntry)
