"""run_bot.py import-codes and orders, as real processes: duplicates counted, CSV export with a BOM for Excel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[bot]
admins = ["wxid_owner"]
[mall]
[[mall.items]]
sku = "vip"
name = "会员卡密"
kind = "card_code"
points = 50
[[mall.items]]
sku = "mug"
name = "马克杯"
kind = "physical"
points = 100
stock = 3
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run_bot.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_import_codes_then_export_orders(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    (tmp_path / "codes.txt").write_text("A1\nA2\n\nA1\nA3\n", encoding="utf-8")
    r = run("import-codes", "vip", "codes.txt", "--db", db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "已导入 3 个卡密，跳过 1 个重复的；vip 现有 3 个未用卡密" in r.stdout
    (tmp_path / "codes.csv").write_text("batch,code\n1,A3\n1,B1\n2,B2\n", encoding="utf-8-sig")
    r = run("import-codes", "vip", "codes.csv", "--db", db, cwd=tmp_path)
    assert "已导入 2 个卡密，跳过 1 个重复的；vip 现有 5 个未用卡密" in r.stdout, r.stderr
    r = run("import-codes", "mug", "codes.txt", "--db", db, cwd=tmp_path)
    assert r.returncode != 0 and "not card_code" in r.stderr
    r = run("import-codes", "nope", "codes.txt", "--db", db, cwd=tmp_path)
    assert r.returncode != 0 and "no mall item with sku 'nope'" in r.stderr

    from storage.db import make_engine
    from storage.store import Storage
    from tests.factories import sh

    st = Storage.open(make_engine(db, create=False), sh("2026-11-23 08:00").tzinfo)  # type: ignore[arg-type]
    st.presence.see_member("wxid_a", "张三", sh("2026-11-23 08:00"))
    st.ledger.award(member="wxid_a", points=500, kind="admin_award", key="seed", at=sh("2026-11-23 08:00"))
    st.mall.redeem(member="wxid_a", sku="vip", key="k1", at=sh("2026-11-23 09:00"))
    st.mall.redeem(member="wxid_a", sku="mug", key="k2", at=sh("2026-11-23 09:00"))
    st.db.engine.dispose()

    r = run("orders", "--csv", "out.csv", "--db", db, cwd=tmp_path)
    assert r.returncode == 0 and "已写入 2 个订单到 out.csv" in r.stdout, r.stderr
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("单号,下单时间,成员 ID,昵称,SKU,商品") and "张三" in text and "马克杯" in text
    assert ",已完成," in text and ",待填收货信息," in text and ",done," not in text  # statuses as an operator reads them
    assert "A1" not in text  # the export lists orders, never the codes they hold
    r = run("audit", "--db", db, cwd=tmp_path)
    assert r.returncode == 0, r.stdout


def test_orders_take_a_status_by_value_or_label_and_refuse_another(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    assert run("migrate", "--db", db, cwd=tmp_path).returncode == 0
    for word in ("pending", "待处理", "PENDING"):
        r = run("orders", "--status", word, "--json", "--db", db, cwd=tmp_path)
        assert r.returncode == 0 and r.stdout.strip() == "[]", (word, r.stderr)
    r = run("orders", "--status", "bogus", "--db", db, cwd=tmp_path)
    assert r.returncode != 0 and "没有「bogus」这个订单状态" in r.stderr and "pending（待处理）" in r.stderr

