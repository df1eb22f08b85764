"""Peer projects' files read in place from fetched snapshots, for the deeper peer runs.

``MONITOR_PEERS`` names a directory of bare git mirrors laid out as ``fetch`` leaves them
(``<dir>/<owner>+<name>/repo``, e.g. /work/.mirror). Nothing is copied into the repository:
each file is read with ``git show <commit>:<path>`` when a test runs, and the test is skipped,
saying why, when the variable or the snapshot is absent.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def peer_file(repo: str, commit: str, path: str) -> bytes:
    """``path`` at ``commit`` in the snapshot of ``repo`` ("owner/name"), or skip saying why."""
    root = os.environ.get("MONITOR_PEERS")
    if not root:
        pytest.skip("MONITOR_PEERS is not set: the deeper peer run reads fetched git snapshots "
                    "in place (e.g. MONITOR_PEERS=/work/.mirror)")
    git_dir = Path(root) / repo.replace("/", "+") / "repo"
    if not git_dir.is_dir():
        pytest.skip(f"no snapshot of {repo} under {root} (fetch github:{repo} to get one)")
    shown = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
                           capture_output=True, check=False)
    if shown.returncode:
        pytest.skip(f"{repo} snapshot lacks {path} at {commit[:10]}: "
                    f"{shown.stderr.decode(errors='replace').strip()}")
    return shown.stdout
