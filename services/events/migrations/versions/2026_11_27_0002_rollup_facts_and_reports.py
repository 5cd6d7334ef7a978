"""rollup facts and reports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:05:03.877825
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _generation_and_id() -> list[sa.Column]:
    return [
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    state = op.create_table(
        "rollup_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("building", sa.Integer(), nullable=True),
        sa.Column("replay_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replay_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("switched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_state")),
    )
    op.bulk_insert(state, [{"id": 1, "active": 1, "building": None}])

    op.create_table(
        "fact_project",
        *_generation_and_id(),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("quantity_unit", sa.String(length=20), nullable=True),
        sa.Column("planned_start", sa.Date(), nullable=True),
        sa.Column("planned_completion", sa.Date(), nullable=True),
        sa.Column("created_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("generation", "id", name=op.f("pk_fact_project")),
    )
    op.create_index(
        "ix_fact_project_generation_category", "fact_project", ["generation", "category"]
    )

    op.create_table(
        "fact_project_stage",
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ordinal", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("entered_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint(
            "generation", "project_id", "ordinal", name=op.f("pk_fact_project_stage")
        ),
    )

    op.create_table(
        "fact_enterprise",
        *_generation_and_id(),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=True),
        sa.Column("industry_section", sa.String(length=1), nullable=True),
        sa.Column("industry_chain", sa.String(length=100), nullable=True),
        sa.Column("sub_district", sa.String(length=100), nullable=True),
        sa.Column("landed_on", sa.Date(), nullable=True),
        sa.Column("source_channel", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("generation", "id", name=op.f("pk_fact_enterprise")),
    )

    op.create_table(
        "fact_designation",
        *_generation_and_id(),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("renews_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("certificate_no", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("generation", "id", name=op.f("pk_fact_designation")),
    )
    op.create_index(
        "ix_fact_designation_generation_type", "fact_designation", ["generation", "type"]
    )

    op.create_table(
        "target_report",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_report")),
    )
    op.create_index(
        "ix_target_report_target_id_period_end", "target_report", ["target_id", "period_end"]
    )


def downgrade() -> None:
    op.drop_index("ix_target_report_target_id_period_end", table_name="target_report")
    op.drop_table("target_report")
    op.drop_index("ix_fact_designation_generation_type", table_name="fact_designation")
    op.drop_table("fact_designation")
    op.drop_table("fact_enterprise")
    op.drop_table("fact_project_stage")
    op.drop_index("ix_fact_project_generation_category", table_name="fact_project")
    op.drop_table("fact_project")
    op.drop_table("rollup_state")
