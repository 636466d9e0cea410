"""Input applied off the frame loop: the loop draws while the queue controller takes its time.

The controller is a branch queue whose calls and issues wait until the test lets them answer
(as a controller over a slow network does); everything else is real: the store, the screens
drawing real frames, the key queue.
"""

import functools
import os
import threading
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame
import pytest

from config.loader import load_config
from device.app import DeviceApp
from device.input_worker import InputWorker, Job
from device.runtime import ISSUING, PanelApp
from device.store import EventStore
from domain.clock import ManualClock
from domain.counter import State
from domain.queue import BranchQueue
from screens.views import ConsoleView
from tests.serial_pty import wait_until

SIZE = (800, 480)
HOLD_S = 30.0  # a bound: the test releases the controller long before


class HeldController(BranchQueue):
    """The branch's queue answering only when :attr:`answer` is set, as a remote one would."""

    remote = True

    def __init__(self, config) -> None:
        super().__init__(config)
        self.answer = threading.Event()
        self.asked = threading.Event()

    def _held(self) -> None:
        self.asked.set()
        if not self.answer.wait(HOLD_S):
            raise AssertionError("the test never let the controller answer")

    def call_next(self, counter, at):
        self._held()
        return super().call_next(counter, at)

    def issue(self, business_type, at, priority=None):
        self._held()
        return super().issue(business_type, at, priority)


@pytest.fixture
def held(tmp_path):
    pygame.init()
    config = load_config()
    clock = ManualClock()
    queue = HeldController(config)
    store = EventStore(tmp_path / "counter.sqlite", config.device.device_id)
    device = DeviceApp(config, store, clock, queue=queue)
    apps: list[PanelApp] = []

    def make(panels, counter=None):
        surface = pygame.Surface((SIZE[0] * len(panels), SIZE[1]))
        app = PanelApp(config, device, surface, panels=panels, counter=counter, input_thread=True)
        apps.append(app)
        return app

    yield make, queue, device
    queue.answer.set()
    for app in apps:
        app.close()
    store.close()


def signed_in_with_a_ticket_waiting(make, queue, device, panels=("pad", "console")):
    """A counter app signed in, with A001 waiting (issued before the controller is held)."""
    queue.answer.set()
    device.issue("cash")
    queue.answer.clear()
    app = make(list(panels), counter=1)
    app.press("test", "sign_in")
    app.settle()
    return app


def texts(app, kind) -> list[str]:
    return next(p for p in app.panels if p.kind == kind).screen.texts


def test_jobs_run_in_order_one_failing_does_not_stop_the_others() -> None:
    woken = threading.Event()
    worker = InputWorker(woken.set)
    done: list[int] = []

    def fail() -> None:
        raise RuntimeError("a bad input")

    try:
        for i in range(5):
            worker.submit(Job(fail if i == 2 else functools.partial(done.append, i)))
        assert worker.wait_idle(10)
        assert done == [0, 1, 3, 4] and worker.done == 5 and worker.pending == 0
        assert woken.is_set()
    finally:
        worker.close()


def test_jobs_queued_meanwhile_run_in_one_go_and_are_shown_before_a_call_waits() -> None:
    """A worker that fell behind catches up: the jobs queued behind a slow one are applied one
    after the other and their outcome published once, or before the next one that waits."""
    published: list[int] = []
    release = [threading.Event(), threading.Event()]
    worker = InputWorker(lambda: None, publish=published.append)
    try:
        worker.submit(Job(lambda: release[0].wait(10), label="正在叫号…"))  # 1: a call
        for _ in range(3):  # 2-4: keys pressed meanwhile
            worker.submit(Job(lambda: None))
        worker.submit(Job(lambda: release[1].wait(10), label="正在叫号…"))  # 5: another call
        worker.submit(Job(lambda: None))  # 6
        release[0].set()
        wait_until(lambda: published == [4], "the keys' outcome, before the second call waits")
        assert worker.done == 4 and worker.pending == 2
        release[1].set()
        assert worker.wait_idle(10) and published == [4, 6]
    finally:
        for event in release:
            event.set()
        worker.close()


