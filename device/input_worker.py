"""The app's input applied on a thread of its own, in order, so the frame loop never waits.

A key press that calls the next ticket waits for the queue controller's answer over MQTT (tens
to hundreds of milliseconds on a busy branch network). Applied on the frame loop, that wait
froze the screen: the press was answered only when the answer came. With an
:class:`InputWorker`, the frame loop hands each input over as a :class:`Job` and draws at once
(the console says 正在叫号… while the controller answers); the worker applies the jobs one after
the other, holding :attr:`InputWorker.lock` while the branch changes, and wakes the loop when
one is done so that its result is drawn straight away.

Every job runs in the order it was submitted; a job that raises is logged and the next runs.
Jobs that queued up meanwhile run in one go, as the frame loop once applied every key it found
waiting in one frame: the outcome is published (``publish``) and the loop woken when the queue
is empty or before a job that waits for the controller, so a worker that fell behind catches up
instead of paying the hand-over for each key.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.keys import KeyPress

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Job:
    """One input to apply: ``run`` changes the app; ``label`` (e.g. 正在叫号…) is shown on
    ``panel`` (the kind of panel that shows its outcome) while it waits for the controller
    (``None``: a job that only waits for the local store, too short to say anything);
    ``press`` is the input it answers, if any."""

    run: Callable[[], object]
    label: str | None = None
    press: KeyPress | None = None
    panel: str | None = None
    number: int = field(default=0, init=False)


class InputWorker:
    """Runs :class:`Job` s on one thread, in order, each under :attr:`lock`."""

    def __init__(
        self,
        wake: Callable[[], None],
        publish: Callable[[int], None] = lambda done: None,
        name: str = "input",
    ) -> None:
        self.lock = threading.RLock()
        """Held while jobs run: whoever reads the app's state takes it too."""
        self._wake = wake
        self._publish = publish  # under the lock: the outcome of the jobs up to this number
        self._cv = threading.Condition()
        self._queue: deque[Job] = deque()
        self._submitted = 0
        self.done = 0
        """How many jobs have finished (their numbers are 1..done)."""
        self._closed = False
        self._started: float | None = None  # monotonic start of the job running, if any
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Job:
        """Queue ``job`` behind the others; returns it, numbered."""
        with self._cv:
            if self._closed:
                raise RuntimeError("the input worker is closed")
            self._submitted += 1
            job.number = self._submitted
            self._queue.append(job)
            self._cv.notify_all()
        return job

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished (the one running included)."""
        with self._cv:
            return self._submitted - self.done

    def waiting(self, panel: str) -> tuple[str | None, int]:
        """For ``panel``: the label of its first unfinished job that has one (what the panel
        says meanwhile; ``None``: nothing to say), and how many of its jobs are unfinished."""
        with self._cv:
            mine = [job for job in self._queue if job.panel == panel]
        return next((job.label for job in mine if job.label), None), len(mine)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every job submitted so far has finished; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self.done == self._submitted, timeout)

    def stuck(self, seconds: float) -> bool:
        """Whether one job has been running for more than ``seconds`` (the app is stuck)."""
        with self._cv:
            started = self._started
        return started is not None and time.monotonic() - started > seconds

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return  # closed, and nothing left to apply
            with self.lock:
                self._run_queued()

    def _run_queued(self) -> None:
        """Run the jobs queued, and those queued meanwhile (under the lock)."""
        while True:
            with self._cv:
                if not self._queue:
                    return
                job = self._queue[0]
                self._started = time.monotonic()
            try:
                job.run()
            except Exception:  # one bad input must never stop the counter
                log.exception("input %s ignored", job.press or job.run)
            with self._cv:
                self._queue.popleft()
                self._started = None
                settled = not self._queue or self._queue[0].label is not None
            if settled:  # nothing more, or the next waits for the controller: show it now
                try:
                    self._publish(job.number)
                except Exception:
                    log.exception("publishing the outcome of input %d failed", job.number)
                with self._cv:
                    self.done = job.number
                    self._cv.notify_all()
                self._wake()

    def close(self, timeout: float = 30.0) -> bool:
        """Apply what was submitted, then stop the thread; False if it is still busy after
        ``timeout`` seconds (then it is left running, a daemon thread)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("input worker still applying an input after %.0f s; leaving it", timeout)
            return False
        return True
