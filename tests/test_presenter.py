"""Domain state to screen views: what the customer, the teller and the hall see when."""

import pytest

from device.presenter import (
    CallLog,
    board_view,
    console_view,
    kiosk_view,
    pad_mode,
    pad_view,
    upcoming,
)
from domain.branch import Branch, Key
from domain.counter import Teller
from domain.estimate import WaitEstimator
from screens.views import PadView, field_names


@pytest.fixture
def branch(config, clock):
    b = Branch(config)
    b.press(1, Key.SIGN_IN, clock.now(), Teller("1001", "张三", 4))
    return b


def modes(branch, config, clock):
    return pad_mode(config, branch.sessions[1], clock.now())


def test_the_pad_follows_the_customer_through_a_transaction(branch, config, clock):
    assert modes(branch, config, clock) == "idle"
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    view = pad_view(config, branch.sessions[1], clock.now())
    assert (view.mode, view.ticket, view.teller_name, view.stars) == ("welcome", "A001", "张三", 4)
    branch.press(1, Key.FINISH, clock.now())
    clock.advance(3)
    view = pad_view(config, branch.sessions[1], clock.now())
    assert view.mode == "rate" and view.seconds_left == pytest.approx(7)
    assert [k.value for k in view.levels] == [5, 4, 3, 2, 1]
    branch.press(1, Key.RATE, clock.now(), 5)
    assert modes(branch, config, clock) == "thanks"
    clock.advance(5)
    assert modes(branch, config, clock) == "idle"


def test_a_bad_rating_offers_reasons_then_thanks(branch, config, clock):
    branch.press(1, Key.TICKETLESS, clock.now())
    branch.press(1, Key.FINISH, clock.now())
    branch.press(1, Key.RATE, clock.now(), 1)
    assert modes(branch, config, clock) == "reason"
    branch.press(1, Key.REASON, clock.now(), 0)
    assert modes(branch, config, clock) == "thanks"
    clock.advance(16)
    assert modes(branch, config, clock) == "idle"


def test_paused_and_signed_out(branch, config, clock):
    branch.press(1, Key.PAUSE, clock.now(), "午餐")
    assert modes(branch, config, clock) == "paused"
    branch.press(1, Key.SIGN_OUT, clock.now())
    assert modes(branch, config, clock) == "signed_out"


def test_the_pad_view_has_no_service_timing_by_construction():
    assert not [f for f in field_names(PadView) if "limit" in f or "elapsed" in f]


def test_the_console_runs_the_service_timer_against_the_limit(branch, config, clock):
    for code in ("cash", "general", "cash"):
        branch.issue(code, clock.now(), "elderly" if code == "general" else None)
    branch.press(1, Key.CALL_NEXT, clock.now())
    branch.press(1, Key.START, clock.now())
    clock.advance(250)
    queue = branch.queue
    view = console_view(
        config,
        branch.sessions[1],
        clock.now(),
        waiting=queue.waiting_counts(),
        next_tickets=upcoming(queue, 1, clock.now()),
    )
    assert view.ticket == "B001" and view.priority_name == "老年人"  # elderly first
    assert view.state == "serving" and view.service_elapsed_s == 250
    assert view.service_limit_s == 600 and view.business_type_name == "综合业务"
    assert list(view.next_tickets) == ["A001", "A002"]
    assert {q.code: q.waiting for q in view.queues} == {"cash": 2, "general": 0}
    assert view.timer_exact is True


def test_the_console_timer_follows_the_call_band_and_power_cuts(branch, config, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    clock.advance(40)
    view = console_view(config, branch.sessions[1], clock.now(), waiting={})
    assert view.state == "called" and view.service_elapsed_s == 40  # no start key: from the call
    last = clock.advance(30)
    clock.reboot("boot-2", downtime_s=20)
    branch.boot_ends.note(last)
    clock.advance(10)
    view = console_view(config, branch.sessions[1], clock.now(), waiting={})
    assert view.service_elapsed_s is not None and view.service_elapsed_s >= 80
    assert view.timer_exact is False  # shown as an estimate


def test_board_shows_the_latest_call_first_and_recalls_move_up(config, clock):
    log = CallLog()
    for number, counter in (("A001", 1), ("B001", 2), ("A001", 1)):
        log.add(number, counter)
    view = board_view(config, clock.now(), log.calls(), {"cash": 3}, WaitEstimator(config))
    assert view.current_call is not None
    assert view.current_call.ticket == "A001" and view.current_call.counter_zh == "1号窗口"
    assert [c.ticket for c in view.recent_calls] == ["B001"]
    assert {q.code: q.expected_wait_min for q in view.waiting}["cash"] == 4


def test_board_names_a_counter_its_configuration_does_not_list(config, clock):
    assert 7 not in [c.number for c in config.counters]
    calls = [("A003", 7), ("A002", 2), ("A001", 9)]  # heard over MQTT from another counter
    view = board_view(config, clock.now(), calls, {}, WaitEstimator(config))
    assert view.current_call is not None
    assert (view.current_call.counter_zh, view.current_call.counter_en) == ("7号窗口", "Window 7")
    assert [c.counter_zh for c in view.recent_calls] == ["2号窗口", "9号窗口"]


def test_kiosk_offers_every_type_with_its_expected_wait(config, clock):
    view = kiosk_view(config, clock.now(), {"cash": 2, "general": 0}, WaitEstimator(config))
    lines = {q.code: (q.waiting, q.expected_wait_min) for q in view.business_types}
    assert lines["cash"] == (2, 2) and lines["general"] == (0, 0)
    assert [p.code for p in view.priority_classes] == ["elderly", "vip"]


def test_a_long_line_asks_for_a_flexible_window_on_the_console(branch, config, clock):
    view = console_view(config, branch.sessions[1], clock.now(), waiting={"cash": 26, "general": 3})
    assert view.message == "现金业务排队26人，请开弹性窗口" and view.message_level == "warn"
    quiet = console_view(config, branch.sessions[1], clock.now(), waiting={"cash": 25})
    assert quiet.message is None
