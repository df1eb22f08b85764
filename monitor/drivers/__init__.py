"""The run drivers: the one-process service (APScheduler, ``run --once``) and the PostgreSQL workers."""
