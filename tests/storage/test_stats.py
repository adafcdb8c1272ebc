"""The programme's figures (storage.stats) against a computation of their own, straight from the rows of a replayed
month (with a mall, 补签, refunds, 撤销 and expiry added), on SQLite and PostgreSQL; and `stats` through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from storage import stats
from storage.db import Database
from storage.stats import BUCKETS, Bucket, Figures
from storage.vocabulary import Kind

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
TZ = ZoneInfo("Asia/Shanghai")
STAFF = {"op"}

# the month's community, plus what the month does not exercise: a mall, 补签 and points that expire
EXTRA = """
[checkin.makeup]
cost = 5
max_per_month = 2
within_days = 3
[expiry]
policy = "rolling"
days = 20
warn_days = 0
[mall]
confirm_above = 1000
items = [
  {sku = "pen", name = "签字笔", kind = "link", points = 20, link = "https://example.com/pen"},
  {sku = "mug", name = "马克杯", kind = "link", points = 30, link = "https://example.com/mug"},
]
"""

# the buckets as the issue names them, written out here on their own (not read from storage.stats)
EARNED = {"checkin", "checkin_streak", "checkin_total", "invite", "newcomer", "task", "profile", "follow", "quiz",
          "admin_award", "import"}
REVERSED = {"invite_revoke", "task_revoke", "reversal", "admin_deduct"}
REDEEMED = {"redeem", "makeup"}


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def line(at: str, sender: str, text_: str, ident: str, room: str | None = None) -> str:
    d: dict[str, Any] = {"at": at, "type": "message", "id": ident, "from": sender, "name": sender.upper(),
                         "text": text_, "mentions": []}
    if room:
        d |= {"room": room, "room_name": "会员一群"}
    return json.dumps(d, ensure_ascii=False)


@pytest.fixture
def month(db_url: str, tmp_path: Path) -> tuple[str, Path, Path]:
    """The month replayed, then a tail of redemptions, a refund, 补签 and a 撤销 of the month's 扣分."""
    config = tmp_path / "month.toml"
    config.write_text((DATA / "month.toml").read_text(encoding="utf-8") + EXTRA, encoding="utf-8")
    first = cli(config, "replay", str(DATA / "month.jsonl"), "--db", db_url)
    assert first.returncode == 0, first.stderr
    engine = create_engine(db_url)
    with engine.connect() as conn:
        deduct = conn.execute(text("SELECT id FROM ledger WHERE kind = 'admin_deduct' ORDER BY id")).scalar()
    engine.dispose()
    assert deduct is not None
    tail = [line("2026-11-30T12:00:00+08:00", "m01", "兑换 签字笔", "t1"),
            line("2026-11-30T12:01:00+08:00", "m02", "兑换 马克杯", "t2"),
            line("2026-11-30T12:02:00+08:00", "m03", "兑换 签字笔", "t3"),
            line("2026-11-30T12:05:00+08:00", "op", "退款 2 测试退款", "t4"),
            line("2026-11-30T12:06:00+08:00", "op", f"撤销 #{deduct} 扣错了", "t5")]
    tail += [line("2026-11-30T13:00:00+08:00", f"m{i:02d}", "补签", f"mk{i}", room="g1") for i in range(1, 25)]
    tail.append(line("2026-12-01T09:00:00+08:00", "m05", "积分", "t6", room="g1"))
    events = tmp_path / "tail.jsonl"
    events.write_text("\n".join(tail) + "\n", encoding="utf-8")
    second = cli(config, "replay", str(events), "--db", db_url)
    assert second.returncode == 0, second.stderr
    return db_url, config, events


# -- the computation of its own -------------------------------------------------------------------


def _utc(v: Any) -> datetime:
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v


def _day(v: Any) -> date:
    return date.fromisoformat(v) if isinstance(v, str) else v


def rows(url: str) -> dict[str, list[Any]]:
    engine = create_engine(url)
    with engine.connect() as c:
        out: dict[str, list[Any]] = {
            "ledger": [(m, k, int(d), _utc(a))
                       for m, k, d, a in c.execute(text("SELECT member_id, kind, delta, at FROM ledger"))],
            "members": [(i, int(p), _utc(a)) for i, p, a in c.execute(text("SELECT id, points, created_at FROM members"))],
            "rooms": [(m, bool(a), None if t is None else _utc(t))
                      for m, a, t in c.execute(text("SELECT member_id, active, left_at FROM room_members"))],
            "checkins": [(m, _day(d), bool(k)) for m, d, k in c.execute(text("SELECT member_id, day, makeup FROM checkins"))],
            "days": [(m, _day(d)) for m, d in c.execute(text("SELECT member_id, day FROM member_days"))],
            "orders": [(m, s, n, st, int(p), _utc(a)) for m, s, n, st, p, a in c.execute(
                text("SELECT member_id, sku, name, status, points, created_at FROM mall_orders"))],
        }
    engine.dispose()
    return out


def local(at: datetime) -> date:
    return at.astimezone(TZ).date()


