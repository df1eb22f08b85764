"""The run drivers: the one-process service (APScheduler, ``run --once``) and the PostgreSQL workers."""

from __future__ import annotations

from monitor.durations import env_seconds


def shutdown_grace() -> int:
    """Seconds SIGTERM/SIGINT let in-flight polls and jobs finish before cutting them off:
    ``MONITOR_SHUTDOWN_GRACE`` (e.g. ``8s``), default 30s. It must end before the container's stop
    timeout (``docker stop`` sends SIGKILL after 10 s), or the cut-off polls are never named."""
    return env_seconds("MONITOR_SHUTDOWN_GRACE", 30)
