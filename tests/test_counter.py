import pytest

from domain.branch import Branch, Key
from domain.counter import State, Teller
from domain.events import to_json_object
from domain.queue import BranchQueue, QueueUnavailable
from tests.factories import make_config

TELLER = Teller("1001", "张三", 4)


def types(events):
    return [e.type for e in events]


def one(events, type_):
    found = [e for e in events if e.type == type_]
    assert len(found) == 1, types(events)
    return to_json_object(found[0].payload)  # as stored and sent


@pytest.fixture
def branch(config, clock):
    b = Branch(config)
    b.press(1, Key.SIGN_IN, clock.now(), TELLER)
    return b


def serve(branch, clock, counter=1, code="cash"):
    """Issue, call, start and finish one ticket at ``counter``; returns the finish events."""
    branch.issue(code, clock.now())
    clock.advance(60)
    branch.press(counter, Key.CALL_NEXT, clock.now())
    clock.advance(20)
    branch.press(counter, Key.START, clock.now())
    clock.advance(90)
    return branch.press(counter, Key.FINISH, clock.now())


def test_a_full_transaction_records_every_duration(branch, clock):
    finish = serve(branch, clock)
    assert types(finish) == ["service.finished", "rating.invited", "ticket.served"]
    assert one(finish, "rating.invited")["window_s"] == 10
    clock.advance(4)
    events = branch.press(1, Key.RATE, clock.now(), 4)
    press, closed = one(events, "rating.press"), one(events, "transaction.closed")
    assert press["outcome"] == "accepted" and press["ticket"] == "A001"
    assert closed["rating"] == 4 and closed["satisfied"] is True and closed["teller"] == "1001"
    assert (closed["waiting_s"], closed["walk_up_s"], closed["service_s"]) == (60, 20, 90)
    assert closed["rating_delay_s"] == 4 and closed["rating_status"] == "rated"
    assert branch.sessions[1].state is State.IDLE


def test_a_second_press_is_kept_as_duplicate_and_changes_nothing(branch, clock):
    serve(branch, clock)
    branch.press(1, Key.RATE, clock.now(), 5)
    events = branch.press(1, Key.RATE, clock.now(), 1)
    assert types(events) == ["rating.press"]
    assert events[0].payload["outcome"] == "duplicate"
    assert branch.sessions[1].last_closed.rating == 5


def test_no_rating_within_the_window_is_recorded_as_unrated(branch, clock):
    serve(branch, clock)
    clock.advance(10.5)
    closed = one(branch.tick(clock.now()), "transaction.closed")
    assert closed["rating"] is None and closed["rating_status"] == "unrated"
    events = branch.press(1, Key.RATE, clock.now(), 5)
    assert events[0].payload["outcome"] == "out_of_window"


def test_a_late_press_before_any_tick_still_closes_unrated(branch, clock):
    serve(branch, clock)
    clock.advance(11)
    events = branch.press(1, Key.RATE, clock.now(), 5)
    assert types(events) == ["transaction.closed", "rating.press"]
    assert events[0].payload["rating_status"] == "unrated"
    assert events[1].payload["outcome"] == "out_of_window"


def test_the_rating_window_is_configurable(clock):
    b = Branch(make_config(window_s=30))
    b.press(1, Key.SIGN_IN, clock.now(), TELLER)
    serve(b, clock)
    clock.advance(25)
    assert b.press(1, Key.RATE, clock.now(), 3)[0].payload["outcome"] == "accepted"


@pytest.mark.parametrize(
    ("setup", "outcome"),
    [
        ([], "no_transaction"),
        ([(Key.PAUSE, "午餐")], "paused"),
        ([(Key.TICKETLESS, None)], "not_invited"),
    ],
)
def test_presses_outside_a_prompt_are_kept_with_their_outcome(branch, clock, setup, outcome):
    for key, arg in setup:
        branch.press(1, key, clock.now(), arg)
    events = branch.press(1, Key.RATE, clock.now(), 5)
    assert types(events) == ["rating.press"] and events[0].payload["outcome"] == outcome


def test_an_invalid_level_is_kept_and_does_not_close_the_prompt(branch, clock):
    serve(branch, clock)
    assert branch.press(1, Key.RATE, clock.now(), 9)[0].payload["outcome"] == "invalid_level"
    assert branch.press(1, Key.RATE, clock.now(), 2)[0].payload["outcome"] == "accepted"


