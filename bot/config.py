"""Load and validate config.toml into typed settings; a bad value names its key, never a traceback."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
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

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class TransportSettings(Section):
    kind: Literal["console", "replay", "wechaty"] = "console"
    file: str = ""  # kind = "replay": the JSON-lines file to read


class StorageSettings(Section):
    url: Text = "sqlite:///data/points.db"
    batch_size: PosInt = 256  # events committed together at most (group commit)


class Bonus(Section):
    days: PosInt
    bonus: PosInt
    name: str = ""


class CheckinSettings(Section):
    points: NonNegInt = 5
    keywords: list[Text] = Field(default_factory=lambda: ["签到", "打卡"])
    consecutive: list[Bonus] = Field(default_factory=list)
    cumulative: list[Bonus] = Field(default_factory=list)
    group_only: Flag = True  # check in only from a group, where it keeps the chat alive

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


class LeaderboardSettings(Section):
    size: Annotated[int, _int_at_least(1)] = 10


class ScheduleEntry(Section):
    id: Text
    job: Text
    cron: Annotated[str, BeforeValidator(_cron)]
    rooms: list[Text] = Field(default_factory=list)  # empty: every group the bot serves


class Settings(Section):
    bot: BotSettings = Field(default_factory=BotSettings)
    transport: TransportSettings = Field(default_factory=TransportSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    checkin: CheckinSettings | None = None  # section left out: check-in is off
    leaderboard: LeaderboardSettings = Field(default_factory=LeaderboardSettings)
    schedule: list[ScheduleEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_jobs(self) -> Settings:
        seen: set[str] = set()
        for i, s in enumerate(self.schedule):
            if s.id in seen:
                raise PydanticCustomError("config", f"schedule[{i}].id repeats {s.id!r}: job ids must be unique")
            seen.add(s.id)
        return self

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
