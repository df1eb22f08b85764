"""Start-up checks for the libraries the service's safety depends on.

Feeds are parsed with Expat (through feedparser's SAX parser). Expat before 2.4.1 has no
protection against entity-expansion bombs ("billion laughs"), so one hostile feed could
exhaust the host's memory. Python's ``pyexpat`` links whatever Expat the interpreter was
built with, so the version is checked at run time, not pinned in pyproject.
"""

from __future__ import annotations

import pyexpat
import re

from monitor.errors import ConfigError

MIN_EXPAT = (2, 4, 1)


def expat_problem(version: str) -> str | None:
    """Why this Expat version (``"expat_2.5.0"``) is unsafe, or None when it is fine."""
    match = re.fullmatch(r"expat_(\d+)\.(\d+)\.(\d+)", version.strip())
    if match is None:
        return f"cannot tell the Expat version from {version!r}; need {'.'.join(map(str, MIN_EXPAT))} or newer"
    found = tuple(int(g) for g in match.groups())
    if found < MIN_EXPAT:
        return (f"Expat {'.'.join(map(str, found))} has no billion-laughs protection; "
                f"run on a Python built with Expat {'.'.join(map(str, MIN_EXPAT))} or newer")
    return None


def require_safe_expat(version: str = pyexpat.EXPAT_VERSION) -> None:
    problem = expat_problem(version)
    if problem:
        raise ConfigError(problem)
