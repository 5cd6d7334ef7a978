"""`among`: set membership as one bound parameter, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from services.common.bulk import among
from services.common.db import make_engine

META = MetaData()
ITEMS = Table(
    "items",
    META,
    Column("id", Integer, primary_key=True),
    Column("code", String(20)),
)


def test_among_finds_exactly_the_given_ids_and_codes_past_sqlites_parameter_limit(
    database_url_factory: Callable[[str], str],
) -> None:
    engine = make_engine(database_url_factory("bulk"))
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(ITEMS), [{"id": n, "code": f"C{n}"} for n in range(1, 5001)])
        dialect = conn.dialect.name
        wanted = list(range(3, 5001, 2)) + [7001, 7003]  # 2,499 present, 2 absent: over 999
        found = conn.scalars(select(ITEMS.c.id).where(among(dialect, ITEMS.c.id, wanted))).all()
        assert sorted(found) == list(range(3, 5001, 2))
        codes = ["C10", "C4999", "C99999", "南大街"]
        rows = conn.scalars(select(ITEMS.c.id).where(among(dialect, ITEMS.c.code, codes))).all()
        assert sorted(rows) == [10, 4999]
        assert conn.scalars(select(ITEMS.c.id).where(among(dialect, ITEMS.c.id, []))).all() == []
    engine.dispose()