def test_a_job_running_too_long_is_stuck_and_close_applies_what_was_submitted() -> None:
    release = threading.Event()
    worker = InputWorker(lambda: None)
    done: list[str] = []
    worker.submit(Job(lambda: release.wait(10), label="正在叫号…", panel="console"))
    worker.submit(Job(lambda: done.append("after"), panel="console"))
    wait_until(lambda: worker.stuck(0.05), "the first job to count as stuck")
    assert worker.waiting("console") == ("正在叫号…", 2) and worker.waiting("kiosk") == (None, 0)
    assert worker.pending == 2 and not worker.close(0.05)  # still busy: left running
    release.set()
    wait_until(lambda: worker.pending == 0, "the jobs to finish")
    assert done == ["after"] and not worker.stuck(0.0)
    with pytest.raises(RuntimeError):
        worker.submit(Job(lambda: None))


def test_the_console_says_it_is_calling_at_once_and_draws_on_while_the_controller_answers(
    held,
) -> None:
    make, queue, device = held
    app = signed_in_with_a_ticket_waiting(make, queue, device, ("kiosk", "pad", "console"))
    app.press("test", "call_next")
    app.press("test", "start")  # pressed while the call waits: applied after it, in order
    app.press("test", "rate", 5)  # the customer's key: the pad says nothing until applied
    answered = app.step()
    assert [p.key for p in answered] == ["call_next", "start"]  # shown taken at once
    calling = "正在叫号… · 另有 1 个按键待处理"  # the start key counted: it shows, taken
    assert app.results == [] and calling in texts(app, "console")
    assert not any("…" in t for t in texts(app, "kiosk") + texts(app, "pad"))  # the teller's
    assert queue.asked.wait(10)
    frames = app.frames
    for _ in range(3):  # the loop goes on drawing while the controller has not answered
        assert app.step() == [] and not queue.answer.is_set()
    assert app.frames == frames + 3 and calling in texts(app, "console")
    queue.answer.set()
    wait_until(lambda: app.worker.pending == 0, "the inputs to be applied")
    app.step()
    assert [p.key for p in app.results] == ["call_next", "start", "rate"]
    session = device.branch.sessions[1]
    assert session.state is State.SERVING and session.current.ticket.number == "A001"
    console = texts(app, "console")
    assert "正在叫号…" not in console and any("A001" in t for t in console)


def test_a_local_key_is_answered_with_its_outcome_not_with_a_label(held) -> None:
    make, queue, device = held
    queue.answer.set()
    app = make(["pad", "console"], counter=1)
    app.press("test", "sign_in")
    deadline = time.monotonic() + 10
    answered: list = []
    while not answered and time.monotonic() < deadline:
        answered = app.step()  # a store commit only: no label; answered once applied
    assert [p.key for p in answered] == ["sign_in"] and app.results == answered
    assert device.branch.sessions[1].state is State.IDLE  # signed in
    assert not any("…" in t for t in texts(app, "console"))


def test_the_kiosk_says_it_is_issuing_then_shows_the_ticket(held) -> None:
    make, queue, _device = held
    app = make(["kiosk"])
    app.step()
    kiosk = next(p for p in app.panels if p.kind == "kiosk")
    target = next(rect for rect, hit in kiosk.screen.hits if hit == ("issue", "cash"))
    app.touch(target.center)
    answered = app.step()
    assert [(p.source, p.arg) for p in answered] == [("touch", ("issue", "cash"))]
    assert any(ISSUING in t for t in texts(app, "kiosk")) and app.issued is None
    queue.answer.set()
    app.settle()
    assert app.issued is not None and app.issued.number == "A001"
    assert not any(ISSUING in t for t in texts(app, "kiosk"))


def tap(app, kind, action) -> tuple[int, int]:
    panel = next(p for p in app.panels if p.kind == kind)
    rect = next(r for r, hit in panel.screen.hits if hit == action)
    return rect.centerx + panel.rect.x, rect.centery + panel.rect.y


def test_a_second_tap_while_the_kiosk_issues_is_ignored(held) -> None:
    make, queue, device = held
    app = make(["kiosk"])
    app.step()
    cash = tap(app, "kiosk", ("issue", "cash"))
    app.touch(cash)
    app.step()
    app.touch(cash)  # an impatient customer, while 正在取号… shows
    assert app.step() == []  # not taken: no second ticket on its way
    queue.answer.set()
    app.settle()
    assert [e.ticket.number for e in device.branch.queue.waiting()] == ["A001"]


