"""The shipped systemd units start commands that exist, with options the CLI accepts."""

import configparser
import shlex
from pathlib import Path

import pytest

from central.cli import _parser as centre_parser
from device.cli import build_parser

UNITS = sorted((Path(__file__).resolve().parents[1] / "systemd").glob("*.service"))


def test_there_is_a_unit_per_role():
    assert [u.name for u in UNITS] == [
        "counterside-board.service",
        "counterside-centre-web.service",
        "counterside-controller.service",
        "counterside-counter.service",
        "counterside-kiosk.service",
    ]


class _CaseSensitiveParser(configparser.ConfigParser):
    """Keeps the keys' case (ExecStart), as systemd reads them."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_command_of_a_unit_parses(unit):
    parser = _CaseSensitiveParser(strict=False, interpolation=None)
    parser.read(unit, encoding="utf-8")
    service = parser["Service"]
    assert service["Restart"] == "always" and service["User"] == "counterside"
    centre = unit.name.startswith("counterside-centre-")  # the centre's own command line
    for key in ("ExecStart",) if centre else ("ExecStartPre", "ExecStart"):
        argv = shlex.split(service[key])
        assert argv[0].endswith("/counterside")
        if centre:
            assert argv[1] == "centre"
            centre_parser().parse_args(argv[2:])
        else:
            build_parser().parse_args(argv[1:])  # raises SystemExit on an unknown option