def test_the_teller_cannot_cut_the_rating_window_short(branch, clock):
    serve(branch, clock)  # the prompt opens: the customer has 10 s
    branch.issue("cash", clock.now())
    clock.advance(0.5)
    for key in (Key.CALL_NEXT, Key.TICKETLESS, Key.SIGN_OUT):
        refused = one(branch.press(1, key, clock.now()), "action.rejected")
        assert refused["reason"] == "the customer may still rate for 10 s: wait for the rating"
    assert [e.ticket.number for e in branch.queue.waiting()] == ["A002"]  # not handed out
    clock.advance(1.5)
    press = one(branch.press(1, Key.RATE, clock.now(), 5), "rating.press")
    assert press["outcome"] == "accepted" and press["ticket"] == "A001"  # not "not_invited"


def test_after_the_window_the_next_call_closes_the_prompt_as_unrated(branch, clock):
    serve(branch, clock)
    branch.issue("cash", clock.now())
    clock.advance(9)
    assert types(branch.press(1, Key.CALL_NEXT, clock.now())) == ["action.rejected"]
    clock.advance(1.5)  # the window is over (no tick came between)
    events = branch.press(1, Key.CALL_NEXT, clock.now())
    assert types(events) == ["transaction.closed", "ticket.called", "counter.called"]
    assert events[0].payload["rating_status"] == "unrated"


