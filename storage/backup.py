"""`run_bot.py backup FILE`: a consistent copy of a SQLite database while the bot runs (SQLite's online backup)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """The backup cannot be made; the text says why and what to do."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    if not u.database or u.database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(u.database)


def backup(url: str, dest: Path) -> int:
    """Copy the SQLite database of `url` to `dest` (a new file) as of one moment; the pages copied.

    One backup step copies every page under a read transaction, so writers go on (WAL) and the copy is
    the database as of one commit; the copy is checked (integrity_check) before it takes its name.
    """
    src_path = sqlite_path(url)
    if src_path is None:
        raise BackupError("PostgreSQL：请用 pg_dump 备份，例如 pg_dump -Fc -f points.dump DBNAME"
                          "（恢复：pg_restore -d DBNAME points.dump）")
    if not src_path.exists():
        raise BackupError(f"数据库文件不存在：{src_path}")
    if dest.exists():
        raise BackupError(f"{dest} 已存在：换一个文件名，或先移走它（备份不会覆盖文件）")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
    try:
        out = sqlite3.connect(tmp)
        try:
            src.backup(out, pages=-1)  # all pages in one step: one consistent snapshot
            pages = int(out.execute("PRAGMA page_count").fetchone()[0])
            check = out.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check ({check}); nothing was written")
        finally:
            out.close()
    finally:
        src.close()
    os.replace(tmp, dest)
    return pages
