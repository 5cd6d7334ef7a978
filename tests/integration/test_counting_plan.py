"""SQLite reads a project target's own projects by category, then their stages by key.

Knowing nothing of the tables' contents, SQLite would rather walk every stage of the generation
and look each project up: at a million events that made one small target's value 50 ms instead
of 0.1, and every target view waited for it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event

from services.common import db
from services.events import counting
from services.events.app import MIGRATIONS
from services.events.targets import load_catalogue

SMALL = "public_health_service_center"  # one category, a handful of projects
CATEGORY_INDEX = (
    "SEARCH fact_project USING INDEX ix_fact_project_generation_category "
    "(generation=? AND category=?)"
)


def test_a_project_targets_queries_start_from_its_categories_projects(tmp_path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    db.migrate(engine, MIGRATIONS)
    target = next(t for t in load_catalogue() if t.id == SMALL)
    on = date(2025, 6, 30)
    sent: list[tuple[str, tuple]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    with engine.connect() as conn:
        counting.values(conn, 1, target, [counting.point_of(target, on)])
        counting.pipeline(conn, 1, target, on, target.deadline)
        event.remove(engine, "before_cursor_execute", record)
        assert len(sent) == 2
        for statement, parameters in sent:
            plan = [
                row[3]
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
            lookups = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
            first = next(s for s in lookups if "fact_project" in s)
            assert first == CATEGORY_INDEX, plan
            assert any(
                s.startswith("SEARCH fact_project_stage USING INDEX") and "project_id=?" in s
                for s in lookups
            ), plan
    engine.dispose()
