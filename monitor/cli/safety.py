"""Refuse to start on an Expat without billion-laughs protection (before 2.4.1): feeds are parsed
with the Expat the interpreter was built with, so the version is checked at run time, not pinned."""

from __future__ import annotations

import pyexpat
import re

from monitor.errors import ConfigError

MIN_EXPAT = (2, 4, 1)


def require_safe_expat(version: str = pyexpat.EXPAT_VERSION) -> None:
    """Raise ConfigError, one line, unless ``version`` (``"expat_2.5.0"``) is 2.4.1 or newer."""
    match = re.fullmatch(r"expat_(\d+)\.(\d+)\.(\d+)", version.strip())
    found = tuple(int(g) for g in match.groups()) if match else None
    if found is None or found < MIN_EXPAT:
        shown = ".".join(map(str, found)) if found else repr(version)
        raise ConfigError(f"Expat {shown} may lack billion-laughs protection; "
                          f"run on a Python built with Expat {'.'.join(map(str, MIN_EXPAT))} or newer")
