"""The shipped systemd units start commands that exist, with options the CLI accepts, tell systemd
when they are ready, are watched by its watchdog, and pass ``systemd-analyze verify``."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from central.cli import _parser as central_parser
from device.cli import build_parser

SYSTEMD = Path(__file__).resolve().parents[1] / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
INSTALLED = "/opt/counterside/.venv/bin/counterside"


def centre_env() -> dict[str, str]:
    """The example settings of the centre's units, as systemd reads ``EnvironmentFile=``."""
    lines = (SYSTEMD / "centre.env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def expanded(command: str, env: dict[str, str]) -> list[str]:
    """``ExecStart=`` as systemd runs it: ``${VAR}`` from the environment file, then split."""
    return shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], command))


class _CaseSensitiveParser(configparser.ConfigParser):
    """Keeps the keys' case (ExecStart), as systemd reads them."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def service_section(unit: Path) -> configparser.SectionProxy:
    parser = _CaseSensitiveParser(strict=False, interpolation=None)
    parser.read(unit, encoding="utf-8")
    return parser["Service"]


def test_there_is_a_unit_per_role():
    assert [u.name for u in UNITS] == [
        "counterside-board.service",
        "counterside-centre-web.service",
        "counterside-centre.service",
        "counterside-controller.service",
        "counterside-counter.service",
        "counterside-kiosk.service",
    ]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_command_of_a_unit_parses(unit):
    service = service_section(unit)
    assert service["Restart"] == "always" and service["User"] == "counterside"
    for key in ("ExecStartPre", "ExecStart"):
        if key not in service:
            continue
        argv = expanded(service[key], centre_env())
        assert argv[0] == INSTALLED
        parser, args = build_parser(), argv[1:]
        if args[:1] == ["centre"]:  # handed to the centre's own command line
            parser, args = central_parser(), args[1:]
        parser.parse_args(args)  # raises SystemExit on an unknown option


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_unit_is_watched_by_systemd(unit):
    """Ready when serving, a watchdog pinged by the main loop (support/sdnotify.py), and a
    crash loop that ends in a failed unit rather than restarting for ever."""
    service = service_section(unit)
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) >= 30
    text = unit.read_text(encoding="utf-8")
    assert "StartLimitIntervalSec=" in text and "StartLimitBurst=" in text


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify_passes_on_every_unit(tmp_path):
    """Every unit as installed, with the paths of this checkout's virtual environment for the
    ones of /opt (verify checks that each command exists and is executable)."""
    here = str(Path(sys.executable).with_name("counterside"))
    env_file = tmp_path / "centre.env"
    shutil.copy(SYSTEMD / "centre.env.example", env_file)
    copies = []
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8").replace(INSTALLED, here)
        text = text.replace("/etc/counterside/centre.env", str(env_file))
        copy = tmp_path / unit.name
        copy.write_text(text, encoding="utf-8")
        copies.append(str(copy))
    done = subprocess.run(
        ["systemd-analyze", "verify", *copies],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "counterside" in line]
    assert done.returncode == 0 and ours == [], done.stdout + done.stderr
