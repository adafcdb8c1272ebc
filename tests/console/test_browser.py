"""The console in a real browser (Playwright driving the system's Chromium): log in, search, award with a reason,
see it in the member's ledger and in 操作日志, a viewer refused; screenshots of each screen into docs/console/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import OPERATOR, PASSWORD, VIEWER, Served

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "console"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    if not Path(CHROMIUM).exists():
        return "no Chromium at /usr/bin/chromium (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = _unavailable()
    if why is not None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"a browser is required (REQUIRE_BROWSER set): {why}")
        pytest.skip(f"the console's browser tests need {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _page(browser: Any, served: Served, viewport: dict[str, int] = DESKTOP) -> Any:
    ctx = browser.new_context(viewport=viewport, locale="zh-CN", base_url=served.url)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    return page


def _login(page: Any, name: str) -> None:
    page.goto("/console/members")
    assert "/console/login" in page.url  # no session: the login page
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/members")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_operator_searches_awards_and_finds_it_in_the_ledger_and_the_log(browser: Any, served_sqlite: Served) -> None:
    served = served_sqlite
    page = _page(browser, served)
    page.goto("/console/login")
    _shot(page, "login")
    _login(page, OPERATOR)
    # htmx: typing searches without a submit
    page.get_by_label("搜索成员").fill("张")
    page.locator("#results a", has_text="张三").wait_for()
    assert page.locator("#results a").count() == 1
    _shot(page, "members")
    page.locator("#results a", has_text="张三").click()
    page.wait_for_url("**/console/members/m_zhang")
    assert page.locator("#points").inner_text() == "120"
    page.get_by_label("积分", exact=True).fill("35")
    page.get_by_label("理由", exact=True).fill("社群分享会讲师")
    page.get_by_role("button", name="提交").click()
    page.locator(".flash").wait_for()
    assert "已加 35 积分" in page.locator(".flash").inner_text()
    assert page.locator("#points").inner_text() == "155"
    [entry] = [e for e in served.services.ledger.entries("m_zhang") if e.delta == 35]
    row = page.locator(f"#entry-{entry.id}")
    assert "社群分享会讲师" in row.inner_text() and "+35" in row.inner_text() and "155" in row.inner_text()
    _shot(page, "member")
    page.get_by_role("navigation").get_by_role("link", name="操作日志").click()
    first = page.locator("tbody tr").first
    assert all(w in first.inner_text() for w in ("后台", OPERATOR, "加分", "m_zhang", "社群分享会讲师"))
    _shot(page, "oplog")
    page.get_by_role("navigation").get_by_role("link", name="账本").click()
    assert "社群分享会讲师" in page.locator(f"#entry-{entry.id}").inner_text()
    _shot(page, "ledger")
    assert served.services.ledger.member("m_zhang").points == 155  # type: ignore[union-attr]
    page.context.close()


def test_the_member_page_on_a_phone(browser: Any, served_sqlite: Served) -> None:
    page = _page(browser, served_sqlite, PHONE)
    _login(page, OPERATOR)
    page.goto("/console/members/m_zhang")
    # nothing wider than the screen: no sideways scrolling on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#points").is_visible() and page.get_by_role("button", name="提交").is_visible()
    _shot(page, "member-phone")
    page.goto("/console/members?q=m_")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(page, "members-phone")
    page.context.close()


def test_a_viewer_sees_no_change_form_and_a_forged_post_is_refused(browser: Any, served_sqlite: Served) -> None:
    served = served_sqlite
    page = _page(browser, served)
    _login(page, VIEWER)
    page.goto("/console/members/m_zhang")
    assert page.get_by_role("button", name="提交").count() == 0 and "只读" in page.locator(".who").inner_text()
    # the viewer's own session and CSRF token, posting what an operator's form would
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    status = page.evaluate("""async (token) => {
        const r = await fetch('/console/members/m_zhang/adjust', {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'},
            body: new URLSearchParams({csrf: token, op: 'award', amount: '50', reason: '试试', nonce: 'x'.repeat(30)})});
        return [r.status, await r.text()];
    }""", token)
    assert status[0] == 403 and "只读账号" in status[1]
    assert served.services.ledger.member("m_zhang").points == 120  # type: ignore[union-attr]
    assert served.services.oplog.page() == []
    page.context.close()


def test_an_operator_ships_two_orders_in_bulk_and_imports_codes(browser: Any, served_sqlite: Served,
                                                                   tmp_path: Path) -> None:
    from tests.console.test_shop import MUG, VIP, items, order

    served = served_sqlite
    served.services.mall.sync(items(MUG, VIP), served.clock[0])
    served.services.mall.import_codes("vip", ["OLD-1"], served.clock[0])
    o1, o2 = order(served, "m_zhang", "b1"), order(served, "m_li", "b2")
    order(served, "m_zhang", "b3", address=False)
    page = _page(browser, served)
    _login(page, OPERATOR)
    page.get_by_role("link", name="订单", exact=True).click()
    page.wait_for_url("**/console/orders")
    assert page.locator(f"#order-{o1} .status").inner_text().startswith("待处理")
    _shot(page, "orders")
    page.get_by_label("单号,快递单号").fill(f"{o1},SF1001\n{o2},YT2002\n")
    page.get_by_role("button", name="批量发货").click()
    page.wait_for_url("**/console/orders?status=shipped")
    page.get_by_text("已发货 2 单").wait_for()
    for o, tracking in ((o1, "SF1001"), (o2, "YT2002")):
        cell = page.locator(f"#order-{o} .status").inner_text()
        assert cell.startswith("已发货") and tracking in cell
    assert {served.services.mall.order(o).status for o in (o1, o2)} == {"shipped"}
    page.set_viewport_size(PHONE)
    _shot(page, "orders-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name="操作日志", exact=True).click()
    for o in (o1, o2):
        row = page.locator("tbody tr", has_text=f"order:{o}")
        assert "发货" in row.inner_text() and OPERATOR in row.inner_text()
    # card codes: a file with one code twice and one already stored
    codes = tmp_path / "codes.txt"
    codes.write_text("NEW-1\nNEW-2\nNEW-1\nOLD-1\nNEW-3\n", encoding="utf-8")
    page.get_by_role("link", name="商城", exact=True).click()
    page.locator("#item-vip summary", has_text="导入卡密").click()
    page.locator("#item-vip input[type=file]").set_input_files(str(codes))
    page.locator("#item-vip").get_by_role("button", name="上传导入").click()
    page.get_by_text("导入完成：导入 3 个，重复 2 个").wait_for()  # the job's page, followed by htmx
    assert page.locator("#import-job progress").get_attribute("value") == "5"
    _shot(page, "mall-import")
    page.get_by_role("link", name="回到商城").click()
    assert page.locator("#item-vip .stock").inner_text().startswith("4")
    assert served.services.mall.item("vip").stock == 4
    _shot(page, "mall")


def test_groups_and_rules_screens(browser: Any, served_rules_sqlite: Served) -> None:
    from datetime import timedelta

    served = served_rules_sqlite
    svc, now = served.services, served.clock[0]
    svc.presence.see_in_room("g1", "m_li", now)
    svc.presence.see_room("g2", "新人交流群", now)
    for i in range(6):  # a second group: six members, four checked in today, the others earlier in the week
        svc.presence.see_member(f"m_{i}", f"新人{i}", now)
        svc.presence.see_in_room("g2", f"m_{i}", now)
        day = now - timedelta(days=0 if i < 4 else i - 2)
        svc.checkins.check_in(member=f"m_{i}", day=day.date(), at=day, room="g2", rewards=lambda s, t: [])
    svc.checkins.check_in(member="m_zhang", day=now.date(), at=now, room="g1", rewards=lambda s, t: [])
    page = _page(browser, served)
    _login(page, VIEWER)
    page.get_by_role("link", name="群", exact=True).click()
    page.get_by_role("link", name="产品交流群").wait_for()
    row = page.locator("#groups tr", has_text="新人交流群")
    assert row.locator(".members").inner_text() == "6" and row.locator(".today").inner_text() == "4"
    _shot(page, "groups")
    row.get_by_role("link", name="新人交流群").click()
    page.locator("#room-members a", has_text="新人5").wait_for()
    assert page.locator("#room-members tbody tr").count() == 6
    page.get_by_role("link", name="规则", exact=True).click()
    page.get_by_role("button", name="立即核对").click()
    page.get_by_text("核对无误").wait_for()
    _shot(page, "rules")


@pytest.fixture
def announcing(sqlite_url: str) -> Iterator[Any]:
    from tests.console.test_announce import in_bot

    yield from in_bot(sqlite_url)


def test_an_operator_announces_to_one_group(browser: Any, announcing: Any) -> None:
    bot = announcing
    page = _page(browser, bot)
    _login(page, OPERATOR)
    page.get_by_role("link", name="公告", exact=True).click()
    page.locator("textarea[name=text]").fill("本周六晚 8 点直播抽奖，\n在群里签到满 3 天即可参与。")
    page.get_by_label("只发选中的群").check()
    page.locator('input[name="g:g1"]').check()
    page.get_by_role("button", name="预览").click()
    preview = page.locator("#preview")
    preview.wait_for()
    assert "📢 公告\n本周六晚 8 点直播抽奖，\n在群里签到满 3 天即可参与。" in preview.locator("pre.post").inner_text()
    assert "发到 1 个群" in preview.inner_text() and "产品交流群" in preview.inner_text()
    assert bot.outbox.pending() == 0  # nothing queued before 确认发送
    _shot(page, "announce")
    page.get_by_role("button", name="确认发送").click()
    page.get_by_text("公告已进入发送队列：1 个群").wait_for()
    assert page.locator("#recent tbody tr").first.inner_text().count("本周六晚 8 点直播抽奖") == 1
    assert bot.outbox.pending() == 1
    [op] = bot.announcements()
    assert (op.actor_kind, op.actor, op.target) == ("console", OPERATOR, "g1")
    phone = _page(browser, bot, PHONE)
    _login(phone, OPERATOR)
    phone.goto("/console/announce")
    phone.locator("#recent").wait_for()
    _shot(phone, "announce-phone")
