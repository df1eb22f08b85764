"""sources.yaml validation: every bad file in tests/config/bad/ gives its one expected line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.durations import parse_duration
from monitor.errors import ConfigError
from tests.conftest import ROOT, run_cli

CONFIGS = Path(__file__).parent / "config"
BAD = sorted((CONFIGS / "bad").glob("*.yaml"))


def expected_message(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")  # some bad files are not UTF-8 past line 1
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_config_gives_one_clear_line(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == expected_message(path)


@pytest.mark.parametrize("path", sorted((CONFIGS / "good").glob("*.yaml")) + [ROOT / "sources.yaml"],
                         ids=lambda p: p.stem)
def test_good_configs_load(path: Path) -> None:
    config = load_config(path)
    assert config.sources and len({s.id for s in config.sources}) == len(config.sources)


def test_invalid_config_exits_nonzero_with_line_and_starts_nothing(cli_env, tmp_path):
    bad = CONFIGS / "bad" / "unknown_kind.yaml"
    result = run_cli(["run", "--once", "--config", str(bad)], cli_env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: {expected_message(bad)}"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "monitor.db-wal").exists()


def test_missing_config_file_is_a_clear_error(cli_env, tmp_path):
    result = run_cli(["run", "--once", "--config", str(tmp_path / "nope.yaml")], cli_env)
    assert result.returncode == 1 and "configuration file not found" in result.stderr


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400),
                                                ("1h30m", 5400)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0m", "soon", "5 minutes", "-1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
