"""The shared words: the business date, the stage order and the in-force rule, said once."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Column, Date, Integer, MetaData, Table, create_engine, insert, select

from services.common.contracts.calendar import BusinessCalendar, business_date, plan_year
from services.common.contracts.designations import (
    DESIGNATION_LABELS_EN,
    DESIGNATION_TYPES,
    in_force_on,
    is_in_force,
)
from services.common.contracts.stages import (
    CANCELLED,
    FINAL_STAGES,
    STAGE_ORDER,
    STAGES,
    STARTED_STAGES,
    reached,
)
from services.common.runtime import Runtime, TodayDep
from services.common.settings import Settings


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


LATE_EVENING_UTC = at("2025-03-31T23:30:00")  # already 1 April in the district
JUST_AFTER_MIDNIGHT_UTC = at("2025-04-01T00:30:00")  # 08:30 on 1 April in the district


def test_the_business_date_is_the_day_in_the_district_not_in_utc() -> None:
    settings = Settings()
    assert business_date(settings, clock=lambda: LATE_EVENING_UTC) == date(2025, 4, 1)
    assert business_date(settings, clock=lambda: JUST_AFTER_MIDNIGHT_UTC) == date(2025, 4, 1)
    assert business_date(settings, clock=lambda: at("2025-03-31T15:59:59")) == date(2025, 3, 31)
    assert business_date(settings, clock=lambda: at("2025-03-31T16:00:00")) == date(2025, 4, 1)


def test_the_district_timezone_is_a_setting() -> None:
    utc = Settings(timezone="UTC")
    assert business_date(utc, clock=lambda: LATE_EVENING_UTC) == date(2025, 3, 31)
    assert business_date(utc, clock=lambda: JUST_AFTER_MIDNIGHT_UTC) == date(2025, 4, 1)
    with pytest.raises(ValidationError, match="unknown timezone 'Mars/Olympus'"):
        Settings(timezone="Mars/Olympus")


def test_a_pinned_business_date_wins_over_the_clock() -> None:
    pinned = Settings(today="2024-02-29")
    assert business_date(pinned, clock=lambda: LATE_EVENING_UTC) == date(2024, 2, 29)
    assert BusinessCalendar.from_settings(pinned).today() == date(2024, 2, 29)


def test_without_a_clock_the_business_date_is_todays() -> None:
    shanghai_now = datetime.now(UTC).astimezone(BusinessCalendar().timezone).date()
    assert abs((business_date(Settings()) - shanghai_now).days) <= 1


def test_a_service_answers_with_the_business_date_of_its_injected_clock() -> None:
    from fastapi import FastAPI

    app = FastAPI()
    app.state.runtime = Runtime(name="probe", settings=Settings(), clock=lambda: LATE_EVENING_UTC)

    @app.get("/today")
    async def today(day: TodayDep) -> str:
        return day.isoformat()

    assert TestClient(app).get("/today").json() == "2025-04-01"


def test_a_page_opens_on_the_plans_latest_year_that_has_begun() -> None:
    assert plan_year(date(2026, 3, 15)) == 2025  # after the plan: its last year, not 2026
    assert plan_year(date(2024, 6, 30)) == 2024
    assert plan_year(date(2022, 12, 31)) == 2023


def test_the_stage_order_is_the_rolling_model() -> None:
    assert STAGE_ORDER == ("reserve", "starting", "building", "built")
    assert (*STAGE_ORDER, CANCELLED) == STAGES
    assert {"built", "cancelled"} == FINAL_STAGES
    assert STARTED_STAGES == ("starting", "building", "built")
    assert reached("starting") == ("starting", "building", "built")
    assert reached("built") == ("built",)


DAYS = [date(2025, 1, d) for d in (1, 5, 10, 15, 20)]


def test_the_in_force_rule_reads_the_same_in_sql_as_in_python() -> None:
    """The registry and the roll-up run the SQL form; it must agree with the Python rule."""
    metadata = MetaData()
    table = Table(
        "d",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("granted_on", Date, nullable=False),
        Column("expires_on", Date),
        Column("revoked_on", Date),
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    rows = [
        {"granted_on": g, "expires_on": e, "revoked_on": r}
        for g, e, r in itertools.product(DAYS[:3], [None, *DAYS], [None, *DAYS])
    ]
    held: dict[date, int] = {}
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
        for on in [date(2024, 12, 31), *DAYS, date(2025, 2, 1)]:
            in_sql = set(conn.scalars(select(table.c.id).where(in_force_on(table.c, on))))
            in_python = {i for i, row in enumerate(rows, start=1) if is_in_force(**row, on=on)}
            assert in_sql == in_python, on
            held[on] = len(in_python)
    assert held[date(2024, 12, 31)] == 0
    assert 0 < held[DAYS[2]] < len(rows)


def test_every_designation_type_has_an_english_name_for_english_messages() -> None:
    assert set(DESIGNATION_LABELS_EN) == set(DESIGNATION_TYPES)
    han = [
        name
        for name in DESIGNATION_LABELS_EN.values()
        if any("\u4e00" <= c <= "\u9fff" for c in name)
    ]
    assert han == []
