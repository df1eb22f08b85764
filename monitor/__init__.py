"""Remedy Monitor: watches courts and legislatures for changes to remedies against
federal immigration officers, stores every version, and alerts exactly once."""

import sys

__version__ = "0.1.0"

# httpx's __init__ imports its command-line client (httpx._main: click, rich.progress, rich.syntax,
# pygments; ~60-90 ms) whenever click and rich are installed, as they are here for Typer, and falls
# back to a stub ``httpx.main`` when that import fails. Nothing here uses the httpx CLI (the
# ``httpx`` console script runs in its own process, without this package), so the import is
# refused: a None entry in sys.modules makes ``import httpx._main`` raise ImportError. Upstream
# moves the import out of __init__ in encode/httpx#3547. setdefault keeps a copy already loaded.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
