"""Tables and schemas of the events service: roll-up facts by generation, reports, target views."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import field_validator
from sqlalchemy import BigInteger, Column, DateTime, Index, String
from sqlmodel import Field, SQLModel

from services.common.days import Instant
from services.common.db import service_registry
from services.common.idempotency import idempotency_table
from services.common.inbox import inbox_table
from services.common.outbox import outbox_table
from services.common.text import CleanText
from services.events.labels import MESSAGES

registry = service_registry()
metadata = registry.metadata

Status = Literal["achieved", "on_track", "at_risk", "behind", "no_data", "met", "missed"]
SdgCategory = Literal[
    "target_achieved",
    "substantial_progress",
    "moderate_progress",
    "limited_progress",
    "deterioration",
    "not_assessable",
]
Number = int | float
"""Counts stay integers in JSON; quantities and statistics may be fractional."""
PERIOD_PATTERN = r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$"


class EventsModel(SQLModel, registry=registry):
    """Base of every table of this service (its own metadata)."""


inbox = inbox_table(metadata)
outbox = outbox_table(metadata)
idempotency = idempotency_table(metadata)


def _stamp() -> Any:
    return Column(DateTime(timezone=True), nullable=True)


# --- roll-up state and facts ----------------------------------------------------------
# Every fact table has `generation` in its primary key: a replay builds generation N+1
# beside the live N, and `rollup_state.active` switches readers over in one transaction.


class RollupState(EventsModel, table=True):
    """The one row naming the generation readers use, and the one a replay is building."""

    __tablename__ = "rollup_state"

    id: int = Field(default=1, primary_key=True)
    active: int = Field(default=1)
    building: int | None = None
    replay_started_at: datetime | None = Field(default=None, sa_column=_stamp())
    replay_heartbeat_at: datetime | None = Field(default=None, sa_column=_stamp())
    switched_at: datetime | None = Field(default=None, sa_column=_stamp())


class RollupClock(EventsModel, table=True):
    """Ticks of every writer of what target views read, one row per writer (process and
    thread), bumped inside the writer's transaction: their sum moves with every commit that
    can change a view, so a cached view is known to be current (see `services.events.views`)."""

    __tablename__ = "rollup_clock"

    slot: str = Field(primary_key=True, sa_type=String(64))
    ticks: int = Field(sa_type=BigInteger)


class FactProject(EventsModel, table=True):
    """A project as its highest-version snapshot describes it."""

    __tablename__ = "fact_project"
    __table_args__ = (Index("ix_fact_project_generation_category", "generation", "category"),)

    generation: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int
    name: str = Field(sa_type=String(500))
    category: str = Field(sa_type=String(60))
    stage: str = Field(sa_type=String(20))
    quantity: float | None = None
    quantity_unit: str | None = Field(default=None, sa_type=String(20))
    planned_start: date | None = None
    planned_completion: date | None = None
    created_on: date | None = None


class FactProjectStage(EventsModel, table=True):
    """One entry of a project's stage history; counts only while `version` is the project's."""

    __tablename__ = "fact_project_stage"

    generation: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    project_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ordinal: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int
    stage: str = Field(sa_type=String(20))
    entered_on: date


class FactEnterprise(EventsModel, table=True):
    """An enterprise as its highest-version snapshot describes it."""

    __tablename__ = "fact_enterprise"

    generation: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int
    name: str = Field(sa_type=String(500))
    uscc: str | None = Field(default=None, sa_type=String(18))
    industry_section: str | None = Field(default=None, sa_type=String(1))
    industry_chain: str | None = Field(default=None, sa_type=String(100))
    sub_district: str | None = Field(default=None, sa_type=String(100))
    landed_on: date | None = None
    source_channel: str | None = Field(default=None, sa_type=String(100))


class FactDesignation(EventsModel, table=True):
    """A designation as its highest-version snapshot describes it."""

    __tablename__ = "fact_designation"
    __table_args__ = (Index("ix_fact_designation_generation_type", "generation", "type"),)

    generation: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int
    enterprise_id: int
    type: str = Field(sa_type=String(60))
    level: str | None = Field(default=None, sa_type=String(20))
    granted_on: date
    expires_on: date | None = None
    revoked_on: date | None = None
    renews_id: int | None = None
    status: str | None = Field(default=None, sa_type=String(20))
    certificate_no: str | None = Field(default=None, sa_type=String(100))
    item_name: str | None = Field(default=None, sa_type=String(200))


FACT_TABLES = (
    FactProject.__table__,
    FactProjectStage.__table__,
    FactEnterprise.__table__,
    FactDesignation.__table__,
)


# --- reported values ------------------------------------------------------------------


class ReportBase(EventsModel):
    """A statistic a department reports for a `reported` target."""

    value: float = Field(description="The figure, in the target's unit")
    period: str = Field(
        max_length=7,
        schema_extra={"examples": ["2024", "2024-Q3", "2024-06"]},
        description="The year (2024), quarter (2024-Q3) or month (2024-06) it describes",
    )
    note: str | None = Field(default=None, max_length=2000, description="Source, caveats")


class ReportCreate(CleanText, ReportBase):
    """Body of POST /api/v1/targets/{id}/reports."""

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(MESSAGES("report.finite"))
        return value

    @field_validator("period")
    @classmethod
    def _period_shape(cls, value: str) -> str:
        value = value.strip().upper()
        if not re.fullmatch(PERIOD_PATTERN, value):
            raise ValueError(MESSAGES("report.period"))
        return value


class TargetReport(ReportBase, EventsModel, table=True):
    """One report as it was made; a later report of the same period supersedes it in value."""

    __tablename__ = "target_report"
    __table_args__ = (Index("ix_target_report_target_id_period_end", "target_id", "period_end"),)

    id: int | None = Field(default=None, primary_key=True)
    target_id: str = Field(sa_type=String(100))
    period: str = Field(sa_type=String(7))
    period_start: date
    period_end: date
    reported_by: str = Field(sa_type=String(200))
    reported_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    event_id: str = Field(sa_type=String(36))


class ReportPublic(ReportBase):
    """A report as read back: who made it, when, and the dates its period covers."""

    id: int
    target_id: str
    period_start: date
    period_end: date
    reported_by: str
    reported_at: Instant


class ReportPage(SQLModel):
    items: list[ReportPublic]
    total: int


# --- target views -----------------------------------------------------------------------


class TargetBase(SQLModel):
    """A target as the plan states it (from the catalogue)."""

    id: str
    clause: str = Field(
        description="The plan's article number, e.g. '50' (chN: a chapter's preface)"
    )
    chapter: str
    title: str = Field(description="The plan's words (Chinese)")
    unit: str
    target_value: Number
    baseline_value: Number | None = None
    window_start: date
    deadline: date
    measure: Literal["stock", "new", "sum", "annual", "reported", "share", "milestone"] = Field(
        description="stock / new / sum / annual: counted; reported: a statistic; share: a "
        "coverage the plan sets at 100 % (全覆盖, 全部, 清零); milestone: a one-off commitment, "
        "done (1) or not (0), reported with its evidence"
    )
    source: Literal["projects", "enterprises", "reported"]
    direction: Literal["at_least", "at_most"] = "at_least"
    report_mode: Literal["level", "period_sum", "cumulative"] | None = Field(
        default=None,
        description="Reported targets: how reports make the value. level: the latest "
        "period's figure; period_sum: the periods' figures within the window added up (a "
        "longer period replaces the shorter ones inside it); cumulative: the latest of "
        "running totals since the window opened",
    )
    note: str | None = None


class Contributor(SQLModel):
    """A project or enterprise that counts towards a target on `as_of`."""

    kind: Literal["project", "enterprise"]
    id: int
    name: str
    counted_on: date
    category: str | None = None
    quantity: float | None = None
    quantity_unit: str | None = None
    planned_completion: date | None = None
    designations: list[dict[str, Any]] | None = None


class AfterPlan(SQLModel):
    """What happened after a target's deadline: kept and shown, never counted."""

    since: date = Field(description="The day after the deadline")
    to: date = Field(description="as_of")
    value: Number
    contributors: list[Contributor] | None = None


