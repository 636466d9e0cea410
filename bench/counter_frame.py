"""Key press to the next frame on screen, and resident memory over time, of every app as shipped.

Each role runs ``device.launch.launch`` in its own process (SDL's dummy video driver, real event
store with full durability, MQTT on), at each screen size, on a branch started here
(``bench.branch_rig``: Mosquitto with TLS, the centre and the queue controller as real
processes, and a kiosk stand-in that keeps tickets waiting). Voice goes through the real
announcer (espeak-ng) to a null sink that takes as long as the sound, as a speaker does
(``bench/null_sink.py``). A feeder thread gives one input every ``--interval`` seconds:

* **counter** (pad + console): teller keys into the key queue, as the GPIO or serial driver does
  from its own thread, cycling call next → start → finish → rate 5; the calls go to the
  controller over MQTT. Latency: press → the return of the step whose frame answers it.
* **kiosk**: taps on the cash key and then on OK, posted as pygame mouse events, each once the
  outcome of the tap before is on screen (a customer taps OK on the ticket shown); each ticket
  is issued by the controller and printed (simulated printer). Latency: tap → frame after it.
* **board**: calls as the MQTT link hands them over (its call queue), shown and spoken.
  Latency: call handed over → the frame that shows it.
* **baseline**: a bare pygame window of the counter's size woken by the same key queue.

Resident memory (VmRSS) is sampled as the presses go; its slope over presses is taken from 10%
of the run's inputs on (the caches fill before): a Theil-Sen slope (the median of the slopes
between every two samples: a step in the series moves it less than a least-squares fit) judges
the run; the least-squares slope with its standard error, and the second half's, are printed
beside it. Targets: p99 under 50 ms in every role; the counter under 80 MB at 800x480; no growth
over 100,000 presses (the Theil-Sen slope under 1 MB per 100,000 presses), judged in runs of at
least 100,000 inputs only ("MET (growth not judged)" otherwise; a run with fewer than 10 samples
after its warm-up is not judged flat).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path

P99_TARGET_MS = 50.0
RSS_TARGET_MB = 80.0
FLAT_MB_PER_100K = 1.0
ROLES = {"counter": ["pad", "console"], "kiosk": ["kiosk"], "board": ["board"]}
SIZES = ((800, 480), (1920, 1080))
CYCLE = (("call_next", None), ("start", None), ("finish", None), ("rate", 5))
FPS = 30.0


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB, from /proc."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]  # fmt: skip


def heap_mb() -> dict[str, float]:
    """Where this process's memory is, in MB: SQLite's own allocations (its page caches and
    statements, all connections), the C heap in use and free in it (glibc ``mallinfo2``), and
    Python's allocated blocks (a count, not MB). Growth in RSS with none in these is the heap's
    fragmentation or a library's own mappings; growth in one of them says whose."""
    import _sqlite3

    out: dict[str, float] = {"py_blocks": float(sys.getallocatedblocks())}
    if "screens.text" in sys.modules:  # the rendered text the screens keep (a bounded cache)
        fonts = sys.modules["screens.text"].default_fonts()
        entries, size = fonts.text_cache_use
        out["text_cache_mb"], out["text_cache_n"] = size / 1e6, float(entries)
        out["fit_cache_n"] = float(fonts.fit_cache_use)
    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
        used.restype = ctypes.c_int64
        out["sqlite_mb"] = used() / 1e6
    except (OSError, AttributeError):  # SQLite linked in statically without the symbol
        pass
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
        mallinfo2.restype = _MallInfo2
        info = mallinfo2()
        out["malloc_used_mb"] = (info.uordblks + info.hblkhd) / 1e6
        out["malloc_free_mb"] = info.fordblks / 1e6
    except (OSError, AttributeError):  # not glibc 2.33 or newer
        pass
    return out


