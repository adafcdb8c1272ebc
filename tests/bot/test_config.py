"""config.toml: defaults, every documented key, and errors that name the key instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import SECTIONS, ConfigError, PosInt, Section, Text, load, parse, problem, section
from handlers.campaigns import CampaignSettings

ROOT = Path(__file__).resolve().parents[2]


def test_the_repo_config_is_valid_and_documents_the_issue_keys() -> None:
    s = load(ROOT / "config.toml")
    assert s.bot.timezone == "Asia/Shanghai" and s.bot.admins == ["wxid_owner"]
    assert s.transport.kind == "console" and s.storage.url == "sqlite:///data/points.db"
    assert s.checkin is not None and s.checkin.points == 5 and s.checkin.keywords == ["签到", "打卡"]
    assert [(b.days, b.bonus) for b in s.checkin.consecutive] == [(3, 10), (7, 30)]
    assert [(b.days, b.bonus) for b in s.checkin.cumulative] == [(10, 50)]
    assert [(j.id, j.job, j.cron) for j in s.schedule] == [
        ("morning-reminder", "checkin_reminder", "0 8 * * *"),
        ("evening-leaderboard", "leaderboard", "0 21 * * *"),
        ("sunday-week-board", "leaderboard", "0 20 * * sun"),
        ("weekly-report", "weekly_report", "0 9 * * mon"),
        ("evening-quiz", "quiz", "30 20 * * fri"),
        ("mall-highlights", "mall_highlights", "0 12 * * mon,thu"),
        ("campaign-posts", "campaign", "0 * * * *"),
    ]
    assert [j.period for j in s.schedule if j.job == "leaderboard"] == ["all", "week"]
    assert [(lv.name, lv.growth) for lv in s.levels] == [("青铜", 0), ("白银", 500), ("黄金", 2000)]
    assert s.quiz is not None and s.quiz.winners == 3 and s.quiz.window_minutes == 30 and s.quiz.questions
    assert s.mall is not None and (s.mall.highlight_new_days, s.mall.highlight_low_stock) == (7, 5)
    [c] = s.campaigns
    assert isinstance(c, CampaignSettings)  # the campaigns feature declares what describes a campaign
    assert (c.warmup_hours, c.closing_hours) == (24, 24) and c.description
    assert c.overrides() == {"checkin": {"multiplier": 2}}  # the declared keys are no overrides


def test_every_key_is_optional() -> None:
    s = parse({})
    assert s.bot.timezone == "Asia/Shanghai" and s.bot.admins == []
    assert s.checkin is None  # a feature whose section is left out is off
    assert s.schedule == []
    c = parse({"checkin": {}}).checkin
    assert c is not None and c.points == 5 and c.consecutive == [] and c.cumulative == []


def test_bonus_names_default_from_their_days() -> None:
    c = parse({"checkin": {"consecutive": [{"days": 3, "bonus": 10}], "cumulative": [{"days": 10, "bonus": 50}]}})
    assert c.checkin is not None
    assert c.checkin.consecutive[0].name == "连续签到3天奖励" and c.checkin.cumulative[0].name == "累计签到10天奖励"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"checkin": {"points": "五"}}, 'checkin.points must be an integer >= 0 and <= 100000, got "五"'),
        ({"checkin": {"points": -1}}, "checkin.points must be an integer >= 0 and <= 100000, got -1"),
        ({"checkin": {"points": 2.5}}, "checkin.points must be an integer >= 0 and <= 100000, got 2.5"),
        ({"checkin": {"points": True}}, "checkin.points must be an integer >= 0 and <= 100000, got true"),
        ({"checkin": {"pionts": 5}}, "checkin.pionts is not a known key"),
        ({"checkin": {"consecutive": [{"days": 0, "bonus": 1}]}}, "checkin.consecutive[0].days must be an integer >= 1"),
        ({"checkin": {"consecutive": [{"days": 3}]}}, "checkin.consecutive[0].bonus is required"),
        ({"checkin": {"consecutive": [{"days": 3, "bonus": 1}, {"days": 3, "bonus": 2}]}},
         "checkin.consecutive[1].days repeats 3"),
        ({"bot": {"timezone": "Beijing"}}, 'bot.timezone must be an IANA time zone such as "Asia/Shanghai"'),
        ({"bot": {"admins": "wxid_owner"}}, "bot.admins must be a list"),
        ({"transport": {"kind": "telegram"}}, "transport.kind must be one of"),
        ({"schedule": [{"id": "x", "job": "leaderboard", "cron": "0 25 * * *"}]}, "schedule[0].cron must be a five-field"),
        ({"schedule": [{"id": "x", "job": "leaderboard", "cron": "0 8 * * *"}] * 2}, "schedule[1].id repeats"),
        ({"checkin": [1, 2]}, "checkin must be a table"),
        ({"checkin": {}, "campaigns": [{"id": "c", "name": "双倍", "starts": "2026-11-01T00:00:00+08:00",
                                        "ends": "2026-12-01T00:00:00+08:00", "checkin": {"multiplier": 0}}]},
         "campaigns[0].checkin.multiplier must be an integer >= 1 and <= 10, got 0"),
        ({"campaigns": [{"id": "c", "name": "x", "starts": "2026-11-01T00:00:00+08:00",
                         "ends": "2026-12-01T00:00:00+08:00", "invite": {"points": 30}}]},
         "campaigns[0].invite overrides a feature that is off: add [invite] first"),
        ({"campaigns": [{"id": "c", "name": "x", "starts": "2026-11-01T00:00:00",
                         "ends": "2026-12-01T00:00:00+08:00"}]}, "campaigns[0].starts must be a date-time with its UTC offset"),
        ({"campaigns": [{"id": "c", "name": "x", "starts": "2026-12-01T00:00:00+08:00",
                         "ends": "2026-11-01T00:00:00+08:00"}]}, "campaigns[0].ends must be after its starts"),
        ({"checkin": {"makeup": {"cost": 0}}}, "checkin.makeup.cost must be an integer >= 1 and <= 100000, got 0"),
        # pydantic's own checks, in the operators' words
        ({"checkin": {"group_only": 1}}, "checkin.group_only must be true or false, got 1"),
        ({"checkin": {"keywords": [" "]}}, 'checkin.keywords[0] must be a non-empty string, got " "'),
        ({"bot": {"timezone": 3}}, "bot.timezone must be a non-empty string, got 3"),
        ({"wechaty": {"probe_seconds": True}}, "wechaty.probe_seconds must be a number of seconds >= 1 and <= 3600, got true"),
        ({"outbox": {"interval_seconds": 0}}, "outbox.interval_seconds must be a number of seconds >= 0.1 and <= 3600, got 0"),
        ({"outbox": {"quiet_hours": "24:00-07:00"}},
         'outbox.quiet_hours must be "HH:MM-HH:MM" such as "22:30-07:30", or "" for none, got "24:00-07:00"'),
        ({"expiry": {"run_at": 5}}, 'expiry.run_at must be a local time "HH:MM" such as "00:05", got 5'),
        ({"mall": {"items": [{"sku": "a b", "name": "杯", "kind": "physical", "points": 1}]}},
         'mall.items[0].sku must be letters, digits, "-", "_" or "." (up to 40, no spaces), such as "mug-2026", got "a b"'),
        ({"mall": {"items": [{"sku": "a", "name": "杯", "kind": "physical", "points": 1, "cash": 9.999}]}},
         "mall.items[0].cash must be a number of yuan >= 0 and <= 1000000 with at most two decimals, such as 9.9, got 9.999"),
        ({"campaigns": [{"id": "c", "name": "x", "starts": "yesterday", "ends": "2026-12-01T00:00:00+08:00"}]},
         'campaigns[0].starts must be a date-time such as 2026-11-01T00:00:00+08:00, got "yesterday"'),
        ({"campaigns": [{"id": "c", "name": "x", "starts": 5, "ends": "2026-12-01T00:00:00+08:00"}]},
         "campaigns[0].starts must be a date-time with its UTC offset, such as 2026-11-01T00:00:00+08:00, got 5"),
        ({"levels": [{"name": "a", "growth": 0, "mall_discount": True}]},
         "levels[0].mall_discount must be a number > 0 and <= 1, got true"),
        ({"schedule": [{"id": "q", "job": "quiz", "cron": "0 20 * * *"}], "quiz": {}},
         "schedule[0] asks quiz questions: add [quiz] and at least one [[quiz.questions]]"),
        ({"follow": {"accounts": [{"id": "a", "name": "A", "code": "x"}, {"id": "b", "name": "B", "code": "X"}]}},
         "follow.accounts: each account needs its own code"),
        ({"tasks": [{"id": "t", "name": "n", "metric": "invites", "tiers": [{"at": 1, "points": 1}]}] * 2},
         "tasks[1].id repeats 't': ids must be unique"),
        # every number is bounded to what the program can hold
        ({"checkin": {"points": 9223372036854775808}},
         "checkin.points must be an integer >= 0 and <= 100000, got 9223372036854775808"),
        ({"outbox": {"interval_seconds": 1e308}},
         "outbox.interval_seconds must be a number of seconds >= 0.1 and <= 3600, got 1e+308"),
        ({"outbox": {"give_up_seconds": float("inf")}}, "outbox.give_up_seconds must be a number of seconds >= 1 and <= 86400"),
        ({"outbox": {"coalesce_seconds": float("nan")}}, "outbox.coalesce_seconds must be a number of seconds >= 0 and <= 3600"),
        ({"bridge": {"port": 70000}}, "bridge.port must be an integer >= 0 and <= 65535, got 70000"),
        ({"bridge": {"port": -1}}, "bridge.port must be an integer >= 0 and <= 65535, got -1"),
        ({"bot": {"rate_limit": 2**31}}, "bot.rate_limit must be an integer >= 0 and <= 2147483647, got 2147483648"),
        ({"checkin": {"makeup": {"within_days": 10**9}}}, "checkin.makeup.within_days must be an integer >= 1 and <= 3660"),
        ({"levels": [{"name": "a", "growth": 0, "checkin_multiplier": 1e308}]},
         "levels[0].checkin_multiplier must be a number >= 1 and <= 10, got 1e+308"),
        ({"mall": {"items": [{"sku": "a", "name": "杯", "kind": "physical", "points": 1, "cash": float("inf")}]}},
         "mall.items[0].cash must be a number of yuan >= 0 and <= 1000000"),
    ],
)
def test_a_wrong_value_names_the_key_and_what_is_wrong(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(data)
    assert message in str(err.value)


def test_load_reports_bad_toml_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[checkin\npoints = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load(bad)
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "missing.toml")


def test_db_url_overrides_storage_url(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[storage]\nurl = "sqlite:///a.db"\n', encoding="utf-8")
    assert load(p, "sqlite:///b.db").storage.url == "sqlite:///b.db"
    assert load(p).storage.url == "sqlite:///a.db"


def test_a_min_level_that_names_no_level_is_refused() -> None:
    item = {"sku": "gold-mug", "name": "金杯", "kind": "physical", "points": 100, "min_level": "黄金"}
    with pytest.raises(ConfigError, match=r"mall\.items\[0\]\.min_level '黄金' is not a level"):
        parse({"mall": {"items": [item]}, "levels": [{"name": "白银", "growth": 500}]})
    assert parse({"mall": {"items": [item]}, "levels": [{"name": "黄金", "growth": 500}]}).mall is not None


class Perks(Section):
    points: PosInt = 3
    label: Text = "福利"


def _label_not_bot_name(settings: Any) -> None:
    if settings.perks is not None and settings.perks.label == settings.bot.name:
        raise problem("perks.label must differ from bot.name")


@pytest.fixture
def perks() -> Iterator[None]:
    """A feature section registered the way a handler module does it, gone again after the test."""
    section("perks", Perks, campaign=True, check=_label_not_bot_name)
    yield
    SECTIONS.pop("perks", None)


def test_a_feature_registers_its_section_without_touching_bot(perks: None) -> None:
    assert parse({}).perks is None  # left out: off
    assert parse({"perks": {}}).perks == Perks()
    with pytest.raises(ConfigError, match=r"^perks\.points must be an integer >= 1 and <= 2147483647, got 0$"):
        parse({"perks": {"points": 0}})
    with pytest.raises(ConfigError, match=r"^perks\.label must differ from bot\.name$"):
        parse({"perks": {"label": "积分助手"}})
    s = parse({"perks": {}, "campaigns": [{"id": "c", "name": "x", "starts": "2026-11-01T00:00:00+08:00",
                                           "ends": "2026-12-01T00:00:00+08:00", "perks": {"points": 9}}]})
    during, by = s.at(datetime(2026, 11, 15, tzinfo=UTC))
    assert (during.perks.points, by, s.perks.points) == (9, {"perks": "c"}, 3)
    with pytest.raises(ConfigError, match=r"^campaigns\[0\]\.perks\.points must be an integer >= 1 and <= 2147483647, got 0$"):
        parse({"perks": {}, "campaigns": [{"id": "c", "name": "x", "starts": "2026-11-01T00:00:00+08:00",
                                           "ends": "2026-12-01T00:00:00+08:00", "perks": {"points": 0}}]})
    with pytest.raises(ConfigError, match=r"^campaigns\[0\]\.perks\.label must differ from bot\.name$"):
        parse({"perks": {}, "campaigns": [{"id": "c", "name": "x", "starts": "2026-11-01T00:00:00+08:00",
                                           "ends": "2026-12-01T00:00:00+08:00", "perks": {"label": "积分助手"}}]})
    del SECTIONS["perks"]
    section("perks", Perks, many=True)
    assert parse({"perks": [{}, {"points": 4}]}).perks == [Perks(), Perks(points=4)]
    assert parse({}).perks == []


def test_a_feature_cannot_take_a_core_section() -> None:
    with pytest.raises(ValueError, match="core section"):
        section("storage", Perks)
    assert "storage" not in SECTIONS