def expected(data: dict[str, list[Any]], start: date | None, end: date) -> dict[str, Any]:
    """Every figure from the rows, by the definitions of docs/figures.md."""
    def inside(d: date, a: date | None, b: date) -> bool:
        return (a is None or d >= a) and d < b

    people: dict[str, dict[str, Any]] = {}
    created = {i: local(a) for i, _p, a in data["members"]}
    for m, is_in, left_at in data["rooms"]:
        if m in STAFF:
            continue
        p = people.setdefault(m, {"in": False, "left": None, "joined": created[m]})
        p["in"] = p["in"] or is_in
        if left_at is not None and (p["left"] is None or left_at > p["left"]):
            p["left"] = left_at
    for p in people.values():
        p["left"] = None if p["in"] or p["left"] is None else local(p["left"])

    def active(a: date | None, b: date) -> set[str]:  # member_days holds what makes a day active (tested below)
        return {m for m, d in data["days"] if inside(d, a, b)} & people.keys()

    def in_groups(d: date) -> int:
        return sum(1 for p in people.values() if p["joined"] <= d and (p["left"] is None or p["left"] >= d))

    def checkins(d: date) -> int:
        return sum(1 for m, day, makeup in data["checkins"] if day == d and not makeup and m not in STAFF)

    first = start or min(p["joined"] for p in people.values())
    by_day = []
    d = first
    while d < end:
        n, members = checkins(d), in_groups(d)
        by_day.append({"day": d.isoformat(), "checkins": n, "members": members, "rate": round(n / members, 4)})
        d += timedelta(days=1)
    week = [end - timedelta(days=i) for i in range(1, 8)]
    seen = sum(in_groups(d) for d in week)

    cohorts: dict[date, set[str]] = {}
    for m, p in people.items():
        cohorts.setdefault(p["joined"] - timedelta(days=p["joined"].weekday()), set()).add(m)
    weeks = sorted(w for w in cohorts if (start is None or w >= start - timedelta(days=start.weekday())) and w < end)
    if start is None:
        weeks = weeks[-8:]
    retention = []
    for w in weeks:
        row: dict[str, Any] = {"week": w.isoformat(), "size": len(cohorts[w])}
        for k in (1, 2, 4):
            w0 = w + timedelta(weeks=k)
            row[f"after_{k}w"] = (None if w0 + timedelta(days=7) > end
                                  else round(len(cohorts[w] & active(w0, w0 + timedelta(days=7))) / len(cohorts[w]), 4))
        retention.append(row)

    def at(d: date) -> datetime:
        return datetime.combine(d, time(), tzinfo=TZ)

    period = [(m, k, delta) for m, k, delta, t in data["ledger"] if (start is None or t >= at(start)) and t < at(end)]
    earned: dict[str, int] = {}
    for _m, k, delta in period:
        if k in EARNED:
            earned[k] = earned.get(k, 0) + delta
    closing_ledger = sum(delta for _m, _k, delta, t in data["ledger"] if t < at(end))
    points = {
        "opening": sum(delta for _m, _k, delta, t in data["ledger"] if start is not None and t < at(start)),
        "earned": earned, "earned_total": sum(earned.values()),
        "reversed": -sum(delta for _m, k, delta in period if k in REVERSED),
        "redeemed": -sum(delta for _m, k, delta in period if k in REDEEMED),
        "refunded": sum(delta for _m, k, delta in period if k == "refund"),
        "expired": -sum(delta for _m, k, delta in period if k == "expire"),
        "closing": closing_ledger, "identity_holds": True,
    }
    standing = [(m, s, n, p) for m, s, n, st, p, t in data["orders"]
                if st not in ("cancelled", "refunded", "expired") and (start is None or t >= at(start)) and t < at(end)]
    items: dict[str, dict[str, Any]] = {}
    for _m, s, n, p in standing:
        it = items.setdefault(s, {"sku": s, "name": n, "orders": 0, "points": 0})
        it["orders"] += 1
        it["points"] += p
    top = sorted(items.values(), key=lambda it: (-it["orders"], it["sku"]))[:5]
    redeemers = len({m for m, *_ in standing} & people.keys())
    act = active(start, end)
    return {
        "from": start.isoformat() if start else None, "to": end.isoformat(),
        "members": sum(1 for p in people.values() if p["in"]),
        "joined": sum(1 for p in people.values() if inside(p["joined"], start, end)),
        "left": sum(1 for p in people.values() if p["left"] is not None and inside(p["left"], start, end)),
        "active": len(act), "active_7d": len(active(end - timedelta(days=7), end)),
        "active_30d": len(active(end - timedelta(days=30), end)),
        "checkin_rate_7d": round(sum(checkins(d) for d in week) / seen, 4) if seen else 0.0,
        "checkin_by_day": by_day, "retention": retention, "points": points, "top_items": top,
        "redeemers": redeemers, "conversion": round(redeemers / len(act), 4) if act else 0.0,
    }


# -- the tests ------------------------------------------------------------------------------------


