"""fact_designation item_name: designations counted as items

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "fact_designation", sa.Column("item_name", sa.String(length=200), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("fact_designation") as batch:
        batch.drop_column("item_name")
