"""SIGKILL a writer process at random moments: the store must never lose a reported event.

A writer (tests/store_writer.py) prints ``SEQ ID`` for each event only after ``append`` returned.
Each round starts a writer on the same file, kills it a random 5-150 ms after its first report,
then opens the store and checks the file is sound, every reported event is there with its id and
the seqs run 1..last with no gap or duplicate. Set STORE_CRASH_SEED to replay a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from device.store import EventStore

DEVICE = "caller-0042"
WRITER = Path(__file__).with_name("store_writer.py")
ROUNDS = 60
START_TIMEOUT_S = 30.0


def _run_and_kill(db: Path, delay_s: float, seed: int, stderr_path: Path) -> list[tuple[int, str]]:
    """One writer life: start, wait for its first report, sleep, SIGKILL; what it reported."""
    lines: list[str] = []
    started = threading.Event()
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(db), DEVICE, "--seed", str(seed)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    stdout = proc.stdout
    assert stdout is not None

    def read() -> None:
        for line in stdout:
            lines.append(line)
            started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wrote = started.wait(START_TIMEOUT_S)
        if wrote:
            time.sleep(delay_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        reader.join(timeout=10)
    finally:
        stdout.close()
    assert wrote, f"writer reported nothing: {stderr_path.read_text()}"
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, stderr_path.read_text())
    complete = [line.split() for line in lines if line.endswith("\n")]
    return [(int(seq), id_) for seq, id_ in complete]


@pytest.mark.travel_free  # the writer is a child process, which --travel does not move
def test_sigkill_at_random_moments_loses_nothing_reported(tmp_path: Path) -> None:
    seed = int(os.environ.get("STORE_CRASH_SEED", random.randrange(2**32)))
    print(f"store crash test: seed {seed} (STORE_CRASH_SEED={seed} to replay)")
    rng = random.Random(seed)
    db = tmp_path / "events.db"
    reported: dict[int, str] = {}

    for round_ in range(ROUNDS):
        delay = rng.uniform(0.005, 0.150)
        lines = _run_and_kill(db, delay, rng.randrange(2**32), tmp_path / "writer.err")
        context = f"seed {seed}, round {round_}, kill {delay * 1000:.0f} ms after first report"
        for seq, id_ in lines:
            assert reported.setdefault(seq, id_) == id_, f"seq {seq} reported twice ({context})"

        with EventStore(db, DEVICE) as store:
            assert store.integrity_ok(), context
            events = store.events()
            last = store.last_seq()
        seqs = [e.seq for e in events]
        assert seqs == list(range(1, last + 1)), f"gap or duplicate ({context})"
        assert len({e.id for e in events}) == len(events), f"duplicate id ({context})"
        stored = {e.seq: e.id for e in events}
        lost = {seq: id_ for seq, id_ in reported.items() if stored.get(seq) != id_}
        assert not lost, f"reported events missing or changed: {lost} ({context})"
        assert last >= max(reported), context
