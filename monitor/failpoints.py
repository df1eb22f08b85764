"""Named fail points: places where a crash test can stop the process, switched on only by tests.

In the manner of TiKV's fail-rs and Go's gofail: the code says ``failpoint("dispatch.after-send")``
at a point worth crashing at, and nothing happens unless ``MONITOR_FAILPOINTS`` names that point
with an action, e.g. ``MONITOR_FAILPOINTS="dispatch.after-send=kill"``
(several: ``a=kill;b=raise``). Actions:

- ``kill``: SIGKILL this process (no ``finally``, no flush: what ``kill -9`` or a power cut does);
- ``raise``: raise ``FailPointError`` (an unexpected error at that point).

Production never sets the variable, so a fail point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "MONITOR_FAILPOINTS"
ACTIONS = ("kill", "raise")


class FailPointError(RuntimeError):
    """Raised at a fail point switched on with ``raise``."""


def armed(name: str) -> str | None:
    """The action ``MONITOR_FAILPOINTS`` sets for the point ``name``, if any."""
    for entry in os.environ.get(ENV, "").split(";"):
        point, _, action = entry.partition("=")
        if point.strip() == name:
            action = action.strip() or "kill"
            if action not in ACTIONS:
                raise ValueError(f"{ENV}: {name}={action!r}: expected one of {', '.join(ACTIONS)}")
            return action
    return None


def failpoint(name: str) -> None:
    """Do what ``MONITOR_FAILPOINTS`` says for ``name``; nothing when it does not name it."""
    action = armed(name)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise FailPointError(f"fail point {name}")
