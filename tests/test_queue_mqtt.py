"""The branch queue over MQTT through a real Mosquitto (TLS client certificates, the production
ACL): the controller's QueueService, counters' RemoteQueue, domain.branch.Branch on top.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from config.model import Config
from device.queue_service import QueueService, QueueServiceSettings, answer_from_events
from device.store import EventStore
from domain.branch import Branch, Key
from domain.clock import Clock, Instant, ManualClock
from domain.counter import Teller
from domain.queue import BranchQueue, QueueError, QueueUnavailable
from sync import queue_protocol as qp
from sync import topics
from sync.acl import Identity, Role
from sync.connection import DeviceConnection, Message, MqttConnection
from sync.queue_client import LATE_CALLS_KEPT, RemoteQueue
from sync.schema import SchemaError
from sync.settings import Backoff, ConnectionSettings, TlsSettings
from tests.clocks import DaytimeClock
from tests.factories import make_config
from tests.mqtt_broker import MosquittoBroker, ProbeClient
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture

BRANCH, CONTROLLER, KIOSK = "b1", "ctrl", "kiosk"
COUNTERS = 8
ALL_TYPES = ("cash", "general", "corporate")
ROSTER = [
    Identity(BRANCH, CONTROLLER, Role.CONTROLLER),
    Identity(BRANCH, KIOSK, Role.COUNTER),
    *(Identity(BRANCH, f"w{n}", Role.COUNTER) for n in range(1, COUNTERS + 1)),
]
TELLER = Teller("1001", "王芳", 5)


def branch_config() -> Config:
    """Counter 1 serves cash then general (as in the factory); 2..8 serve everything."""
    counters = ((1, ("cash", "general")), *((n, ALL_TYPES) for n in range(2, COUNTERS + 1)))
    return make_config(counters=counters)


def settings_for(host: str, port: int, ca: Path, cert: Path, key: Path, name: str):
    return ConnectionSettings(
        host,
        port,
        client_id=name,
        tls=TlsSettings(ca, cert, key),
        keepalive_s=2,
        reconnect=Backoff(0.1, 0.5, 0.5),
    )


def settings(broker: MosquittoBroker, name: str) -> ConnectionSettings:
    return settings_for(
        broker.host, broker.tls_port, broker.ca_path, *broker.client_cert(name), name
    )


def wait_until(predicate, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@contextlib.contextmanager
def controller(
    broker: MosquittoBroker, db: Path, clock=None, config: Config | None = None, tick_s=1.0
) -> Iterator[QueueService]:
    conn = DeviceConnection(settings(broker, CONTROLLER), BRANCH, CONTROLLER)
    config, clock = config or branch_config(), clock or ManualClock()
    service_settings = QueueServiceSettings(tick_s=tick_s)
    service = QueueService(conn, BRANCH, CONTROLLER, config, db, clock, service_settings)
    service.start()
    conn.start()
    try:
        assert conn.wait_connected(10)
        yield service
    finally:
        service.stop()
        conn.stop()


@contextlib.contextmanager
def counter(
    broker: MosquittoBroker, name: str, counters, timeout_s: float = 2.0, *, ready: bool = True
) -> Iterator[RemoteQueue]:
    """A counter device's RemoteQueue; ``ready``: wait for the service's retained state."""
    conn = DeviceConnection(settings(broker, name), BRANCH, name)
    remote = RemoteQueue(conn, BRANCH, name, counters, timeout_s, retry_s=0.3)
    remote.start()
    conn.start()
    try:
        assert conn.wait_connected(10)
        if ready:
            assert remote.wait_state(lambda s: True, 10), "no queue state from the service"
        yield remote
    finally:
        remote.stop()
        conn.stop()


def stored(db: Path, *types: str) -> list:
    with EventStore(db, CONTROLLER) as store:
        return [e for e in store.events() if not types or e.type in types]


def preload(db: Path, config: Config, n: int, clock: Clock) -> list[str]:
    """``n`` tickets issued into the controller's store (the service replays them at start),
    on ``clock``: the service's own, so they are today's tickets whatever the date."""
    queue = BranchQueue(config)
    events = [e for i in range(n) for e in queue.issue(ALL_TYPES[i % 3], clock.now())[1]]
    with EventStore(db, CONTROLLER) as store:
        store.append_many(events)
    return [e.payload["ticket"]["id"] for e in events if e.type == "ticket.issued"]


# --- (a) end to end with domain.branch.Branch -------------------------------------------------


def test_issue_call_serve_end_to_end_with_branch(mqtt_broker, tmp_path: Path) -> None:
    broker, db = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite"
    service_clock = ManualClock()
    # the counter's clocks are another machine's: other boot, other monotonic, wall 3 s off
    device_clock = ManualClock(datetime(2026, 11, 25, 8, 30, 3, tzinfo=UTC), 7.0, "pi-w1")
    with (
        controller(broker, db, service_clock) as service,
        counter(broker, KIOSK, ()) as kiosk,
        counter(broker, "w1", [1]) as w1,
    ):
        ticket, events = kiosk.issue("cash", device_clock.now())
        assert (ticket.number, events) == ("A001", [])
        service_clock.advance(120.0)  # the customer waits two minutes at the service's clock

        branch = Branch(branch_config(), counters=[1], queue=w1)
        branch.press(1, Key.SIGN_IN, device_clock.advance(1), TELLER)
        called = branch.press(1, Key.CALL_NEXT, device_clock.advance(1))
        assert [e.type for e in called] == ["counter.called"]
        assert called[0].payload["ticket"] == "A001"
        branch.press(1, Key.START, device_clock.advance(10))
        branch.press(1, Key.FINISH, device_clock.advance(60))
        closed = branch.press(1, Key.RATE, device_clock.advance(2), 5)[-1]
        assert closed.type == "transaction.closed"
        assert closed.payload["waiting_s"] == 120.0  # measured exactly across machines
        assert closed.payload["service_s"] == 60.0 and closed.payload["exact"] is True

        assert w1.flush(10), "served not delivered"
        wait_until(lambda: stored(db, "ticket.served"), "ticket.served at the service")
        kinds = [e.type for e in stored(db) if e.type.startswith("ticket.")]
        assert kinds == ["ticket.issued", "ticket.called", "ticket.served"]
        assert {e.payload["request"]["device"] for e in stored(db, *kinds)} == {KIOSK, "w1"}
        assert w1.wait_state(lambda s: s.current == () and s.waiting["cash"] == 0, 5)
        assert service.stats.applied == 3 and service.stats.answered_from_cache == 0


# --- (b) many counters at once ----------------------------------------------------------------


def _counters_process(args: tuple) -> None:
    """A device process with two counters (one connection each) calling in lockstep rounds."""
    host, port, ca, names, barrier, rounds, out = args
    results: dict[str, list] = {}

    def run(name: str, cert: Path, key: Path) -> None:
        number = int(name[1:])
        conn = DeviceConnection(settings_for(host, port, ca, cert, key, name), BRANCH, name)
        remote = RemoteQueue(conn, BRANCH, name, [number], timeout_s=10.0)
        remote.start()
        conn.start()
        got, clock = [], DaytimeClock()
        try:
            conn.wait_connected(10)
            remote.wait_state(lambda s: True, 10)
            for _ in range(rounds):
                barrier.wait(30)  # every counter presses call_next at the same moment
                entry, _ = remote.call_next(number, clock.now())
                if entry is not None:
                    got.append(entry.ticket.id)
                    remote.served(entry.ticket.id, number, clock.now())
            remote.flush(20)
            results[name] = [got, remote.stats.resends, remote.undelivered]
        finally:
            remote.stop()
            conn.stop()

    threads = [threading.Thread(target=run, args=n) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    out.put(results)


def test_many_counters_pressing_at_once_each_ticket_called_once(mqtt_broker, tmp_path) -> None:
    broker, db, config = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite", branch_config()
    service_clock = ManualClock()  # its own day, whatever the date and time the suite runs at
    tickets = preload(db, config, 200, service_clock)
    rounds = 200 // COUNTERS + 2  # the last rounds find the queue empty
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(COUNTERS), ctx.Queue()
    names = [(f"w{n}", *broker.client_cert(f"w{n}")) for n in range(1, COUNTERS + 1)]
    with controller(broker, db, service_clock, config) as service:
        started = time.monotonic()
        common = (broker.host, broker.tls_port, broker.ca_path)
        procs = [
            ctx.Process(target=_counters_process, args=((*common, pair, barrier, rounds, out),))
            for pair in (names[i : i + 2] for i in range(0, COUNTERS, 2))
        ]
        for p in procs:
            p.start()
        results: dict[str, list] = {}
        for _ in procs:
            results.update(out.get(timeout=120))
        for p in procs:
            p.join(30)
        elapsed = time.monotonic() - started
        stats = service.stats

    got = [tid for name in results for tid in results[name][0]]
    per_counter = {name: len(r[0]) for name, r in sorted(results.items())}
    print(
        f"\n{len(got)} tickets to {COUNTERS} counters in 4 processes, {rounds} rounds of "
        f"simultaneous call_next, {elapsed:.1f} s incl. process start; per counter {per_counter}; "
        f"service: {stats.requests} requests, {stats.applied} applied, "
        f"{stats.answered_from_cache} from cache"
    )
    assert len(results) == COUNTERS
    assert sorted(got) == sorted(tickets)  # every ticket called, and only once
    assert all(r[2] == 0 for r in results.values())  # every served delivered
    calls = Tally(e.payload["ticket"]["id"] for e in stored(db, "ticket.called"))
    assert set(calls) == set(tickets) and set(calls.values()) == {1}
    assert len(stored(db, "ticket.served")) == 200


# --- (c) service unreachable -------------------------------------------------------------------


def test_service_unreachable_rejects_call_and_ticketless_works(mqtt_broker) -> None:
    broker, clock = mqtt_broker(acl=ROSTER), ManualClock()
    with counter(broker, "w1", [1], timeout_s=1.0, ready=False) as w1:  # no service running
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="serve without a ticket"):
            w1.call_next(1, clock.now())
        waited = time.monotonic() - started
        print(f"\ncall_next without a service: QueueUnavailable after {waited:.2f} s (timeout 1 s)")
        assert 0.9 <= waited < 5.0 and not w1.available  # bounded by the timeout, not more
        assert w1.stats.sends >= 3  # retried with the same id within the timeout

        branch = Branch(branch_config(), counters=[1], queue=w1)
        branch.press(1, Key.SIGN_IN, clock.advance(1), TELLER)
        rejected = branch.press(1, Key.CALL_NEXT, clock.advance(1))
        assert [e.type for e in rejected] == ["action.rejected"]
        assert rejected[0].payload["queue_unavailable"] is True
        assert "serve without a ticket" in rejected[0].payload["reason"]
        started_events = branch.press(1, Key.TICKETLESS, clock.advance(1), "cash")
        assert started_events[0].payload["ticketless"] is True
        branch.press(1, Key.FINISH, clock.advance(30))
        closed = branch.press(1, Key.RATE, clock.advance(1), 4)[-1]
        assert closed.type == "transaction.closed" and closed.payload["ticket"] is None
        assert closed.payload["rating"] == 4 and closed.payload["service_s"] == 30.0

        # without a connection to the broker it says so at once
        broker.stop()
        wait_until(lambda: not w1.connection.connected, "the counter to notice")
        started = time.monotonic()
        with pytest.raises(QueueUnavailable):
            w1.call_next(1, clock.now())
        assert time.monotonic() - started < 0.9  # refused at once, without waiting 1 s


# --- (d) lost answer, retry, restart ------------------------------------------------------------


def test_lost_answer_retried_with_same_id_never_applied_twice(mqtt_broker, tmp_path) -> None:
    broker, db = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite"
    preload(db, branch_config(), 3, ManualClock())
    with controller(broker, db) as service, counter(broker, "w1", [1]) as w1:
        held_back: list = []

        def lossy(message) -> None:  # the first answer is held back: lost, as far as w1 knows
            if not held_back:
                held_back.append(message)
                return
            w1._on_response(message)

        w1.connection.subscribe(w1.response_topic, lossy)
        entry, _ = w1.call_next(1, ManualClock().now())
        assert entry is not None and entry.ticket.number == "A001"
        assert len(held_back) == 1 and w1.stats.resends >= 1
        assert service.stats.applied == 1 and service.stats.answered_from_cache >= 1
        assert len(stored(db, "ticket.called")) == 1

        w1._on_response(held_back[0])  # ... and turns up after all: no news, not a late call
        assert w1.late_calls == [] and w1.stats.late_answers == 0


def test_retry_after_service_restart_answered_from_stored_events(mqtt_broker, tmp_path) -> None:
    broker, db = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite"
    preload(db, branch_config(), 3, ManualClock())
    request = qp.QueueRequest("w2", "retry-42", qp.CALL_NEXT, 2, ttl_s=2.0)
    resp_topic = topics.queue_resp(BRANCH, "w2")
    state_topic = topics.queue_state(BRANCH)

    def service_listening(n: int) -> None:  # its state comes after its subscription
        wait_until(lambda: len(probe.received(state_topic)) >= n, "the service's state")

    with ProbeClient(broker, "w2") as probe:
        probe.subscribe(resp_topic)
        probe.subscribe(state_topic)
        with controller(broker, db):
            service_listening(1)
            probe.publish(topics.queue_req(BRANCH, "w2"), qp.encode_request(request), qos=0)
            first = qp.parse_response(bytes(probe.wait_for_message(resp_topic).payload))
        # the service restarts (as if it crashed after storing, before its answer got out)
        seen = len(probe.received(state_topic))
        with controller(broker, db) as service:
            assert service.stats.replayed_answers == 1
            service_listening(seen + 1)
            probe.publish(topics.queue_req(BRANCH, "w2"), qp.encode_request(request), qos=0)
            wait_until(lambda: len(probe.received(resp_topic)) == 2, "the second answer")
            second = qp.parse_response(bytes(probe.received(resp_topic)[1].payload))
            assert service.stats.answered_from_cache == 1 and service.stats.applied == 0

            # a malformed request that carries an id is answered with the reason
            bad = json.loads(qp.encode_request(request))
            bad.update(id="bad-1", counter=0)
            probe.publish(topics.queue_req(BRANCH, "w2"), json.dumps(bad), qos=0)
            wait_until(lambda: len(probe.received(resp_topic)) == 3, "the refusal")
            refusal = qp.parse_response(bytes(probe.received(resp_topic)[2].payload))
    assert first.ok and first.result["entry"]["ticket"]["number"] == "A001"
    assert second.result == first.result
    assert len(stored(db, "ticket.called")) == 1
    assert (refusal.ok, refusal.error) == (False, qp.BAD_REQUEST)
    assert refusal.message == "Expected `int` >= 1 - at `$.counter`"


# --- (e) served while offline, reconciliation ---------------------------------------------------


def test_served_while_offline_delivered_after_reconnect(mqtt_broker, tmp_path) -> None:
    broker, db, clock = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite", ManualClock()
    preload(db, branch_config(), 3, ManualClock())
    with controller(broker, db), counter(broker, "w1", [1]) as w1:
        first, _ = w1.call_next(1, clock.now())
        assert first is not None
        broker.stop()
        wait_until(lambda: not w1.connection.connected, "the counter to go offline")
        assert w1.served(first.ticket.id, 1, clock.now()) == []  # never raises
        with pytest.raises(QueueUnavailable):
            w1.call_next(1, clock.now())
        assert w1.undelivered == 1
        broker.start()
        assert w1.flush(15), "served not delivered after the reconnect"
        wait_until(lambda: stored(db, "ticket.served"), "ticket.served at the service")
        second, _ = w1.call_next(1, clock.now())  # and the counter works on
        assert second is not None and second.ticket.id != first.ticket.id
    assert [e.payload["ticket"]["id"] for e in stored(db, "ticket.served")] == [first.ticket.id]


def test_reconcile_after_device_restart(mqtt_broker, tmp_path) -> None:
    broker, db, clock = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite", ManualClock()
    preload(db, branch_config(), 6, ManualClock())
    with controller(broker, db):
        with counter(broker, "w1", [1]) as w1:
            served_lost, _ = w1.call_next(1, clock.now())  # served, but the device restarted
            current, _ = w1.call_next(1, clock.now())  # before telling the service
            assert served_lost is not None and current is not None
        # and a call for counter 1 reached the service without the teller knowing of it
        with ProbeClient(broker, "w1") as probe:
            orphan_req = qp.QueueRequest("w1", "orphan", qp.CALL_NEXT, 1, ttl_s=2.0)
            probe.subscribe(topics.queue_resp(BRANCH, "w1"))
            probe.publish(topics.queue_req(BRANCH, "w1"), qp.encode_request(orphan_req), qos=0)
            orphan = qp.parse_response(bytes(probe.wait_for_message(lambda m: True).payload))
        with counter(broker, "w1", [1]) as w1:
            held = {t.number for t in w1.held(1)}
            assert held == {"A001", "A002", "B001"}
            orphans = w1.reconcile(
                1, current=current.ticket.id, outcomes={served_lost.ticket.id: "served"}
            )
            assert [t.number for t in orphans] == [orphan.result["entry"]["ticket"]["number"]]
            assert w1.flush(10)
            assert {t.number for t in w1.held(1)} == {"A002", "B001"}
    assert [e.payload["ticket"]["number"] for e in stored(db, "ticket.served")] == ["A001"]


# --- (f) calls and state for boards --------------------------------------------------------------


def test_calls_published_and_retained_state_right(mqtt_broker, tmp_path) -> None:
    broker, db, clock = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite", ManualClock()
    calls_topic, state_topic = topics.queue_calls(BRANCH), topics.queue_state(BRANCH)
    with (
        controller(broker, db, tick_s=3600),  # every state below is published by a change
        counter(broker, KIOSK, ()) as kiosk,
        counter(broker, "w1", [1]) as w1,
        ProbeClient(broker, "w8") as board,
    ):
        board.subscribe(calls_topic)
        for code in ("cash", "cash", "general", "corporate"):
            kiosk.issue(code, clock.now())
        entry, _ = w1.call_next(1, clock.now())
        assert entry is not None
        w1.recall(entry.ticket.id, 1, clock.now())
        with pytest.raises(QueueError, match="is not waiting"):
            w1.call_specific(1, "A001", clock.now())  # refused by the queue: no retry, no wait

        wait_until(lambda: len(board.received(calls_topic)) == 2, "two calls on the board")
        calls = [qp.parse_call(bytes(m.payload)) for m in board.received(calls_topic)]
        assert [(c.ticket, c.counter, c.call) for c in calls] == [("A001", 1, 1), ("A001", 1, 2)]
        assert calls[0].seq < calls[1].seq

        def expected(s: qp.QueueState) -> bool:
            return s.current == (qp.CurrentCall(1, "A001", entry.ticket.id, "cash", 2),)

        assert w1.wait_state(expected, 5)
        assert w1.waiting_counts() == {"cash": 1, "general": 1, "corporate": 1}
        assert w1.upcoming(1) == ["A002", "B001"]
        assert w1.has_work_for(1, clock.now()) == 1 and w1.serves(1) == ("cash", "general")
        assert w1.state is not None
        assert w1.state.counters[2] == qp.CounterView(ALL_TYPES, 1, ("A002", "B001", "C001"))

        with ProbeClient(broker, "w7") as late:  # a board that starts later: the retained state
            late.subscribe(state_topic)
            retained = qp.parse_state(bytes(late.wait_for_message(state_topic).payload))
        assert retained == w1.state


def test_a_controller_on_a_fresh_store_is_heard_over_its_old_stores_retained_state(
    mqtt_broker, tmp_path
) -> None:
    """A controller re-imaged, or a small-office Pi (default roles counter + controller) started
    again on a fresh store: its states count seqs from 0 again. Keeping "the highest seq" held on
    to the old store's state, so counts and upcoming numbers froze and a driver waiting for the
    queue to run dry before issuing saw every call refused (75 of 75, every other run)."""
    broker, clock = mqtt_broker(acl=ROSTER), ManualClock()
    with counter(broker, "w1", [1], ready=False) as w1:
        with controller(broker, tmp_path / "old.sqlite", tick_s=3600):
            with counter(broker, KIOSK, ()) as kiosk:
                for _ in range(6):
                    kiosk.issue("cash", clock.now())
            assert w1.wait_state(lambda s: s.waiting.get("cash") == 6, 5)
        with controller(broker, tmp_path / "fresh.sqlite", tick_s=3600):
            with counter(broker, KIOSK, ()) as kiosk:
                kiosk.issue("cash", clock.now())
            assert w1.wait_state(lambda s: s.waiting.get("cash") == 1, 5), w1.state
            assert w1.upcoming(1) == ["A001"] and w1.has_work_for(1, clock.now()) == 1
            entry, _ = w1.call_next(1, clock.now())
            assert entry is not None and entry.ticket.number == "A001"


def test_the_first_state_names_the_business_day_of_the_service_clock(mqtt_broker, tmp_path):
    """Before any ticket the queue has no day of its own: the state says today (branch time)."""
    broker = mqtt_broker(acl=ROSTER)
    clock = ManualClock(wall=datetime(2026, 11, 25, 17, 30, tzinfo=UTC))  # 01:30 on the 26th
    with ProbeClient(broker, "w8") as board:
        board.subscribe(topics.queue_state(BRANCH))
        with controller(broker, tmp_path / "ctrl.sqlite", clock=clock, tick_s=3600):
            message = board.wait_for_message(topics.queue_state(BRANCH))
            first = qp.parse_state(bytes(message.payload))
    assert (first.seq, first.day, first.waiting) == (0, "2026-11-26", {t: 0 for t in ALL_TYPES})


# --- message shapes ------------------------------------------------------------------------------


def test_an_issue_request_carries_no_counter() -> None:
    request = qp.QueueRequest("kiosk", "r1", qp.ISSUE, None, 2.0, business_type="cash")
    body = json.loads(qp.encode_request(request))
    assert "counter" not in body  # as documented: issue has no counter
    assert body == {"v": 1, "kind": "queue_req", "device": "kiosk", "id": "r1", "op": "issue",
                    "ttl_s": 2.0, "business_type": "cash"}  # fmt: skip
    assert qp.parse_request(qp.encode_request(request), "kiosk") == request


def test_messages_round_trip_and_translate_the_clock() -> None:
    req = qp.QueueRequest("w1", "r1", qp.TRANSFER, 2, 2.0, ticket_id="t", to_business_type="cash")
    assert qp.parse_request(qp.encode_request(req), "w1") == req
    resp = qp.QueueResponse("w1", "r1", qp.RECALL, False, {}, qp.QUEUE_ERROR, "no")
    assert qp.parse_response(qp.encode_response(resp), "w1") == resp
    call = qp.QueueCall(3, "A001", "20261125-A001", "cash", 1, 1, "2026-11-25T08:30:00+00:00")
    assert qp.parse_call(qp.encode_call(call)) == call

    queue, clock = BranchQueue(branch_config()), ManualClock()
    queue.issue("cash", clock.now())
    _, events = queue.call_next(1, clock.advance(75.5))
    result = qp.parse_result(qp.CALL_NEXT, answer_from_events(qp.CALL_NEXT, events))
    assert isinstance(result, qp.CallResult) and result.entry is not None
    here = Instant(3.0, datetime(2030, 1, 1, tzinfo=UTC), "other-boot")
    local = result.entry.local_queued_at(here)
    assert here.mono - local.mono == 75.5 and local.boot == "other-boot"
    assert (here.wall - local.wall).total_seconds() == 75.5


def test_late_calls_are_counted_and_only_the_last_kept() -> None:
    queue, clock = BranchQueue(branch_config()), ManualClock()
    never_started = cast(MqttConnection, SimpleNamespace())  # it only takes answers here
    remote = RemoteQueue(never_started, BRANCH, "w1", [1])
    for i in range(LATE_CALLS_KEPT + 20):
        queue.issue("cash", clock.now())
        _, events = queue.call_next(1, clock.advance(1))
        result = answer_from_events(qp.CALL_NEXT, events)
        answer = qp.QueueResponse("w1", f"gave-up-{i}", qp.CALL_NEXT, True, result)
        remote._on_response(cast(Message, SimpleNamespace(payload=qp.encode_response(answer))))
    assert remote.stats.late_calls == remote.stats.late_answers == LATE_CALLS_KEPT + 20
    assert len(remote.late_calls) == LATE_CALLS_KEPT
    assert remote.late_calls[-1].ticket.number == f"A{LATE_CALLS_KEPT + 20:03d}"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"v": 2}, "unsupported version 2"),
        ({"kind": "queue_resp"}, "kind 'queue_resp' where 'queue_req' was expected"),
        ({"device": "w2"}, "device 'w2' in the payload does not match 'w1'"),
        ({"id": "a b"}, "Expected `str` matching regex '^[A-Za-z0-9_-]{1,64}$' - at `$.id`"),
        ({"op": "jump"}, "Invalid enum value 'jump' - at `$.op`"),
        ({"counter": "1"}, "Expected `int | null`, got `str` - at `$.counter`"),
        ({"counter": None}, "missing field 'counter' (op 'call_next' needs it)"),
        ({"ttl_s": 0}, "Expected `float` > 0.0 - at `$.ttl_s`"),
        ({"ttl_s": 3601}, "Expected `float` <= 3600.0 - at `$.ttl_s`"),
        ({"op": "recall"}, "missing field 'ticket_id' (op 'recall' needs it)"),
        ({"op": "transfer", "ticket_id": "t"}, "transfer needs exactly one of"),
        ({"op": "issue"}, "missing field 'business_type' (op 'issue' needs it)"),
    ],
)
def test_bad_requests_rejected_with_reason(change: dict, reason: str) -> None:
    body = json.loads(qp.encode_request(qp.QueueRequest("w1", "r1", qp.CALL_NEXT, 1, ttl_s=2)))
    body.update(change)
    with pytest.raises(SchemaError) as err:
        qp.parse_request(json.dumps(body), "w1")
    assert reason in err.value.reason


# --- (f) the controller's restarts and business days -------------------------------------------


def _issue(service: QueueService, rid: str) -> str:
    answer = service.submit(qp.QueueRequest(KIOSK, rid, qp.ISSUE, business_type="cash"))
    assert answer is not None and answer.ok, answer
    return answer.result["ticket"]["number"]


def test_controller_restart_with_its_clock_days_behind_keeps_queue_and_numbers(
    mqtt_broker, tmp_path
) -> None:
    broker, db, clock = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite", ManualClock()
    with controller(broker, db, clock) as service:
        assert [_issue(service, f"k{i}") for i in range(3)] == ["A001", "A002", "A003"]
    clock.reboot("ctrl-boot-2", downtime_s=120)
    clock.jump_wall(-2 * 86400)  # an RTC-less controller, before NTP
    with controller(broker, db, clock, tick_s=0.05) as service:
        assert _issue(service, "k4") == "A004"  # not A001 again
        clock.advance(5)
        clock.jump_wall(2 * 86400)  # NTP
        clock.advance(900)
        time.sleep(0.3)  # a few ticks of the service
        assert service.state().waiting["cash"] == 4
    clock.reboot("ctrl-boot-3", downtime_s=60)  # and once more, with the clock right now
    with controller(broker, db, clock) as service:
        assert service.state().waiting["cash"] == 4  # A004 was stored with the clock behind
        assert _issue(service, "k5") == "A005"
    assert stored(db, "ticket.expired") == []


def test_controller_expires_yesterdays_tickets_at_its_first_tick(mqtt_broker, tmp_path) -> None:
    broker, db = mqtt_broker(acl=ROSTER), tmp_path / "ctrl.sqlite"
    clock = ManualClock(datetime(2026, 11, 25, 8, 50, tzinfo=UTC))  # 16:50 in Shanghai
    with controller(broker, db, clock) as service:
        for i in range(3):
            _issue(service, f"k{i}")
    clock.reboot("ctrl-boot-2", downtime_s=15.5 * 3600)  # 08:20 next morning
    with (
        controller(broker, db, clock, tick_s=3600) as service,  # no tick: a call comes first
        counter(broker, "w1", [1]) as w1,
    ):
        entry, _ = w1.call_next(1, clock.now())
        assert entry is None  # nobody from yesterday is called today
        assert len(stored(db, "ticket.expired")) == 3
        assert w1.wait_state(lambda s: s.waiting["cash"] == 0 and s.day == "2026-11-26", 5)
        assert _issue(service, "k9") == "A001"
    assert stored(db, "ticket.wait_over_limit") == []


def test_the_service_loop_says_it_turns_and_stops_saying_so_when_stuck(mqtt_broker, tmp_path):
    """What the controller's watchdog asks (``counterside controller`` pings only while true)."""
    broker = mqtt_broker(acl=ROSTER)
    with controller(broker, tmp_path / "ctl.sqlite", tick_s=0.05) as service:
        wait_until(lambda: service.turning(0.5), "the service loop turning")
        stuck = threading.Event()
        tick = service._tick

        def hang() -> None:
            stuck.wait(10)
            tick()

        service._tick = hang  # type: ignore[method-assign]
        wait_until(lambda: not service.turning(0.5), "the stuck loop seen as stuck")
        service._tick = tick  # type: ignore[method-assign]
        stuck.set()
        wait_until(lambda: service.turning(0.5), "the loop turning again")
    assert not service.turning(60)  # stopped
