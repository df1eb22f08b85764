"""Widen deliveries.rule: "<watchlist>: status-move (pinned us/119/s/3470)" outgrows 40 characters.

Revision ID: 0002e
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002e"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("rule", type_=sa.String(200), existing_type=sa.String(40), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("rule", type_=sa.String(40), existing_type=sa.String(200), existing_nullable=True)
