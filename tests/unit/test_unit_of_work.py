"""One unit of work for every write: commit once, roll back on error, wake the relay after."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, func, insert, select

from services.common.unit_of_work import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
metadata = MetaData()
ROWS = Table("rows", metadata, Column("id", Integer, primary_key=True))


@pytest.fixture
def engine():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    return engine


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ROWS)).scalar_one()


def test_a_unit_commits_its_rows_then_wakes_the_relay(engine) -> None:
    woken: list[int] = []
    with UnitOfWork(engine, on_commit=lambda: woken.append(count(engine))) as session:
        session.execute(insert(ROWS), [{"id": 1}, {"id": 2}])
        assert woken == []
    assert woken == [2]  # called after the commit: the rows are there for the relay


def test_a_unit_that_raises_writes_nothing_and_wakes_nobody(engine) -> None:
    woken: list[int] = []
    with pytest.raises(ValueError), UnitOfWork(engine, on_commit=lambda: woken.append(1)) as s:
        s.execute(insert(ROWS), [{"id": 1}])
        raise ValueError("refused")
    assert count(engine) == 0 and woken == []


def _commits(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def test_no_router_or_service_function_commits_on_its_own() -> None:
    """Writes commit in the unit of work only (the roll-up's consumer and replay commit their
    own engine transactions, not sessions)."""
    found = {
        str(path.relative_to(ROOT)): lines
        for service in ("projects", "enterprises", "events")
        for path in sorted((ROOT / "services" / service).rglob("*.py"))
        if (lines := _commits(path))
    }
    assert found == {}