def test_each_key_taken_behind_a_call_shows_and_a_restart_waits_for_the_call(held) -> None:
    make, queue, device = held
    app = signed_in_with_a_ticket_waiting(make, queue, device)
    app.press("test", "call_next")
    assert [p.key for p in app.step()] == ["call_next"]
    assert "正在叫号…" in texts(app, "console")
    app.press("test", "start")
    assert [p.key for p in app.step()] == ["start"]  # the console counts it
    assert "正在叫号… · 另有 1 个按键待处理" in texts(app, "console")
    app.restart_flag.append(True)  # a new configuration: stop only when nobody is served
    assert not app._quiet()  # the counter is idle, but its call is with the controller
    pending = app.worker.pending
    time.sleep(0.25)  # more than a tick while the worker is busy
    app.step()
    assert app.worker.pending == pending + 1  # the tick and the prints, in their turn
    queue.answer.set()
    app.settle()
    assert device.branch.sessions[1].state is State.SERVING and not app._quiet()


def test_a_key_applied_in_the_frame_is_drawn_even_when_the_worker_wins_the_lock(held) -> None:
    """Sign-in (the store only: applied in the frame) and a call (to the worker) in one frame;
    the worker takes the lock first, so the frame draws the views the worker left: they hold
    the sign-in, which is reported drawn only because they do."""
    make, queue, device = held
    queue.answer.set()
    device.issue("cash")
    queue.answer.clear()
    app = make(["pad", "console"], counter=1)
    app.step()  # the signed-out console
    queue.asked.clear()  # (the issue above asked too)
    submit = app.worker.submit

    def submit_and_let_the_worker_run(job):
        submitted = submit(job)
        assert queue.asked.wait(10)  # the worker holds the lock, waiting for the controller
        return submitted

    app.worker.submit = submit_and_let_the_worker_run
    drawn: list = []
    draw = app.draw

    def draw_and_keep(views):
        drawn.append(views)
        return draw(views)

    app.draw = draw_and_keep
    app.press("test", "sign_in")
    app.press("test", "call_next")
    app.step()
    assert "sign_in" in [p.key for p in app.results]
    console = next(v for v in drawn[-1] if isinstance(v, ConsoleView))
    assert console.state == "idle" and console.message == "正在叫号…"  # signed in, calling
    queue.answer.set()
    app.settle()


def test_a_simulators_call_goes_through_the_worker_and_the_loop_draws_on(held, tmp_path) -> None:
    from device.control import ControlChannel

    make, queue, device = held
    app = signed_in_with_a_ticket_waiting(make, queue, device)
    app.control = ControlChannel(tmp_path / "control.sock", app.keys.wake)
    answers: list[dict] = []
    asker = threading.Thread(
        target=lambda: answers.append(app.control.ask({"op": "press", "key": "call_next"}))
    )
    asker.start()
    try:
        wait_until(lambda: app.control.waiting(), "the request to arrive")
        app.step()
        assert queue.asked.wait(10)
        assert app.step() == [] and not answers  # drawn on while the controller answers
        assert "正在叫号…" in texts(app, "console")
        queue.answer.set()
        asker.join(10)
        assert answers and answers[0]["ok"] and answers[0]["session"]["ticket"] == "A001"
    finally:
        queue.answer.set()
        app.control.close()


def test_a_stalled_controller_never_lets_the_inputs_grow_without_bound(held) -> None:
    from device.runtime import MAX_PENDING_INPUTS

    make, queue, device = held
    app = signed_in_with_a_ticket_waiting(make, queue, device)
    app.press("test", "call_next")  # held: everything behind it waits
    app.step()
    for _ in range(3 * MAX_PENDING_INPUTS):
        app.press("test", "start")
        app.step()
    assert MAX_PENDING_INPUTS <= app.worker.pending <= MAX_PENDING_INPUTS + 1  # + a tick
    assert len(app.keys) > 2 * MAX_PENDING_INPUTS - 5  # the rest wait in the bounded key queue
    assert not app._input_waiting()  # and do not keep the loop spinning
    queue.answer.set()
    deadline = time.monotonic() + 30
    while (len(app.keys) or app.worker.pending) and time.monotonic() < deadline:
        app.step(0.01)
    assert len(app.keys) == app.worker.pending == app.keys.dropped == 0  # all applied, in turn
    assert device.branch.sessions[1].state is State.SERVING
