"""The console over real HTTP (uvicorn + httpx): sessions, CSRF, roles, the throttle, and what pages show against the ledger."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.console.conftest import OPERATOR, PASSWORD, VIEWER, Served, csrf_of, login, nonce_of

ROOT = Path(__file__).resolve().parents[2]


def ops(served: Served) -> list[tuple[str, str, str, str, str]]:
    return [(o.actor_kind, o.actor, o.action, o.target, o.reason) for o in served.services.oplog.page(limit=100)]


def balance(served: Served, member: str) -> int:
    m = served.services.ledger.member(member)
    assert m is not None
    return m.points


def test_no_session_is_sent_to_the_login_and_a_post_changes_nothing(served: Served) -> None:
    c = served.client()
    r = c.get("/console/members/m_zhang")
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/members/m_zhang"
    login_page = c.get(r.headers["location"])
    assert login_page.status_code == 200 and "登录积分后台" in login_page.text
    r = c.post("/console/members/m_zhang/adjust", data={"op": "award", "amount": "50", "reason": "x", "nonce": "n" * 20,
                                                        "csrf": csrf_of(login_page.text)})
    assert r.status_code == 401 and "登录已过期" in r.text
    assert balance(served, "m_zhang") == 120 and ops(served) == []


def test_the_session_cookie_is_signed_httponly_samesite_and_keeps_no_secret(served: Served) -> None:
    c = served.client()
    r = login(c, OPERATOR, PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/console/overview"
    cookie = r.headers["set-cookie"]
    flags = [p.strip().lower() for p in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/console" in flags
    account = served.services.accounts.get(OPERATOR)
    import base64

    payload = base64.b64decode(cookie.split("=", 1)[1].split(".")[0] + "==").decode()
    assert PASSWORD not in payload and account.password_hash[-16:] not in payload and "argon2" not in payload
    # a cookie whose payload was edited (another user's name) under the old signature is no session
    value = cookie.split(";")[0].split("=", 1)[1]
    body, signature = value.split(".", 1)
    edited = base64.b64encode(payload.replace(f'"{OPERATOR}"', f'"{VIEWER}"').encode()).decode()
    assert edited != body
    other = served.client()
    other.headers["cookie"] = f"qjf_console={edited}.{signature}"
    assert other.get("/console/members").status_code == 303
    same = served.client()
    same.headers["cookie"] = f"qjf_console={value}"
    assert same.get("/console/members").status_code == 200  # the cookie as signed is the session


def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(served: Served) -> None:
    c = served.login()
    page = c.get("/console/members/m_zhang")
    form = {"op": "award", "amount": "50", "reason": "奖励", "nonce": nonce_of(page.text)}
    for token in ("", "forged-token"):
        r = c.post("/console/members/m_zhang/adjust", data={**form, "csrf": token})
        assert r.status_code == 403 and "CSRF" in r.text
    assert balance(served, "m_zhang") == 120 and ops(served) == []
    # the token in the htmx header counts as the form field does
    r = c.post("/console/members/m_zhang/adjust", data=form, headers={"X-CSRF-Token": csrf_of(page.text)})
    assert r.status_code == 303 and balance(served, "m_zhang") == 170


def test_a_viewer_reads_but_every_change_is_refused(served: Served) -> None:
    c = served.login(VIEWER)
    page = c.get("/console/members/m_zhang")
    assert page.status_code == 200 and 'id="points">120<' in page.text
    assert "加分 / 扣分" not in page.text and "确认撤销" not in page.text  # no form a viewer cannot use
    entry = next(e for e in served.services.ledger.entries("m_zhang") if e.kind == "admin_award")
    csrf = csrf_of(page.text)
    r = c.post("/console/members/m_zhang/adjust", data={"csrf": csrf, "op": "award", "amount": "5", "reason": "想加",
                                                        "nonce": "n" * 30})
    assert r.status_code == 403 and "只读账号" in r.text
    r = c.post(f"/console/entries/{entry.id}/undo", data={"csrf": csrf, "reason": "想撤", "nonce": "n" * 30})
    assert r.status_code == 403 and "只读账号" in r.text
    assert balance(served, "m_zhang") == 120 and served.services.browse.reversed_by([entry.id]) == {}
    assert ops(served) == []


def test_wrong_passwords_lock_that_name_from_that_address(served: Served) -> None:
    c = served.client()
    r = login(c, OPERATOR, "wrong")
    assert r.status_code == 401 and "用户名或密码不对" in r.text
    assert login(c, "nobody", "wrong").status_code == 401  # an unknown name reads the same
    for _ in range(4):
        assert login(c, OPERATOR, "wrong").status_code == 401
    r = login(c, OPERATOR, PASSWORD)  # the right password, too late
    assert r.status_code == 429 and "密码错误次数太多" in r.text and "分钟后再试" in r.text
    assert c.get("/console/members").status_code == 303  # still not logged in
    assert login(served.client(), VIEWER, PASSWORD).status_code == 303  # another name is not locked


def test_an_award_from_the_console_is_in_the_ledger_the_member_page_and_the_operator_log(served: Served) -> None:
    c = served.login()
    page = c.get("/console/members/m_zhang")
    form = {"csrf": csrf_of(page.text), "op": "award", "amount": "50", "reason": "线下活动  一等奖",
            "nonce": nonce_of(page.text)}
    r = c.post("/console/members/m_zhang/adjust", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/console/members/m_zhang"
    [entry] = [e for e in served.services.ledger.entries("m_zhang") if e.delta == 50]
    assert (entry.kind, entry.detail, entry.balance_after) == ("admin_award", "线下活动 一等奖", 170)
    shown = c.get("/console/members/m_zhang").text
    assert f"已加 50 积分（记录 #{entry.id}），余额 170" in shown
    assert 'id="points">170<' in shown and f'id="entry-{entry.id}"' in shown and "线下活动 一等奖" in shown
    assert ops(served) == [("console", OPERATOR, "award", "m_zhang", "线下活动 一等奖")]
    assert served.services.oplog.page()[0].detail == {"entry": entry.id, "points": 50}
    # the same form sent again (a double tap, a reload) changes nothing
    r = c.post("/console/members/m_zhang/adjust", data=form)
    assert r.status_code == 303 and "已经提交过" in c.get("/console/members/m_zhang").text
    assert balance(served, "m_zhang") == 170 and len(ops(served)) == 1
    log = c.get("/console/oplog").text
    assert "后台" in log and "加分" in log and "线下活动 一等奖" in log and OPERATOR in log
    assert "线下活动 一等奖" in c.get("/console/oplog", params={"target": "m_zhang"}).text
    assert "还没有操作记录" in c.get("/console/oplog", params={"target": "m_li"}).text


@pytest.mark.parametrize(("form", "said"), [
    ({"op": "deduct", "amount": "500", "reason": "违规"}, "余额只有 120，不够扣 500"),
    ({"op": "award", "amount": "0", "reason": "x"}, "积分需要是 1 到 100000 的整数"),
    ({"op": "award", "amount": "100001", "reason": "x"}, "积分需要是 1 到 100000 的整数"),
    ({"op": "award", "amount": "5", "reason": "  "}, "请写上理由"),
    ({"op": "award", "amount": "5", "reason": "长" * 101}, "理由最多 100 个字"),
])
def test_bad_input_gets_a_clear_message_and_changes_nothing(served: Served, form: dict[str, str], said: str) -> None:
    c = served.login()
    page = c.get("/console/members/m_zhang")
    r = c.post("/console/members/m_zhang/adjust", data={**form, "csrf": csrf_of(page.text), "nonce": nonce_of(page.text)})
    assert r.status_code == 400 and said in r.text
    assert balance(served, "m_zhang") == 120 and ops(served) == []


def test_undo_from_the_console_reverses_the_entry_and_links_both(served: Served) -> None:
    c = served.login()
    [award] = [e for e in served.services.ledger.entries("m_zhang") if e.kind == "admin_award"]
    page = c.get("/console/members/m_zhang")
    r = c.post(f"/console/entries/{award.id}/undo", data={"csrf": csrf_of(page.text), "reason": "发错人了",
                                                          "nonce": nonce_of(page.text)})
    assert r.status_code == 303
    by = served.services.browse.reversed_by([award.id])[award.id]
    reversal = served.services.ledger.entry(by)
    assert (reversal.kind, reversal.delta, reversal.reverses, reversal.detail) == ("reversal", -20, award.id, "发错人了")
    shown = c.get("/console/members/m_zhang").text
    assert f"已撤销记录 #{award.id}" in shown and 'id="points">100<' in shown
    assert f'已被 <a href="/console/ledger?member=m_zhang&amp;before={by + 1}#entry-{by}">#{by}</a> 撤销' in shown
    link = f"/console/ledger?member=m_zhang&amp;before={award.id + 1}#entry-{award.id}"
    assert f'撤销 <a href="{link}">#{award.id}</a>' in shown
    # the link opens a page whose first row is the entry undone
    first = re.search(r'id="entry-(\d+)"', c.get(link.replace("&amp;", "&").split("#")[0]).text)
    assert first and int(first.group(1)) == award.id
    assert ops(served) == [("console", OPERATOR, "undo", "m_zhang", "发错人了")]
    # a check-in is not undone here, and says why
    checkin = next(e for e in served.services.ledger.entries("m_zhang") if e.kind == "checkin")
    page = c.get("/console/members/m_zhang")
    r = c.post(f"/console/entries/{checkin.id}/undo", data={"csrf": csrf_of(page.text), "reason": "试试",
                                                            "nonce": nonce_of(page.text)})
    assert r.status_code == 400 and "只能撤销管理员加分和扣分" in r.text
    assert balance(served, "m_zhang") == 100 and len(ops(served)) == 1


def test_personal_fields_are_masked_until_a_reveal_that_is_logged(served: Served) -> None:
    c = served.login(VIEWER)  # reading personal data is a read: a viewer may, with a reason, logged
    page = c.get("/console/members/m_zhang")
    assert "13812345678" not in page.text and "138******78" in page.text and "杭州" not in page.text
    r = c.post("/console/members/m_zhang/reveal", data={"csrf": csrf_of(page.text), "reason": ""})
    assert r.status_code == 400 and "需要写明理由" in r.text and "13812345678" not in r.text
    assert ops(served) == []
    r = c.post("/console/members/m_zhang/reveal", data={"csrf": csrf_of(page.text), "reason": "核对收货电话"})
    assert r.status_code == 200 and "13812345678" in r.text and "杭州" in r.text
    assert ops(served) == [("console", VIEWER, "reveal", "m_zhang", "核对收货电话")]
    assert served.services.oplog.page()[0].detail == {"fields": ["city", "phone"]}
    assert "13812345678" not in c.get("/console/members/m_zhang").text  # the next page is masked again


def test_search_by_id_or_name_prefix(served: Served) -> None:
    c = served.login(VIEWER)
    def found(r: object) -> list[str]:
        return re.findall(r'href="/console/members/([^"]+)">', r.text)  # type: ignore[attr-defined]

    r = c.get("/console/members", params={"q": "张"})
    assert found(r) == ["m_zhang"] and ">张三</a>" in r.text and "<html" in r.text
    assert found(c.get("/console/members", params={"q": "m_"})) == ["m_li", "m_zhang"]
    assert found(c.get("/console/members", params={"q": "m_zhang"})) == ["m_zhang"]
    r = c.get("/console/members", params={"q": "三"})  # no substring search: said so
    assert found(r) == [] and "没有 ID 或昵称以「三」开头的成员" in r.text
    partial = c.get("/console/members", params={"q": "m_li"}, headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="results">') and "李四" in partial.text and "<html" not in partial.text
    assert "/console/members/m_li" in partial.text


def test_ledger_pages_by_keyset_and_exports_csv(served: Served) -> None:
    ledger = served.services.ledger
    at = served.clock[0]
    for i in range(120):
        ledger.award(member="m_li", points=1, kind="quiz", key=f"page:{i}", at=at, room="g1", detail=f"第{i}题")
    c = served.login(VIEWER)
    seen: list[int] = []
    url = "/console/ledger?member=m_li"
    while url:
        page = c.get(url).text
        ids = [int(x) for x in re.findall(r'id="entry-(\d+)"', page)]
        assert ids == sorted(ids, reverse=True) and (not seen or ids[0] < seen[-1])
        seen += ids
        nxt = re.search(r'href="(/console/ledger\?[^"]*before=\d+)"', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    assert seen == [e.id for e in ledger.entries("m_li", newest_first=True)] and len(seen) == 121
    r = c.get("/console/ledger.csv", params={"member": "m_li", "kind": "quiz"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["记录号", "时间", "成员 ID", "积分变动"]
    assert len(rows) == 121 and {row[6] for row in rows[1:]} == {"问答奖励"} and rows[1][2] == "m_li"
    assert sum(int(row[3]) for row in rows[1:]) == 120
    assert "日期请写成" in c.get("/console/ledger", params={"since": "12/01"}).text


def test_the_vendored_htmx_is_the_pinned_release_with_its_licence(served: Served) -> None:
    js = (ROOT / "console" / "static" / "htmx.min.js").read_text(encoding="utf-8")
    assert js.startswith("/*! htmx 2.0.11") and "Zero-Clause BSD" in js.splitlines()[0]
    assert 'version:"2.0.11"' in js
    c = served.client()
    r = c.get("/console/static/htmx.min.js")
    assert r.status_code == 200 and 'version:"2.0.11"' in r.text
    assert "console.css" in c.get("/console/login").text and c.get("/console/static/console.css").status_code == 200


def test_the_lock_lifts_once_the_lock_time_has_passed() -> None:
    from console.security import Throttle

    now = [1000.0]
    t = Throttle(max_failures=3, lock_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert t.locked_for("alice", "10.0.0.1") == 0
        t.failed("alice", "10.0.0.1")
    assert t.locked_for("alice", "10.0.0.1") == 60
    assert t.locked_for("alice", "10.0.0.2") == 0  # another address is not locked
    now[0] += 59
    assert t.locked_for("alice", "10.0.0.1") == 1
    now[0] += 1
    assert t.locked_for("alice", "10.0.0.1") == 0  # the oldest failure is out of the window
