"""enterprises, designations and history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:57:05.469924
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enterprise",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("industry_section", sa.String(length=1), nullable=True),
        sa.Column("industry_chain", sa.String(length=50), nullable=True),
        sa.Column("sub_district", sa.String(length=50), nullable=True),
        sa.Column("size", sa.String(length=10), nullable=True),
        sa.Column("landed_on", sa.Date(), nullable=True),
        sa.Column("source_channel", sa.String(length=100), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise")),
        sa.UniqueConstraint("uscc", name=op.f("uq_enterprise_uscc")),
    )
    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    op.create_index("ix_history_entity_entity_id", "history", ["entity", "entity_id", "id"])
    op.create_table(
        "designation",
        sa.Column("granted_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("certificate_no", sa.String(length=100), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.Column("renews_id", sa.Integer(), nullable=True),
        sa.Column(
            "status", sa.String(length=10), server_default=sa.text("'active'"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_designation_enterprise_id_enterprise"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["renews_id"], ["designation.id"], name=op.f("fk_designation_renews_id_designation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_designation")),
        # A designation is continued by at most one renewal.
        sa.UniqueConstraint("renews_id", name=op.f("uq_designation_renews_id")),
    )
    op.create_index(
        "ix_designation_enterprise_id_type", "designation", ["enterprise_id", "type"]
    )
    # The expiry scheduler's query: active designations by expiry date.
    op.create_index(
        "ix_designation_status_expires_on", "designation", ["status", "expires_on"]
    )
    op.create_index(op.f("ix_designation_type"), "designation", ["type"])


def downgrade() -> None:
    op.drop_index(op.f("ix_designation_type"), table_name="designation")
    op.drop_index("ix_designation_status_expires_on", table_name="designation")
    op.drop_index("ix_designation_enterprise_id_type", table_name="designation")
    op.drop_table("designation")
    op.drop_index("ix_history_entity_entity_id", table_name="history")
    op.drop_table("history")
    op.drop_table("enterprise")
