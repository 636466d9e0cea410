"""A counter's side of the branch queue: :class:`RemoteQueue` implements ``domain.queue.QueuePort``
over MQTT, talking to :class:`device.queue_service.QueueService` on the controller.

Protocol state, under one condition variable:

- ``pending``: requests in order, sent one at a time by the sender thread (stop and wait), each
  resent with the same request id every ``retry_s`` until answered (the service answers a
  repeat from its cache, so nothing is applied twice). A *blocking* request (issue, the calls,
  recall, transfer, held) gives up at ``timeout_s``: the caller gets :class:`QueueUnavailable`.
  A *durable* one (served, no_show) stays until answered, resent with a growing interval and at
  once after a reconnect: those never raise, and reach the service in order. They live in
  memory only: after a device restart, :meth:`RemoteQueue.reconcile` settles what is left.
- ``state``: the latest retained ``queue/state`` (highest ``seq`` of the service's store, or the
  state of a new store of the service): waiting counts, what each counter would call next, how
  many it could call.
- late answers: an answer that arrives after its asker gave up. A late *call* means the service
  gave this counter a ticket its teller never saw; it is logged and kept in ``late_calls`` (the
  last :data:`LATE_CALLS_KEPT`; ``stats.late_calls`` counts them all).

Requests go out at QoS 0, so neither paho nor the broker holds one back to deliver it after the
asker gave up; the retries make up for a lost one. Answers come back at QoS 1.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from domain.clock import Instant
from domain.events import DomainEvent
from domain.queue import Entry, QueueError, QueueUnavailable, Status
from domain.tickets import Ticket
from support.backoff import Backoff
from sync import queue_protocol as qp
from sync import topics
from sync.connection import LinkState, Message, MqttConnection
from sync.wire import SchemaError

log = logging.getLogger(__name__)

UNREACHABLE = "queue service unreachable: serve without a ticket"
_RECENT_ANSWERS = 256  # ids answered recently: a second answer to a retried request is no news
LATE_CALLS_KEPT = 100


@dataclass
class RemoteQueueStats:
    requests: int = 0
    sends: int = 0
    resends: int = 0
    answers: int = 0
    timeouts: int = 0
    refused_offline: int = 0  # blocking requests refused at once: no connection
    late_answers: int = 0
    late_calls: int = 0  # late answers that called a ticket to this device's counter
    durable_errors: int = 0  # served/no_show the service refused (logged, dropped)
    bad_messages: int = 0


@dataclass(eq=False)
class _Pending:
    request: qp.QueueRequest
    payload: bytes
    deadline: float | None  # time.monotonic(); None = durable, retried until answered
    sends: int = 0
    next_send: float = 0.0
    answer: qp.QueueResponse | None = None
    done: threading.Event = field(default_factory=threading.Event)


class RemoteQueue:
    """The branch queue as counter(s) ``counters`` of device ``device_id`` use it."""

    remote = True  # the calls wait for the queue service's answer

    def __init__(
        self,
        connection: MqttConnection,
        branch: str,
        device_id: str,
        counters: int | Iterable[int],
        timeout_s: float = 2.0,
        *,
        retry_s: float = 0.5,
        durable_retry_max_s: float = 5.0,
    ) -> None:
        self.last_issue_ahead = 0
        self.connection = connection
        self.branch = topics.check_branch(branch)
        self.device = topics.check_device(device_id)
        self.counters = frozenset([counters] if isinstance(counters, int) else counters)
        self.timeout_s, self.retry_s = timeout_s, min(retry_s, timeout_s)
        #: Durable requests: ``retry_s``, doubling up to ``durable_retry_max_s``, exact.
        self.durable_retry = Backoff(
            self.retry_s, max(self.retry_s, durable_retry_max_s), jitter=0.0
        )
        self.request_topic = topics.queue_req(branch, device_id)
        self.response_topic = topics.queue_resp(branch, device_id)
        self.state_topic = topics.queue_state(branch)
        self.stats = RemoteQueueStats()
        self.late_calls: list[qp.WireEntry] = []
        self._cv = threading.Condition()
        self._pending: deque[_Pending] = deque()
        self._by_id: dict[str, _Pending] = {}
        self._answered: deque[str] = deque(maxlen=_RECENT_ANSWERS)
        self._state: qp.QueueState | None = None
        self._available = True
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- lifetime ------------------------------------------------------------------------------

    def start(self) -> None:
        self.connection.add_state_listener(self._on_link)
        self.connection.subscribe(self.response_topic, self._on_response)
        self.connection.subscribe(self.state_topic, self._on_state)
        self._thread = threading.Thread(target=self._run, name=f"queue-{self.device}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the sender; undelivered served/no_show stay in :attr:`undelivered`."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self.connection.unsubscribe(self.response_topic)
        self.connection.unsubscribe(self.state_topic)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def available(self) -> bool:
        """False after a request went unanswered, until the next answer (for the console)."""
        return self._available

    @property
    def undelivered(self) -> int:
        """Durable requests (served, no_show) not yet answered by the service."""
        with self._cv:
            return sum(1 for p in self._pending if p.deadline is None)

    def flush(self, timeout: float) -> bool:
        """Wait until every served/no_show is delivered; False if time ran out."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while any(p.deadline is None for p in self._pending):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True

    # --- QueuePort -----------------------------------------------------------------------------

    def issue(
        self, business_type: str, at: Instant, priority: str | None = None
    ) -> tuple[Ticket, list[DomainEvent]]:
        result = self._ask(qp.ISSUE, None, business_type=business_type, priority=priority)
        assert isinstance(result, qp.IssueResult)
        self.last_issue_ahead = result.ahead  # the kiosk prints it; the service stored the event
        return Ticket.from_info(result.ticket), []

    def call_next(self, counter: int, at: Instant) -> tuple[Entry | None, list[DomainEvent]]:
        result = self._ask(qp.CALL_NEXT, counter)
        assert isinstance(result, qp.CallResult)
        return (None if result.entry is None else _entry(result.entry, counter, at)), []

    def call_specific(self, counter: int, number: str, at: Instant) -> tuple[Entry, list]:
        result = self._ask(qp.CALL_SPECIFIC, counter, number=number)
        assert isinstance(result, qp.CallResult) and result.entry is not None
        return _entry(result.entry, counter, at), []

    def recall(self, ticket_id: str, counter: int, at: Instant) -> list[DomainEvent]:
        self._ask(qp.RECALL, counter, ticket_id=ticket_id)
        return []

    def transfer(
        self,
        ticket_id: str,
        counter: int,
        at: Instant,
        *,
        to_business_type: str | None = None,
        to_counter: int | None = None,
    ) -> list[DomainEvent]:
        if (to_business_type is None) == (to_counter is None):
            raise QueueError("transfer needs exactly one of a business type or a counter")
        self._ask(
            qp.TRANSFER,
            counter,
            ticket_id=ticket_id,
            to_business_type=to_business_type,
            to_counter=to_counter,
        )
        return []

    def served(self, ticket_id: str, counter: int, at: Instant | None = None) -> list[DomainEvent]:
        """Queued for delivery (in order, retried until the service answers); never raises."""
        self._enqueue(qp.SERVED, counter, {"ticket_id": ticket_id}, durable=True)
        return []

    def no_show(self, ticket_id: str, counter: int, at: Instant | None = None) -> list[DomainEvent]:
        """Queued for delivery like :meth:`served`; never raises."""
        self._enqueue(qp.NO_SHOW, counter, {"ticket_id": ticket_id}, durable=True)
        return []

    def tick(self, at: Instant) -> list[DomainEvent]:
        return []  # the service watches the limits and records the alerts

    def new_day(self, at: Instant) -> list[DomainEvent]:
        return []  # the service keeps the business day and expires yesterday's tickets

    def serves(self, counter: int) -> tuple[str, ...]:
        view = self._view(counter)
        return view.serves if view is not None else ()

    def candidates(self, counter: int, at: Instant) -> list[Entry]:
        return []  # the entries stay at the service; :meth:`upcoming` has their numbers

    def waiting(self, business_type: str | None = None) -> list[Entry]:
        return []  # as for candidates: counts are in :meth:`waiting_counts`

    def has_work_for(self, counter: int, at: Instant) -> int:
        view = self._view(counter)
        return view.has_work if view is not None else 0

    def waiting_counts(self) -> dict[str, int]:
        state = self._state
        return dict(state.waiting) if state is not None else {}

    def upcoming(self, counter: int) -> list[str]:
        """The numbers ``counter`` would call next, as the service last published them."""
        view = self._view(counter)
        return list(view.upcoming) if view is not None else []

    @property
    def state(self) -> qp.QueueState | None:
        """The latest retained queue state (None before the first one arrived)."""
        return self._state

    # --- reconciliation ------------------------------------------------------------------------

    def held(self, counter: int) -> list[Ticket]:
        """The tickets the service says ``counter`` holds (called, not yet finished)."""
        result = self._ask(qp.HELD, counter)
        assert isinstance(result, qp.HeldResult)
        return [e.as_ticket() for e in result.entries]

    def reconcile(
        self, counter: int, *, current: str | None, outcomes: Mapping[str, str]
    ) -> list[Ticket]:
        """Settle what the service thinks ``counter`` holds with what the counter knows (after a
        device restart, or a late call): ``current`` is the ticket id the counter's session holds,
        ``outcomes`` maps ticket ids to ``"served"``/``"no_show"`` from the counter's own closed
        transactions. Outcomes the service missed are sent again; the tickets the counter knows
        nothing of are returned (for the teller to call, or transfer back). Blocking; raises
        :class:`QueueUnavailable` like the calls."""
        orphans = []
        for ticket in self.held(counter):
            outcome = outcomes.get(ticket.id)
            if ticket.id == current:
                continue
            if outcome == "served":
                self.served(ticket.id, counter)
            elif outcome == "no_show":
                self.no_show(ticket.id, counter)
            else:
                orphans.append(ticket)
        return orphans

    # --- requests ------------------------------------------------------------------------------

    def _check_counter(self, counter: int | None) -> None:
        if counter is not None and counter not in self.counters:
            raise QueueError(f"counter {counter} is not served by device {self.device}")

    def _enqueue(self, op: qp.Op, counter: int | None, args: dict, *, durable: bool) -> _Pending:
        ttl = None if durable else self.timeout_s
        request = qp.QueueRequest(self.device, uuid.uuid4().hex, op, counter, ttl, **args)
        deadline = None if durable else time.monotonic() + self.timeout_s
        pending = _Pending(request, qp.encode_request(request), deadline)
        with self._cv:
            self.stats.requests += 1
            self._pending.append(pending)
            self._by_id[request.id] = pending
            self._cv.notify_all()
        return pending

    def _ask(self, op: qp.Op, counter: int | None, **args) -> object:
        """Send a blocking request and return its parsed result, or raise."""
        self._check_counter(counter)
        if not self.connection.connected:
            self.stats.refused_offline += 1
            self._available = False
            raise QueueUnavailable(UNREACHABLE)
        pending = self._enqueue(op, counter, args, durable=False)
        pending.done.wait(self.timeout_s)
        with self._cv:
            answer = pending.answer
            if answer is None:
                self._forget(pending)
        if answer is None:
            self.stats.timeouts += 1
            self._available = False
            raise QueueUnavailable(UNREACHABLE)
        self._available = True
        if not answer.ok:
            if answer.error == qp.SERVICE_ERROR:
                raise QueueUnavailable(f"queue service failed ({answer.message}): {UNREACHABLE}")
            raise QueueError(answer.message or answer.error or "refused")
        try:
            return qp.parse_result(op, answer.result)
        except SchemaError as exc:
            raise QueueError(f"queue service answered {op} wrongly: {exc.reason}") from None

    def _forget(self, pending: _Pending) -> None:
        """Drop a request (under the lock): an answer that still comes is late."""
        self._by_id.pop(pending.request.id, None)
        if pending in self._pending:
            self._pending.remove(pending)
        self._cv.notify_all()

    def _interval(self, pending: _Pending) -> float:
        if pending.deadline is not None:
            return self.retry_s
        return self.durable_retry.delay(pending.sends - 1)

    def _run(self) -> None:
        """The sender: the head of ``pending`` goes out, again and again, until answered."""
        with self._cv:
            while not self._stopping:
                now = time.monotonic()
                while self._pending and (d := self._pending[0].deadline) is not None and now >= d:
                    self._forget(self._pending[0])  # its asker raises QueueUnavailable
                if not self._pending:
                    self._cv.wait()
                    continue
                head = self._pending[0]
                connected = self.connection.connected
                if connected and now >= head.next_send:
                    head.sends += 1
                    head.next_send = now + self._interval(head)
                    self.stats.sends += 1
                    self.stats.resends += head.sends > 1
                    payload = head.payload
                    if head.deadline is not None:  # the service drops it once the asker gave up
                        ttl = max(0.0, head.deadline - now)
                        again = msgspec.structs.replace(head.request, ttl_s=ttl)
                        payload = qp.encode_request(again)
                    self._cv.release()
                    try:
                        self.connection.publish(self.request_topic, payload, qos=0)
                    finally:
                        self._cv.acquire()
                    continue
                wake = head.deadline if head.deadline is not None else float("inf")
                if connected:
                    wake = min(wake, head.next_send)
                self._cv.wait(None if wake == float("inf") else max(0.0, wake - now))

    # --- paho thread ---------------------------------------------------------------------------

    def _on_link(self, state: LinkState) -> None:
        if state is LinkState.CONNECTED:
            with self._cv:
                for pending in self._pending:
                    pending.next_send = 0.0  # what the last connection may have lost: again
                self._cv.notify_all()

    def _on_response(self, message: Message) -> None:
        try:
            answer = qp.parse_response(message.payload, self.device)
        except SchemaError as exc:
            self.stats.bad_messages += 1
            log.warning("%s: bad queue answer: %s", self.device, exc.reason)
            return
        with self._cv:
            pending = self._by_id.pop(answer.id, None)
            if pending is not None:
                pending.answer = answer
                if pending in self._pending:
                    self._pending.remove(pending)
                self._answered.append(answer.id)
                self.stats.answers += 1
                pending.done.set()
                self._cv.notify_all()
            elif answer.id in self._answered:
                return  # the answer to a repeat of a request already answered
        if pending is None:
            self._late(answer)
        elif pending.deadline is None and not answer.ok:
            self.stats.durable_errors += 1
            log.warning("%s: %s %s refused: %s", self.device, answer.op,
                        pending.request.ticket_id, answer.message)  # fmt: skip

    def _late(self, answer: qp.QueueResponse) -> None:
        self.stats.late_answers += 1
        entry = None
        if answer.ok and answer.op in (qp.CALL_NEXT, qp.CALL_SPECIFIC):
            try:
                result = qp.parse_result(answer.op, answer.result)
            except SchemaError:
                result = None
            entry = result.entry if isinstance(result, qp.CallResult) else None
        if entry is None:
            log.info("%s: late answer to %s %s ignored", self.device, answer.op, answer.id)
            return
        with self._cv:
            self.stats.late_calls += 1
            self.late_calls.append(entry)
            del self.late_calls[:-LATE_CALLS_KEPT]  # a counter runs for months
        log.warning(
            "%s: the service called %s to counter %s after the teller gave up; reconcile",
            self.device, entry.ticket.number, entry.counter,
        )  # fmt: skip

    def _on_state(self, message: Message) -> None:
        try:
            state = qp.parse_state(message.payload)
        except SchemaError as exc:
            self.stats.bad_messages += 1
            log.warning("%s: bad queue state: %s", self.device, exc.reason)
            return
        with self._cv:
            if state.supersedes(self._state):
                self._state = state
                self._cv.notify_all()

    def _view(self, counter: int) -> qp.CounterView | None:
        state = self._state
        return state.counters.get(counter) if state is not None else None

    def wait_state(self, predicate, timeout: float) -> bool:
        """Block until the latest state satisfies ``predicate(state)`` (tests, start-up)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._state is None or not predicate(self._state):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True


def _entry(wire: qp.WireEntry, counter: int, at: Instant) -> Entry:
    """A called entry in this device's clock frame: waiting time as the service measured it."""
    return Entry(
        ticket=wire.as_ticket(),
        business_type=wire.business_type,
        queued_at=wire.local_queued_at(at),
        status=Status.CALLED,
        counter=counter,
        calls=1,
        leg_started=wire.queued_at,
    )