class _Series:
    """Up to ``n`` floats in memory taken before the run: recording them grows nothing (a list
    of floats grows by 32 bytes a press, which the RSS slope would count as the app's)."""

    allocated = 0
    """Bytes of every series of this process: the bench's own share of its RSS (not the app's)."""

    def __init__(self, n: int) -> None:
        self.values = array("d", bytes(8 * n))
        self.n = 0
        _Series.allocated += 8 * n

    def add(self, value: float) -> None:
        self.values[self.n] = value
        self.n += 1

    def __len__(self) -> int:
        return self.n

    def tolist(self) -> list[float]:
        return self.values[: self.n].tolist()


class _Probe:
    """The app's own share of each frame: wall and main-thread CPU time of its work (the
    pygame events handled, then ``PanelApp.step``: input applied, frame drawn and shown), and
    the waits within it for the remote queue (the controller's answer over MQTT) and for the
    event store's commit (fsync). What a latency has beyond ``step_ms`` is the wait before the
    app took the input up (its loop, the machine's other work).

    It wraps those methods on the instances of this run only; the app is otherwise as shipped.
    """

    def __init__(self, app, store, presses: int) -> None:
        self.step_ms = self.cpu_ms = self.queue_ms = self.store_ms = 0.0
        self._main = threading.get_ident()
        # the same waits on the input worker's thread, each one (off the frame)
        self.off_frame = {"queue_ms": _Series(presses * 2), "store_ms": _Series(presses * 2)}
        app.step = self._worked(app.step)
        app.handle_pygame_event = self._worked(app.handle_pygame_event)
        store.append_many = self._waited(store.append_many, "store_ms")
        queue = app.device.branch.queue
        if hasattr(queue, "_ask"):  # the remote queue: a blocking request to the controller
            queue._ask = self._waited(queue._ask, "queue_ms")

    def reset(self) -> None:
        """A new frame begins."""
        self.step_ms = self.cpu_ms = self.queue_ms = self.store_ms = 0.0

    def _worked(self, method):
        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.step_ms += (time.perf_counter() - wall) * 1000
                self.cpu_ms += (time.thread_time() - cpu) * 1000

        return timed

    def _waited(self, method, total: str):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                ms = (time.perf_counter() - start) * 1000
                if threading.get_ident() == self._main:
                    setattr(self, total, getattr(self, total) + ms)
                else:
                    series = self.off_frame[total]
                    if series.n < len(series.values):
                        series.add(ms)

        return timed


PARTS = ("step_ms", "cpu_ms", "queue_ms", "store_ms")
"""Per input, the probe's figures of the frame that answered it."""


def _feeder(put, presses: int, interval: float) -> threading.Thread:
    def run() -> None:
        for i in range(presses):
            time.sleep(interval)
            put(i)

    thread = threading.Thread(target=run, name="bench-feeder", daemon=True)
    thread.start()
    return thread


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] if ordered else 0.0


def _percentiles(latencies: list[float]) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {
        "n": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": _p99(ms),
        "max_ms": ms[-1],
    }


def _parts(parts: dict[str, _Series]) -> dict:
    """p50 and p99 of each of the probe's figures, in ms."""
    out = {}
    for name, series in parts.items():
        values = series.tolist() or [0.0]
        out[name] = {"p50": statistics.median(values), "p99": _p99(values)}
    return out


WARM_UP = 0.1
"""The share of a run's inputs left out of the slopes that judge it. RSS rises steeply over the
first 2,000 to 4,000 presses (the caches fill), then by about a megabyte more, slowly, over the
next tens of thousands (the heap's free part settles): what of that lies after the first 10,000
presses of a 100,000-press run counts against it."""
MIN_SAMPLES = 10
"""Samples after the warm-up a run needs for its slope to judge it."""
GROWTH_RUN = 100_000
"""Inputs a run needs for its growth to be judged: the target's own length (a shorter run is
mostly the slow settling above: 20,000-press runs rise by about a megabyte)."""
RULE = "growth: Theil-Sen from 10% under 1 MB per 100,000, 10 samples, 100,000 inputs (v3)"
"""The rule judging growth, saved with each run (``--report`` says when a run had another)."""
MAX_PAIRS_SAMPLES = 500
"""Samples the Theil-Sen slope takes at most (evenly spread): its pairs grow as their square."""


