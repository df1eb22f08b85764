"""The README's fidelity table is the one tests/fidelity.py computes from the real documents."""

from __future__ import annotations

from tests.conftest import ROOT, realdata
from tests.fidelity import BEGIN, END, table


def test_readme_fidelity_table_is_current() -> None:
    realdata("govinfo")
    readme = (ROOT / "README.md").read_text()
    shown = readme[readme.index(BEGIN) + len(BEGIN) : readme.index(END)].strip()
    assert shown == table(), (
        "README.md's fidelity table is stale: run python -m tests.fidelity --write"
    )
