"""The Docker image's command, run as the image runs it: its ENV, its CMD, a non-root user and a
configuration directory it cannot write to; then its HEALTHCHECK. No Docker daemon needed: the
paths the image uses (/data, /etc/remedy-monitor) are mapped to temporary directories.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from tests.conftest import ROOT, free_port, run_cli

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions():
        if word == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(rest))
    return env


def last(word: str) -> str:
    return [rest for w, rest in instructions() if w == word][-1]


def test_image_runs_as_monitor_and_serves_http() -> None:
    assert last("USER") == "monitor"
    assert json.loads(last("CMD")) == ["monitor", "run"]
    assert last("EXPOSE") == "8080"
    env = image_env()
    assert env["MONITOR_HTTP"].endswith(":8080")
    assert env["MONITOR_PID_FILE"].startswith("/data/")  # the volume the user owns, not /etc
    assert "/healthz" in last("HEALTHCHECK")


def unprivileged_user() -> dict[str, int]:
    """Run as nobody where this interpreter lets nobody run it (root only can switch users)."""
    if os.geteuid() != 0:
        return {}
    try:
        probe = subprocess.run([sys.executable, "-c", "0"], user=65534, group=65534, capture_output=True,
                               timeout=30, check=False)
    except PermissionError:
        return {}
    return {"user": 65534, "group": 65534} if probe.returncode == 0 else {}


def test_image_command_starts_with_a_read_only_config_dir(tmp_path: Path) -> None:
    """The default CMD with a read-only config dir (as nobody where the interpreter allows it,
    so the directory really is unwritable): the service starts, writes nothing beside
    sources.yaml, answers /healthz on MONITOR_HTTP, passes the HEALTHCHECK and stops cleanly."""
    data, etc = tmp_path / "data", tmp_path / "etc"
    data.mkdir()
    etc.mkdir()
    (etc / "sources.yaml").write_text("sources: []\n")
    etc.chmod(0o555)
    os.chown(data, 65534, 65534)
    tmp_path.chmod(0o755)
    port = free_port()

    def mapped(value: str) -> str:
        return value.replace("/data", str(data)).replace("/etc/remedy-monitor", str(etc)).replace(":8080", f":{port}")

    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {k: mapped(v) for k, v in image_env().items()}
    env["MONITOR_HTTP"] = f"127.0.0.1:{port}"
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "monitor", *json.loads(last("CMD"))[1:]]
    process = subprocess.Popen(command, env=env, cwd=data, **unprivileged_user(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    answer = json.load(response)
            except OSError:
                time.sleep(0.2)  # the port is not open yet: nothing to await but the connection
        assert answer == {"status": "ok"}, process.communicate(timeout=30) if process.poll() is not None else None
        assert (data / "monitor.pid").read_text().strip() == str(process.pid)
        assert sorted(p.name for p in etc.iterdir()) == ["sources.yaml"]
        healthcheck = json.loads(last("HEALTHCHECK").split(" CMD ", 1)[1])
        assert healthcheck[0] == "python"
        check = subprocess.run([sys.executable, *healthcheck[1:]], env=env, capture_output=True, text=True,
                               timeout=30, check=False)
        assert check.returncode == 0, check.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert not (data / "monitor.pid").exists()


def test_unwritable_pid_file_is_one_clear_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    cli_env["MONITOR_PID_FILE"] = str(tmp_path / "no" / "such" / "dir" / "monitor.pid")
    result = run_cli(["run"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot write the pid file {tmp_path}/no/such/dir/monitor.pid (No such file or directory); "
        "set MONITOR_PID_FILE to a writable path")
    assert "Traceback" not in result.stderr


def test_compose_builds_once_and_keeps_secrets_out() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    built = [name for name, spec in services.items() if "build" in spec]
    assert built == ["web"]
    assert services["worker"]["image"] == services["web"]["image"]
    text = (ROOT / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD: monitor" not in text and "monitor:monitor@" not in text
    assert "2.24" in text  # env_file's long syntax: say which Compose it needs
