"""ledger, stage entries, milestones, investment, blockers and history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:58:04.009136
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_MILESTONE = "done_on IS NULL"
OPEN_BLOCKER = "resolved_on IS NULL"
# "name contains" (?q=) needs trigram indexes on PostgreSQL; they exist only where pg_trgm can be
# had, so the search works everywhere and is fast where the extension is allowed.
TRIGRAM_INDEXES = {"ix_project_name_trgm": "name", "ix_project_code_trgm": "code"}


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _project_fk() -> sa.Column:
    return sa.Column(
        "project_id", sa.Integer(), sa.ForeignKey("project.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    op.create_index("ix_history_entity_entity_id", "history", ["entity", "entity_id", "id"])

    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("plan_clause", sa.String(20), nullable=True),
        sa.Column("level", sa.String(20), nullable=True),
        sa.Column("sub_district", sa.String(50), nullable=True),
        sa.Column("lead_department", sa.String(100), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("quantity_unit", sa.String(20), nullable=True),
        sa.Column("total_investment_wan", sa.Float(), nullable=True),
        sa.Column("planned_start", sa.Date(), nullable=True),
        sa.Column("planned_completion", sa.Date(), nullable=True),
        sa.Column("code", sa.String(40), nullable=True),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("stage_on", sa.Date(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column(
            "completed_investment_wan", sa.Float(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
        sa.UniqueConstraint("code", name=op.f("uq_project_code")),
    )
    # The list's filters: each alone, and stage with category or sub-district together.
    op.create_index("ix_project_category_stage", "project", ["category", "stage"])
    op.create_index("ix_project_stage_sub_district", "project", ["stage", "sub_district"])
    op.create_index("ix_project_sub_district", "project", ["sub_district"])
    op.create_index("ix_project_level", "project", ["level"])
    op.create_index("ix_project_planned_start", "project", ["planned_start"])
    op.create_index("ix_project_planned_completion", "project", ["planned_completion"])
    op.create_index("ix_project_next_due_on", "project", ["next_due_on"])
    _create_trigram_indexes()

    op.create_table(
        "stage_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        _project_fk(),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("entered_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_entry")),
        sa.UniqueConstraint(
            "project_id", "ordinal", name=op.f("uq_stage_entry_project_id_ordinal")
        ),
    )
    op.create_index("ix_stage_entry_project_id", "stage_entry", ["project_id"])
    op.create_index("ix_stage_entry_entered_on", "stage_entry", ["entered_on"])

    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        _project_fk(),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone")),
    )
    op.create_index("ix_milestone_project_id", "milestone", ["project_id"])
    op.create_index(
        "ix_milestone_open_due_on",
        "milestone",
        ["due_on", "project_id"],
        postgresql_where=sa.text(OPEN_MILESTONE),
        sqlite_where=sa.text(OPEN_MILESTONE),
    )

    op.create_table(
        "investment_report",
        sa.Column("id", sa.Integer(), nullable=False),
        _project_fk(),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("amount_wan", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_investment_report")),
        sa.UniqueConstraint(
            "project_id", "month", name=op.f("uq_investment_report_project_id_month")
        ),
    )
    op.create_index("ix_investment_report_project_id", "investment_report", ["project_id"])

    op.create_table(
        "blocker",
        sa.Column("id", sa.Integer(), nullable=False),
        _project_fk(),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("responsible_department", sa.String(100), nullable=True),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("resolution", sa.String(2000), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocker")),
    )
    op.create_index("ix_blocker_project_id", "blocker", ["project_id"])
    op.create_index(
        "ix_blocker_open_due_on",
        "blocker",
        ["due_on"],
        postgresql_where=sa.text(OPEN_BLOCKER),
        sqlite_where=sa.text(OPEN_BLOCKER),
    )


def _create_trigram_indexes() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        # In a savepoint: a role that may not create extensions must not fail the migration.
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
    except sa.exc.DBAPIError:
        pass
    opclass = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace "
            "WHERE c.opcname = 'gin_trgm_ops'"
        )
    ).scalar()
    if opclass is None:
        return
    for name, column in TRIGRAM_INDEXES.items():
        op.execute(
            f'CREATE INDEX {name} ON project USING gin ({column} "{opclass}".gin_trgm_ops)'
        )


def downgrade() -> None:
    op.drop_table("blocker")
    op.drop_table("investment_report")
    op.drop_table("milestone")
    op.drop_table("stage_entry")
    for name in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_table("project")
    op.drop_table("history")
