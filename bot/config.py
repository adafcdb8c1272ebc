"""Load and validate config.toml into typed settings; a bad value names its key, never a traceback."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from pydantic_core import PydanticCustomError

DEFAULT_CONFIG = Path("config.toml")


class ConfigError(Exception):
    """A config problem an operator can fix; the text says which key and what is wrong."""


def _fail(message: str) -> Any:
    raise PydanticCustomError("config", message)


def _int_at_least(low: int) -> Any:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            _fail(f"must be an integer >= {low}")
        return int(v)

    return BeforeValidator(check)


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        _fail("must be a non-empty string")
    return str(v).strip()


def _timezone(v: Any) -> str:
    _text(v)
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        _fail('must be an IANA time zone such as "Asia/Shanghai"')
    return str(v)


def _cron(v: Any) -> str:
    _text(v)
    try:
        CronTrigger.from_crontab(v)
    except ValueError:
        _fail('must be a five-field cron expression such as "0 8 * * *" (minute hour day month weekday)')
    return str(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        _fail("must be true or false")
    return bool(v)


NonNegInt = Annotated[int, _int_at_least(0)]
PosInt = Annotated[int, _int_at_least(1)]
Text = Annotated[str, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_bool)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSettings(Section):
    name: Text = "积分助手"  # how members @-mention the bot; a leading @name before a command is skipped
    self_id: Text = "bot"  # the bot's own contact id (the wechaty transport learns it at login)
    timezone: Annotated[str, BeforeValidator(_timezone)] = "Asia/Shanghai"
    admins: list[Text] = Field(default_factory=list)
    rooms: list[Text] = Field(default_factory=list)  # empty: serve every group the bot is in
    rate_limit: NonNegInt = 10  # commands one member may trigger per minute; beyond it the bot stays silent (0: off)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class TransportSettings(Section):
    kind: Literal["console", "replay", "wechaty", "bridge"] = "console"
    file: str = ""  # kind = "replay": the JSON-lines file to read


def _seconds_at_least(low: float) -> Any:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < low:
            _fail(f"must be a number of seconds >= {low:g}")
        return float(v)

    return BeforeValidator(check)


_HHMM = r"([01]\d|2[0-3]):[0-5]\d"  # a local time of day


def _quiet_hours(v: Any) -> str:
    if v == "":
        return ""
    if not isinstance(v, str) or not re.fullmatch(rf"\s*{_HHMM}\s*-\s*{_HHMM}\s*", v):
        _fail('must be "HH:MM-HH:MM" such as "22:30-07:30", or "" for none')
    return str(v).strip()


class WechatySettings(Section):
    endpoint: str = ""  # host:port of the puppet service; env WECHATY_PUPPET_SERVICE_ENDPOINT wins
    token: str = ""  # env WECHATY_PUPPET_SERVICE_TOKEN wins
    cache_dir: Text = "data/wechaty"  # where wechaty keeps its files
    probe_seconds: Annotated[float, _seconds_at_least(1)] = 30.0  # a cheap call this often finds a deaf link
    probe_timeout_seconds: Annotated[float, _seconds_at_least(1)] = 10.0
    backoff_initial_seconds: Annotated[float, _seconds_at_least(0.1)] = 1.0
    backoff_max_seconds: Annotated[float, _seconds_at_least(1)] = 60.0


class BridgeSettings(Section):
    host: Text = "127.0.0.1"
    port: Annotated[int, _int_at_least(0)] = 8787
    secret: str = ""  # required; env BOT_BRIDGE_SECRET wins


class OutboxSettings(Section):
    interval_seconds: Annotated[float, _seconds_at_least(0.1)] = 1.5  # one message per this, per account
    burst: PosInt = 3  # messages that may leave at once after a quiet spell
    coalesce_seconds: Annotated[float, _seconds_at_least(0)] = 3.0  # 0 = never merge replies
    coalesce_max_mentions: PosInt = 50
    max_chars: PosInt = 3000
    give_up_seconds: Annotated[float, _seconds_at_least(1)] = 600.0  # a reply later than this is logged, not sent
    quiet_hours: Annotated[str, BeforeValidator(_quiet_hours)] = ""  # scheduled posts wait, e.g. "22:30-07:30"


class StorageSettings(Section):
    url: Text = "sqlite:///data/points.db"
    batch_size: PosInt = 256  # events committed together at most (group commit)


class Bonus(Section):
    days: PosInt
    bonus: PosInt
    name: str = ""


class MakeupSettings(Section):
    cost: PosInt = 20  # points a makeup check-in costs
    max_per_month: PosInt = 2
    within_days: PosInt = 3  # how far back a missed day may be filled


class CheckinSettings(Section):
    points: NonNegInt = 5
    keywords: list[Text] = Field(default_factory=lambda: ["签到", "打卡"])
    consecutive: list[Bonus] = Field(default_factory=list)
    cumulative: list[Bonus] = Field(default_factory=list)
    group_only: Flag = True  # check in only from a group, where it keeps the chat alive
    multiplier: PosInt = 1  # every check-in payout is multiplied by this (campaigns raise it)
    makeup: MakeupSettings | None = None  # 补签; section left out: off

    @model_validator(mode="after")
    def _names(self) -> CheckinSettings:
        for kind, rows, label in (("consecutive", self.consecutive, "连续签到{}天奖励"),
                                  ("cumulative", self.cumulative, "累计签到{}天奖励")):
            seen: set[int] = set()
            for i, b in enumerate(rows):
                if b.days in seen:
                    raise PydanticCustomError(
                        "config", f"{kind}[{i}].days repeats {b.days}: give each day count one bonus"
                    )
                seen.add(b.days)
                if not b.name:
                    object.__setattr__(b, "name", label.format(b.days))
        return self


class NewcomerSettings(Section):
    points: NonNegInt = 10
    scope: Literal["company", "room"] = "company"  # new to every group of the company, or to this group
    claim_within_hours: NonNegInt = 0  # 0: pay on joining; > 0: pay when 新人礼 is sent within this many hours
    keywords: list[Text] = Field(default_factory=lambda: ["新人礼"])
    welcome: Flag = True  # greet newcomers by @-mention


class InviteSettings(Section):
    points: NonNegInt = 20
    revoke_within_days: NonNegInt = 7  # invitee leaves within this many days: the award is reversed (0: any time)
    count_returning: Flag = False  # pay for invitees who were in a company group before


class Tier(Section):
    at: PosInt
    points: PosInt


class TaskSettings(Section):
    id: Text
    name: Text
    metric: Literal["invites", "checkin_days", "checkin_streak"]
    tiers: list[Tier]

    @model_validator(mode="after")
    def _ascending(self) -> TaskSettings:
        if not self.tiers:
            raise PydanticCustomError("config", "tiers must list at least one {at = N, points = P}")
        ats = [t.at for t in self.tiers]
        if ats != sorted(set(ats)):
            raise PydanticCustomError("config", "tiers must be in ascending order of `at`, each `at` once")
        return self


ProfileField = Literal["phone", "birthday", "city"]
PROFILE_FIELDS: tuple[ProfileField, ...] = ("phone", "birthday", "city")


class ProfileSettings(Section):
    points: NonNegInt = 20
    fields: list[ProfileField] = Field(default_factory=lambda: list(PROFILE_FIELDS))
    expire_minutes: PosInt = 30  # a conversation left alone this long is dropped


class FollowAccount(Section):
    id: Text
    name: Text
    code: Text


class FollowSettings(Section):
    points: NonNegInt = 15
    max_wrong_per_day: PosInt = 5
    accounts: list[FollowAccount] = Field(default_factory=list)


def _aware(v: Any) -> datetime:
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v)
        except ValueError:
            _fail("must be a date-time such as 2026-11-01T00:00:00+08:00")
    if not isinstance(v, datetime) or v.tzinfo is None:
        _fail("must be a date-time with its UTC offset, such as 2026-11-01T00:00:00+08:00")
    return v  # type: ignore[no-any-return]


Aware = Annotated[datetime, BeforeValidator(_aware)]
OVERRIDABLE = ("checkin", "newcomer", "invite", "profile", "follow")
MALL_KINDS = ("physical", "red_packet", "card_code", "link", "coupon")


def _yuan(v: Any) -> int:
    """Yuan as typed (12, 9.9) to whole fen, refusing fractions of a fen."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or round(v * 100, 6) != int(round(v * 100, 6)):
        _fail("must be a number of yuan >= 0 with at most two decimals, such as 9.9")
    return round(v * 100)


