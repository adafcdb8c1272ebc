"""`python -m storage.gen_tables`: write storage/tables.py, the Core tables of storage/models.py, again.

storage.models (SQLModel classes) is the declared schema; importing it costs sqlmodel, the ORM and the
mapping of every class, ~0.15 s of each start. The running bot only needs the Core tables, so this writes
them out as plain `Table(...)` on their own MetaData. Run it after every change to storage/models.py
(tests/storage/test_tables.py fails until you do). It refuses what it cannot render faithfully rather
than guess.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    Interval,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.sql.elements import ClauseElement, False_, TextClause, True_
from sqlalchemy.sql.schema import DefaultClause, ScalarElementColumnDefault
from sqlmodel.sql.sqltypes import AutoString

from storage.types import UTCDateTime

TARGET = Path(__file__).resolve().with_name("tables.py")
COMMAND = "python -m storage.gen_tables"
# the plain SQLAlchemy types a column may have, written as their repr (AutoString is written as String);
# they are what SQLModel maps str, int, bool, float, Decimal, date, datetime, time, timedelta, bytes, UUID to
PLAIN_TYPES = (JSON, BigInteger, Boolean, Date, DateTime, Float, Integer, Interval, LargeBinary, Numeric, String, Text,
               Time, Uuid)
# what the generated module may take from sqlalchemy: it imports those its tables use
SQLALCHEMY_NAMES = (*(t.__name__ for t in PLAIN_TYPES), "CheckConstraint", "Column", "ForeignKey", "Index", "MetaData",
                    "Table", "UniqueConstraint", "false", "text", "true")

HEADER = '''"""The bot's tables as SQLAlchemy Core: GENERATED from storage/models.py by `{command}`. Do not edit.

storage/models.py (SQLModel) is the declared schema, which alembic's revisions are made from; this module is
the same tables without sqlmodel or the ORM, for the code that runs. After changing models.py, run
`{command}` (tests/storage/test_tables.py fails until you do).
"""

from __future__ import annotations

{imports}

from storage.types import UTCDateTime

METADATA = MetaData()
'''


class Unrenderable(Exception):
    """models.py declares something this generator does not write out: teach it, do not let it drop it."""


def named_tables() -> list[tuple[str, Table]]:
    """(constant name, table) for every table of storage.models, in the order models.py names them."""
    from sqlmodel import SQLModel

    from storage import models

    named = [(name, value) for name, value in vars(models).items() if isinstance(value, Table) and name.isupper()]
    tables = {table.name for _name, table in named}
    missing = sorted(set(SQLModel.metadata.tables) - tables)
    if missing:
        raise Unrenderable(f"tables without a constant in storage/models.py (add NAME = table_of(Model)): {missing}")
    return named


def source() -> str:
    """The text of storage/tables.py for the models as they are now."""
    body = "\n".join(f"{name} = Table(\n" + "".join(f"    {line},\n" for line in table_items(table)) + ")\n"
                     for name, table in named_tables())
    used = [n for n in SQLALCHEMY_NAMES if n == "MetaData" or re.search(rf"\b{n}\(", body)]
    imports = "from sqlalchemy import (\n" + "".join(f"    {n},\n" for n in sorted(used, key=_isort)) + ")"
    return HEADER.format(command=COMMAND, imports=imports) + "\n" + body


def _lit(value: Any) -> str:
    """A Python literal for a name or a scalar, strings in double quotes like the rest of the code."""
    if isinstance(value, str) and '"' not in value and "\\" not in value and value.isprintable():
        return f'"{value}"'
    return repr(value)


def _isort(name: str) -> tuple[int, str]:
    """ruff's (isort's) order of imported names: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def table_items(table: Table) -> Iterator[str]:
    """The arguments of `Table(...)` for `table`, one a line."""
    if table.schema is not None or table.comment is not None or table.info:
        raise Unrenderable(f"{table.name}: schema, comment or info")
    yield f"{_lit(table.name)}, METADATA"
    for column in table.columns:
        yield _column(column)
    for constraint in table._sorted_constraints:  # the order CREATE TABLE writes them in
        rendered = _constraint(table, constraint)
        if rendered is not None:
            yield rendered
    for index in sorted(table.indexes, key=lambda i: str(i.name)):  # a set: by name, so the text is stable
        yield _index(index)
    yield from _kwargs(table.dialect_kwargs)


