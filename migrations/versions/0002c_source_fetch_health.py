"""source fetch health: requests spent today, auth block

Revision ID: 0002c
Revises: 0001
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002c'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.add_column(sa.Column('requests_today', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('requests_day', sa.Date(), nullable=True))
        batch.add_column(sa.Column('auth_blocked', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.drop_column('auth_blocked')
        batch.drop_column('requests_day')
        batch.drop_column('requests_today')