def test_every_ledger_kind_falls_in_exactly_one_bucket() -> None:
    assert set(BUCKETS) == set(Kind), f"kinds without a bucket: {set(Kind) - set(BUCKETS)}"
    assert {str(k) for k, b in BUCKETS.items() if b is Bucket.EARNED} == EARNED
    assert {str(k) for k, b in BUCKETS.items() if b is Bucket.REVERSED} == REVERSED
    assert {str(k) for k, b in BUCKETS.items() if b is Bucket.REDEEMED} == REDEEMED


PERIODS: list[tuple[date | None, date]] = [
    (None, date(2026, 12, 2)),  # all time
    (date(2026, 11, 10), date(2026, 11, 20)),
    (date(2026, 11, 23), date(2026, 12, 1)),  # the last week: the tail's orders, refund, 补签 and 撤销
    (date(2026, 11, 1), date(2026, 11, 2)),  # one day
]


@pytest.mark.parametrize("halves", [False, True], ids=["one-pass", "two-halves"])
def test_the_figures_of_a_replayed_month_match_a_computation_from_the_rows(month: tuple[str, Path, Path],
                                                                            halves: bool,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Also with the pass over the members split in two halves read at once (what a large community gets)."""
    if halves:
        monkeypatch.setattr(stats, "PARALLEL_FROM", 1)
    url, _config, _tail = month
    data = rows(url)
    kinds = {k for _m, k, _d, _t in data["ledger"]}
    # the month and its tail move points through every bucket
    assert {"redeem", "refund", "makeup", "reversal", "expire", "admin_deduct", "invite_revoke", "task_revoke"} <= kinds
    figures = Figures(Database(create_engine(url)), TZ)
    for start, end in PERIODS:
        got = figures.compute(start=start, end=end, staff=STAFF)
        want = expected(data, start, end)
        assert got.as_json() == want, (start, end)
        p = got.points
        assert p.holds and p.closing == p.opening + p.earned_total - p.reversed - p.redeemed + p.refunded - p.expired
    # the halves were used (or not): the id that halves the members, found from the members table
    assert (figures._halves is not None and figures._halves[1] is not None) is halves
    figures.db.engine.dispose()


def test_all_time_closes_on_the_sum_of_every_balance(month: tuple[str, Path, Path]) -> None:
    url, _config, _tail = month
    data = rows(url)
    got = Figures(Database(create_engine(url)), TZ).compute(end=date(2026, 12, 2), staff=STAFF)
    assert got.points.opening == 0
    assert got.points.closing == sum(p for _i, p, _a in data["members"]) > 0


def test_each_member_day_is_a_day_the_member_sent_a_message_or_earned_points(month: tuple[str, Path, Path]) -> None:
    url, _config, tail = month
    data = rows(url)
    earned = {(m, local(at)) for m, k, delta, at in data["ledger"] if k in EARNED and delta > 0}
    sent: set[tuple[str, date]] = set()
    for path in [DATA / "month.jsonl", tail]:
        for raw in path.read_text(encoding="utf-8").splitlines():
            ev = json.loads(raw)
            if ev["type"] == "message":
                sent.add((ev["from"], datetime.fromisoformat(ev["at"]).astimezone(TZ).date()))
    assert earned - sent  # invites, newcomers, 加分: earned on a day without a message of their own
    assert set(data["days"]) == sent | earned


def test_stats_json_through_the_cli(month: tuple[str, Path, Path]) -> None:
    url, config, _tail = month
    res = cli(config, "stats", "--json", "--db", url)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for key in ("members", "active_7d", "active_30d", "checkin_rate_7d", "points"):
        assert key in out
    assert set(out["points"]) >= {"opening", "earned", "reversed", "redeemed", "refunded", "expired", "closing"}
    balances = json.loads(cli(config, "balances", "--json", "--db", url).stdout)
    assert out["from"] is None and out["points"]["opening"] == 0
    assert out["points"]["closing"] == sum(b["points"] for b in balances)
    assert out["points"]["earned"]["checkin"] > 0 and out["points"]["identity_holds"] is True

    period = cli(config, "stats", "--json", "--db", url, "--from", "2026-11-23", "--to", "2026-11-30")
    assert period.returncode == 0, period.stderr
    assert json.loads(period.stdout) == expected(rows(url), date(2026, 11, 23), date(2026, 12, 1))

    shown = cli(config, "stats", "--db", url, "--from", "2026-11-23", "--to", "2026-11-30")
    assert shown.returncode == 0, shown.stderr
    assert "期末" in shown.stdout and "恒等式成立" in shown.stdout and "签字笔" in shown.stdout


@pytest.mark.parametrize(("args", "said"), [
    (("--from", "2026-13-01"), "--from 2026-13-01 不是日期"),
    (("--to", "yesterday"), "--to yesterday 不是日期"),
    (("--from", "2026-11-20", "--to", "2026-11-10"), "晚于 --to"),
])
def test_stats_refuses_a_bad_period_and_says_how_to_write_it(tmp_path: Path, args: Iterable[str], said: str) -> None:
    db = tmp_path / "points.db"
    res = cli(DATA / "month.toml", "stats", "--db", f"sqlite:///{db}", *args)
    assert res.returncode == 2 and said in res.stderr, res.stderr
    assert not db.exists()  # refused before opening anything
