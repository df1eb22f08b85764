"""The run drivers: the one-process service (APScheduler, ``run --once``) and the PostgreSQL workers."""

from __future__ import annotations

import os

from monitor.durations import parse_duration
from monitor.errors import ConfigError

SHUTDOWN_GRACE_ENV = "MONITOR_SHUTDOWN_GRACE"
DEFAULT_SHUTDOWN_GRACE = "30s"


def shutdown_grace() -> int:
    """Seconds SIGTERM/SIGINT let in-flight polls and jobs finish before cutting them off:
    ``MONITOR_SHUTDOWN_GRACE`` (e.g. ``8s``), default 30s. It must end before the container's stop
    timeout (``docker stop`` sends SIGKILL after 10 s), or the cut-off polls are never named."""
    try:
        return parse_duration(os.environ.get(SHUTDOWN_GRACE_ENV) or DEFAULT_SHUTDOWN_GRACE)
    except ValueError as exc:
        raise ConfigError(f"{SHUTDOWN_GRACE_ENV}: {exc}") from None