def _sku(v: Any) -> str:
    import re

    if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", v):
        _fail('must be letters, digits, "-", "_" or "." (up to 40, no spaces), such as "mug-2026"')
    return str(v)


class MallCoupon(Section):
    code: str = ""  # the code every buyer gets (a shared coupon code)
    threshold: str = ""  # what it is worth, as members read it: "满100减20"
    valid_days: PosInt = 30  # it expires this many local days after the order


class MallItem(Section):
    """One thing for sale; `sku` is its identity in the database (stock, sales, orders), never change it."""

    sku: Annotated[str, BeforeValidator(_sku)]
    name: Text
    kind: Literal["physical", "red_packet", "card_code", "link", "coupon"]
    points: PosInt
    cash: Annotated[int, BeforeValidator(_yuan)] = 0  # stored in fen; > 0 means points + cash
    stock: NonNegInt | None = None  # opening stock when the sku is first seen; left out: unlimited
    limit_per_member: NonNegInt = 0  # orders per member that were not cancelled or refunded (0: no limit)
    starts: Aware | None = None
    ends: Aware | None = None
    min_level: str = ""  # a [[levels]] name: only members at that level or above see and may buy it
    link: str = ""
    coupon: MallCoupon | None = None
    description: str = ""

    @model_validator(mode="after")
    def _kind_needs(self) -> MallItem:
        if self.starts and self.ends and self.ends <= self.starts:
            raise PydanticCustomError("config", "ends must be after starts")
        if self.kind == "link" and not self.link.strip():
            raise PydanticCustomError("config", 'link is required for kind = "link" (it is what the buyer gets)')
        if self.kind == "coupon" and (self.coupon is None or not self.coupon.code.strip()):
            raise PydanticCustomError("config", 'coupon.code is required for kind = "coupon"')
        if self.kind == "card_code" and self.stock is not None:
            raise PydanticCustomError(
                "config", "stock must be left out for kind = \"card_code\": its stock is the number of unused codes "
                "(python run_bot.py import-codes SKU FILE)")
        return self


