"""sources.watermark as text: the pages a poll still owes (a next-page URL with its query) pass 200 characters

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.alter_column('watermark', existing_type=sa.String(length=200), type_=sa.Text(),
                              existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.alter_column('watermark', existing_type=sa.Text(), type_=sa.String(length=200),
                              existing_nullable=True)
