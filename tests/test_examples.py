"""Golden examples for every source kind (juriscraper-style).

Layout: ``tests/examples/<kind>/config.yaml`` is the source entry used to parse the cases
(a case may override it with ``<case>.config.yaml``). A case is either one response file
``<case>.<ext>`` (one page) or a directory ``<case>/`` whose files are the pages of a
multi-request fetch, each labelled by its file stem (``bill.json``, ``actions.json``).
Beside it, ``<case>.expected.json`` is the reviewed list of normalised items. A missing
expected file is written from the current parse and the test fails until it is reviewed
and committed; every registered kind must have at least one case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monitor.sanity import sanity_check
from monitor.sources import SOURCE_KINDS, Fetched, Page

EXAMPLES = Path(__file__).parent / "examples"
SKIP_SUFFIXES = (".expected.json", ".config.yaml", ".md")  # .md: a provenance note


def cases() -> list[tuple[str, Path]]:
    found = []
    for kind in sorted(SOURCE_KINDS):
        folder = EXAMPLES / kind
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            if path.name == "config.yaml" or path.name.endswith(SKIP_SUFFIXES) or path.name.startswith("."):
                continue
            found.append((kind, path))
    return found


def test_every_kind_is_registered_under_its_own_name() -> None:
    assert all(SOURCE_KINDS[kind].kind == kind for kind in SOURCE_KINDS)


def case_name(path: Path) -> str:
    return path.name if path.is_dir() else path.name.split(".")[0]


def load_pages(path: Path) -> tuple[Page, ...]:
    if path.is_dir():
        return tuple(Page(f"file://{f.name}", f.read_bytes(), label=f.stem)
                     for f in sorted(path.iterdir()) if f.is_file())
    return (Page(f"file://{path.name}", path.read_bytes()),)


def parse_case(kind: str, path: Path) -> list[dict]:
    folder = path.parent
    override = folder / f"{case_name(path)}.config.yaml"
    config = yaml.safe_load((override if override.exists() else folder / "config.yaml").read_text())
    source = SOURCE_KINDS[kind](SOURCE_KINDS[kind].Config.model_validate(config))
    records = source.parse(Fetched(pages=load_pages(path)))
    sanity_check(records)
    return json.loads(json.dumps([r.snapshot() for r in records], default=str))


@pytest.mark.parametrize("kind", sorted(SOURCE_KINDS))
def test_every_kind_has_an_example(kind: str) -> None:
    assert any(k == kind for k, _ in cases()), f"source kind {kind!r} has no example in tests/examples/{kind}/"


@pytest.mark.parametrize(("kind", "path"), cases(), ids=lambda v: v if isinstance(v, str) else case_name(v))
def test_example_parses_to_expected(kind: str, path: Path) -> None:
    got = parse_case(kind, path)
    expected_path = path.parent / f"{case_name(path)}.expected.json"
    if not expected_path.exists():
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        pytest.fail(f"wrote {expected_path.relative_to(EXAMPLES.parent.parent)}: review it by hand and commit")
    assert got == json.loads(expected_path.read_text())