class MallSettings(Section):
    confirm_above: NonNegInt = 500  # items costing the member (level price) above this ask for 确认 (0: always)
    confirm_minutes: PosInt = 2  # ... within this many minutes
    page_size: PosInt = 8  # items per page of 商城
    address_minutes: PosInt = 30  # the parcel address conversation ends after this long without an answer
    pay_within_hours: PosInt = 24  # a points + cash order not marked paid by then is cancelled and refunded
    pay_note: str = "请按管理员提供的方式付款"  # how to pay the cash part, told privately to the buyer
    highlight_new_days: NonNegInt = 7  # job mall_highlights: 新品 = listed within this many days (0: no 新品 part)
    highlight_low_stock: NonNegInt = 5  # ... 即将售罄 = this many left or fewer (0: no 即将售罄 part)
    items: list[MallItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> MallSettings:
        skus: set[str] = set()
        names: set[str] = set()
        for i, it in enumerate(self.items):
            if it.sku.lower() in skus:
                raise PydanticCustomError("config", f"items[{i}].sku repeats {it.sku!r}: each item needs its own sku")
            if it.name in names:
                raise PydanticCustomError("config", f"items[{i}].name repeats {it.name!r}: members redeem by name")
            if it.name.isdecimal():
                raise PydanticCustomError("config", f"items[{i}].name must not be a number: 兑换 N means item number N")
            skus.add(it.sku.lower())
            names.add(it.name)
        return self


class Campaign(Section):
    """A time-boxed campaign: inside [starts, ends) its sections override the base config's.

    Declared keys describe the campaign (and its posts, job "campaign"); every other key is an override.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    id: Text
    name: Text
    starts: Aware
    ends: Aware
    description: str = ""  # what the campaign is, shown in its posts
    warmup_hours: NonNegInt = 24  # 预热 post: due within this many hours before starts (0: none)
    closing_hours: NonNegInt = 24  # 收尾 post: due within this many hours before ends (0: none)

    def overrides(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class LeaderboardSettings(Section):
    size: Annotated[int, _int_at_least(1)] = 10


def _number_between(low: float, high: float | None, *, open_low: bool = False) -> Any:
    def check(v: Any) -> float:
        bad = isinstance(v, bool) or not isinstance(v, (int, float))
        if not bad and (v < low or (open_low and v == low) or (high is not None and v > high)):
            bad = True
        if bad:
            _fail(f"must be a number {'>' if open_low else '>='} {low:g}" + (f" and <= {high:g}" if high else ""))
        return float(v)

    return BeforeValidator(check)


class Level(Section):
    """A member level (等级): held from `growth` 成长值 on; benefits apply while it is held."""

    name: Text
    growth: NonNegInt
    checkin_multiplier: Annotated[float, _number_between(1, None)] = 1.0  # check-in points x this, rounded down
    mall_discount: Annotated[float, _number_between(0, 1, open_low=True)] = 1.0  # mall prices x this


class QuizQuestion(Section):
    question: Text
    answers: list[Text]  # any of them is right; compared without regard to case, width and spaces
    points: PosInt = 5

    @model_validator(mode="after")
    def _some_answer(self) -> QuizQuestion:
        if not self.answers:
            raise PydanticCustomError("config", "answers must list at least one right answer")
        return self


class QuizSettings(Section):
    winners: PosInt = 3  # the first this many right answers earn the points
    window_minutes: PosInt = 30  # answers count this long after the question; then the result is posted
    keywords: list[Text] = Field(default_factory=lambda: ["答", "回答"])  # members answer with "答 A"
    questions: list[QuizQuestion] = Field(default_factory=list)  # asked in turn, then from the top again


class ScheduleEntry(Section):
    id: Text
    job: Text
    cron: Annotated[str, BeforeValidator(_cron)]
    rooms: list[Text] = Field(default_factory=list)  # empty: every group the bot serves
    period: Literal["all", "week", "month"] = "all"  # job = "leaderboard": balance, or points earned this week/month

    @model_validator(mode="after")
    def _period_for_boards(self) -> ScheduleEntry:
        if self.period != "all" and self.job != "leaderboard":
            raise PydanticCustomError("config", f"period is for job = \"leaderboard\" only (this entry runs {self.job!r})")
        return self


class StatementSettings(Section):
    """我的账单: the member's statement of the year, privately; as a PNG card where the transport sends images."""

    card: Flag = True  # also draw the statement as a PNG card (needs a CJK font; text only without one)
    font: str = ""  # path of a TTF/OTF/TTC font with Chinese glyphs; "" = look in the usual system places
    cards_dir: str = ""  # where the PNG cards are written; "" = cards/ beside the SQLite database, else data/cards


def _clock_time(v: Any) -> str:
    if not isinstance(v, str) or not re.fullmatch(_HHMM, v.strip()):
        _fail('must be a local time "HH:MM" such as "00:05"')
    return str(v).strip()


class ExpirySettings(Section):
    """Points expiry: each earning's unspent remainder expires; spending takes the oldest points first."""

    policy: Literal["none", "rolling", "year_end"] = "none"
    days: PosInt = 365  # rolling: an earning expires this many days after it was earned
    warn_days: NonNegInt = 7  # members are told privately this many days before points expire (0: no warning)
    run_at: Annotated[str, BeforeValidator(_clock_time)] = "00:05"  # local time of the daily expiry run


class Settings(Section):
    bot: BotSettings = Field(default_factory=BotSettings)
    transport: TransportSettings = Field(default_factory=TransportSettings)
    wechaty: WechatySettings = Field(default_factory=WechatySettings)
    bridge: BridgeSettings = Field(default_factory=BridgeSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    checkin: CheckinSettings | None = None  # section left out: check-in is off
    leaderboard: LeaderboardSettings = Field(default_factory=LeaderboardSettings)
    schedule: list[ScheduleEntry] = Field(default_factory=list)
    newcomer: NewcomerSettings | None = None
    invite: InviteSettings | None = None
    tasks: list[TaskSettings] = Field(default_factory=list)
    profile: ProfileSettings | None = None
    follow: FollowSettings | None = None
    mall: MallSettings | None = None  # 积分商城; section left out: off
    campaigns: list[Campaign] = Field(default_factory=list)
    levels: list[Level] = Field(default_factory=list)  # member levels, in ascending order of growth
    quiz: QuizSettings | None = None  # 互动问答; section left out: off
    statement: StatementSettings | None = None  # 我的账单; section left out: off
    expiry: ExpirySettings | None = None  # points expiry; left out (or policy = "none"): points never expire
    _effective: dict[str, Settings] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_jobs(self) -> Settings:
        groups: tuple[tuple[str, list[Any]], ...] = (
            ("schedule", self.schedule), ("tasks", self.tasks), ("campaigns", self.campaigns))
        for key, rows in groups:
            seen: set[str] = set()
            for i, row in enumerate(rows):
                if row.id in seen:
                    raise PydanticCustomError("config", f"{key}[{i}].id repeats {row.id!r}: ids must be unique")
                seen.add(row.id)
        for i, e in enumerate(self.schedule):
            if e.job == "quiz" and (self.quiz is None or not self.quiz.questions):
                raise PydanticCustomError(
                    "config", f"schedule[{i}] asks quiz questions: add [quiz] and at least one [[quiz.questions]]")
        for i, lv in enumerate(self.levels):
            if i and lv.growth <= self.levels[i - 1].growth:
                raise PydanticCustomError(
                    "config", f"levels[{i}].growth must be above levels[{i - 1}].growth: list levels from low to high")
            if any(o.name == lv.name for o in self.levels[:i]):
                raise PydanticCustomError("config", f"levels[{i}].name repeats {lv.name!r}: names must be unique")
        names = {lv.name for lv in self.levels}
        for i, it in enumerate(self.mall.items if self.mall else []):
            if it.min_level and it.min_level not in names:
                known = ", ".join(sorted(names)) or "none: add [[levels]] first"
                raise PydanticCustomError(
                    "config", f"mall.items[{i}].min_level {it.min_level!r} is not a level (levels: {known})")
        if self.follow is not None:
            codes = [a.code.upper() for a in self.follow.accounts]
            if len(codes) != len(set(codes)):
                raise PydanticCustomError("config", "follow.accounts: each account needs its own code")
        return self

    @model_validator(mode="after")
    def _campaigns(self) -> Settings:
        """Validate each campaign's overrides by building the settings in force during it."""
        for i, c in enumerate(self.campaigns):
            if c.ends <= c.starts:
                raise PydanticCustomError("config", f"campaigns[{i}].ends must be after its starts")
            over = c.overrides()
            for section, values in over.items():
                if section not in OVERRIDABLE:
                    raise PydanticCustomError(
                        "config", f"campaigns[{i}].{section} is not a section a campaign can override "
                        f"(one of {', '.join(OVERRIDABLE)})")
                if not isinstance(values, dict):
                    raise PydanticCustomError("config", f"campaigns[{i}].{section} must be a table")
                if getattr(self, section) is None:
                    raise PydanticCustomError(
                        "config", f"campaigns[{i}].{section} overrides a feature that is off: add [{section}] first")
            base = self.model_dump(exclude={"campaigns"}, exclude_unset=False)
            for section, values in over.items():
                base[section] = {**base[section], **values}
            try:
                # the campaign list is kept (not re-validated) so handlers can name the campaign
                self._effective[c.id] = Settings.model_validate(base).model_copy(update={"campaigns": self.campaigns})
            except ValidationError as exc:
                raise PydanticCustomError(
                    "config", "; ".join(f"campaigns[{i}]." + _describe(e) for e in exc.errors())) from None
        return self

    def at(self, when: datetime) -> tuple[Settings, dict[str, str]]:
        """The settings in force at `when`, and which campaign overrides which section then."""
        for c in self.campaigns:
            if c.starts <= when < c.ends:
                return self._effective[c.id], {section: c.id for section in c.overrides()}
        return self, {}

    def is_admin(self, contact_id: str) -> bool:
        return contact_id in self.bot.admins


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


_GENERIC = {
    "extra_forbidden": "is not a known key (check the spelling; config.toml in the repo lists every key)",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "missing": "is required",
    "literal_error": None,
}


def _describe(err: Any) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    where = _where(loc) or "config"
    kind = err["type"]
    msg = err["msg"]
    if kind == "config":
        msg = err["ctx"]["reason"] if "ctx" in err and "reason" in err["ctx"] else msg
    elif _GENERIC.get(kind):
        msg = _GENERIC[kind]
    elif kind == "literal_error":
        msg = "must be one of " + err["ctx"]["expected"]
    else:
        msg = msg[0].lower() + msg[1:]
    if kind == "missing":
        return f"{where} {msg}"
    if kind == "config" and isinstance(err.get("input"), dict):
        # a rule across keys of one table: the message names the key inside it
        return f"{_where(loc)}.{msg}" if loc else msg
    shown = json.dumps(err.get("input"), ensure_ascii=False, default=str)
    return f"{where} {msg}, got {shown}"


def parse(data: dict[str, Any]) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(e) for e in exc.errors())) from None


def load(path: Path | str | None = None, db_url: str | None = None) -> Settings:
    """Read and validate the config file; `db_url` (from --db) overrides storage.url."""
    p = Path(path) if path else DEFAULT_CONFIG
    if not p.exists():
        raise ConfigError(f"config file {p} not found: pass --config FILE, or copy config.toml from the repo")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p} must be saved as UTF-8") from None
    if db_url:
        data.setdefault("storage", {})
        if isinstance(data["storage"], dict):
            data["storage"]["url"] = db_url
    return parse(data)