def _kept(samples: list[tuple[int, float]], after: float) -> list[tuple[float, float]]:
    """The samples taken after the first ``after`` of the run's inputs, x in 10,000s."""
    last = samples[-1][0] if samples else 0
    return [(x / 10_000, y) for x, y in samples if x >= after * last]


def slope(samples: list[tuple[int, float]], after: float = WARM_UP) -> tuple[float, float]:
    """Least-squares slope of RSS over presses, fitted to the samples taken after the first
    ``after`` of the run's inputs (0.5: the second half), and its standard error, both in MB
    per 10,000 presses; (nan, inf) with fewer than :data:`MIN_SAMPLES` samples. (Neighbouring
    samples' residuals are correlated: the error printed is a lower bound.)"""
    kept = _kept(samples, after)
    if len({x for x, _ in kept}) < MIN_SAMPLES:
        return math.nan, math.inf
    xs, ys = [x for x, _ in kept], [y for _, y in kept]
    fit = statistics.linear_regression(xs, ys)
    residual = [y - (fit.slope * x + fit.intercept) for x, y in zip(xs, ys, strict=True)]
    sxx = sum((x - statistics.fmean(xs)) ** 2 for x in xs)
    return fit.slope, (sum(r * r for r in residual) / (len(kept) - 2) / sxx) ** 0.5


