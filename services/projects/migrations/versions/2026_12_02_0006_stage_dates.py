"""stage_dates: the dates that place each project in a year's batches, from its stage entries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:30:00
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = ("starting", "building")
FINAL = ("built", "cancelled")
CHUNK = 5_000


def placing(entries: list[tuple[str, date]]) -> dict[str, date | None]:
    """The rule of services/projects/pipeline.py `placing` as it was when this table came."""
    started = active_from = active_to = built = reserve_from = reserve_until = None
    previous = None
    for ordinal, (stage, on) in enumerate(entries):
        jumped = ordinal > 0 and previous == "reserve" and stage in ("building", "built")
        if started is None and (stage == "starting" or jumped):
            started = on
        if active_from is None and stage in ACTIVE:
            active_from = on
        if active_from is not None and active_to is None and stage in FINAL:
            active_to = on
        if stage == "built":
            built = on
        if stage == "reserve":
            reserve_from, reserve_until = on, None
        elif previous == "reserve":
            reserve_until = on
        previous = stage
    return {
        "started_on": started,
        "active_from": active_from,
        "active_to": active_to,
        "built_on": built,
        "reserve_from": reserve_from,
        "reserve_until": reserve_until,
    }


def upgrade() -> None:
    dates = op.create_table(
        "stage_dates",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("active_from", sa.Date(), nullable=True),
        sa.Column("active_to", sa.Date(), nullable=True),
        sa.Column("built_on", sa.Date(), nullable=True),
        sa.Column("reserve_from", sa.Date(), nullable=True),
        sa.Column("reserve_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_stage_dates_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_stage_dates")),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT project_id, stage, entered_on FROM stage_entry ORDER BY project_id, ordinal"
        )
    )
    histories: dict[int, list[tuple[str, date]]] = {}
    for project_id, stage, on in rows:
        on = on if isinstance(on, date) else date.fromisoformat(on)
        histories.setdefault(project_id, []).append((stage, on))
    placed = [{"project_id": pid, **placing(entries)} for pid, entries in histories.items()]
    for start in range(0, len(placed), CHUNK):
        conn.execute(sa.insert(dates), placed[start : start + CHUNK])


def downgrade() -> None:
    op.drop_table("stage_dates")