def _column(column: Column[Any]) -> str:
    if column.key != column.name or column.comment or column.onupdate or column.server_onupdate or column.computed \
            or column.identity or column.info:
        raise Unrenderable(f"{column.table.name}.{column.name}: key, comment, onupdate, computed, identity or info")
    parts = [_lit(column.name), _type(column)]
    for fk in column.foreign_keys:
        if fk.ondelete or fk.onupdate or fk.deferrable or fk.initially or fk.use_alter or fk.match:
            raise Unrenderable(f"{column.table.name}.{column.name}: foreign key options")
        parts.append(f"ForeignKey({_lit(fk.target_fullname)}" + (f", name={_lit(fk.name)})" if fk.name else ")"))
    if column.primary_key:
        parts.append("primary_key=True")
    parts.append(f"nullable={column.nullable!r}")
    if column.autoincrement != "auto":
        parts.append(f"autoincrement={column.autoincrement!r}")
    if column.default is not None:
        parts.append(f"default={_default(column)}")
    if column.server_default is not None:
        parts.append(f"server_default={_server_default(column)}")
    return f"Column({', '.join(parts)})"


def _type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return "UTCDateTime()"
    if isinstance(kind, AutoString):
        kind = String(kind.length)
    if type(kind) not in PLAIN_TYPES:
        raise Unrenderable(f"{column.table.name}.{column.name}: type {kind!r}")
    return repr(kind)


def _default(column: Column[Any]) -> str:
    default = column.default
    if not isinstance(default, ScalarElementColumnDefault) or not isinstance(default.arg, (bool, int, str, float)):
        raise Unrenderable(f"{column.table.name}.{column.name}: default {default!r} is not a scalar")
    return _lit(default.arg)


def _server_default(column: Column[Any]) -> str:
    default = column.server_default
    if not isinstance(default, DefaultClause):
        raise Unrenderable(f"{column.table.name}.{column.name}: server default {default!r}")
    return _sql(default.arg, f"{column.table.name}.{column.name}")


def _sql(value: Any, where: str) -> str:
    """A SQL fragment (server default, index condition) as the source that makes it again."""
    if isinstance(value, str):
        return _lit(value)
    if isinstance(value, False_):
        return "false()"
    if isinstance(value, True_):
        return "true()"
    if isinstance(value, TextClause):
        return f"text({_lit(value.text)})"
    if isinstance(value, ClauseElement):  # an expression: its SQL as CREATE INDEX writes it (values in, no table)
        sql = value.compile(compile_kwargs={"literal_binds": True, "include_table": False})
        return f"text({_lit(str(sql))})"
    raise Unrenderable(f"{where}: SQL {value!r}")


def _constraint(table: Table, constraint: Any) -> str | None:
    """A table-level constraint; None for those the columns already declare (primary and foreign keys)."""
    if isinstance(constraint, PrimaryKeyConstraint):
        if constraint.name or constraint.dialect_kwargs:
            raise Unrenderable(f"{table.name}: named primary key {constraint.name!r}")
        return None
    if isinstance(constraint, ForeignKeyConstraint):  # its column writes it (ForeignKey, with its name)
        if len(constraint.elements) != 1 or constraint.dialect_kwargs:
            raise Unrenderable(f"{table.name}: foreign key {constraint.name!r} of several columns, or with options")
        return None
    if constraint.dialect_kwargs or constraint.deferrable or constraint.initially or constraint.info:
        raise Unrenderable(f"{table.name}: constraint {constraint.name!r} has options")
    name = f", name={_lit(constraint.name)}" if constraint.name else ""
    if isinstance(constraint, UniqueConstraint):
        return f"UniqueConstraint({', '.join(_lit(c.name) for c in constraint.columns)}{name})"
    if isinstance(constraint, CheckConstraint) and isinstance(constraint.sqltext, TextClause):
        return f"CheckConstraint({_lit(constraint.sqltext.text)}{name})"
    raise Unrenderable(f"{table.name}: constraint {constraint!r}")


def _index(index: Index) -> str:
    parts = [_lit(index.name)]
    for expr in index.expressions:
        if not isinstance(expr, Column):
            raise Unrenderable(f"index {index.name}: expression {expr!r} is not a column")
        parts.append(_lit(expr.name))
    if index.unique:
        parts.append("unique=True")
    if index.info:
        raise Unrenderable(f"index {index.name}: info")
    parts.extend(_kwargs(index.dialect_kwargs, where=f"index {index.name}"))
    return f"Index({', '.join(parts)})"


def _kwargs(kwargs: Any, where: str = "table") -> Iterator[str]:
    for key, value in sorted(kwargs.items()):
        if isinstance(value, bool | int | str) and not key.endswith("_where"):
            yield f"{key}={_lit(value)}"
        else:
            yield f"{key}={_sql(value, where)}"


def main(argv: list[str]) -> int:
    """Write storage/tables.py (`--check`: only say whether it is up to date, exit 1 when not)."""
    text = source()
    if argv == ["--check"]:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        print("storage/tables.py 是最新的" if current == text else f"storage/tables.py 已过期：请运行 {COMMAND}")
        return 0 if current == text else 1
    if argv:
        print(f"用法：{COMMAND} [--check]", file=sys.stderr)
        return 2
    TARGET.write_text(text, encoding="utf-8")
    print(f"已写入 {TARGET.name}（{len(named_tables())} 张表）")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
