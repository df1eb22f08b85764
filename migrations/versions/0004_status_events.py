"""status events: one real-world status move across providers; watchlists' --confirm

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('status_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identity', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('status_date', sa.Date(), nullable=True),
    sa.Column('first_source_id', sa.String(length=100), nullable=False),
    sa.Column('first_change_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['first_change_id'], ['changes.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_events_identity'), ['identity'], unique=False)

    op.create_table('status_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('change_id', sa.Integer(), nullable=True),
    sa.Column('status_date', sa.Date(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['change_id'], ['changes.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['status_events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'source_id', name='uq_status_reports_event_source')
    )
    with op.batch_alter_table('status_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_reports_item_id'), ['item_id'], unique=False)

    with op.batch_alter_table('watchlists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirm', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('confirm_timeout', sa.Integer(), server_default='86400', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('watchlists', schema=None) as batch_op:
        batch_op.drop_column('confirm_timeout')
        batch_op.drop_column('confirm')
    with op.batch_alter_table('status_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_reports_item_id'))
    op.drop_table('status_reports')
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_events_identity'))
    op.drop_table('status_events')
