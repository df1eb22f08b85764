"""items of CourtListener's Atom feeds keyed by their link alone (rss:courtlistener:<link>), as the rss kind
now keys them: re-keyed here so an upgrade does not see every stored entry as new and alert it again

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PREFIX = "rss:courtlistener:"


def upgrade() -> None:
    items = sa.table("items", sa.column("id", sa.Integer()), sa.column("key", sa.String()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(items.c.id, items.c.key).where(
        items.c.key.like("rss:%:https://www.courtlistener.com/%")).order_by(items.c.id)).all()
    taken = {key for _, key in rows if key.startswith(PREFIX)}
    for item_id, key in rows:
        new = PREFIX + key.split(":", 2)[2]
        if new not in taken:  # the entry another feed also stored stays as it was, seen no more
            taken.add(new)
            conn.execute(sa.update(items).where(items.c.id == item_id).values(key=new))


def downgrade() -> None:
    op.execute(sa.text(f"UPDATE items SET key = 'rss:' || source_id || ':' || substr(key, {len(PREFIX) + 1}) "
                       f"WHERE key LIKE '{PREFIX}%'"))
