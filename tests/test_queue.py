import pytest

from domain.queue import BranchQueue, QueueError
from tests.factories import make_config


def numbers(entries):
    return [e.ticket.number for e in entries]


def call(queue, counter, clock):
    entry, events = queue.call_next(counter, clock.now())
    return entry, events


def test_fifo_per_type_in_the_order_the_counter_serves(config, clock):
    q = BranchQueue(config)
    for code in ("general", "cash", "general", "cash"):
        q.issue(code, clock.now())
        clock.advance(1)
    # counter 1 serves cash before general; counter 2 general before cash
    assert call(q, 1, clock)[0].ticket.number == "A001"
    assert call(q, 2, clock)[0].ticket.number == "B001"
    assert call(q, 1, clock)[0].ticket.number == "A002"
    assert call(q, 1, clock)[0].ticket.number == "B002"
    assert call(q, 1, clock)[0] is None


def test_a_counter_never_gets_a_type_it_does_not_serve(config, clock):
    q = BranchQueue(config)
    q.issue("corporate", clock.now())
    assert call(q, 1, clock)[0] is None
    assert call(q, 3, clock)[0].ticket.number == "C001"


def test_a_called_ticket_is_never_handed_to_a_second_counter(config, clock):
    q = BranchQueue(config)
    q.issue("cash", clock.now())
    first, _ = call(q, 1, clock)
    second, _ = call(q, 2, clock)
    assert first is not None and second is None
    with pytest.raises(QueueError, match="not waiting"):
        q.call_specific(2, first.ticket.number, clock.now())


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (0.5, ["A002", "A001", "A004", "A003", "A006", "A005"]),  # alternate while both wait
        (1.0, ["A002", "A004", "A006", "A001", "A003", "A005"]),  # priority always first
        (0.0, ["A001", "A002", "A003", "A004", "A005", "A006"]),  # no jumps: first come first
    ],
)
def test_priority_tickets_go_first_up_to_the_ratio(ratio, expected, clock):
    q = BranchQueue(make_config(priority_ratio=ratio))
    for i in range(6):  # A001 ordinary, A002 elderly, A003 ordinary, ...
        q.issue("cash", clock.now(), priority="elderly" if i % 2 else None)
        clock.advance(1)
    called = [call(q, 1, clock)[0].ticket.number for _ in range(6)]
    assert called == expected


def test_a_ticket_waiting_past_its_limit_is_escalated_across_types(config, clock):
    q = BranchQueue(config)
    q.issue("general", clock.now())  # B001, limit 20 min
    clock.advance(21 * 60)
    q.issue("cash", clock.now())  # A001: counter 1 would normally take cash first
    entry, events = call(q, 1, clock)
    assert entry.ticket.number == "B001"
    assert [e.type for e in events] == ["ticket.escalated", "ticket.called"]


def test_escalation_can_be_switched_off(clock):
    q = BranchQueue(make_config(escalate_overdue=False))
    q.issue("general", clock.now())
    clock.advance(21 * 60)
    q.issue("cash", clock.now())
    assert call(q, 1, clock)[0].ticket.number == "A001"


def test_wait_over_limit_is_raised_once_per_ticket(config, clock):
    q = BranchQueue(config)
    q.issue("cash", clock.now())
    clock.advance(14 * 60)
    assert q.tick(clock.now()) == []
    clock.advance(2 * 60)
    events = q.tick(clock.now())
    assert [e.type for e in events] == ["ticket.wait_over_limit"]
    assert events[0].payload["limit_s"] == 15 * 60
    assert events[0].payload["waited_s"] == 16 * 60
    assert q.tick(clock.now()) == []


def test_transfer_to_another_type_keeps_the_number_and_queues_ahead_of_later_tickets(config, clock):
    q = BranchQueue(config)
    q.issue("cash", clock.now())
    entry, _ = call(q, 1, clock)
    q.issue("general", clock.now())  # B001 issued after A001
    events = q.transfer(entry.ticket.id, 1, clock.now(), to_business_type="general")
    assert events[0].type == "ticket.transferred"
    assert numbers(q.waiting("general")) == ["A001", "B001"]
    assert call(q, 2, clock)[0].ticket.number == "A001"


def test_transfer_to_a_counter_is_served_first_by_that_counter_only(config, clock):
    q = BranchQueue(config)
    q.issue("general", clock.now())
    q.issue("general", clock.now())
    entry, _ = call(q, 2, clock)
    q.transfer(entry.ticket.id, 2, clock.now(), to_counter=3)  # counter 3 serves corporate only
    assert call(q, 1, clock)[0].ticket.number == "B002"  # not the one sent to counter 3
    assert call(q, 3, clock)[0].ticket.number == "B001"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"to_business_type": "loans"}, "unknown business type"),
        ({"to_counter": 9}, "unknown counter 9"),
        ({"to_counter": 1}, "its own counter"),
    ],
)
def test_bad_transfers_are_refused_and_change_nothing(config, clock, kwargs, message):
    q = BranchQueue(config)
    q.issue("cash", clock.now())
    entry, _ = call(q, 1, clock)
    with pytest.raises(QueueError, match=message):
        q.transfer(entry.ticket.id, 1, clock.now(), **kwargs)
    assert q.entry(entry.ticket.id).counter == 1