def test_recall_up_to_the_limit_then_refused(branch, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    for n in (2, 3):
        clock.advance(30)
        assert one(branch.press(1, Key.RECALL, clock.now()), "ticket.recalled")["call"] == n
    refused = branch.press(1, Key.RECALL, clock.now())
    assert one(refused, "action.rejected")["reason"] == "recall limit of 2 reached"


def test_waiting_ends_at_the_first_call_a_recall_is_walk_up(branch, clock):
    branch.issue("cash", clock.now())
    clock.advance(14 * 60)
    branch.press(1, Key.CALL_NEXT, clock.now())
    clock.advance(2 * 60)  # called at 14:00, recalled at 16:00: waited 14 minutes, not 16
    branch.press(1, Key.RECALL, clock.now())
    clock.advance(5)
    branch.press(1, Key.FINISH, clock.now())  # no start key: service starts at the last call
    closed = one(branch.press(1, Key.RATE, clock.now(), 5), "transaction.closed")
    assert closed["waiting_s"] == closed["total_waiting_s"] == 840
    assert closed["wait_over_limit"] is False  # the limit is 15 minutes
    assert (closed["walk_up_s"], closed["service_s"]) == (120, 5)
    assert closed["start_implicit"] is True and closed["calls"] == 2


def test_skip_records_a_no_show_without_a_rating_prompt(branch, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    events = branch.press(1, Key.SKIP, clock.now())
    assert types(events) == ["transaction.closed", "ticket.no_show"]
    assert events[0].payload["outcome"] == "no_show"
    assert events[0].payload["rating_status"] == "not_invited"
    assert branch.press(1, Key.RATE, clock.now(), 5)[0].payload["outcome"] == "no_transaction"


def test_transfer_keeps_the_ticket_number_for_the_next_counter(branch, clock):
    branch.press(2, Key.SIGN_IN, clock.now(), Teller("1002", "李四"))
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    branch.press(1, Key.START, clock.now())
    events = branch.press(1, Key.TRANSFER, clock.now(), 2)
    assert one(events, "transaction.closed")["outcome"] == "transferred"
    called = one(branch.press(2, Key.CALL_NEXT, clock.now()), "counter.called")
    assert called["ticket"] == "A001"


def test_a_refused_transfer_leaves_the_counter_serving(branch, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    events = branch.press(1, Key.TRANSFER, clock.now(), "loans")
    assert "unknown business type" in one(events, "action.rejected")["reason"]
    assert branch.sessions[1].state is State.CALLED


def test_service_over_limit_is_raised_once_while_the_service_runs(branch, clock):
    branch.issue("cash", clock.now())  # cash: service limit 5 min
    branch.press(1, Key.CALL_NEXT, clock.now())
    branch.press(1, Key.START, clock.now())
    clock.advance(299)
    assert branch.tick(clock.now()) == []
    clock.advance(2)
    alert = one(branch.tick(clock.now()), "service.over_limit")
    assert alert["limit_s"] == 300 and alert["elapsed_s"] == 301
    clock.advance(60)
    assert branch.tick(clock.now()) == []
    branch.press(1, Key.FINISH, clock.now())
    closed = one(branch.press(1, Key.RATE, clock.now(), 3), "transaction.closed")
    assert closed["service_over_limit"] is True and closed["satisfied"] is False


def test_pause_needs_a_reason_and_long_pauses_are_flagged(branch, clock):
    assert "reason" in one(branch.press(1, Key.PAUSE, clock.now(), ""), "action.rejected")["reason"]
    assert types(branch.press(1, Key.PAUSE, clock.now(), "离柜")) == ["counter.paused"]
    assert branch.sessions[1].state is State.PAUSED
    clock.advance(31 * 60)
    assert types(branch.tick(clock.now())) == ["pause.over_limit"]
    resumed = one(branch.press(1, Key.RESUME, clock.now()), "counter.resumed")
    assert resumed["over_limit"] is True and resumed["reason"] == "离柜"


def test_no_call_while_paused_or_signed_out(branch, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.PAUSE, clock.now(), "会议")
    assert "action.rejected" in types(branch.press(1, Key.CALL_NEXT, clock.now()))
    assert "action.rejected" in types(branch.press(2, Key.CALL_NEXT, clock.now()))  # signed out
    assert len(branch.queue.waiting()) == 1  # the refused calls took nothing from the queue


def test_sign_out_is_refused_with_a_customer_at_the_counter(branch, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    assert "action.rejected" in types(branch.press(1, Key.SIGN_OUT, clock.now()))
    branch.press(1, Key.FINISH, clock.now())
    assert "action.rejected" in types(branch.press(1, Key.SIGN_OUT, clock.now()))  # rating
    events = branch.press(1, Key.SIGN_OUT, clock.advance(11))
    assert types(events) == ["transaction.closed", "counter.signed_out"]


def test_a_ticketless_transaction_is_rated_like_any_other(branch, clock):
    events = branch.press(1, Key.TICKETLESS, clock.now())
    assert one(events, "service.started")["ticketless"] is True
    clock.advance(45)
    branch.press(1, Key.INVITE_RATING, clock.now())
    closed = one(branch.press(1, Key.RATE, clock.now(), 5), "transaction.closed")
    assert closed["ticket"] is None and closed["service_s"] == 45 and closed["waiting_s"] is None
    assert closed["business_type"] == "cash"


def test_durations_survive_wall_clock_jumps_and_reboots(branch, clock):
    branch.issue("cash", clock.now())
    clock.advance(60)
    clock.jump_wall(-7200)  # NTP steps the clock back two hours
    branch.press(1, Key.CALL_NEXT, clock.now())
    clock.advance(10)
    branch.press(1, Key.START, clock.now())
    clock.advance(30)
    clock.reboot("boot-2", downtime_s=20)  # power cut mid-service: only the wall clock spans it
    branch.press(1, Key.FINISH, clock.now())
    closed = one(branch.press(1, Key.RATE, clock.now(), 5), "transaction.closed")
    assert closed["waiting_s"] == 60  # monotonic, unaffected by the jump
    assert closed["service_s"] == 50 and closed["exact"] is False
    assert min(v for k, v in closed.items() if k.endswith("_s") and v is not None) >= 0


def test_unknown_counter_is_refused(branch, clock):
    events = branch.press(7, Key.CALL_NEXT, clock.now())
    assert "counter 7" in one(events, "action.rejected")["reason"]


def test_an_idle_counter_with_customers_waiting_is_flagged_once(branch, clock):
    branch.issue("cash", clock.now())
    branch.tick(clock.now())
    clock.advance(59)
    assert branch.tick(clock.now()) == []
    clock.advance(2)
    alert = one(branch.tick(clock.now()), "counter.idle_with_queue")
    assert alert == {"counter": 1, "idle_s": 61, "waiting": 1, "teller": "1001"}
    clock.advance(60)
    assert branch.tick(clock.now()) == []  # once per idle stretch
    ended = one(branch.press(1, Key.CALL_NEXT, clock.now()), "counter.idle_ended")
    # the whole stretch, and the part the alert did not report: together 121 s of 闲置叫号
    assert ended == {"counter": 1, "idle_s": 121, "after_alert_s": 60, "teller": "1001"}
    branch.issue("cash", clock.now())
    clock.advance(120)
    assert "counter.idle_with_queue" not in types(branch.tick(clock.now()))  # busy, not idle


def test_an_idle_stretch_survives_a_checkpoint_and_a_power_cut_ends_it_unmeasured(
    branch, clock, config
):
    branch.issue("cash", clock.now())
    branch.tick(clock.now())
    clock.advance(61)
    one(branch.tick(clock.now()), "counter.idle_with_queue")
    clock.advance(30)
    again = Branch.from_state(config, branch.to_state())  # a restart on the same boot
    ended = one(again.press(1, Key.PAUSE, clock.now(), "午餐"), "counter.idle_ended")
    assert (ended["idle_s"], ended["after_alert_s"]) == (91, 30)
    branch.tick(clock.now())
    clock.reboot("boot-2", downtime_s=20)
    assert "counter.idle_with_queue" not in types(branch.tick(clock.now()))  # alerted already
    clock.advance(200)
    assert "counter.idle_with_queue" not in types(branch.tick(clock.now()))
    ended = one(branch.press(1, Key.CALL_NEXT, clock.now()), "counter.idle_ended")
    assert (ended["idle_s"], ended["after_alert_s"]) == (200, 200)  # this boot's part, all after


def test_an_idle_stretch_ends_at_closing_time_not_through_the_night(branch, clock):
    """16:30 (closing 17:00): a ticket nobody comes for keeps 'waiting' until the day changes;
    the stretch is counted to closing time, not the 8 hours to midnight and beyond."""
    branch.issue("cash", clock.now())
    branch.tick(clock.now())
    clock.advance(61)
    one(branch.tick(clock.now()), "counter.idle_with_queue")
    events = []
    for _ in range(16):
        clock.advance(3600)
        events += branch.tick(clock.now())
    ended = [to_json_object(e.payload) for e in events if e.type == "counter.idle_ended"]
    assert [(e["idle_s"], e["after_alert_s"]) for e in ended] == [(1800, 1739)]
    assert "counter.idle_with_queue" not in types(events)  # no new stretch overnight


class UnreachableQueue(BranchQueue):
    """A queue service that does not answer (as a remote client reports it)."""

    def call_next(self, counter, at):
        raise QueueUnavailable("queue service unreachable: serve without a ticket")


def test_without_the_queue_service_a_counter_serves_ticketless(config, clock):
    b = Branch(config, queue=UnreachableQueue(config))
    b.press(1, Key.SIGN_IN, clock.now(), TELLER)
    rejected = one(b.press(1, Key.CALL_NEXT, clock.now()), "action.rejected")
    assert rejected["queue_unavailable"] is True and "without a ticket" in rejected["reason"]
    assert b.sessions[1].state is State.IDLE
    b.press(1, Key.TICKETLESS, clock.now())
    b.press(1, Key.FINISH, clock.now())
    closed = one(b.press(1, Key.RATE, clock.now(), 5), "transaction.closed")
    assert closed["ticket"] is None and closed["rating"] == 5


def test_bad_levels_per_scale(config):
    from domain.rating import bad_levels

    assert bad_levels(config.rating) == {1, 2}


def test_one_reason_may_follow_a_bad_rating_shortly_after(branch, clock, config):
    serve(branch, clock)
    branch.press(1, Key.RATE, clock.now(), 2)
    clock.advance(5)
    reason = one(branch.press(1, Key.REASON, clock.now(), 0), "rating.reason")
    assert reason["rating"] == 2 and reason["reason_zh"] == config.rating.bad_reasons[0].zh
    again = one(branch.press(1, Key.REASON, clock.now(), 0), "action.rejected")
    assert again["reason"] == "a reason was already given"


@pytest.mark.parametrize(
    ("rating", "wait", "message"),
    [
        (4, 1, "no bad rating to explain"),
        (1, 16, "too late for a reason"),
    ],
)
def test_reasons_only_for_bad_ratings_and_in_time(branch, clock, rating, wait, message):
    serve(branch, clock)
    branch.press(1, Key.RATE, clock.now(), rating)
    clock.advance(wait)
    assert one(branch.press(1, Key.REASON, clock.now(), 0), "action.rejected")["reason"] == message


def test_with_a_roster_only_its_members_sign_in_as_the_roster_has_them(clock):
    from dataclasses import replace

    from config.model import StaffMember

    config = replace(make_config(), roster=(StaffMember("1001", "王芳", 5, "1001.png"),))
    b = Branch(config)
    gone = one(b.press(1, Key.SIGN_IN, clock.now(), Teller("2002", "离职员工")), "action.rejected")
    assert gone["reason"] == "staff number 2002 is not on the roster"
    signed = one(b.press(1, Key.SIGN_IN, clock.now(), "1001"), "counter.signed_in")
    assert signed["teller"] == {"staff_no": "1001", "name": "王芳", "stars": 5}


# --- every leg keeps its time and its flag (issue 7, items 4 and 6) ------------------------------


def test_a_transfer_keeps_the_service_time_and_its_over_limit_flag(branch, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    branch.press(1, Key.START, clock.now())
    clock.advance(400)  # cash: 300 s
    assert one(branch.tick(clock.now()), "service.over_limit")["elapsed_s"] == 400
    closed = one(branch.press(1, Key.TRANSFER, clock.now(), "general"), "transaction.closed")
    assert closed["outcome"] == "transferred"
    assert (closed["service_s"], closed["service_over_limit"]) == (400, True)
    assert closed["timeline"]["ended"] is not None


def test_a_transfer_straight_from_the_call_counts_the_service_from_the_call(branch, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    clock.advance(200)
    closed = one(branch.press(1, Key.TRANSFER, clock.now(), "general"), "transaction.closed")
    assert (closed["service_s"], closed["start_implicit"]) == (200, True)


def test_without_the_start_key_the_live_warning_counts_from_the_call(branch, clock):
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    clock.advance(301)
    alert = one(branch.tick(clock.now()), "service.over_limit")
    assert alert["implicit_start"] is True and alert["elapsed_s"] == 301
    branch.press(1, Key.FINISH, clock.now())
    closed = one(branch.press(1, Key.RATE, clock.now(), 5), "transaction.closed")
    assert (closed["service_s"], closed["service_over_limit"]) == (301, True)  # the same clock


def test_a_transferred_customers_wait_in_the_branch_is_held_to_the_limit(branch, clock):
    branch.press(2, Key.SIGN_IN, clock.now(), Teller("1002", "李四"))
    branch.issue("cash", clock.now())
    clock.advance(14 * 60)
    branch.press(1, Key.CALL_NEXT, clock.now())
    clock.advance(4 * 60)
    branch.press(1, Key.TRANSFER, clock.now(), 2)  # 14 min waited, 4 min at counter 1
    clock.advance(60)
    alert = one(branch.tick(clock.now()), "ticket.wait_over_limit")  # 19 min in the branch
    assert alert["waited_s"] == 19 * 60 and alert["leg_waited_s"] == 60 and alert["limit_s"] == 900
    clock.advance(13 * 60)
    assert "ticket.wait_over_limit" not in types(branch.tick(clock.now()))  # once per ticket
    branch.press(2, Key.CALL_NEXT, clock.now())
    branch.press(2, Key.FINISH, clock.advance(60))
    closed = one(branch.press(2, Key.RATE, clock.now(), 4), "transaction.closed")
    assert closed["waiting_s"] == 14 * 60  # this leg
    assert closed["total_waiting_s"] == 32 * 60  # the customer's, since the ticket's issue
    assert closed["wait_over_limit"] is True and closed["waiting_exact"] is True


def test_a_service_across_a_power_cut_with_the_clock_set_back_is_not_hidden(config, clock):
    from domain.clock import BootEnds

    branch = Branch(config)
    branch.press(1, Key.SIGN_IN, clock.now(), TELLER)
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    branch.press(1, Key.START, clock.now())
    last_alive = clock.advance(400)  # 6:40 of service, the last event before the power cut
    branch.tick(last_alive)
    clock.reboot("boot-2", downtime_s=30)
    clock.jump_wall(-3600)  # the Pi comes back an hour behind
    clock.advance(20)
    branch.boot_ends.note(last_alive)  # what the app learns from its store at restart
    assert isinstance(branch.boot_ends, BootEnds)
    branch.press(1, Key.FINISH, clock.now())
    closed = one(branch.press(1, Key.RATE, clock.advance(1), 5), "transaction.closed")
    assert closed["service_s"] == 420  # at least 400 s before the cut and 20 s after
    assert closed["service_over_limit"] is True
    assert closed["service_exact"] is False and closed["exact"] is False


# --- pause reasons, amount bands, extensions (issue 7, items 6 and 7) ----------------------------


def test_the_teller_chooses_the_pause_reason_from_the_configured_list(branch, clock):
    paused = one(branch.press(1, Key.PAUSE, clock.now(), 2), "counter.paused")
    assert (paused["reason"], paused["reason_index"]) == ("交接班", 2)
    assert branch.sessions[1].pause_reason == "交接班"
    resumed = one(branch.press(1, Key.RESUME, clock.advance(60)), "counter.resumed")
    assert resumed["reason"] == "交接班" and resumed["paused_s"] == 60
    refused = one(branch.press(1, Key.PAUSE, clock.now(), 9), "action.rejected")
    assert refused["reason"] == "no pause reason number 9"
    words = one(branch.press(1, Key.PAUSE, clock.now(), "现金清点"), "counter.paused")
    assert words["reason_index"] == 3  # named by its text, still known as the configured one


def bands_config():
    return make_config(bands=True)


def test_the_amount_band_sets_the_service_limit_and_rearms_the_warning(clock):
    branch = Branch(bands_config())
    branch.press(1, Key.SIGN_IN, clock.now(), TELLER)
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    branch.press(1, Key.START, clock.now())
    clock.advance(301)
    assert one(branch.tick(clock.now()), "service.over_limit")["limit_s"] == 300
    chosen = one(branch.press(1, Key.BAND, clock.now(), 1), "service.band_chosen")
    assert (chosen["band_name"], chosen["limit_s"]) == ("5万至10万元", 600)
    assert branch.sessions[1].service_limit_s() == 600
    clock.advance(298)
    assert branch.tick(clock.now()) == []
    clock.advance(2)
    assert one(branch.tick(clock.now()), "service.over_limit")["limit_s"] == 600
    branch.press(1, Key.FINISH, clock.now())
    closed = one(branch.press(1, Key.RATE, clock.now(), 5), "transaction.closed")
    assert (closed["band"], closed["band_name"]) == (1, "5万至10万元")
    assert closed["limit_raised_after_alert"] is True  # corrected after the warning: on record
    assert closed["limits"]["service_s"] == 600 and closed["service_over_limit"] is True
    refused = one(branch.press(1, Key.BAND, clock.now(), 0), "action.rejected")
    assert "allowed only when" in refused["reason"]


def test_an_extension_reason_adds_its_time_once_and_is_recorded(clock):
    branch = Branch(bands_config())
    branch.press(1, Key.SIGN_IN, clock.now(), TELLER)
    branch.issue("cash", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    extended = one(branch.press(1, Key.EXTEND, clock.now(), 0), "service.extended")
    assert (extended["reason_zh"], extended["add_s"], extended["limit_s"]) == ("残损券", 300, 600)
    again = one(branch.press(1, Key.EXTEND, clock.now(), 1), "action.rejected")
    assert again["reason"] == "an extension reason was already recorded"
    clock.advance(500)
    assert branch.tick(clock.now()) == []  # 500 s < 300 + 300
    branch.press(1, Key.FINISH, clock.now())
    closed = one(branch.press(1, Key.RATE, clock.now(), 5), "transaction.closed")
    assert (closed["extension"], closed["extension_reason"]) == (0, "残损券")
    assert closed["limit_raised_after_alert"] is False
    assert closed["service_over_limit"] is False and closed["limits"]["service_s"] == 600


def test_a_type_without_bands_refuses_the_band_key(branch, clock):
    branch.issue("general", clock.now())
    branch.press(1, Key.CALL_NEXT, clock.now())
    assert (
        "has no amount bands"
        in one(branch.press(1, Key.BAND, clock.now(), 0), "action.rejected")["reason"]
    )
