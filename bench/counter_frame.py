"""Key press to the next frame on screen, and resident memory, of the counter app.

Two worker processes run the same feeder thread, which puts a key press into the app's key
queue every ``--interval`` seconds, as a GPIO or serial key driver does from its own thread:

* **counter**: ``counterside counter`` as launched (pad + console, 2 × 800x480, real event store
  with full durability, simulated LED display off, announcements recorded instead of played);
  the teller keys cycle call next → start → finish → rate, with a ticket issued whenever the
  queue runs dry. Latency is from the press to the return of the step whose frame answers it
  (the display flip included).
* **baseline**: the least any app can do: a bare pygame window of the same size whose loop wakes
  on the same key queue, fills the screen and flips.

SDL runs with its dummy video driver here, so the figures are CPU cost, not scan-out.
Targets: counter p99 under 50 ms, resident memory under 80 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

P99_TARGET_MS = 50.0
RSS_TARGET_MB = 80.0
CYCLE = (("call_next", None), ("start", None), ("finish", None), ("rate", 5))


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB, from /proc."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _feeder(put, presses: int, interval: float, make) -> threading.Thread:
    def run() -> None:
        for i in range(presses):
            time.sleep(interval)
            put(make(i))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _percentiles(latencies: list[float]) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {
        "n": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))],
        "max_ms": ms[-1],
    }


def worker_counter(presses: int, interval: float) -> dict:
    from config.loader import load_config
    from device.counter import Teller
    from device.launch import launch
    from drivers.keys import KeyPress

    config = load_config()
    with tempfile.TemporaryDirectory(prefix="bench-counter-") as tmp:
        launched = launch(
            config,
            db=Path(tmp) / "counter.sqlite",
            panels=["pad", "console"],
            counter=1,
            teller=Teller("1001", "张晓梅", 4),
            size=(800, 480),
            fullscreen=False,
            silent=True,
        )
        app = launched.app
        try:
            app.press("bench", "sign_in")
            for _ in range(5):  # warm caches: every screen mode drawn once
                app.step()

            def make(i: int) -> KeyPress:
                key, arg = CYCLE[i % len(CYCLE)]
                return KeyPress("bench", key, arg, time.monotonic())

            feeder = _feeder(app.keys.put, presses, interval, make)
            latencies: list[float] = []
            while len(latencies) < presses:
                if not app.device.branch.queue.waiting():
                    app.device.issue("cash")
                for press in app.step(wait_s=1 / 30):
                    latencies.append(time.monotonic() - press.at_mono)
            feeder.join()
            events = launched.store.last_seq()
        finally:
            launched.close()
    rss, peak = _rss_mb()
    return {**_percentiles(latencies), "rss_mb": rss, "peak_rss_mb": peak, "events": events}


def worker_baseline(presses: int, interval: float) -> dict:
    import queue

    import pygame

    pygame.display.init()
    window = pygame.display.set_mode((1600, 480))
    keys: queue.Queue[float] = queue.Queue()
    feeder = _feeder(keys.put, presses, interval, lambda i: time.monotonic())
    latencies: list[float] = []
    colour = 0
    while len(latencies) < presses:
        try:
            stamps = [keys.get(timeout=1 / 30)]
        except queue.Empty:
            stamps = []
        colour = (colour + 40) % 256
        window.fill((colour, 80, 120))
        pygame.display.flip()
        latencies += [time.monotonic() - t for t in stamps]
    feeder.join()
    pygame.quit()
    rss, peak = _rss_mb()
    return {**_percentiles(latencies), "rss_mb": rss, "peak_rss_mb": peak}


def _run_worker(kind: str, presses: int, interval: float) -> dict:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    env["COUNTERSIDE_CONFIG"] = ""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.counter_frame",
            "--worker",
            kind,
            "--presses",
            str(presses),
            "--interval",
            str(interval),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.counter_frame", description=__doc__)
    parser.add_argument("--presses", type=int, default=400)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between presses")
    parser.add_argument("--worker", choices=["counter", "baseline"], help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)
    if args.worker:
        worker = worker_counter if args.worker == "counter" else worker_baseline
        print(json.dumps(worker(args.presses, args.interval)))
        return 0
    base = _run_worker("baseline", args.presses, args.interval)
    ours = _run_worker("counter", args.presses, args.interval)
    print(
        f"{args.presses} key presses, one every {args.interval * 1000:.0f} ms, "
        "panels 2 x 800x480, SDL dummy video driver"
    )
    print(f"{'':26s}{'p50 ms':>9s}{'p99 ms':>9s}{'max ms':>9s}{'RSS MB':>9s}{'peak MB':>9s}")
    for name, r in (("bare pygame loop", base), ("counter app", ours)):
        print(
            f"{name:26s}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}{r['max_ms']:9.2f}"
            f"{r['rss_mb']:9.1f}{r['peak_rss_mb']:9.1f}"
        )
    print(
        f"{'ratio counter/bare':26s}{ours['p50_ms'] / base['p50_ms']:8.1f}x"
        f"{ours['p99_ms'] / base['p99_ms']:8.1f}x{'':9s}"
        f"{ours['rss_mb'] / base['rss_mb']:8.1f}x{ours['peak_rss_mb'] / base['peak_rss_mb']:8.1f}x"
    )
    p99_ok, rss_ok = ours["p99_ms"] < P99_TARGET_MS, ours["peak_rss_mb"] < RSS_TARGET_MB
    print(
        f"targets: p99 < {P99_TARGET_MS:.0f} ms: {'MET' if p99_ok else 'MISSED'}; "
        f"peak RSS < {RSS_TARGET_MB:.0f} MB: {'MET' if rss_ok else 'MISSED'}  "
        f"({ours['events']} events stored)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
