"""sources.watermark becomes Text: LegiScan keeps its change_hash map there

Revision ID: 0002b
Revises: 0001
Create Date: 2026-11-28
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002b'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.alter_column('watermark', existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.alter_column('watermark', existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=True)
