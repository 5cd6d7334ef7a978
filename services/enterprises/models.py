"""Tables and schemas of the enterprises service."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import field_validator
from sqlalchemy import Column, DateTime, Index, text
from sqlmodel import Field, SQLModel

from services.common.contracts.designations import DESIGNATION_LABELS
from services.common.db import service_registry
from services.common.envelope import utcnow
from services.common.history import history_table
from services.common.i18n import code_of
from services.common.idempotency import idempotency_table
from services.common.jobs import job_table
from services.common.outbox import outbox_table
from services.common.text import CleanText
from services.enterprises.catalogue import (
    INDUSTRY_SECTIONS,
    LEVEL_LABELS,
    SIZE_LABELS,
    SOURCE_CHANNEL_LABELS,
)
from services.enterprises.labels import MESSAGES

registry = service_registry()
metadata = registry.metadata

Status = Literal["active", "expired", "revoked"]

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"


class EnterprisesModel(SQLModel, registry=registry):
    """Base of every table of this service (its own metadata)."""


def _blank_to_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _timestamp() -> datetime:
    return utcnow()


def _aware(value: object) -> object:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# --- enterprises -------------------------------------------------------------------------


class EnterpriseBase(EnterprisesModel):
    """The fields a clerk records about an enterprise the district cultivates."""

    name: str = Field(min_length=1, max_length=200, description="Registered Chinese name")
    industry_section: str | None = Field(
        default=None, max_length=1, description="GB/T 4754-2017 section letter (A–T)"
    )
    industry_chain: str | None = Field(
        default=None, max_length=50, description="One of the plan's key industry chains"
    )
    sub_district: str | None = Field(default=None, max_length=50, description="街道")
    size: str | None = Field(
        default=None, max_length=10, description="large, medium, small or micro (or 大型…微型)"
    )
    landed_on: date | None = Field(default=None, description="When it landed in the district")
    source_channel: str | None = Field(
        default=None,
        max_length=100,
        description="How it came: investment_promotion 招商引资, local_cultivation 本地培育, "
        "graduate_startup 大学生创业, returnee_startup 返乡创业, other 其他 (the code or the "
        "Chinese label)",
    )


class _EnterpriseInput(CleanText):
    """Validation shared by create and update (the table class itself does not validate)."""

    @field_validator("industry_chain", "sub_district", mode="before", check_fields=False)
    @classmethod
    def _strip(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("source_channel", mode="before", check_fields=False)
    @classmethod
    def _channel(cls, value: object) -> object:
        value = _blank_to_none(value)
        if value is None:
            return None
        code = code_of(str(value).strip(), SOURCE_CHANNEL_LABELS)
        if code not in SOURCE_CHANNEL_LABELS:
            options = ", ".join(f"{c} ({label})" for c, label in SOURCE_CHANNEL_LABELS.items())
            raise ValueError(MESSAGES("channel.unknown", value=value, options=options))
        return code

    @field_validator("name", mode="before", check_fields=False)
    @classmethod
    def _name(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("industry_section", mode="before", check_fields=False)
    @classmethod
    def _section(cls, value: object) -> object:
        value = _blank_to_none(value)
        if value is None:
            return None
        code = code_of(str(value), INDUSTRY_SECTIONS).upper()
        if code not in INDUSTRY_SECTIONS:
            raise ValueError(
                MESSAGES(
                    "section.unknown",
                    value=value,
                    c=INDUSTRY_SECTIONS["C"],
                    i=INDUSTRY_SECTIONS["I"],
                )
            )
        return code

    @field_validator("size", mode="before", check_fields=False)
    @classmethod
    def _size(cls, value: object) -> object:
        value = _blank_to_none(value)
        if value is None:
            return None
        by_label = {label: key for key, label in SIZE_LABELS.items()}
        key = by_label.get(str(value), str(value).lower())
        if key not in SIZE_LABELS:
            raise ValueError(MESSAGES("size.unknown", value=value, allowed=", ".join(SIZE_LABELS)))
        return key


class EnterpriseCreate(_EnterpriseInput, EnterpriseBase):
    """POST /api/v1/enterprises."""

    uscc: str = Field(
        min_length=1, max_length=64, description="统一社会信用代码; case and spaces are normalised"
    )


class EnterpriseUpdate(_EnterpriseInput):
    """PATCH /api/v1/enterprises/{id}: only the fields sent change; null clears an optional one."""

    uscc: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    industry_section: str | None = Field(default=None, max_length=1)
    industry_chain: str | None = Field(default=None, max_length=50)
    sub_district: str | None = Field(default=None, max_length=50)
    size: str | None = Field(default=None, max_length=10)
    landed_on: date | None = None
    source_channel: str | None = Field(default=None, max_length=100)


class Enterprise(EnterpriseBase, table=True):
    """An enterprise of the registry; one row per Unified Social Credit Code."""

    __tablename__ = "enterprise"

    id: int | None = Field(default=None, primary_key=True)
    uscc: str = Field(max_length=18, unique=True)
    version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=_timestamp, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=_timestamp, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


ENTERPRISE_FIELDS: tuple[str, ...] = (
    "uscc",
    "name",
    "industry_section",
    "industry_chain",
    "sub_district",
    "size",
    "landed_on",
    "source_channel",
)
"""The fields a clerk may change, in the order of the ledger."""


# --- designations ------------------------------------------------------------------------


class DesignationBase(EnterprisesModel):
    """A status an enterprise was granted (高新技术企业, 专精特新…) and how long it holds."""

    type: str = Field(max_length=50, description="Designation type key of the catalogue")
    level: str | None = Field(
        default=None, max_length=20, description="national/provincial/municipal/district"
    )
    granted_on: date = Field(description="The certificate date")
    expires_on: date | None = Field(
        default=None, description="Last day it holds; defaults from the type's validity"
    )
    certificate_no: str | None = Field(default=None, max_length=100)
    item_name: str | None = Field(
        default=None,
        max_length=200,
        description="For types the plan counts as things (labs, platforms, green-design "
        "products, first stores, clinical specialties, studios…): which one (名称). Required "
        "for those types, refused for the others; an enterprise may hold several, one per name",
    )


class DesignationCreate(CleanText, DesignationBase):
    """POST /api/v1/enterprises/{id}/designations; `renews_id` makes it a renewal."""

    renews_id: int | None = Field(
        default=None, description="The designation this one continues (a renewal)"
    )

    @field_validator("type", "level", "certificate_no", "item_name", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        value = _blank_to_none(value)
        # the Chinese labels the API returns (高新技术企业, 区级) are accepted as the codes
        return code_of(code_of(value, DESIGNATION_LABELS), LEVEL_LABELS)


class DesignationRenew(CleanText, EnterprisesModel):
    """POST …/designations/{did}/renew: the new certificate; type comes from the old one."""

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return code_of(_blank_to_none(value), LEVEL_LABELS)

    level: str | None = Field(default=None, max_length=20, description="Defaults to the old level")
    granted_on: date
    expires_on: date | None = None
    certificate_no: str | None = Field(default=None, max_length=100)


class DesignationRevoke(CleanText, EnterprisesModel):
    """POST …/designations/{did}/revoke."""

    on: date | None = Field(default=None, description="Effective date; defaults to today")
    reason: str | None = Field(default=None, max_length=500)


class Designation(DesignationBase, table=True):
    """A designation held by an enterprise; valid from `granted_on` through `expires_on`."""

    __tablename__ = "designation"
    __table_args__ = (
        Index("ix_designation_status_expires_on", "status", "expires_on"),
        Index("ix_designation_enterprise_id_type", "enterprise_id", "type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", ondelete="CASCADE")
    type: str = Field(max_length=50, index=True)
    level: str = Field(max_length=20)
    revoked_on: date | None = None
    revoke_reason: str | None = Field(default=None, max_length=500)
    # Unique: a designation is continued by at most one renewal.
    renews_id: int | None = Field(default=None, foreign_key="designation.id", unique=True)
    status: str = Field(
        default=ACTIVE, max_length=10, sa_column_kwargs={"server_default": text("'active'")}
    )
    version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=_timestamp, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=_timestamp, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class DesignationPublic(DesignationBase):
    """A designation as the API shows it, with its Chinese labels."""

    id: int
    enterprise_id: int
    level: str
    status: Status
    revoked_on: date | None
    revoke_reason: str | None
    renews_id: int | None
    renewed_by: int | None = Field(default=None, description="The renewal continuing this one")
    version: int
    type_label: str = ""
    level_label: str = ""

    @classmethod
    def of(cls, row: Designation, *, renewed_by: int | None = None) -> DesignationPublic:
        return cls.model_validate(
            {
                **row.model_dump(),
                "renewed_by": renewed_by,
                "type_label": DESIGNATION_LABELS.get(row.type, row.type),
                "level_label": LEVEL_LABELS.get(row.level, row.level),
            }
        )


class EnterprisePublic(EnterpriseBase):
    """An enterprise as the API shows it, with its designations and Chinese labels."""

    id: int
    uscc: str
    version: int
    created_at: datetime
    updated_at: datetime
    industry_section_label: str | None = None
    size_label: str | None = None
    source_channel_label: str | None = None
    designations: list[DesignationPublic] = Field(default_factory=list)

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _utc(cls, value: object) -> object:
        return _aware(value)

    @classmethod
    def of(cls, row: Enterprise, designations: list[DesignationPublic]) -> EnterprisePublic:
        return cls.model_validate(
            {
                **row.model_dump(),
                "industry_section_label": INDUSTRY_SECTIONS.get(row.industry_section or ""),
                "size_label": SIZE_LABELS.get(row.size or ""),
                "source_channel_label": SOURCE_CHANNEL_LABELS.get(row.source_channel or ""),
                "designations": designations,
            }
        )


class ExpiringDesignation(DesignationPublic):
    """A designation lapsing soon, with what a renewal reminder needs about its holder."""

    enterprise_name: str
    enterprise_uscc: str
    days_left: int


class HistoryEntry(SQLModel):
    """One recorded change: who, when, what (each field before → after)."""

    entity: str = Field(description="enterprise or designation")
    entity_id: int
    version: int = Field(description="The entity's version after the change")
    at: datetime
    actor: str = Field(description="Username (or an operations token's subject)")
    actor_name: str | None = Field(
        default=None, description="The person's display name, when a person made the change"
    )
    action: str = Field(description="create, update, grant, renew, revoke, expire or import")
    changes: dict[str, list[Any]]

    @field_validator("at", mode="before")
    @classmethod
    def _utc(cls, value: object) -> object:
        return _aware(value)


class ImportResult(SQLModel):
    """What an import did; every count is of rows of the registry, not of the sheet."""

    dry_run: bool = False
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="Every problem found (a dry run answers them)"
    )
    rows: int
    enterprises_created: int = 0
    enterprises_updated: int = 0
    enterprises_unchanged: int = 0
    designations_granted: int = 0
    designations_renewed: int = 0
    designations_revoked: int = 0
    designations_unchanged: int = 0
    designations_expired: int = 0
    rows_rejected: int = Field(
        default=0, description="Rows with an error: none of their enterprises' counts above"
    )


outbox = outbox_table(metadata)
history = history_table(metadata)
idempotency = idempotency_table(metadata)
import_job = job_table(metadata)
