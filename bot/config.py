"""Load and validate config.toml into typed settings; a bad value names its key, never a traceback.

The core sections (bot, transport, wechaty, bridge, wecom, outbox, health, storage, log, schedule) and campaigns live here;
every feature declares its own section next to its handlers with `section(...)`, and `parse` builds the
settings model from the core and whatever sections are registered by then (run_bot imports handlers).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

DEFAULT_CONFIG = Path("config.toml")


class ConfigError(Exception):
    """A config problem an operator can fix; the text says which key and what is wrong."""


def problem(message: str) -> PydanticCustomError:
    """A rule of ours a value breaks; raise it from a validator or a section check, `message` is what operators read."""
    return PydanticCustomError("config", message)


@dataclass(frozen=True)
class Words:
    """How a type is named when a value does not fit it: Words("a non-empty string") -> "must be a non-empty string".

    Numbers (int, float) and true/false are named without it; bounds declared with Field(ge=, gt=, le=)
    are added to the name ("must be an integer >= 0") whichever check refused the value.
    """

    noun: str


# -- small named types features build their sections from ------------------------------------------

MAX_INT = 2**31 - 1  # what an INTEGER column holds on PostgreSQL
MAX_POINTS = 100_000  # one payout, price or bonus: a slip of the keyboard should not mint millions
MAX_FACTOR = 10  # a multiplier of payouts
MAX_DAYS = 3660  # ten years: any span further is a typo, and dates past year 9999 do not exist
MAX_SECONDS = 86_400.0

NonNegInt = Annotated[int, Field(ge=0, le=MAX_INT, strict=True)]
PosInt = Annotated[int, Field(ge=1, le=MAX_INT, strict=True)]
Points = Annotated[int, Field(ge=0, le=MAX_POINTS, strict=True)]
PosPoints = Annotated[int, Field(ge=1, le=MAX_POINTS, strict=True)]
Factor = Annotated[int, Field(ge=1, le=MAX_FACTOR, strict=True)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS, strict=True)]
PosDays = Annotated[int, Field(ge=1, le=MAX_DAYS, strict=True)]
Hours = Annotated[int, Field(ge=0, le=MAX_DAYS * 24, strict=True)]
PosHours = Annotated[int, Field(ge=1, le=MAX_DAYS * 24, strict=True)]
PosMinutes = Annotated[int, Field(ge=1, le=MAX_DAYS * 24 * 60, strict=True)]
Port = Annotated[int, Field(ge=0, le=65535, strict=True)]  # 0: any free port (tests)
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), Words("a non-empty string")]
Flag = StrictBool
HHMM = r"([01]\d|2[0-3]):[0-5]\d"  # a local time of day


def _not_a_number(v: Any) -> Any:
    # pydantic reads a number as a Unix timestamp; in config.toml it is a mistake
    if isinstance(v, (int, float)):
        raise problem("must be a date-time with its UTC offset, such as 2026-11-01T00:00:00+08:00")
    return v


Aware = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]


def _timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem('must be an IANA time zone such as "Asia/Shanghai"') from None
    return v


def _cron(v: str) -> str:
    from apscheduler.triggers.cron import CronTrigger  # ~50 ms: only a config with [[schedule]] pays it

    try:
        CronTrigger.from_crontab(v)
    except ValueError:
        raise problem('must be a five-field cron expression such as "0 8 * * *" (minute hour day month weekday)') from None
    return v


Timezone = Annotated[Text, AfterValidator(_timezone)]
Cron = Annotated[Text, AfterValidator(_cron)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- the core sections ---------------------------------------------------------------------------


class BotSettings(Section):
    name: Text = "积分助手"  # how members @-mention the bot; a leading @name before a command is skipped
    self_id: Text = "bot"  # the bot's own contact id (the wechaty transport learns it at login)
    timezone: Timezone = "Asia/Shanghai"
    admins: list[Text] = Field(default_factory=list)
    rooms: list[Text] = Field(default_factory=list)  # empty: serve every group the bot is in
    rate_limit: NonNegInt = 10  # commands one member may trigger per minute; beyond it the bot stays silent (0: off)
    staff_earn: Flag = False  # admins earn check-in, invite, task and newcomer points and may award themselves

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class TransportSettings(Section):
    kind: Literal["console", "replay", "wechaty", "bridge", "wecom"] = "console"
    file: str = ""  # kind = "replay": the JSON-lines file to read


_SECONDS = Words("a number of seconds")


def seconds(ge: float, le: float = MAX_SECONDS) -> Any:
    """Bounds of a finite number of seconds: `Annotated[float, seconds(1, 3600), _SECONDS]`."""
    return Field(ge=ge, le=le, strict=True, allow_inf_nan=False)


QuietHours = Annotated[
    str, Field(pattern=rf"^(|\s*{HHMM}\s*-\s*{HHMM}\s*)$"), AfterValidator(str.strip),
    Words('"HH:MM-HH:MM" such as "22:30-07:30", or "" for none'),
]


class WechatySettings(Section):
    endpoint: str = ""  # host:port of the puppet service; env WECHATY_PUPPET_SERVICE_ENDPOINT wins
    token: str = ""  # env WECHATY_PUPPET_SERVICE_TOKEN wins
    cache_dir: Text = "data/wechaty"  # where wechaty keeps its files
    probe_seconds: Annotated[float, seconds(1, 3600), _SECONDS] = 30.0  # a cheap call this often finds a deaf link
    probe_timeout_seconds: Annotated[float, seconds(1, 3600), _SECONDS] = 10.0
    backoff_initial_seconds: Annotated[float, seconds(0.1, 3600), _SECONDS] = 1.0
    backoff_max_seconds: Annotated[float, seconds(1, 3600), _SECONDS] = 60.0


def _ws_url(v: str) -> str:
    if not v.startswith(("wss://", "ws://")):
        raise problem('must be a WebSocket address such as "wss://openws.work.weixin.qq.com" (ws:// for a local relay)')
    return v


class WecomSettings(Section):
    bot_id: str = ""  # the AI bot's BotID from WeCom's admin console; env WECOM_BOT_ID wins
    secret: str = ""  # env WECOM_BOT_SECRET wins; a refused secret stops the bot (exit 4)
    ws_url: Annotated[Text, AfterValidator(_ws_url)] = "wss://openws.work.weixin.qq.com"  # env WECOM_WS_URL wins
    ping_seconds: Annotated[float, seconds(1, 3600), _SECONDS] = 30.0  # a ping this often; no answer: reconnect
    ping_timeout_seconds: Annotated[float, seconds(1, 3600), _SECONDS] = 10.0  # also how long subscribe and sends wait
    backoff_initial_seconds: Annotated[float, seconds(0.1, 3600), _SECONDS] = 1.0
    backoff_max_seconds: Annotated[float, seconds(1, 3600), _SECONDS] = 60.0


class BridgeSettings(Section):
    host: Text = "127.0.0.1"
    port: Port = 8787
    secret: str = ""  # required; env BOT_BRIDGE_SECRET wins


class HealthSettings(Section):
    port: Port = 0  # GET /healthz on host:port; 0 = off
    host: Text = "127.0.0.1"
    alert_after: Annotated[float, seconds(1), _SECONDS] = 180.0  # not connected this long: alert, /healthz says down
    webhook: Annotated[str, AfterValidator(str.strip)] = ""  # a WeCom group robot's URL; env BOT_HEALTH_WEBHOOK wins

    @model_validator(mode="after")
    def _webhook_address(self) -> HealthSettings:
        # said without the value: a webhook's address carries its key
        if self.webhook and not self.webhook.startswith(("https://", "http://")):
            raise problem('webhook must be an http(s) address such as '
                          '"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…" (a WeCom group robot\'s webhook), '
                          'or "" for none')
        return self


class ConsoleSettings(Section):
    enabled: Flag = False  # the bot process also serves the operator console (python run_bot.py console serves it alone)
    host: Text = "127.0.0.1"  # anything but loopback is warned about at start
    port: Port = 8080
    secret: str = ""  # signs session cookies; env BOT_CONSOLE_SECRET wins; "" = one made once and kept in the database
    session_hours: Annotated[int, Field(ge=1, le=24 * 30, strict=True)] = 12  # a login lasts this long


class OutboxSettings(Section):
    interval_seconds: Annotated[float, seconds(0.1, 3600), _SECONDS] = 1.5  # one message per this, per account
    burst: Annotated[int, Field(ge=1, le=1000, strict=True)] = 3  # messages that may leave at once after a quiet spell
    coalesce_seconds: Annotated[float, seconds(0, 3600), _SECONDS] = 3.0  # 0 = never merge replies; else waiting @-replies merge
    coalesce_max_mentions: PosInt = 50
    max_chars: PosInt = 3000
    give_up_seconds: Annotated[float, seconds(1), _SECONDS] = 600.0  # a reply later than this is logged, not sent
    # scheduled posts due inside run when it ends (rendered then); "" = none. Replies are never held.
    quiet_hours: QuietHours = "22:30-07:30"


class LogSettings(Section):
    file: str = ""  # also write the log to this file, rotated (e.g. "data/bot.log"); "" = stderr only
    rotate_mb: Annotated[int, Field(ge=1, le=10_000, strict=True)] = 20  # start a new file beyond this size
    keep: Annotated[int, Field(ge=1, le=1000, strict=True)] = 10  # rotated files kept (older ones are removed)
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"  # what goes to the file


class StorageSettings(Section):
    url: Text = "sqlite:///data/points.db"
    batch_size: Annotated[int, Field(ge=1, le=100_000, strict=True)] = 256  # events committed together at most (group commit)
    # SQLite only: page cache per connection, and the part of the file mapped into memory (0: none); both
    # are ceilings, used as pages are read. Defaults fit 100k members / 5M ledger lines within ~200 MB.
    cache_mb: Annotated[int, Field(ge=1, le=16_384, strict=True)] = 64
    mmap_mb: Annotated[int, Field(ge=0, le=65_536, strict=True)] = 256


class ScheduleEntry(Section):
    id: Text
    job: Text
    cron: Cron
    rooms: list[Text] = Field(default_factory=list)  # empty: every group the bot serves
    period: Literal["all", "week", "month"] = "all"  # job = "leaderboard": balance, or points earned this week/month

    @model_validator(mode="after")
    def _period_for_boards(self) -> ScheduleEntry:
        if self.period != "all" and self.job != "leaderboard":
            raise problem(f"period is for job = \"leaderboard\" only (this entry runs {self.job!r})")
        return self


class Campaign(Section):
    """A time-boxed campaign: inside [starts, ends) its sections override the base config's.

    Declared keys describe the campaign (a feature may declare more by registering a subclass as
    section "campaigns"); every other key is an override of a section registered with campaign=True.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    id: Text
    name: Text
    starts: Aware
    ends: Aware

    def overrides(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


# -- the registry of feature sections -------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSection:
    """A feature's config section: `[name]` (or `[[name]]` tables with many=True) validated by `model`.

    A table left out is None (the feature is off) unless always=True (its defaults apply). campaign=True:
    a campaign may override it. `check(settings)` runs on the whole settings once every section is valid
    (rules across sections: a key that names an entry of another section); it raises problem(...) naming the key.
    """

    name: str
    model: type[BaseModel]
    many: bool = False
    always: bool = False
    campaign: bool = False
    check: Callable[[Any], None] | None = None


SECTIONS: dict[str, FeatureSection] = {}


def section(name: str, model: type[BaseModel], *, many: bool = False, always: bool = False, campaign: bool = False,
            check: Callable[[Any], None] | None = None) -> None:
    """Register a feature's section (at import of the feature's module); registering a name again replaces it."""
    if name in Settings.model_fields and not (many and name == "campaigns" and issubclass(model, Campaign)):
        raise ValueError(f"[{name}] is a core section; a feature may only refine campaigns with a Campaign subclass")
    if campaign and many:
        raise ValueError(f"[[{name}]]: a campaign overrides tables, not lists")
    SECTIONS[name] = FeatureSection(name, model, many, always, campaign, check)


def unique_ids(key: str, rows: Sequence[Any]) -> None:
    """Refuse a list section whose rows repeat an `id`."""
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if row.id in seen:
            raise problem(f"{key}[{i}].id repeats {row.id!r}: ids must be unique")
        seen.add(row.id)


class Settings(Section):
    """The core sections; the model `parse` returns adds one field per registered feature section."""

    bot: BotSettings = Field(default_factory=BotSettings)
    transport: TransportSettings = Field(default_factory=TransportSettings)
    wechaty: WechatySettings = Field(default_factory=WechatySettings)
    bridge: BridgeSettings = Field(default_factory=BridgeSettings)
    wecom: WecomSettings = Field(default_factory=WecomSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    schedule: list[ScheduleEntry] = Field(default_factory=list)
    campaigns: list[Campaign] = Field(default_factory=list)
    sections: ClassVar[tuple[FeatureSection, ...]] = ()
    _effective: dict[str, Settings] = PrivateAttr(default_factory=dict)
    _root: Settings | None = PrivateAttr(default=None)  # a campaign's settings: the configuration they came from

    if TYPE_CHECKING:
        # feature sections are fields of the model parse() builds: settings.<section name>
        def __getattr__(self, name: str) -> Any: ...

    def _check(self) -> None:
        unique_ids("schedule", self.schedule)
        unique_ids("campaigns", self.campaigns)
        for spec in self.sections:
            if spec.check is not None:
                spec.check(self)

    @model_validator(mode="after")
    def _valid(self) -> Settings:
        self._check()
        self._campaigns()
        return self

    def _campaigns(self) -> None:
        """Validate each campaign's overrides by building the settings in force during it."""
        overridable = [s.name for s in self.sections if s.campaign]
        for i, c in enumerate(self.campaigns):
            if c.ends <= c.starts:
                raise problem(f"campaigns[{i}].ends must be after its starts")
            over = c.overrides()
            for name, values in over.items():
                if name not in overridable:
                    raise problem(f"campaigns[{i}].{name} is not a section a campaign can override "
                                  f"(one of {', '.join(overridable)})")
                if not isinstance(values, dict):
                    raise problem(f"campaigns[{i}].{name} must be a table")
                if getattr(self, name) is None:
                    raise problem(f"campaigns[{i}].{name} overrides a feature that is off: add [{name}] first")
            update: dict[str, Any] = {}
            errors: list[str] = []
            for name, values in over.items():
                base = getattr(self, name)
                try:
                    update[name] = type(base).model_validate({**base.model_dump(), **values})
                except ValidationError as exc:
                    errors += [f"campaigns[{i}]." + _describe({**e, "loc": (name, *e["loc"])}, type(self))
                               for e in exc.errors()]
            if errors:
                raise problem("; ".join(errors))
            # the campaign list is kept so handlers can name the campaign
            effective = self.model_copy(update=update)
            effective._root = self
            try:
                effective._check()
            except PydanticCustomError as exc:
                raise problem(f"campaigns[{i}].{exc.message()}") from None
            self._effective[c.id] = effective

    def at(self, when: datetime) -> tuple[Settings, dict[str, str]]:
        """The settings in force at `when`, and which campaign overrides which section then."""
        root = self._root if self._root is not None else self  # asked of a campaign's settings: the same answer
        for c in root.campaigns:
            if c.starts <= when < c.ends:
                return root._effective[c.id], {name: c.id for name in c.overrides()}
        return root, {}

    def base(self) -> Settings:
        """The configuration as written, outside any campaign (asked of a campaign's settings too)."""
        return self._root if self._root is not None else self

    def campaign_settings(self) -> list[Settings]:
        """The settings in force during each campaign, in the order of [[campaigns]]."""
        root = self.base()
        return [root._effective[c.id] for c in root.campaigns if c.id in root._effective]

    def is_admin(self, contact_id: str) -> bool:
        return contact_id in self.bot.admins


_built: tuple[tuple[FeatureSection, ...], type[Settings]] | None = None


def settings_model() -> type[Settings]:
    """Settings with a field per registered feature section, built once per set of sections."""
    global _built
    specs = tuple(SECTIONS.values())
    if _built is None or _built[0] != specs:
        fields: dict[str, Any] = {}
        for s in specs:
            shape: Any = list
            if s.many:
                fields[s.name] = (shape[s.model], Field(default_factory=list))
            elif s.always:
                fields[s.name] = (s.model, Field(default_factory=s.model))
            else:
                fields[s.name] = (s.model | None, None)  # left out: the feature is off
        model = create_model("Settings", __base__=Settings, **fields)
        model.sections = specs
        _built = (specs, model)
    return _built[1]


# -- what operators read ---------------------------------------------------------------------------


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
    "missing": "is required",
    "literal_error": None,
    # pydantic's date-time errors (Aware)
    "datetime_parsing": "must be a date-time such as 2026-11-01T00:00:00+08:00",
    "datetime_from_date_parsing": "must be a date-time such as 2026-11-01T00:00:00+08:00",
    "datetime_type": "must be a date-time with its UTC offset, such as 2026-11-01T00:00:00+08:00",
    "timezone_aware": "must be a date-time with its UTC offset, such as 2026-11-01T00:00:00+08:00",
}
_NAMED = {bool: "true or false", int: "an integer", float: "a number"}
_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _unwrap(tp: Any, meta: list[Any]) -> tuple[Any, list[Any]]:
    """The type under Annotated and `X | None`, with the metadata collected on the way."""
    while True:
        if get_origin(tp) is Annotated:
            tp, *more = get_args(tp)
            meta = meta + [m for x in more for m in (x.metadata if isinstance(x, FieldInfo) else [x])]
        elif get_origin(tp) in (Union, UnionType) and len(args := [a for a in get_args(tp) if a is not type(None)]) == 1:
            tp = args[0]
        else:
            return tp, meta


def _declared(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> tuple[Any, list[Any]]:
    """The type and constraints declared for the value at `loc` ((None, []) when it cannot be told)."""
    tp: Any = model
    meta: list[Any] = []
    for part in loc:
        tp, meta = _unwrap(tp, meta)
        if isinstance(part, int) and get_origin(tp) is list:
            tp, meta = get_args(tp)[0], []
        elif isinstance(part, str) and isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            f = tp.model_fields[part]
            tp, meta = f.annotation, list(f.metadata)
        else:
            return None, []
    return _unwrap(tp, meta)


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _must(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> str | None:
    """"must be an integer >= 0" for a value declared NonNegInt, whatever refused it; None for other types."""
    tp, meta = _declared(model, loc)
    noun = next((m.noun for m in meta if isinstance(m, Words)), None) or _NAMED.get(tp)
    if noun is None:
        return None
    bounds = [f"{op} {_number(getattr(m, attr))}" for m in meta for attr, op in _BOUNDS
              if getattr(m, attr, None) is not None]
    return " ".join(["must be", noun, " and ".join(bounds)]).strip()


def _describe(err: Any, model: type[BaseModel] | None = None) -> str:
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
    elif (must := _must(model, loc)) is not None:
        msg = must
    elif kind == "string_type":
        msg = "must be a string"
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
    model = settings_model()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(e, model) for e in exc.errors())) from None


def warnings(settings: Settings) -> list[str]:
    """Settings that are valid but risky, for the operator to read at start and from check-config."""
    out: list[str] = []
    if settings.bridge.host not in LOOPBACK:
        out.append(f'bridge.host = "{settings.bridge.host}"：桥会暴露在本机之外，任何能连上并知道密钥的人都能提交事件；'
                   "除非有防火墙保护这个端口，请保持 127.0.0.1（exposes the bridge beyond this machine）")
    if settings.console.host not in LOOPBACK:
        out.append(f'console.host = "{settings.console.host}"：后台会暴露在本机之外，任何能连上的人都能尝试登录；'
                   "请保持 127.0.0.1，远程使用请经 SSH 隧道或 HTTPS 反向代理（exposes the console beyond this machine）")
    return out


LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
