"""``counterside demo``, the whole system as processes, accelerated: it stops by itself after
``--hours`` once the centre has acknowledged everything, prints the centre's KPIs, and what the
simulated people did is at the centre exactly once; a second run continues the same data."""

from __future__ import annotations

import argparse
import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.truth_check import check, counterside

DAY = date(2026, 3, 3)


@pytest.mark.travel_free  # a fixed day, and the work is done by child processes
def test_the_demo_runs_the_whole_system_stops_by_itself_and_a_second_run_continues(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    common = ("--data", str(data), "--speed", "120", "--startup", "10", "--day", DAY.isoformat())
    first = counterside("demo", *common, "--hours", "0.25", timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "the centre has acknowledged every event of the day" in first.stdout, first.stdout
    assert "KPIs of 2026-03-03 at the centre" in first.stdout and "demo-branch" in first.stdout
    # the centre (ingest, dashboard, KPIs) reads the demo's configuration: the branch's name,
    # region, hours and roster, not an unknown branch id
    centre = ("--db", str(data / "centre.sqlite"), "--config", str(data / "config" / "centre.toml"))
    day = ("--from", DAY.isoformat(), "--to", DAY.isoformat())
    kpi = counterside("centre", "kpi", *centre, *day, "--by", "region", "--format", "json",
                      timeout=120)  # fmt: skip
    assert kpi.returncode == 0, kpi.stderr
    assert [r["region"] for r in json.loads(kpi.stdout)] == ["演示省", "演示省/演示市"]
    # 开机率 as of the demo's end: its pads were on from the opening (before, as of the
    # accelerated clock running on for hours after the demo: the whole day, some 20%)
    lines = first.stdout.splitlines()
    header = next(line for line in lines if line.startswith("group"))
    row = next(line for line in lines if line.startswith("demo-branch"))
    figures = dict(zip(re.split(r"\s{2,}", header), re.split(r"\s{2,}", row), strict=False))
    assert float(figures["开机率"].split("%")[0]) >= 80.0, row
    reached = datetime.fromisoformat(json.loads((data / "demo.json").read_text())["clock"])
    assert reached >= datetime.fromisoformat("2026-03-03T08:45:00+08:00")
    second = counterside("demo", *common, "--hours", "0.1", timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"run 2: 2026-03-03 {reached:%H:%M}" in second.stdout, second.stdout
    expected, done = check(data, DAY)
    assert expected["demo-branch"]["finished"] > 0 and done
    logs = "".join(p.read_text(errors="replace") for p in (data / "logs").glob("*.log"))
    assert "Traceback" not in logs


def test_once_the_demo_stops_its_children_more_ctrl_c_cannot_orphan_them() -> None:
    """The second Ctrl-C hurries the stop; any after that, while the children are being
    stopped, is noted and ignored (before, a third one escaped and left them running)."""
    import signal

    from sim.demo import Stop

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        stop = Stop()
        stop._handle()
        assert stop.asked
        with pytest.raises(KeyboardInterrupt):
            stop._handle()
        stop.shield()
        stop._handle()  # no KeyboardInterrupt now
        assert signal.getsignal(signal.SIGHUP) == stop._handle
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_with_windows_each_app_opens_at_its_own_place_on_the_desktop() -> None:
    """SDL centres every window: without a place of its own each, the six lay on one another."""
    from sim import demo

    names = [demo.BOARD, demo.KIOSK, *(demo.counter_id(n) for n in range(1, demo.COUNTERS + 1))]
    sizes = {demo.BOARD: (400, 240), demo.KIOSK: (400, 240)}
    boxes = []
    for name in names:
        (x, y), (w, h) = demo.window_position(name), sizes.get(name, (800, 240))
        boxes.append((x, y, x + w, y + h))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert max(box[2] for box in boxes) <= 1920 and max(box[3] for box in boxes) <= 1080
    runner = demo.Demo.__new__(demo.Demo)
    runner.args = argparse.Namespace(windows=True)
    assert runner.placed({"A": "1"}, demo.KIOSK) == {"A": "1", "SDL_VIDEO_WINDOW_POS": "410,0"}
    runner.args = argparse.Namespace(windows=False)
    assert runner.placed({"A": "1"}, demo.KIOSK) == {"A": "1"}