class TargetPublic(TargetBase):
    """A target and how far it has come on `as_of`."""

    as_of: date
    current_value: Number | None = Field(
        description="stock: holders on as_of; new/sum: added in the window up to as_of; annual: "
        "this calendar year's; reported: the latest period's report"
    )
    progress: float | None = Field(description="current_value / target_value")
    expected_now: float | None = Field(
        description="Where a linear pace from the baseline would be on as_of"
    )
    forecast: Number | None = Field(
        description="What is reached by the deadline if schedules hold: projects built (or "
        "started) plus those under way planned to finish before it; certificates held less "
        "those that lapse before it unless renewed"
    )
    forecast_reserve: Number | None = Field(
        default=None, description="Reserve projects planned before the deadline, shown apart"
    )
    forecast_lapsing: Number | None = Field(
        default=None, description="Certificates held now that lapse before the deadline"
    )
    status: Status = Field(
        description="achieved / on_track / at_risk / behind / no_data while the window runs; "
        "after the deadline final: met / missed (the value on the deadline decides)"
    )
    status_label: str = Field(description="The status in Chinese, as the pages show it")
    final: bool = Field(default=False, description="The deadline has passed: the status is final")
    sdg_ratio: float | None = Field(
        default=None,
        description="The published SDG progress ratio R = d · CAGR_observed / |CAGR_required| "
        "(reported statistics and stocks); null when not assessable",
    )
    sdg_category: SdgCategory | None = Field(
        default=None,
        description="The published method's category: target achieved, R ≥ 0.95 substantial, "
        "≥ 0.6 moderate, ≥ 0 limited, < 0 deterioration; not assessable with fewer than two "
        "years of data. Null where the method does not judge the target (counted targets but "
        "stocks; reported period sums and running totals, judged against the linear pace)",
    )
    sdg_category_label: str | None = Field(default=None, description="The category in Chinese")
    counted: int = Field(description="How many projects, enterprises or reports make it up")
    evidence: str | None = Field(
        default=None, description="A milestone reported done: the evidence given with it"
    )
    after_plan: AfterPlan | None = Field(
        default=None,
        description="After the deadline: what the same rule counted from the day after it to "
        "as_of (for a stock the change in holders; for a reported statistic the latest report); "
        "shown as 计划期后, it counts for nothing",
    )


