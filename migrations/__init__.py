"""Alembic migrations, shipped inside the wheel so ``monitor init`` works from any directory."""
