"""One operator log for every channel: chat admin commands (actor: the contact id), the CLI (the OS user), the console."""

from __future__ import annotations

import getpass
import subprocess
import sys
from pathlib import Path

from storage.db import make_engine
from storage.store import Storage
from tests.conftest import ChatBot
from tests.factories import OWNER, SH
from tests.helpers import give

ROOT = Path(__file__).resolve().parents[2]


def rows(services: object) -> list[tuple[str, str, str, str, str]]:
    return [(o.actor_kind, o.actor, o.action, o.target, o.reason)  # type: ignore[attr-defined]
            for o in reversed(services.oplog.page(limit=100))]  # type: ignore[attr-defined]


async def test_chat_admin_award_deduct_and_undo_are_logged_with_the_admins_contact_id(chat: ChatBot) -> None:
    give(chat, "alice", 30)
    r = await chat.say("加分 @Alice 50 活动表现优秀", as_=OWNER, mentions=("alice",))
    assert "活动表现优秀" in r.text
    r = await chat.say("扣分 @Alice 10 违规刷屏", as_=OWNER, mentions=("alice",))
    assert "违规刷屏" in r.text
    award = next(e for e in chat.entries("alice") if e.delta == 50)
    r = await chat.private(f"撤销 #{award.id} 加错了", as_=OWNER)
    assert any("撤销" in t for t in r.texts)
    st = chat.rt.services
    assert rows(st) == [("chat", OWNER, "award", "alice", "活动表现优秀"), ("chat", OWNER, "deduct", "alice", "违规刷屏"),
                        ("chat", OWNER, "undo", "alice", "加错了")]
    logged = list(reversed(st.oplog.page()))
    assert logged[0].detail == {"room": "g1", "entry": award.id, "points": 50}
    assert logged[2].detail["entry"] == award.id and logged[2].detail["points"] == -50
    assert chat.balance("alice") == 20
    # a command that was refused changes nothing and logs nothing
    r = await chat.say("扣分 @Alice 999 太多", as_=OWNER, mentions=("alice",))
    assert "999" in r.text or "不够" in r.text
    assert len(rows(st)) == 3


async def test_a_refused_admin_command_from_a_member_logs_nothing(chat: ChatBot) -> None:
    r = await chat.say("加分 @Bob 50 自己加", as_="mallory", mentions=("bob",))
    assert r.texts  # the refusal (read: the test checks what the member sees)
    assert chat.balance("bob") == 0 and rows(chat.rt.services) == []


CONFIG = """
[bot]
admins = ["wxid_owner"]
[mall]
[[mall.items]]
sku = "vip"
name = "会员卡密"
kind = "card_code"
points = 50
"""


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, input=stdin)