class SeriesPoint(SQLModel):
    month: str = Field(description="YYYY-MM; the value as of the month's last day")
    value: Number | None


class TargetDetail(TargetPublic):
    """One target on `as_of`, with what makes it up and its monthly series over the window."""

    selector: dict[str, Any] | None
    contributors: list[Contributor]
    contributors_total: int
    series: list[SeriesPoint]


class TargetPage(SQLModel):
    items: list[TargetPublic]
    total: int


class TypeCount(SQLModel):
    type: str
    count: int


class StageCategoryCount(SQLModel):
    stage: str
    category: str
    count: int


class TargetSummary(SQLModel):
    """What a dashboard overview needs in one call."""

    as_of: date
    total: int
    by_status: dict[str, int]
    items: list[TargetPublic]
    designations_by_type: list[TypeCount] = Field(
        description="Designations valid on as_of, by type"
    )
    pipeline_by_stage_category: list[StageCategoryCount] = Field(
        description="Projects by current stage and category"
    )


class ReplayResult(SQLModel):
    generation: int = Field(description="The generation now active")
    previous_generation: int
    events: int = Field(description="Stream messages read")
    seconds: float
    events_per_second: float
    last_sequence: int = Field(description="The stream's last sequence when the replay began")
    skipped: int = Field(description="Malformed events left out (logged)")
