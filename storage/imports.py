"""Balances moved in from another system (`run_bot.py import-balances FILE.csv`): one ledger entry per member.

Each member's import is one entry of kind "import" keyed by the member, so a second run changes nothing;
a second run whose figures differ for a member already imported is refused, naming the difference (an
operator corrects a balance with 加分/扣分, where it is logged with who and why). The entry carries the
points and the growth (成长值) the other system had; imported points expire by the expiry policy counted
from the import (the expiry hook sees an earning like any other). No level-up is announced: the import
runs outside the chat pipeline.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from storage import keys
from storage.ledger import Ledger
from storage.presence import Presence
from storage.tables import LEDGER
from storage.vocabulary import Kind

# header names accepted for each column (the English ones, or what a Chinese spreadsheet calls them)
COLUMNS = {"id": ("id", "member", "成员id", "微信id", "wxid", "userid"), "name": ("name", "昵称", "名字", "姓名"),
           "points": ("points", "积分", "余额"), "growth": ("growth", "成长值")}
MAX_POINTS = 10**12


@dataclass(frozen=True)
class ImportRow:
    line: int  # in the file, for messages
    member: str
    name: str
    points: int
    growth: int


@dataclass
class ImportPlan:
    new: list[ImportRow] = field(default_factory=list)
    same: list[ImportRow] = field(default_factory=list)  # imported before with these figures: nothing to do
    changed: list[tuple[ImportRow, int, int]] = field(default_factory=list)  # (row, points then, growth then)

    @property
    def points(self) -> int:
        return sum(r.points for r in self.new)

    @property
    def growth(self) -> int:
        return sum(r.growth for r in self.new)


class ImportError_(ValueError):
    """The file cannot be imported; the text names the line and what to fix."""


def read_csv(path: Path) -> list[ImportRow]:
    """The rows of an import file (UTF-8, a BOM from Excel is fine), or ImportError_ naming every bad line."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise ImportError_(f"{path} is empty: the first line names the columns id,name,points,growth")
    names = [h.strip().lower() for h in header]
    where: dict[str, int] = {}
    for col, aliases in COLUMNS.items():
        found = [i for i, h in enumerate(names) if h in aliases]
        if found:
            where[col] = found[0]
    missing = [c for c in ("id", "points") if c not in where]
    if missing:
        raise ImportError_(f"{path} line 1: no column {' or '.join(missing)} (the header must name id,name,points,growth)")
    rows: list[ImportRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for n, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(col: str, cells: Sequence[str] = cells) -> str:
            i = where.get(col)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        member, name = cell("id"), cell("name")
        try:
            points = int(cell("points"))
            growth = int(cell("growth")) if cell("growth") else points
        except ValueError:
            problems.append(f"line {n}: points and growth must be whole numbers")
            continue
        if not member:
            problems.append(f"line {n}: no id")
        elif member in seen:
            problems.append(f"line {n}: {member} is on line {seen[member]} too")
        elif not (0 <= points <= MAX_POINTS and 0 <= growth <= MAX_POINTS):
            problems.append(f"line {n}: points and growth must be between 0 and {MAX_POINTS}")
        elif points == 0 and growth == 0:
            continue  # nothing to move
        else:
            seen[member] = n
            rows.append(ImportRow(n, member, name, points, growth))
    if problems:
        raise ImportError_("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
    return rows


class Imports:
    def __init__(self, ledger: Ledger, presence: Presence) -> None:
        self.ledger = ledger
        self.presence = presence

    def plan(self, rows: Iterable[ImportRow]) -> ImportPlan:
        """What importing `rows` would do, read-only."""
        rows = list(rows)
        out = ImportPlan()
        with self.ledger.db.reading() as conn:
            done = {r.key: (int(r.delta), int(r.growth_delta)) for r in conn.execute(
                select(LEDGER.c.key, LEDGER.c.delta, LEDGER.c.growth_delta).where(LEDGER.c.kind == str(Kind.IMPORT)))}
        for row in rows:
            before = done.get(keys.imported(row.member))
            if before is None:
                out.new.append(row)
            elif before == (row.points, row.growth):
                out.same.append(row)
            else:
                out.changed.append((row, *before))
        return out

    def apply(self, plan: ImportPlan, at: datetime, progress: Callable[[int], None] | None = None) -> int:
        """Write the plan's new rows (refuses a plan with changed rows); entries written."""
        if plan.changed:
            raise ImportError_("members already imported with other figures: " + "; ".join(
                f"{r.member} (line {r.line}): imported {p} points / {g} growth, the file says {r.points} / {r.growth}"
                for r, p, g in plan.changed[:20]))
        written = 0
        for row in plan.new:
            with self.ledger.db.transaction():
                self.presence.see_member(row.member, row.name, at)
                entry = self.ledger.award(member=row.member, points=row.points, kind=Kind.IMPORT,
                                          key=keys.imported(row.member), at=at, detail="迁入余额",
                                          growth_delta=row.growth)
            written += entry is not None
            if progress is not None:
                progress(1)
        return written
