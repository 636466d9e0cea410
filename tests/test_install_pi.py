"""scripts/install-pi.sh, run with the system's commands replaced by recorders (no root, no
packages, no systemd here): which units it installs and enables for which roles."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install-pi.sh"
RECORDED = (
    "id", "apt-get", "dpkg-query", "useradd", "usermod", "getent", "install", "systemctl",
    "chown", "bash",
)  # fmt: skip


def run(tmp_path: Path, *roles: str) -> list[str]:
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    for name in RECORDED:
        stub = stubs / name
        answer = "echo 0" if name == "id" else "true"
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{answer}\n')
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}",
           "COUNTERSIDE_PREFIX": str(tmp_path / "opt")}  # fmt: skip
    done = subprocess.run(
        ["/bin/bash", str(SCRIPT), *roles], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return log.read_text().splitlines()


def enabled(calls: list[str]) -> set[str]:
    return {u for c in calls if c.startswith("systemctl enable") for u in c.split()[2:]}


def test_a_counter_gets_its_unit_enabled_and_its_code_copied(tmp_path):
    calls = run(tmp_path, "counter")
    assert enabled(calls) == {"systemd-time-wait-sync.service", "counterside-counter.service"}
    assert (tmp_path / "opt" / "device" / "cli.py").is_file()
    assert not (tmp_path / "opt" / ".git").exists()
    assert any("setup.sh runtime" in c for c in calls)


def test_a_controller_that_shows_the_board_does_not_run_the_headless_controller(tmp_path):
    calls = run(tmp_path, "controller", "board")
    assert enabled(calls) == {"systemd-time-wait-sync.service", "counterside-board.service"}
    assert "systemctl disable counterside-controller.service" in calls
    assert any(c.startswith("apt-get install") and "mosquitto" in c for c in calls)


def test_the_centre_gets_its_own_profile_and_examples(tmp_path):
    calls = run(tmp_path, "centre")
    assert enabled(calls) == {
        "systemd-time-wait-sync.service", "counterside-centre.service",
        "counterside-centre-web.service",
    }  # fmt: skip
    assert any("setup.sh centre" in c for c in calls)
    assert any("centre-example.toml" in c for c in calls)


def test_an_unknown_role_is_refused(tmp_path):
    done = subprocess.run(["/bin/bash", str(SCRIPT), "printer"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown role 'printer'" in done.stderr


@pytest.mark.parametrize("roles", [("kiosk",), ("board",)])
def test_screens_get_voice_and_display_packages(tmp_path, roles):
    calls = run(tmp_path, *roles)
    assert any(c.startswith("apt-get install") and "espeak-ng" in c for c in calls)