def test_calling_a_chosen_ticket_is_logged_as_out_of_order(config, clock):
    q = BranchQueue(config)
    q.issue("cash", clock.now())
    q.issue("cash", clock.now())
    _, events = q.call_specific(1, "A002", clock.now())
    assert events[0].payload["out_of_order"] is True
    _, events = q.call_specific(2, "A001", clock.now())
    assert events[0].payload["out_of_order"] is False


def test_ahead_counts_and_waiting_counts(config, clock):
    q = BranchQueue(config)
    _, first = q.issue("cash", clock.now())
    _, second = q.issue("cash", clock.now())
    q.issue("general", clock.now())
    assert first[-1].payload["ahead"] == 0 and second[-1].payload["ahead"] == 1
    assert q.waiting_counts() == {"cash": 2, "general": 1, "corporate": 0}


def test_a_new_business_day_expires_yesterdays_waiting_tickets_on_record(config, clock):
    q = BranchQueue(config)
    q.issue("cash", clock.now())
    clock.advance(86400)
    ticket, events = q.issue("cash", clock.now())
    assert [e.type for e in events] == ["ticket.expired", "queue.day_started", "ticket.issued"]
    assert ticket.number == "A001"
    assert numbers(q.waiting()) == ["A001"] and q.waiting()[0].ticket is ticket


def test_unknown_business_type_or_priority_is_refused(config, clock):
    q = BranchQueue(config)
    with pytest.raises(QueueError, match="unknown business type"):
        q.issue("loans", clock.now())
    with pytest.raises(QueueError, match="unknown priority class"):
        q.issue("cash", clock.now(), priority="royalty")


def test_expected_wait_uses_recent_service_times_and_counters(config):
    from domain.estimate import WaitEstimator
    from domain.events import TransactionClosed

    est = WaitEstimator(config)
    # cash: limit 5 min, prior 2.5 min; served by counters 1 and 2
    assert est.expected_wait_min("cash", 0) == 0
    assert est.expected_wait_min("cash", 4) == 5  # 4 × 150 s ÷ 2 counters

    def closed(outcome: str, service_s: float | None) -> TransactionClosed:
        return TransactionClosed(
            counter=1,
            transaction_id="t",
            teller="1001",
            business_type="cash",
            outcome=outcome,
            rating_status="unrated",
            service_s=service_s,
        )

    for _ in range(40):
        est.observe(closed("served", 60))
    assert round(est.average_service_s("cash")) == 60
    assert est.expected_wait_min("cash", 4) == 2
    est.observe(closed("no_show", None))
    assert round(est.average_service_s("cash")) == 60


def test_a_ticket_that_never_reached_its_customer_can_be_cancelled(config, clock):
    q = BranchQueue(config)
    ticket, _ = q.issue("cash", clock.now())
    (event,) = q.cancel(ticket.id, clock.now(), "printer out of paper")
    assert event.type == "ticket.cancelled" and event.payload["reason"] == "printer out of paper"
    assert q.waiting() == [] and call(q, 1, clock)[0] is None
    with pytest.raises(QueueError):
        q.cancel(ticket.id, clock.now(), "again")


@pytest.mark.parametrize("escalate", [False, True])
@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7])
def test_priority_jumps_hold_to_the_share_over_every_ten_calls(ratio, escalate, clock):
    """While ordinary customers wait, no 10 consecutive calls of a counter put more priority
    tickets ahead of earlier ordinary ones than ``floor(ratio * 10)`` (the outside audit saw
    19% at 0.1 before), with escalation of overdue tickets on or off: tickets go overdue here."""
    q = BranchQueue(make_config(priority_ratio=ratio, escalate_overdue=escalate))
    jumps: list[bool] = []
    for _ in range(300):
        for priority in (None, "elderly"):  # both kinds always waiting
            if not any(e.ticket.priority == priority for e in q.waiting()):
                q.issue("cash", clock.now(), priority=priority)
        q.issue("cash", clock.now(), priority="elderly" if len(jumps) % 3 else None)
        entry, events = call(q, 1, clock)
        jumps.append(next(e for e in events if e.type == "ticket.called").payload["jumped"])
        q.served(entry.ticket.id, 1, clock.advance(60))  # 15 minutes' limit: tickets go overdue
    cap = int(ratio * 10 + 1e-9)
    assert max(sum(jumps[i : i + 10]) for i in range(len(jumps) - 9)) == cap
    assert sum(jumps) / len(jumps) <= ratio


def test_a_long_queue_raises_one_alert_until_it_is_short_again(clock):
    from dataclasses import replace

    config = make_config()
    q = BranchQueue(replace(config, queue=replace(config.queue, long_queue_alert=5)))
    kinds = [e.type for _ in range(6) for e in q.issue("cash", clock.now())[1]]
    assert kinds.count("queue.too_long") == 1 and kinds[-1] == "queue.too_long"
    alert = [e for e in q.issue("cash", clock.now())[1] if e.type.startswith("queue.")]
    assert alert == []  # once
    for _ in range(3):  # 7 -> 4 waiting: 80% of 5
        entry, _ = q.call_next(1, clock.now())
        assert entry is not None
        q.served(entry.ticket.id, 1, clock.now())
    (normal,) = q.tick(clock.now())
    assert normal.type == "queue.back_to_normal" and normal.payload["waiting"] == 4
    state = q.to_state()
    again = BranchQueue(replace(config, queue=replace(config.queue, long_queue_alert=5)))
    again.load_state(state)
    assert again.to_state() == state