def test_cli_imports_and_an_address_export_are_logged_with_the_os_user(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    (tmp_path / "codes.txt").write_text("A1\nA2\n", encoding="utf-8")
    r = run("import-codes", "vip", "codes.txt", "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and "已导入 2 个卡密" in r.stdout, r.stderr
    (tmp_path / "b.csv").write_text("id,name,points,growth\nwxid_a,张三,120,300\n", encoding="utf-8")
    r = run("import-balances", "b.csv", "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and "已导入 1 人" in r.stdout, r.stderr
    r = run("import-balances", "b.csv", "--dry-run", "--db", db, cwd=tmp_path)  # writes nothing, logs nothing
    assert r.returncode == 0 and "试运行" in r.stdout
    r = run("orders", "--csv", "out.csv", "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and "已写入 0 个订单" in r.stdout, r.stderr
    r = run("orders", "--db", db, cwd=tmp_path)  # a table on the screen is a read-out, not an export
    assert r.returncode == 0
    st = Storage.open(make_engine(db, create=False), SH)
    me = getpass.getuser()
    assert rows(st) == [("cli", me, "import_codes", "sku:vip", ""), ("cli", me, "import_balances", "", ""),
                        ("cli", me, "export_orders", "", "")]
    logged = list(reversed(st.oplog.page()))
    assert logged[0].detail == {"added": 2, "skipped": 0, "file": "codes.txt"}
    assert logged[1].detail == {"members": 1, "points": 120, "growth": 300, "file": "b.csv"}
    assert logged[2].detail == {"orders": 0, "file": "out.csv", "status": "全部"}
    assert st.ledger.member("wxid_a").points == 120  # type: ignore[union-attr]
    st.db.engine.dispose()


def test_console_user_add_list_passwd_disable(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    r = run("console-user", "add", "alice", "--role", "operator", "--db", db, cwd=tmp_path, stdin="s3cret-pass\n")
    assert r.returncode == 0 and "已创建后台账号 alice（可修改）" in r.stdout, r.stderr
    r = run("console-user", "add", "alice", "--db", db, cwd=tmp_path, stdin="another-pass\n")
    assert r.returncode != 0 and "账号 alice 已经存在" in r.stderr
    r = run("console-user", "add", "bob", "--db", db, cwd=tmp_path, stdin="short\n")
    assert r.returncode != 0 and "密码至少 8 个字符" in r.stderr
    r = run("console-user", "add", "bob", "--role", "admin", "--db", db, cwd=tmp_path, stdin="long-enough\n")
    assert r.returncode != 0 and "--role 只能是 viewer" in r.stderr
    r = run("console-user", "list", "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("alice\toperator\t") and "bob" not in r.stdout
    assert "s3cret-pass" not in r.stdout + r.stderr
    st = Storage.open(make_engine(db, create=False), SH)
    old = st.accounts.get("alice")
    assert old is not None and old.password_hash.startswith("$argon2id$") and "s3cret-pass" not in old.password_hash
    r = run("console-user", "passwd", "alice", "--db", db, cwd=tmp_path, stdin="new-secret-pass\n")
    assert r.returncode == 0 and "已修改 alice 的密码" in r.stdout
    from console.security import verify_password

    new = st.accounts.get("alice")
    assert new is not None and verify_password(new.password_hash, "new-secret-pass")
    assert not verify_password(new.password_hash, "s3cret-pass")
    r = run("console-user", "disable", "alice", "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and st.accounts.get("alice").disabled  # type: ignore[union-attr]
    assert "（已停用）" in run("console-user", "list", "--db", db, cwd=tmp_path).stdout
    me = getpass.getuser()
    assert [(k, a, act, t) for k, a, act, t, _r in rows(st)] == [
        ("cli", me, "console_user_add", "console:alice"), ("cli", me, "console_user_passwd", "console:alice"),
        ("cli", me, "console_user_disable", "console:alice")]
    st.db.engine.dispose()


async def test_a_console_award_in_the_bots_process_is_never_announced_in_another_group(make_chat: object) -> None:
    """The console tells no chat: a level crossed by its award is not congratulated in the group of the next message."""
    from console.security import hash_password
    from tests.console.conftest import OPERATOR, PASSWORD, Served, csrf_of, nonce_of, serve
    from tests.factories import config

    levels = [{"name": "青铜", "growth": 0}, {"name": "白银", "growth": 20}]
    chat: ChatBot = make_chat(config(schedule=[], levels=levels))  # type: ignore[operator]
    st = chat.rt.services
    give(chat, "alice", 5)
    st.accounts.add(OPERATOR, hash_password(PASSWORD), "operator", chat.transport.clock.now())
    for url in serve(st, chat.settings, chat.transport.clock.now):
        served = Served(url, st, chat.settings, [])
        c = served.login()
        page = c.get("/console/members/alice")
        r = c.post("/console/members/alice/adjust", data={"csrf": csrf_of(page.text), "nonce": nonce_of(page.text),
                                                          "op": "award", "amount": "30", "reason": "讲师"})
        c.close()
        assert r.status_code == 303
    assert chat.growth("alice") == 35
    said = await chat.say("签到", as_="bob", room="g2")
    assert all("白银" not in t for t in said.texts) and len(said.texts) == 1  # bob's check-in reply, nothing about alice
    assert rows(st) == [("console", OPERATOR, "award", "alice", "讲师")]
