"""The README's fidelity table is the one tests/fidelity.py computes from the real documents."""

from __future__ import annotations

from tests.conftest import ROOT, realdata
from tests.fidelity import BEGIN, END, line, rows, table


def test_readme_fidelity_table_is_current() -> None:
    """Without the peers' snapshots their rows cannot be computed: the rest must still match."""
    realdata("govinfo")
    readme = (ROOT / "README.md").read_text()
    shown = readme[readme.index(BEGIN) + len(BEGIN) : readme.index(END)].strip()
    built = rows()
    if not any(r.peer for r in built):
        shown = "\n".join(row for row in shown.splitlines() if "(read in place)" not in row)
    assert shown == table(built), (
        "README.md's fidelity table is stale: run MONITOR_PEERS=/work/.mirror python -m tests.fidelity --write"
    )
    assert all("(read in place)" in line(r) for r in built if r.peer)