def robust_slope(samples: list[tuple[int, float]], after: float = WARM_UP) -> float:
    """Theil-Sen slope of RSS over presses after the first ``after`` of the inputs: the median
    of the slopes between every two samples, in MB per 10,000 presses (nan with fewer than
    :data:`MIN_SAMPLES` samples)."""
    kept = _kept(samples, after)
    if len(kept) > MAX_PAIRS_SAMPLES:
        kept = [kept[i * len(kept) // MAX_PAIRS_SAMPLES] for i in range(MAX_PAIRS_SAMPLES)]
    pairs = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(kept)
        for x2, y2 in kept[i + 1 :]
        if x2 != x1
    ]
    return statistics.median(pairs) if len(kept) >= MIN_SAMPLES and pairs else math.nan


def flat(samples: list[tuple[int, float]]) -> bool:
    """Whether a run's RSS did not grow (the target): its Theil-Sen slope after the warm-up
    under 1 MB per 100,000 presses (too few samples: not flat)."""
    robust = robust_slope(samples)
    return not math.isnan(robust) and abs(robust) * 10 < FLAT_MB_PER_100K


# -- the workers (each in its own process) ---------------------------------------------------


def _launch(role: str, size: tuple[int, int], config_path: str | None, tmp: Path):
    from config.loader import load_config
    from device.launch import launch
    from domain.counter import Teller

    config = load_config(config_path) if config_path else load_config()
    return launch(
        config,
        db=Path(tmp) / "device.sqlite",
        panels=ROLES[role],
        counter=1 if role == "counter" else None,
        teller=Teller("1001", "张晓梅", 4),
        size=size,
        fullscreen=False,
    )


def _wait_for_queue(app, timeout: float = 30.0) -> None:
    """With MQTT on, wait for the controller's queue state (the remote queue knows the branch)."""
    queue = app.device.branch.queue
    deadline = time.monotonic() + timeout
    while getattr(queue, "state", True) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("no queue state from the controller")
        app.step(wait_s=0.05)


def _tap_at(app, action) -> tuple[int, int]:
    for panel in app.panels:
        for rect, hit in panel.screen.hits:
            if hit == action:
                return rect.centerx + panel.rect.x, rect.centery + panel.rect.y
    raise RuntimeError(f"nothing to tap for {action!r}")


def worker(role: str, size: tuple[int, int], presses: int, interval: float, every: int,
           config_path: str | None) -> dict:  # fmt: skip
    import pygame

    from drivers.keys import KeyPress

    with tempfile.TemporaryDirectory(prefix=f"bench-{role}-") as tmp:
        launched = _launch(role, size, config_path, Path(tmp))
        app = launched.app
        try:
            _wait_for_queue(app)
            stamps = _Series(presses).values  # when input i was given
            given = [0]  # inputs given so far (the board's)
            drawn_so_far = [0]  # inputs whose outcome is on screen (the kiosk's)
            if role == "counter":
                app.press("bench", "sign_in")

                def put(i: int) -> None:
                    key, arg = CYCLE[i % len(CYCLE)]
                    app.keys.put(KeyPress("bench", key, arg, time.monotonic()))

            elif role == "kiosk":
                app.step()
                issue = _tap_at(app, ("issue", "cash"))
                app.touch(issue)
                app.settle() if hasattr(app, "settle") else app.step()  # the ticket on screen
                taps = (issue, _tap_at(app, "dismiss"))
                app.touch(taps[1])

                def put(i: int) -> None:
                    # a customer taps what is on screen: the ticket's dismiss key once shown
                    deadline = time.monotonic() + 60
                    while drawn_so_far[0] < i and time.monotonic() < deadline:
                        time.sleep(0.001)
                    stamps[i] = time.monotonic()
                    event = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=taps[i % 2], button=1)
                    pygame.event.post(event)

            else:
                calls = app.remote_calls
                if calls is None:
                    raise RuntimeError("the board needs [mqtt] enabled to hear calls")

                def put(i: int) -> None:
                    stamps[i] = time.monotonic()
                    calls.put((f"A{i % 1000:03d}", i % 3 + 1))  # counters 1-3 are configured
                    app.keys.wake()  # as the link does for a call it heard (Link.watch_calls)
                    given[0] = i + 1

            for _ in range(5):  # every screen mode drawn once
                app.step()
            if hasattr(app, "settle"):  # the inputs of the set-up applied and drawn
                app.settle()
            pygame.event.clear()  # from here on, the only pygame events are the taps
            latencies = _Series(presses)
            outcomes = _Series(presses)  # input -> the frame drawing its outcome
            told = hasattr(app, "results")  # the app says which inputs a frame answers
            outcome_done = 0
            parts = {name: _Series(presses) for name in PARTS}
            probe = _Probe(app, launched.store, presses)
            samples = [(0, rss_mb()[0])]
            heap = [(0, heap_mb())]
            done = taken = 0
            feeder = _feeder(put, presses, interval)
            while len(outcomes) + app.keys.dropped < presses:  # a full key queue drops
                probe.reset()
                answered, handled = app.frame(1 / FPS)  # the app's own main loop, one frame
                now = time.monotonic()
                before = len(latencies)
                if role == "counter":
                    for press in answered:
                        latencies.add(now - press.at_mono)
                    for press in app.results if told else answered:
                        outcomes.add(now - press.at_mono)
                else:
                    if role == "board":  # a call heard is drawn in the frame that takes it
                        taken = drawn = given[0] - calls.qsize()
                    elif told:  # taps the frame answers (drawn, or shown being worked on)
                        taken += sum(1 for p in answered if p.source == "touch")
                        drawn = outcome_done + sum(1 for p in app.results if p.source == "touch")
                    else:
                        taken += handled
                        drawn = taken
                    for i in range(done, taken):
                        latencies.add(now - stamps[i])
                    done = taken
                    for i in range(outcome_done, drawn):
                        outcomes.add(now - stamps[i])
                    outcome_done = drawn_so_far[0] = drawn
                for _ in range(len(latencies) - before):
                    for name, series in parts.items():
                        series.add(getattr(probe, name))
                if len(latencies) // every > before // every:
                    samples.append((len(latencies), rss_mb()[0]))
                    heap.append((len(latencies), heap_mb()))
            feeder.join()
            events = launched.store.last_seq()
        finally:
            launched.close()
    rss, peak = rss_mb()
    return {**_percentiles(latencies.tolist()), "rss_mb": rss, "peak_rss_mb": peak,
            "bench_mb": _Series.allocated / 2**20, "events": events, "samples": samples,
            "heap": heap, "dropped": app.keys.dropped,
            "parts": _parts(parts),
            "off_frame": _parts(probe.off_frame),
            "outcome": _percentiles(outcomes.tolist() or [0.0])}  # fmt: skip


