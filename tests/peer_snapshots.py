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


def _git_dir(repo: str) -> Path:
    root = os.environ.get("MONITOR_PEERS")
    if not root:
        pytest.skip("MONITOR_PEERS is not set: the deeper peer run reads fetched git snapshots "
                    "in place (e.g. MONITOR_PEERS=/work/.mirror)")
    git_dir = Path(root) / repo.replace("/", "+") / "repo"
    if not git_dir.is_dir():
        pytest.skip(f"no snapshot of {repo} under {root} (fetch github:{repo} to get one)")
    return git_dir


def peer_paths(repo: str, commit: str, folder: str) -> list[str]:
    """Every file under ``folder`` at ``commit`` in the snapshot of ``repo``, or skip saying why."""
    listed = subprocess.run(["git", f"--git-dir={_git_dir(repo)}", "ls-tree", "-r", "--name-only", commit, folder],
                            capture_output=True, text=True, check=False)
    if listed.returncode or not listed.stdout.strip():
        pytest.skip(f"{repo} snapshot has no {folder} at {commit[:10]}: {listed.stderr.strip()}")
    return listed.stdout.split()


def peer_file(repo: str, commit: str, path: str) -> bytes:
    """``path`` at ``commit`` in the snapshot of ``repo`` ("owner/name"), or skip saying why."""
    git_dir = _git_dir(repo)
    shown = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
                           capture_output=True, check=False)
    if shown.returncode:
        pytest.skip(f"{repo} snapshot lacks {path} at {commit[:10]}: "
                    f"{shown.stderr.decode(errors='replace').strip()}")
    return shown.stdout
