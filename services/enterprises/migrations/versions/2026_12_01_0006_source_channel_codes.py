"""source_channel: a closed list of codes (招商引资, 本地培育, 大学生创业, 返乡创业, 其他)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:10:00

Free text recorded before is mapped to its code: the Chinese labels and the common ways of
writing them; the forms of investment promotion (以商招商, 基金招商, 驻外招商…) to
`investment_promotion`; anything else to `other`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODES = {
    "investment_promotion": "招商引资",
    "local_cultivation": "本地培育",
    "graduate_startup": "大学生创业",
    "returnee_startup": "返乡创业",
    "other": "其他",
}
SYNONYMS = {"以商招商": "investment_promotion", "基金招商": "investment_promotion",
            "驻外招商": "investment_promotion", "招商": "investment_promotion"}  # fmt: skip


def upgrade() -> None:
    enterprise = sa.table(
        "enterprise", sa.column("id", sa.Integer), sa.column("source_channel", sa.String)
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(enterprise.c.id, enterprise.c.source_channel).where(
            enterprise.c.source_channel.is_not(None)
        )
    ).all()
    by_label = {label: code for code, label in CODES.items()} | SYNONYMS
    for row_id, raw in rows:
        text = raw.strip()
        code = text if text in CODES else by_label.get(text, "other" if text else None)
        if code != raw:
            conn.execute(
                enterprise.update().where(enterprise.c.id == row_id).values(source_channel=code)
            )


def downgrade() -> None:
    enterprise = sa.table("enterprise", sa.column("source_channel", sa.String))
    for code, label in CODES.items():
        op.execute(
            enterprise.update()
            .where(enterprise.c.source_channel == code)
            .values(source_channel=label)
        )