def worker_baseline(size: tuple[int, int], presses: int, interval: float, every: int) -> dict:
    import queue

    import pygame

    pygame.display.init()
    window = pygame.display.set_mode((size[0] * 2, size[1]))
    keys: queue.Queue[float] = queue.Queue()
    feeder = _feeder(lambda i: keys.put(time.monotonic()), presses, interval)
    latencies = _Series(presses)
    samples = [(0, rss_mb()[0])]
    colour = 0
    while len(latencies) < presses:
        try:
            stamps = [keys.get(timeout=1 / FPS)]
        except queue.Empty:
            stamps = []
        colour = (colour + 40) % 256
        window.fill((colour, 80, 120))
        pygame.display.flip()
        for t in stamps:
            latencies.add(time.monotonic() - t)
        if stamps and len(latencies) % every == 0:
            samples.append((len(latencies), rss_mb()[0]))
    feeder.join()
    pygame.quit()
    rss, peak = rss_mb()
    return {**_percentiles(latencies.tolist()), "rss_mb": rss, "peak_rss_mb": peak,
            "samples": samples}  # fmt: skip


# -- the orchestrator ------------------------------------------------------------------------


def _run_worker(
    role: str, size: tuple[int, int], opts, config: Path | None, tree: Path | None = None
) -> dict:
    """Run one worker process; ``tree``: a checkout whose app it runs (this one's by default)."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    env["COUNTERSIDE_CONFIG"] = ""
    if tree is not None:  # this file as the worker, every other module from that checkout
        env["PYTHONPATH"] = str(tree)
        start = [sys.executable, str(Path(__file__).resolve())]
    else:
        start = [sys.executable, "-m", "bench.counter_frame"]
    args = [*start, "--worker", role,
            "--size", f"{size[0]}x{size[1]}", "--presses", str(opts.presses),
            "--interval", str(opts.interval), "--every", str(opts.every)]  # fmt: skip
    if config is not None:
        args += ["--config", str(config)]
    out = subprocess.run(
        args,
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        timeout=opts.presses * 0.2 + 600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{role} {size} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _device_extra(tmp: Path) -> str:
    sink = Path(__file__).with_name("null_sink.py")
    player = json.dumps([sys.executable, "-S", str(sink), "{wav}"])
    simulated = json.dumps(str(tmp / "tickets"))
    return f"\n[voice]\nplayer = {player}\n\n[printer]\nsimulated_dir = {simulated}\n"


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.counter_frame", description=__doc__)
    parser.add_argument("--presses", type=int, default=3000, help="inputs per role and size")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between inputs")
    parser.add_argument(
        "--roles", default="baseline,counter,kiosk,board", help="comma-separated roles"
    )
    parser.add_argument("--sizes", default="800x480,1920x1080", help="comma-separated WxH")
    parser.add_argument("--every", type=int, default=0, help="sample RSS every N presses")
    parser.add_argument("--quick", action="store_true", help="300 presses per role and size")
    parser.add_argument(
        "--against",
        type=Path,
        help="another checkout (e.g. of main): each run is made with its app too, in turns",
    )
    parser.add_argument(
        "--save", type=Path, help="write every run's results (with its memory samples) as JSON"
    )
    parser.add_argument(
        "--report", type=Path, help="print the report of runs saved with --save (runs nothing)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    opts, _ = parser.parse_known_args(argv)
    if opts.quick:
        opts.presses = min(opts.presses, 300)
    opts.every = opts.every or max(1, opts.presses // 40)
    if opts.report:
        rows = json.loads(opts.report.read_text(encoding="utf-8"))
        opts.presses = rows[0].get("presses") or max(row["samples"][-1][0] for row in rows)
        opts.interval = rows[0].get("interval")  # None: saved before it was kept
        if rows[0].get("rule") != RULE:
            print("(saved by an earlier version of this bench: judged here by today's rule, "
                  "which it may not have been judged by)")  # fmt: skip
        report([(row.pop("role"), tuple(row.pop("size")), row) for row in rows], opts)
        return 0
    if opts.worker == "baseline":
        result = worker_baseline(_size(opts.size), opts.presses, opts.interval, opts.every)
        print(json.dumps(result))
        return 0
    if opts.worker:
        result = worker(opts.worker, _size(opts.size), opts.presses, opts.interval, opts.every,
                        opts.config)  # fmt: skip
        print(json.dumps(result))
        return 0
    roles = [r for r in opts.roles.split(",") if r and r != "baseline"]
    baseline = "baseline" in opts.roles.split(",")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        parser.error(f"unknown roles {unknown}: choose from {', '.join(ROLES)}")
    sizes = [_size(s) for s in opts.sizes.split(",") if s]
    from bench.branch_rig import BranchRig

    results: list[tuple[str, tuple[int, int], dict]] = []
    turn = 0
    with tempfile.TemporaryDirectory(prefix="bench-frame-") as tmp:
        for size in sizes:
            if baseline:
                results.append(("baseline", size, _run_worker("baseline", size, opts, None)))
            for role in roles:
                # a branch of its own for each role and size: the controller's day starts
                # afresh (a kiosk run issues thousands of tickets, which a branch never holds)
                rig = BranchRig(Path(tmp) / f"branch-{role}-{size[0]}x{size[1]}").start()
                try:
                    rig.stock(3)
                    print(f"  {role} {size[0]}x{size[1]} ...", flush=True)
                    sides: list[tuple[str, Path | None]] = [(role, None)]
                    if opts.against is not None:  # the side that goes first takes turns
                        sides.append((f"{role} (against)", opts.against.resolve()))
                        turn += 1
                        if turn % 2:
                            sides.reverse()
                    runs = {}
                    for name, tree in sides:  # each run a device of its own, with a new store
                        device = f"bench-{role}-{size[0]}x{size[1]}" + ("-against" if tree else "")
                        extra = _device_extra(Path(tmp))
                        config = rig.device_config(device, roles=["counter"], extra=extra)
                        runs[name] = _run_worker(role, size, opts, config, tree)
                    results += [(name, size, runs[name]) for name in sorted(runs)]
                finally:
                    rig.stop()
    if opts.save:
        kept = {"presses": opts.presses, "interval": opts.interval, "every": opts.every,
                "warm_up": WARM_UP, "rule": RULE}  # fmt: skip
        rows = [{"role": role, "size": list(size), **kept, **r} for role, size, r in results]
        opts.save.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    report(results, opts)
    return 0


def report(results: list[tuple[str, tuple[int, int], dict]], opts) -> None:
    every = f"one every {opts.interval * 1000:.0f} ms" if opts.interval else "interval not saved"
    print(
        f"{opts.presses} inputs per run, {every}; MQTT on "
        "(Mosquitto, TLS, centre, controller), voice to a null sink; SDL dummy video driver"
    )
    print(
        f"{'':30}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'outcome p50/p99':>17}"
        f"{'RSS start':>10}{'RSS end':>9}{'peak':>7}{'Theil-Sen':>10}{'least squares':>16}"
        f"{'2nd half':>16}"
    )
    verdicts = []
    unjudged: list[str] = []
    for role, size, r in results:
        start = r["samples"][1][1] if len(r["samples"]) > 1 else r["samples"][0][1]
        per_10k, se = slope(r["samples"])
        late, late_se = slope(r["samples"], 0.5)
        robust = robust_slope(r["samples"])
        name = f"{role} {size[0]}x{size[1]}"
        if r.get("dropped"):
            name += f" ({r['dropped']} dropped)"
        outcome = r.get("outcome") or {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"]}
        print(
            f"{name:30}{r['p50_ms']:8.2f}{r['p99_ms']:8.2f}{r['max_ms']:8.1f}"
            f"{outcome['p50_ms']:9.1f}/{outcome['p99_ms']:<7.1f}{start:10.1f}"
            f"{r['rss_mb']:9.1f}{r['peak_rss_mb']:7.1f}{robust:+10.3f}{per_10k:+9.3f} ±{se:5.3f}"
            f"{late:+9.3f} ±{late_se:5.3f}"
        )
        if role == "baseline" or role.endswith("(against)"):
            continue
        verdicts.append((f"{name}: p99 < {P99_TARGET_MS:.0f} ms", r["p99_ms"] < P99_TARGET_MS))
        if opts.presses >= GROWTH_RUN:  # as asked (a dropped key or a last sample short of it
            # does not leave a soak unjudged)
            verdicts.append((f"{name}: no RSS growth", flat(r["samples"])))
        else:
            unjudged.append(name)
        if role == "counter" and size == (800, 480):
            app_peak = r["peak_rss_mb"] - r.get("bench_mb", 0.0)
            verdicts.append(
                (f"{name}: peak RSS < {RSS_TARGET_MB:.0f} MB", app_peak < RSS_TARGET_MB)
            )
    print(
        "p50/p99/max: input -> the first frame answering it (its outcome, or, while the "
        "controller answers, the console or kiosk saying it is being worked on: 正在叫号…); "
        "outcome: input -> the frame drawing its outcome (the controller's answer included)"
    )
    print(
        f"RSS start is after the first sample's presses (caches warm); slopes in MB per 10,000 "
        f"inputs from {WARM_UP:.0%} of each run's inputs on (the caches fill before): Theil-Sen "
        f"(judges the run: under {FLAT_MB_PER_100K / 10:g} MB), least squares with its standard "
        f"error, and the second half's least squares for comparison"
    )
    for role, size, r in results:
        if r.get("bench_mb"):
            print(f"{role} {size[0]}x{size[1]}: of the peak, {r['bench_mb']:.1f} MB are the "
                  f"bench's own series (its latencies, in the app's process): the app "
                  f"{r['peak_rss_mb'] - r['bench_mb']:.1f} MB")  # fmt: skip
    print(
        "\nthe app's own frame per input (p50/p99 ms): its work from taking the input up to the "
        "frame on screen (wall), its main thread's CPU time, and the waits in it for the "
        "controller's answer and the store's commit (with the input worker, those waits are on "
        "the worker's thread, not in the frame)"
    )
    print(f"{'':30}{'frame':>14}{'CPU':>14}{'queue':>14}{'store':>14}{'worker: queue':>16}"
          f"{'store':>14}")  # fmt: skip
    for role, size, r in results:
        if "parts" not in r:
            continue
        cells = "".join(f"{r['parts'][n]['p50']:7.1f}/{r['parts'][n]['p99']:<6.1f}" for n in PARTS)
        off = r.get("off_frame", {})
        cells += "".join(
            f"{off[n]['p50']:9.1f}/{off[n]['p99']:<6.1f}"
            for n in ("queue_ms", "store_ms")
            if n in off
        )
        print(f"{role + f' {size[0]}x{size[1]}':30}{cells}")
    heaps = [(role, size, r) for role, size, r in results if len(r.get("heap", ())) > 1]
    if heaps:
        print(
            f"\nwhere the memory is (end of run, and Theil-Sen slope per 10,000 inputs from "
            f"{WARM_UP:.0%} of the run on): SQLite's own allocations, the C heap in use and free, "
            f"Python's allocated blocks, the screens' rendered text (MB, entries: a bounded cache)"
        )
        for role, size, r in heaps:
            shown: list[str] = []
            for key, last in r["heap"][-1][1].items():
                per_10k = robust_slope([(n, parts[key]) for n, parts in r["heap"] if key in parts])
                unit = "" if key in ("py_blocks", "text_cache_n", "fit_cache_n") else " MB"
                shown.append(f"{key} {last:,.1f}{unit} ({per_10k:+,.3f})")
            print(f"{role + f' {size[0]}x{size[1]}':30}" + "; ".join(shown))
    if unjudged:
        print(f"RSS growth not judged in runs of fewer than {GROWTH_RUN:,} inputs (the caches and "
              f"the heap settle over the first tens of thousands): {', '.join(unjudged)}; see "
              f"the soak in bench/README.md")  # fmt: skip
    missed = [name for name, ok in verdicts if not ok]
    met = "MET (growth not judged)" if unjudged else "MET"
    print(f"targets: {met if not missed else 'NOT MET: ' + '; '.join(missed)}")


if __name__ == "__main__":
    sys.exit(main())
