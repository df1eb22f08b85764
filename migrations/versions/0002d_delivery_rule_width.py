"""deliveries.rule wide enough for a watchlist name and the rule that fired

Revision ID: 0002d
Revises: 0001
Create Date: 2026-11-28

A rule such as ``federal-legislation: status-move (pinned us/119/s/3470)`` is longer than the
40 characters first allowed; PostgreSQL refuses the insert where SQLite did not.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002d'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.alter_column('rule', existing_type=sa.String(length=40), type_=sa.String(length=300),
                           existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.alter_column('rule', existing_type=sa.String(length=300), type_=sa.String(length=40),
                           existing_nullable=True)
