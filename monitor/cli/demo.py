"""``monitor demo``: the offline tour."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli import app
from monitor.cli.common import console


@app.command()
def demo(
    directory: Annotated[Path | None, typer.Option("--dir", metavar="DIR",
                                                   help="Where to keep the demo database and digest "
                                                   "(default: a new temporary directory).")] = None,
) -> None:
    """An offline tour: sample feeds, two polls, the Slack alert and the email digest. No API keys.

    Example: monitor demo --dir /tmp/remedy-demo
    """
    from monitor.demo import run_demo

    where = directory or Path(tempfile.mkdtemp(prefix="remedy-demo-"))
    console.print("Poll 1 is the baseline (no alerts); poll 2 brings a new Bivens opinion and moves "
                  "S. 3470 out of committee.\n", markup=False)
    alerts, digest = run_demo(where)
    for text in alerts:
        console.print("── Slack alert ──────────────────────────────", markup=False)
        console.print(text + "\n", markup=False)
    console.print(f"Email digest (what you@example.org would get at 07:30 Chicago time): {digest}", markup=False)
