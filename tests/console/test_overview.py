"""概览 shows the figures `stats --json` gives for the same period, over a replayed month, on SQLite and
PostgreSQL; in Chromium its chart draws one bar per day."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

import run_bot
from bot.config import load
from console.security import hash_password
from tests.console.conftest import OPERATOR, PASSWORD, START, login, serve
from tests.console.test_browser import SHOTS, _page, browser  # noqa: F401  (the browser fixture)
from tests.factories import sh
from tests.storage.test_stats import cli, month  # noqa: F401  (the replayed month fixture)

FROM, TO = "2026-11-23", "2026-11-30"


@pytest.fixture
def overview(month: tuple[str, Path, Path]) -> Iterator[tuple[str, dict[str, Any]]]:  # noqa: F811
    """The console on the replayed month, and what `stats --from FROM --to TO --json` says of it."""
    url, config, _tail = month
    res = cli(config, "stats", "--json", "--db", url, "--from", FROM, "--to", TO)
    assert res.returncode == 0, res.stderr
    settings = load(config, url)
    services = run_bot._services(settings)
    services.accounts.add(OPERATOR, hash_password(PASSWORD), "operator", START)
    for base in serve(services, settings, lambda: sh("2026-12-02 09:30")):
        yield base, json.loads(res.stdout)
    services.db.engine.dispose()


def cells(html: str, attr: str) -> dict[str, str]:
    """data-<attr>="key" element -> its text, tags stripped."""
    found = {}
    for m in re.finditer(rf'<(\w+)[^>]*data-{attr}="([^"]+)"[^>]*>(.*?)</\1>', html, re.S):
        found[m.group(2)] = " ".join(unescape(re.sub(r"<[^>]+>", " ", m.group(3))).split())
    return found


def test_the_overview_shows_the_figures_stats_gives_for_the_period(overview: tuple[str, dict[str, Any]]) -> None:
    import httpx

    base, want = overview
    with httpx.Client(base_url=base, timeout=30) as c:
        assert login(c, OPERATOR, PASSWORD).status_code == 303
        r = c.get("/console/overview", params={"from": FROM, "to": TO})
    assert r.status_code == 200, r.text
    html = r.text
    head = cells(html, "figure")
    for key in ("members", "joined", "left", "active", "active_7d", "active_30d"):
        assert head[key].endswith(str(want[key])), (key, head[key], want[key])
    assert head["checkin_rate_7d"].endswith(f"{want['checkin_rate_7d'] * 100:.1f}%")
    p = want["points"]
    rows = cells(html, "row")
    assert rows["opening"].endswith(str(p["opening"])) and rows["closing"].endswith(str(p["closing"]))
    def shown(n: int) -> str:  # what a line does to the outstanding points
        return f"+{n}" if n > 0 else (f"−{-n}" if n < 0 else "0")

    for bucket, sign in (("reversed", -1), ("redeemed", -1), ("refunded", 1), ("expired", -1)):
        assert rows[bucket].endswith(shown(sign * p[bucket])), (bucket, rows[bucket], p[bucket])
    assert rows["earned_total"].endswith(shown(p["earned_total"]))
    assert {k.split(":", 1)[1]: int(v.rsplit("+", 1)[1]) for k, v in rows.items() if k.startswith("earned:")} \
        == {k: v for k, v in p["earned"].items() if v}
    assert p["identity_holds"] and 'data-holds="true"' in html and "账目相符" in html
    bars = re.findall(r'data-day="([^"]+)"\s+data-rate="([^"]+)" data-checkins="(\d+)" data-members="(\d+)"', html)
    assert [(d, float(rate), int(n), int(m)) for d, rate, n, m in bars] == [
        (d["day"], d["rate"], d["checkins"], d["members"]) for d in want["checkin_by_day"]]
    assert len(bars) == 8 and any(int(n) > 0 for _d, _r, n, _m in bars)
    weeks = re.findall(r'<tr data-week="([^"]+)">', html)
    assert weeks == [c["week"] for c in want["retention"]]
    for item in want["top_items"]:
        assert f'data-sku="{item["sku"]}"' in html


def test_a_malformed_period_is_refused_with_what_to_write(overview: tuple[str, dict[str, Any]]) -> None:
    import httpx

    base, _want = overview
    with httpx.Client(base_url=base, timeout=30) as c:
        assert login(c, OPERATOR, PASSWORD).status_code == 303
        bad = c.get("/console/overview", params={"from": "2026-13-01"})
        backwards = c.get("/console/overview", params={"from": TO, "to": FROM})
        default = c.get("/console/overview")
    assert bad.status_code == 400 and "请写成 2026-12-01 这样" in bad.text
    assert backwards.status_code == 400 and "晚于结束日期" in backwards.text
    assert default.status_code == 200 and "近 30 天" in default.text and 'aria-current="page">近 30 天' in default.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_in_chromium_the_chart_draws_a_bar_per_day(browser: Any, overview: tuple[str, dict[str, Any]]) -> None:  # noqa: F811
    base, want = overview

    class At:
        url = base

    page = _page(browser, At)  # type: ignore[arg-type]
    page.goto(f"/console/login?next=/console/overview%3Ffrom%3D{FROM}%26to%3D{TO}")
    page.get_by_label("用户名").fill(OPERATOR)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/overview*")
    bars = page.locator("#checkin-chart rect.bar")
    assert bars.count() == len(want["checkin_by_day"]) == 8
    heights = [bars.nth(i).bounding_box()["height"] for i in range(bars.count())]
    rates = [d["rate"] for d in want["checkin_by_day"]]
    top = max(rates)
    # drawn to scale: the highest day's bar is the tallest, a day at half the rate half as tall
    assert max(heights) > 40 and heights[rates.index(top)] == max(heights)
    for h, r in zip(heights, rates, strict=True):
        assert abs(h / max(heights) - r / top) < 0.02
    assert page.locator("#identity").inner_text().endswith("账目相符")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "overview-phone.png"), full_page=True)
    page.context.close()


def test_while_the_figures_are_computed_the_console_and_its_loop_answer_other_pages(served_sqlite: Any,
                                                                                      monkeypatch: Any) -> None:
    import threading
    import time

    from tests.console.conftest import OPERATOR as NAME

    figures = served_sqlite.services.figures
    real, release, started = figures.compute, threading.Event(), threading.Event()

    def slow(**kw: Any) -> Any:  # a big ledger: seconds of work
        started.set()
        assert release.wait(20)
        return real(**kw)

    monkeypatch.setattr(figures, "compute", slow)
    first, other = served_sqlite.login(NAME), served_sqlite.login(NAME)
    got: list[Any] = []
    t = threading.Thread(target=lambda: got.append(first.get("/console/overview", params={"p": "all"}, timeout=30)))
    t.start()
    assert started.wait(10)
    t0 = time.monotonic()
    members = other.get("/console/members", params={"q": "m_"})
    assert members.status_code == 200 and "张三" in members.text and time.monotonic() - t0 < 5
    assert t.is_alive()  # the overview still waits for its figures, off the loop
    release.set()
    t.join(30)
    assert got and got[0].status_code == 200 and "账目相符" in got[0].text
    # asked again within the minute: the same figures, not computed again
    started.clear()
    again = other.get("/console/overview", params={"p": "all"})
    assert again.status_code == 200 and not started.is_set()
