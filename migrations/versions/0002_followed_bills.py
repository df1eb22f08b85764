"""followed bills: watchlists.follow_matches and the followed_bills table (issue 17)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('watchlists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_matches', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table('followed_bills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watchlist_id', sa.Integer(), nullable=False),
    sa.Column('identity', sa.String(length=200), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('found_by', sa.String(length=200), nullable=False),
    sa.Column('item_key', sa.String(length=500), nullable=False),
    sa.Column('why', sa.String(length=200), nullable=False),
    sa.Column('followed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['watchlist_id'], ['watchlists.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('watchlist_id', 'identity')
    )
    with op.batch_alter_table('followed_bills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followed_bills_identity'), ['identity'], unique=False)
        batch_op.create_index(batch_op.f('ix_followed_bills_watchlist_id'), ['watchlist_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('followed_bills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followed_bills_watchlist_id'))
        batch_op.drop_index(batch_op.f('ix_followed_bills_identity'))
    op.drop_table('followed_bills')
    with op.batch_alter_table('watchlists', schema=None) as batch_op:
        batch_op.drop_column('follow_matches')
