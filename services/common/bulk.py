"""Bulk writes for the import: ids allocated up front, COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam, func, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError


def allocate_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """`n` fresh primary keys for `table`, so rows (and rows referring to them) can be built first.

    On PostgreSQL they come from the column's sequence; on SQLite the caller's transaction holds
    the database's write lock (BEGIN IMMEDIATE), so the ids above the current maximum are free.
    """
    if n == 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": n},
        )
        return sorted(r[0] for r in rows)
    top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(top + 1, top + 1 + n))


def among(dialect: str, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values` as one bound parameter however many values there are: an array on
    PostgreSQL (`= ANY(:values)`), a JSON list read by `json_each` on SQLite. An expanded `IN`
    costs a placeholder each, compiled per statement; for 10,000 ids that is most of the query.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    listed = select(text("value")).select_from(
        func.json_each(bindparam(None, orjson.dumps(list(values)).decode()))
    )
    return column.in_(listed.scalar_subquery())


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows (all with the same keys): COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        _executemany(conn, table, rows)
        return
    columns = list(rows[0])
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    raw = conn.connection.dbapi_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    try:
        with raw.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [orjson.dumps(row[c]).decode() if c in as_json else row[c] for c in columns]
                )
    except conn.dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
        # Reported like any other constraint violation, so callers handle one exception type.
        raise IntegrityError(statement, None, exc) from exc


def _executemany(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """One INSERT of the rows' columns, each value converted by its column's type as SQLAlchemy
    would, handed to the driver's executemany as tuples. SQLAlchemy's own executemany builds
    and converts a parameter dict per row, which costs more than SQLite takes to write them."""
    columns = list(rows[0])
    if any(c.default is not None and c.key not in rows[0] for c in table.c):
        conn.execute(table.insert(), list(rows))  # Python-side defaults to fill in per row
        return
    dialect = conn.dialect
    prepare = dialect.identifier_preparer
    names = ", ".join(prepare.format_column(table.c[c]) for c in columns)
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {prepare.format_table(table)} ({names}) VALUES ({marks})"
    convert = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    pairs = list(zip(columns, convert, strict=True))
    conn.exec_driver_sql(
        statement, [tuple(row[c] if f is None else f(row[c]) for c, f in pairs) for row in rows]
    )


def bulk_update(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    fields: Iterable[str],
    now: datetime,
) -> int:
    """UPDATE … WHERE id = :_id AND version = :_version for many rows, each version bumped.

    Returns how many rows matched: fewer than given means some changed since they were read.
    """
    if not rows:
        return 0
    values: dict[str, Any] = {f: bindparam(f) for f in fields}
    values.update(version=table.c.version + 1, updated_at=now)
    stmt = (
        sql_update(table)
        .where(table.c.id == bindparam("_id"), table.c.version == bindparam("_version"))
        .values(values)
    )
    return conn.execute(stmt, rows).rowcount
