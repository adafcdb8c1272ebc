"""storage/tables.py, generated from storage/models.py, is up to date and declares the very same tables."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Integer, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from storage import gen_tables, models, tables

DIALECTS: list[Dialect] = [sqlite.dialect(), postgresql.dialect()]
DECLARED = SQLModel.metadata.tables
GENERATED = tables.METADATA.tables


def test_tables_py_is_what_the_generator_writes_for_the_models_as_they_are() -> None:
    on_disk = gen_tables.TARGET.read_text(encoding="utf-8")
    assert on_disk == gen_tables.source(), f"storage/tables.py is out of date: run {gen_tables.COMMAND}"


def test_every_table_and_every_constant_is_there() -> None:
    assert sorted(GENERATED) == sorted(DECLARED)
    constants = {name: value.name for name, value in vars(models).items() if isinstance(value, Table)}
    assert constants == {name: value.name for name, value in vars(tables).items() if isinstance(value, Table)}


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@pytest.mark.parametrize("name", sorted(DECLARED))
def test_the_ddl_of_each_table_and_its_indexes_is_the_same_on_both_dialects(name: str, dialect: Dialect) -> None:
    declared, generated = DECLARED[name], GENERATED[name]
    assert _create_table(generated, dialect) == _create_table(declared, dialect)
    assert _create_indexes(generated, dialect) == _create_indexes(declared, dialect)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_each_column_has_the_same_type_class_and_defaults(name: str) -> None:
    """What DDL does not show: the Python-side default of an INSERT, and the type that converts values."""
    declared, generated = DECLARED[name], GENERATED[name]
    assert [c.name for c in generated.columns] == [c.name for c in declared.columns]
    for column in declared.columns:
        twin = generated.c[column.name]
        assert _type_name(twin.type) == _type_name(column.type), column.name
        assert _default(twin) == _default(column), column.name
        assert twin.autoincrement == column.autoincrement, column.name


def test_what_models_py_does_not_use_yet_is_written_out_faithfully_too() -> None:
    """Partial indexes (text or expression), dialect options, server defaults as text, more column types."""
    from sqlalchemy import Column, ForeignKey, Index, MetaData, Numeric, Text, text, true

    meta = MetaData()
    Table("parent", meta, Column("id", Integer(), primary_key=True))
    t = Table("odd", meta,
              Column("id", Integer(), primary_key=True, autoincrement=False),
              Column("parent_id", Integer(), ForeignKey("parent.id", name="fk_odd_parent"), nullable=True),
              Column("price", Numeric(10, 2), nullable=False, server_default=text("0")),
              Column("note", Text(), nullable=False, server_default="", default="-"),
              Column("live", Integer(), nullable=False, server_default=true()),
              sqlite_autoincrement=False)
    Index("ix_odd_live", t.c.price, postgresql_where=t.c.live > 0, sqlite_where=text("live > 0"))
    Index("uq_odd_note", t.c.note, unique=True, postgresql_using="btree")
    namespace: dict[str, Any] = {}
    exec(gen_tables.HEADER.format(command="", imports="from sqlalchemy import *") + "\nMETADATA = MetaData()\n"
         + "Table(\n" + "".join(f"    {line},\n" for line in gen_tables.table_items(meta.tables["parent"])) + ")\n"
         + "ODD = Table(\n" + "".join(f"    {line},\n" for line in gen_tables.table_items(t)) + ")\n", namespace)
    twin = namespace["ODD"]
    for dialect in DIALECTS:
        assert _create_table(twin, dialect) == _create_table(t, dialect)
        assert _create_indexes(twin, dialect) == _create_indexes(t, dialect)
    assert [_default(c) for c in twin.columns] == [_default(c) for c in t.columns]
    assert twin.c.id.autoincrement is False


def test_the_generator_refuses_what_it_cannot_write_out() -> None:
    """A column type or default it does not know is an error, not a silently different table."""
    from sqlalchemy import Column, MetaData, PickleType, func

    odd = Table("odd", MetaData(), Column("x", PickleType()))
    with pytest.raises(gen_tables.Unrenderable, match=r"odd\.x: type"):
        list(gen_tables.table_items(odd))
    later = Table("later", MetaData(), Column("at", Integer(), default=func.now()))
    with pytest.raises(gen_tables.Unrenderable, match=r"later\.at: default"):
        list(gen_tables.table_items(later))


def _create_table(table: Table, dialect: Dialect) -> str:
    return str(CreateTable(table).compile(dialect=dialect))


def _create_indexes(table: Table, dialect: Dialect) -> dict[str | None, str]:
    return {index.name: str(CreateIndex(index).compile(dialect=dialect)) for index in table.indexes}


def _type_name(kind: Any) -> str:
    return "String" if isinstance(kind, AutoString) else type(kind).__name__


def _default(column: Any) -> tuple[Any, Any]:
    """(the INSERT's Python-side default, the server default: a string as given, SQL as compiled)."""
    scalar = None if column.default is None else column.default.arg
    server = None if column.server_default is None else column.server_default.arg
    return scalar, server if server is None or isinstance(server, str) else str(server.compile())
