"""Tables and schemas of the projects service."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, ConfigDict, ValidationInfo, field_validator
from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from services.common.contracts.categories import CATEGORY_LABELS
from services.common.contracts.stages import STAGE_LABELS, STAGE_ORDER
from services.common.db import service_registry
from services.common.history import history_table
from services.common.i18n import code_of
from services.common.idempotency import idempotency_table
from services.common.jobs import job_table
from services.common.outbox import outbox_table
from services.common.text import CleanText
from services.projects.catalogue import LEVEL_LABELS, LEVELS, MILESTONE_KIND_LABELS, MILESTONE_KINDS
from services.projects.labels import BLOCKER_KIND_LABELS, BLOCKER_KINDS, MESSAGES

registry = service_registry()
metadata = registry.metadata

Level = Literal[LEVELS]  # type: ignore[valid-type]
StartStage = Literal[STAGE_ORDER]  # type: ignore[valid-type]
"""A stage a project may enter the ledger in: any of the main line (not cancelled)."""
MONTH_PATTERN = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"


def _utc(value: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Instant = Annotated[datetime, AfterValidator(_utc)]
FINITE = {"allow_inf_nan": False}  # 1e400 in JSON parses as infinity; no amount is infinite


class Input(SQLModel):
    """Base of request bodies: text with a NUL character is refused before it reaches SQL, and
    a code field (`LABELS`) takes the Chinese label the API returns (学校, 在建) as its code."""

    LABELS: ClassVar[dict[str, Mapping[str, str]]] = {}

    @field_validator("*", mode="before")
    @classmethod
    def _label_to_code(cls, v: Any, info: ValidationInfo) -> Any:
        labels = cls.LABELS.get(info.field_name or "")
        return code_of(v, labels) if labels else v

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, v: Any) -> Any:
        if isinstance(v, str) and "\x00" in v:
            raise ValueError(MESSAGES("nul"))
        return v


class ProjectsModel(SQLModel, registry=registry):
    """Base of every table of this service (its own metadata)."""


def _fk(table: str) -> Any:
    return Field(
        sa_column=Column(
            Integer, ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )


def _stamp() -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def _one_of(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value is not None and value not in allowed:
        what_zh = {"level": "项目层级", "milestone kind": "里程碑类型", "blocker kind": "难点类型"}
        raise ValueError(
            MESSAGES(
                "one_of",
                what=what,
                what_zh=what_zh.get(what, what),
                value=value,
                allowed=", ".join(allowed),
            )
        )
    return value


# ---- projects ----------------------------------------------------------------------------

EDITABLE: tuple[str, ...] = (
    "name",
    "category",
    "plan_clause",
    "level",
    "sub_district",
    "lead_department",
    "quantity",
    "quantity_unit",
    "total_investment_wan",
    "planned_start",
    "planned_completion",
    "code",
)
"""The fields of a project a clerk may change (the stage changes only through transitions)."""


class ProjectBase(Input):
    LABELS: ClassVar[dict[str, Mapping[str, str]]] = {
        "category": CATEGORY_LABELS,
        "level": LEVEL_LABELS,
        "stage": STAGE_LABELS,
    }

    name: str = Field(min_length=1, max_length=200, description="项目名称")
    category: str = Field(max_length=40, description="A catalogue category key, e.g. school")
    plan_clause: str | None = Field(
        default=None, max_length=20, description="The plan's article, e.g. 50"
    )
    level: str | None = Field(default=None, max_length=20, description="province/city/district")
    sub_district: str | None = Field(default=None, max_length=50)
    lead_department: str | None = Field(default=None, max_length=100)
    quantity: float | None = Field(
        default=None, ge=0, description="e.g. 1200 (套) or 3.5 (km)", schema_extra=FINITE
    )
    quantity_unit: str | None = Field(default=None, max_length=20)
    total_investment_wan: float | None = Field(
        default=None, ge=0, description="万元", schema_extra=FINITE
    )
    planned_start: date | None = None
    planned_completion: date | None = None
    code: str | None = Field(
        default=None, max_length=40, description="National project code YYYY-RRRRRR-NN-NN-NNNNNN"
    )

    @field_validator("level")
    @classmethod
    def _level(cls, v: str | None) -> str | None:
        return _one_of(v, LEVELS, "level")

    @field_validator("name", "sub_district", "lead_department", "quantity_unit", "plan_clause")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return v.strip() if isinstance(v, str) else v


class Project(ProjectBase, ProjectsModel, table=True):
    __table_args__ = (
        UniqueConstraint("code"),
        Index("ix_project_category_stage", "category", "stage"),
        Index("ix_project_stage_sub_district", "stage", "sub_district"),
        Index("ix_project_sub_district", "sub_district"),
        Index("ix_project_level", "level"),
        Index("ix_project_planned_start", "planned_start"),
        Index("ix_project_planned_completion", "planned_completion"),
        Index("ix_project_next_due_on", "next_due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stage: str = Field(max_length=20)
    stage_on: date
    created_on: date
    completed_investment_wan: float = Field(
        default=0.0, sa_column_kwargs={"server_default": text("0")}
    )
    # The earliest due date among open milestones, kept with them: ?overdue= is then one
    # indexed comparison instead of a join over every milestone.
    next_due_on: date | None = None
    version: int = Field(default=1)
    created_at: datetime = _stamp()
    updated_at: datetime = _stamp()


class ProjectCreate(CleanText, ProjectBase):
    model_config = ConfigDict(extra="forbid")

    stage: StartStage = Field(
        default="reserve", description="The stage it enters the ledger in (default reserve)"
    )
    created_on: date | None = Field(
        default=None,
        description="Business date it entered the ledger (default today); for ledgers kept "
        "before the system, it may be earlier. Its first stage counts from this date.",
    )


class ProjectUpdate(CleanText, Input):
    """Fields a PATCH may change; the stage changes only through transitions."""

    model_config = ConfigDict(extra="forbid")
    LABELS: ClassVar[dict[str, Mapping[str, str]]] = ProjectBase.LABELS

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=40)
    plan_clause: str | None = Field(default=None, max_length=20)
    level: Level | None = None
    sub_district: str | None = Field(default=None, max_length=50)
    lead_department: str | None = Field(default=None, max_length=100)
    quantity: float | None = Field(default=None, ge=0, schema_extra=FINITE)
    quantity_unit: str | None = Field(default=None, max_length=20)
    total_investment_wan: float | None = Field(default=None, ge=0, schema_extra=FINITE)
    planned_start: date | None = None
    planned_completion: date | None = None
    code: str | None = Field(default=None, max_length=40)


class StageEntry(SQLModel):
    stage: str
    on: date
    ordinal: int
    note: str | None = None


class ProjectPublic(ProjectBase):
    id: int
    version: int
    stage: str
    stage_label: str
    category_label: str
    created_on: date
    stages: list[StageEntry]
    built_on: date | None = None
    completed_investment_wan: float
    investment_share: float | None = Field(
        description="completed ÷ total investment (None without a total)"
    )
    created_at: Instant
    updated_at: Instant


class ProjectStage(ProjectsModel, table=True):
    """One entry into a stage: ordinal 0 is the stage the project was registered in."""

    __tablename__ = "stage_entry"
    __table_args__ = (UniqueConstraint("project_id", "ordinal"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = _fk("project")
    ordinal: int
    stage: str = Field(max_length=20)
    entered_on: date = Field(index=True)
    note: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=200)
    recorded_at: datetime = _stamp()


class StageDates(ProjectsModel, table=True):
    """The dates of a project's stage history that place it in a year's four batches (article
    32), kept in step with its stage entries, so the year's counts are one scan of a table.

    From the entries in order: `started_on` the first entry into `starting` (or a jump from
    reserve straight to building or built), `active_from` the first into starting or building,
    `active_to` the first into built or cancelled after that, `built_on` the last into built;
    `reserve_from` the last entry into reserve and `reserve_until` the next entry's date (the
    entries are in date order, so the project was in reserve on a day within the two)."""

    __tablename__ = "stage_dates"

    project_id: int = Field(
        sa_column=Column(Integer, ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    )
    started_on: date | None = None
    active_from: date | None = None
    active_to: date | None = None
    built_on: date | None = None
    reserve_from: date | None = None
    reserve_until: date | None = None


class TransitionCreate(CleanText, Input):
    model_config = ConfigDict(extra="forbid")
    LABELS: ClassVar[dict[str, Mapping[str, str]]] = {"to": STAGE_LABELS}

    to: str = Field(
        max_length=20,
        description="starting, building, built or cancelled; forward only, skipping allowed",
    )
    on: date | None = Field(default=None, description="The business date (default today)")
    note: str | None = Field(default=None, max_length=500)


# ---- milestones --------------------------------------------------------------------------

MILESTONE_FIELDS: tuple[str, ...] = ("kind", "title", "due_on", "done_on")
"""The fields of a milestone a clerk records."""


class MilestoneBase(Input):
    LABELS: ClassVar[dict[str, Mapping[str, str]]] = {"kind": MILESTONE_KIND_LABELS}

    kind: str = Field(default="other", max_length=20)
    title: str = Field(min_length=1, max_length=200)
    due_on: date | None = None
    done_on: date | None = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return _one_of(v, MILESTONE_KINDS, "milestone kind") or v


class Milestone(MilestoneBase, ProjectsModel, table=True):
    __table_args__ = (
        Index(
            "ix_milestone_open_due_on",
            "due_on",
            "project_id",
            postgresql_where=text("done_on IS NULL"),
            sqlite_where=text("done_on IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = _fk("project")
    version: int = Field(default=1)
    created_at: datetime = _stamp()
    updated_at: datetime = _stamp()


class MilestoneCreate(CleanText, MilestoneBase):
    model_config = ConfigDict(extra="forbid")


class MilestoneUpdate(CleanText, Input):
    model_config = ConfigDict(extra="forbid")
    LABELS: ClassVar[dict[str, Mapping[str, str]]] = MilestoneBase.LABELS

    kind: str | None = Field(default=None, max_length=20)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    due_on: date | None = None
    done_on: date | None = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str | None) -> str | None:
        return _one_of(v, MILESTONE_KINDS, "milestone kind")


class MilestonePublic(MilestoneBase):
    id: int
    project_id: int
    version: int
    kind_label: str
    overdue: bool


# ---- investment --------------------------------------------------------------------------


class InvestmentReport(ProjectsModel, table=True):
    """Completed investment of one month; a second report for the month corrects the first."""

    __tablename__ = "investment_report"
    __table_args__ = (UniqueConstraint("project_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = _fk("project")
    month: str = Field(max_length=7)
    amount_wan: float
    version: int = Field(default=1)
    actor: str = Field(max_length=200)
    reported_at: datetime = _stamp()


class InvestmentCreate(CleanText, Input):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(description="YYYY-MM, e.g. 2024-05")
    amount_wan: float = Field(
        ge=0, description="Investment completed in that month, 万元", schema_extra=FINITE
    )
    correction: bool = Field(
        default=False,
        description="Correct a month already reported (else send If-Match with its version)",
    )

    @field_validator("month")
    @classmethod
    def _month(cls, v: str) -> str:
        if not re.fullmatch(MONTH_PATTERN, v):
            raise ValueError(MESSAGES("not_month", value=v))
        return v


class InvestmentMonth(SQLModel):
    month: str
    amount_wan: float
    version: int


class InvestmentSummary(SQLModel):
    project_id: int
    cumulative_wan: float
    total_investment_wan: float | None
    share: float | None = Field(description="cumulative ÷ total investment")
    months: list[InvestmentMonth]


class InvestmentPublic(InvestmentSummary):
    month: str
    amount_wan: float
    version: int = Field(description="The month's version: If-Match for a correction")


# ---- blockers (难点堵点) ------------------------------------------------------------------

BLOCKER_FIELDS: tuple[str, ...] = (
    "kind",
    "description",
    "responsible_department",
    "raised_on",
    "due_on",
    "resolved_on",
    "resolution",
)
"""The fields of a blocker a clerk records."""


class BlockerBase(Input):
    LABELS: ClassVar[dict[str, Mapping[str, str]]] = {"kind": BLOCKER_KIND_LABELS}

    kind: str = Field(default="other", max_length=20)
    description: str = Field(min_length=1, max_length=2000)
    responsible_department: str | None = Field(default=None, max_length=100)
    due_on: date | None = None
    resolved_on: date | None = None
    resolution: str | None = Field(default=None, max_length=2000)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return _one_of(v, BLOCKER_KINDS, "blocker kind") or v


class Blocker(BlockerBase, ProjectsModel, table=True):
    __table_args__ = (
        Index(
            "ix_blocker_open_due_on",
            "due_on",
            postgresql_where=text("resolved_on IS NULL"),
            sqlite_where=text("resolved_on IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = _fk("project")
    raised_on: date
    version: int = Field(default=1)
    created_at: datetime = _stamp()
    updated_at: datetime = _stamp()


class BlockerCreate(CleanText, BlockerBase):
    model_config = ConfigDict(extra="forbid")

    raised_on: date | None = Field(default=None, description="When it was raised (default today)")


class BlockerUpdate(CleanText, Input):
    model_config = ConfigDict(extra="forbid")
    LABELS: ClassVar[dict[str, Mapping[str, str]]] = BlockerBase.LABELS

    kind: str | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, min_length=1, max_length=2000)
    responsible_department: str | None = Field(default=None, max_length=100)
    due_on: date | None = None
    resolved_on: date | None = None
    resolution: str | None = Field(default=None, max_length=2000)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str | None) -> str | None:
        return _one_of(v, BLOCKER_KINDS, "blocker kind")


class BlockerPublic(BlockerBase):
    id: int
    project_id: int
    project_name: str | None = None
    raised_on: date
    version: int
    kind_label: str
    open: bool
    overdue: bool


class ProjectDetail(ProjectPublic):
    milestones: list[MilestonePublic]
    blockers: list[BlockerPublic]
    investment: list[InvestmentMonth]


# ---- history and the pipeline ------------------------------------------------------------


class HistoryEntry(SQLModel):
    entity: str
    entity_id: int
    version: int
    at: Instant
    actor: str = Field(description="Username (or an operations token's subject)")
    actor_name: str | None = Field(
        default=None, description="The person's display name, when a person made the change"
    )
    action: str
    changes: dict[str, list[Any]]


class PipelineProject(SQLModel):
    id: int
    name: str
    category: str
    stage: str
    sub_district: str | None
    planned: bool
    actual: bool
    planned_on: date | None = Field(description="The planned date that puts it in the batch")
    actual_on: date | None = Field(description="The transition date that puts it in the batch")


class PipelineBatch(SQLModel):
    batch: str
    label: str
    planned: int
    actual: int
    planned_and_actual: int
    projects: list[PipelineProject]


class Pipeline(SQLModel):
    year: int
    as_of: date
    batches: list[PipelineBatch]


outbox = outbox_table(metadata)
history = history_table(metadata)
idempotency = idempotency_table(metadata)
import_job = job_table(metadata)
