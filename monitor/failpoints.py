"""Named fail points where a crash test kills the process, as TiKV's fail-rs and Go's gofail do.

``MONITOR_FAILPOINTS="dispatch.after-send=kill"`` (several: ``a=kill;b=kill``) SIGKILLs the process
when it reaches that point: no ``finally``, no flush, what ``kill -9`` or a power cut does.
Production never sets the variable, so a fail point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "MONITOR_FAILPOINTS"


def failpoint(name: str) -> None:
    """Kill this process here if ``MONITOR_FAILPOINTS`` names the point ``name``."""
    for entry in os.environ.get(ENV, "").split(";"):
        point, _, action = entry.partition("=")
        if point.strip() == name:
            if action.strip() not in ("", "kill"):
                raise ValueError(f"{ENV}: {name}={action!r}: the one action is kill")
            os.kill(os.getpid(), signal.SIGKILL)
