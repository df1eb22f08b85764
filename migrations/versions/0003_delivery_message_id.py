"""deliveries.message_id: a message's rows are fixed when it is first built

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_deliveries_message_id'), ['message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_message_id'))
        batch_op.drop_column('message_id')
