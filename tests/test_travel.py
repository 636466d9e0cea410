"""The ``--travel`` option that runs the suite on other dates (tests/travel.py)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from tests import travel

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 30), date(2027, 11, 29)),  # Monday -> Monday 52 weeks on
        (date(2026, 11, 28), date(2027, 11, 29)),  # Saturday -> the Monday after
        (date(2026, 11, 29), date(2027, 11, 29)),  # Sunday -> the Monday after
    ],
)
def test_year_ahead_is_a_weekday_about_a_year_on(today: date, expected: date) -> None:
    moment = travel.target("year-ahead", today)
    assert moment.date() == expected and moment.weekday() < 5
    assert moment.time() == time(10, 0) and moment.tzinfo == travel.DEVICE_TZ


def test_before_midnight_and_explicit_times() -> None:
    assert travel.target("before-midnight", date(2026, 12, 31)) == datetime(
        2026, 12, 31, 23, 58, tzinfo=travel.DEVICE_TZ
    )
    assert travel.target("2031-03-04T10:00").tzinfo == travel.DEVICE_TZ
    assert travel.target("2031-03-04T10:00+00:00").utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="expected an ISO datetime"):
        travel.target("next tuesday")


def test_the_option_moves_the_wall_clock_of_the_test_process(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import time\n"
        "from datetime import UTC, datetime\n"
        "def test_date():\n"
        "    start = time.time()\n"
        "    now = datetime.now(UTC)\n"
        "    assert (now.date().isoformat(), now.hour) == ('2031-03-04', 2)\n"
        "    time.sleep(0.05)\n"
        "    assert time.time() > start  # time flows\n",
        encoding="utf-8",
    )
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    args = ["-p", "tests.conftest", "-c", str(ini), "--rootdir", str(tmp_path)]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            *args,
            "--travel",
            "2031-03-04T10:00+08:00",
            str(probe),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
