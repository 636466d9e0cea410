"""Child processes of a simulation: started by command line, each with its own log file, stopped
in order with SIGINT (the apps close their stores and links), killed only if they hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def counterside(*args: str) -> list[str]:
    """The command line of ``counterside ARGS`` with this interpreter."""
    return [sys.executable, "-m", "device.cli", *args]


class Child:
    """One process; its output goes to ``log`` (appended, kept from run to run)."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: dict[str, str]) -> None:
        self.name, self.argv, self.log, self.env = name, list(argv), log, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=Path(__file__).resolve().parent.parent,
                start_new_session=True,  # a Ctrl-C at the terminal is ours to pass on, in order
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def interrupt(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> int | None:
        """Wait for it to end; kill it if it has not after ``timeout``. Its exit code."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        self.interrupt()
        return self.wait(timeout)


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SDL_VIDEODRIVER", "dummy")
    env.setdefault("SDL_AUDIODRIVER", "dummy")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
