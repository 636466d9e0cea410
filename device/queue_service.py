"""The branch queue service on the controller: one :class:`BranchQueue`, served over MQTT.

One service thread owns the queue and the event store and handles everything in order, so no
ticket can go to two counters. Protocol state, all in that thread:

- ``queue``: its whole state is stored with the events of every change (the store's checkpoint
  ``queue``), so a restart rebuilds exactly that queue, whatever the wall clock did; events stored
  after the checkpoint (a store from before checkpoints) are replayed on top, by sequence number.
- ``answers``: a bounded LRU of (device, request id) -> answer. Every event a request causes is
  stored with ``{"request": {"device", "id", "op"}}`` in its payload, so the answers to applied
  requests are rebuilt from the store's last events after a restart: a request applied just
  before a crash is answered from the cache when the counter retries it, never applied twice.
- ``inbox``: requests from the paho thread with their arrival time; a new request that waited
  longer than its ``ttl_s`` is dropped (its asker gave up, so applying it would hand a ticket to
  a counter that does not know it).

A change is stored (fsynced) before it is answered; then the service publishes the answer on
``queue/resp/<device>``, each call on ``queue/calls`` and the retained ``queue/state``.
"""

from __future__ import annotations

import contextlib
import logging
import queue as queues
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from config.model import Config
from device.store import Checkpoint, EventStore
from domain import events as ev
from domain.clock import Clock, Instant, between
from domain.events import DomainEvent, StoredEvent
from domain.queue import BranchQueue, QueueError, QueueReplay, snapshot
from sync import queue_protocol as qp
from sync import topics
from sync.connection import LinkState, Message, MqttConnection
from sync.wire import SchemaError

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (device, request id)
CHECKPOINT = "queue"  # the name of the service's state among the store's checkpoints
CHECKPOINT_VERSION = 1  # of the state's shape: another version is not read, the store is replayed


@dataclass(frozen=True)
class QueueServiceSettings:
    tick_s: float = 1.0  # how often waiting tickets are checked against their limits
    answers_kept: int = 10_000  # LRU of answers for retried requests
    answers_replayed: int = 20_000  # the answers are rebuilt from this many last events
    inbox_max: int = 10_000
    upcoming: int = 5  # numbers per counter in the state


@dataclass
class QueueServiceStats:
    requests: int = 0
    applied: int = 0
    answered_from_cache: int = 0
    refused: int = 0  # the queue said no (QueueError)
    bad_requests: int = 0
    stale_dropped: int = 0
    inbox_overflow: int = 0
    store_failures: int = 0
    calls_published: int = 0
    states_published: int = 0
    replayed_events: int = 0
    replayed_answers: int = 0


@dataclass
class _Incoming:
    received: float  # time.monotonic() on arrival
    message: Message | None = None
    request: qp.QueueRequest | None = None
    reply: queues.SimpleQueue | None = None  # for in-process callers (submit)


_STOP = object()
_PUBLISH_STATE = object()


def answer_from_events(op: str, events: Sequence[DomainEvent | StoredEvent]) -> dict:
    """The ``result`` of a successful ``op`` from the events it caused (live or replayed)."""
    if op == qp.ISSUE:
        issued = next(e.payload for e in events if isinstance(e.payload, ev.TicketIssued))
        return {"ticket": ev.to_json_object(issued.ticket), "ahead": issued.ahead}
    if op in (qp.CALL_NEXT, qp.CALL_SPECIFIC):
        called = next((e for e in events if isinstance(e.payload, ev.TicketCalled)), None)
        if called is None:
            return {"entry": None}
        p = called.payload
        assert isinstance(p, ev.TicketCalled)
        waited = between(p.ticket.queued_at, called.at).seconds
        return {"entry": qp.entry_dict(ev.to_json_object(p.ticket), waited, p.counter)}
    return {}


def _tagged(e: DomainEvent, tag: ev.RequestRef) -> DomainEvent:
    """``e`` naming the request it answers (every queue event has a ``request`` field)."""
    if isinstance(e.payload, dict) or not hasattr(e.payload, "request"):
        return e
    return DomainEvent(e.type, e.at, msgspec.structs.replace(e.payload, request=tag))


def _error(device: str, rid: str, op: str, error: qp.Error, message: str) -> qp.QueueResponse:
    return qp.QueueResponse(device, rid, op, False, {}, error, message)


class _Answers:
    """Bounded LRU of answers by (device, request id), with the op they answered."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Key, qp.QueueResponse] = OrderedDict()

    def get(self, key: Key) -> qp.QueueResponse | None:
        answer = self._items.get(key)
        if answer is not None:
            self._items.move_to_end(key)
        return answer

    def put(self, key: Key, answer: qp.QueueResponse) -> None:
        self._items[key] = answer
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def upcoming(queue: BranchQueue, counter: int, now: Instant, n: int) -> list[str]:
    """The numbers ``counter`` would call next, best guess in policy order."""
    first = [e.ticket.number for e in queue.candidates(counter, now)]
    rest = [
        e.ticket.number
        for code in queue.serves(counter)
        for e in queue.waiting(code)
        if e.target_counter in (None, counter)
    ]
    return list(dict.fromkeys(first + rest))[:n]


class QueueService:
    """The controller's queue service for ``branch``.

    ``store_path`` is the controller's event store (device id ``device``); the service opens its
    own connection to it in its thread (an :class:`EventStore` belongs to one thread).
    """

    def __init__(
        self,
        connection: MqttConnection,
        branch: str,
        device: str,
        config: Config,
        store_path: str | Path,
        clock: Clock,
        settings: QueueServiceSettings | None = None,
    ) -> None:
        self.connection = connection
        self.branch = topics.check_branch(branch)
        self.device = device
        self.config = config
        self.store_path = Path(store_path)
        self.clock = clock
        self.settings = settings or QueueServiceSettings()
        self.stats = QueueServiceStats()
        self.request_filter = topics.topic_filter(topics.Kind.QUEUE_REQ, branch)
        self.calls_topic = topics.queue_calls(branch)
        self.state_topic = topics.queue_state(branch)
        self.queue = BranchQueue(config)
        self._answers = _Answers(self.settings.answers_kept)
        self._inbox: queues.Queue = queues.Queue(self.settings.inbox_max)
        self._store: EventStore | None = None
        self._store_id = ""  # the store's identity: states of another store supersede ours
        self._seq = 0
        self._saved_quiet = 0
        self._published: dict | None = None  # last state published, without seq and at
        self._thread: threading.Thread | None = None
        self._opened = threading.Event()
        self._failure: BaseException | None = None
        self.turned = time.monotonic()
        """When the service loop last went round (monotonic): it goes round every ``tick_s``."""

    # --- lifetime ------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        """Open the store and rebuild the queue in the service thread, then subscribe."""
        self._thread = threading.Thread(target=self._run, name=f"queue-{self.branch}", daemon=True)
        self._thread.start()
        if not self._opened.wait(timeout):
            raise TimeoutError(f"{self.store_path}: the queue service could not open the store")
        if self._failure is not None:
            raise self._failure
        self.connection.add_state_listener(self._on_link)
        self.connection.subscribe(self.request_filter, self._on_request)
        if self.connection.connected:
            self._on_link(LinkState.CONNECTED)

    def turning(self, within_s: float) -> bool:
        """The service loop went round within the last ``within_s`` (the watchdog asks)."""
        alive = self._thread is not None and self._thread.is_alive()
        return alive and time.monotonic() - self.turned <= within_s

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (the connection stays up: it is shared)."""
        self.connection.unsubscribe(self.request_filter)
        if self._thread is not None:
            self._inbox.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, request: qp.QueueRequest, timeout: float = 10.0) -> qp.QueueResponse | None:
        """Handle a request from this process (a kiosk on the controller), in order with the
        requests from the network; returns the answer (None if dropped as stale)."""
        reply: queues.SimpleQueue = queues.SimpleQueue()
        self._inbox.put(_Incoming(time.monotonic(), request=request, reply=reply), timeout=timeout)
        return reply.get(timeout=timeout)

    # --- paho thread: hand over only ------------------------------------------------------------

    def _on_request(self, message: Message) -> None:
        try:
            self._inbox.put_nowait(_Incoming(time.monotonic(), message=message))
        except queues.Full:
            self.stats.inbox_overflow += 1
            log.warning("queue service: inbox full, request on %s dropped", message.topic)

    def _on_link(self, state: LinkState) -> None:
        if state is LinkState.CONNECTED:  # retained state, fresh after every (re)connect
            with contextlib.suppress(queues.Full):  # never block the network thread
                self._inbox.put_nowait(_PUBLISH_STATE)

    # --- service thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._store = EventStore(self.store_path, self.device)
            self._store.claim(CHECKPOINT)
            self._store_id = self._store.store_id
            self._replay()
        except BaseException as exc:
            self._failure = exc
            self._opened.set()
            return
        self._opened.set()
        next_tick = time.monotonic() + self.settings.tick_s
        try:
            while True:
                self.turned = time.monotonic()
                try:
                    item = self._inbox.get(timeout=max(0.0, next_tick - time.monotonic()))
                except queues.Empty:
                    item = None
                if item is _STOP:
                    break
                try:
                    if item is _PUBLISH_STATE:
                        self._publish_state(force=True)
                    elif isinstance(item, _Incoming):
                        self._receive(item)
                    if time.monotonic() >= next_tick:
                        next_tick = time.monotonic() + self.settings.tick_s
                        self._tick()
                except Exception:
                    log.exception("queue service: step failed")
        finally:
            self._store.close()

    def _replay(self) -> None:
        """Rebuild the queue (its checkpoint, then any later events) and the answers to the
        requests applied last, from the store."""
        assert self._store is not None
        self.queue, after = BranchQueue(self.config), 0
        checkpoint = self._store.checkpoint(CHECKPOINT)
        if checkpoint is not None and checkpoint.state.get("version") == CHECKPOINT_VERSION:
            try:
                self.queue.load_state({**checkpoint.state, "entries": [*checkpoint.items.values()]})
                after = checkpoint.seq
            except (KeyError, TypeError, ValueError):
                log.exception("queue service: its checkpoint cannot be read: replaying")
                self.queue = BranchQueue(self.config)
        replay = QueueReplay(self.queue)
        for event in self._store.events(after_seq=after):
            replay.apply(event.at, event.payload)
        last = self._store.last_event(other_than_boot=self.clock.now().boot)
        if last is not None:
            self.queue.boot_ends.note(last.at)
        self._saved_quiet = self.queue.quiet_changes
        self._answers = _Answers(self.settings.answers_kept)
        since = max(0, self._store.last_seq() - self.settings.answers_replayed)
        events = self._store.events(after_seq=since)
        groups: dict[Key, tuple[str, list[StoredEvent]]] = {}
        for stored in events:
            req = getattr(stored.payload, "request", None)
            if isinstance(req, ev.RequestRef):
                groups.setdefault((req.device, req.id), (req.op, []))[1].append(stored)
        for (device, rid), (op, group) in groups.items():
            result = answer_from_events(op, group)
            self._answers.put((device, rid), qp.QueueResponse(device, rid, op, True, result))
        self._seq = self._store.last_seq()
        self.stats.replayed_events += len(events)
        self.stats.replayed_answers += len(groups)

    def _receive(self, item: _Incoming) -> None:
        self.stats.requests += 1
        request = item.request
        if request is None:
            assert item.message is not None
            request = self._parse(item.message)
            if request is None:
                return
        answer = self._handle(request, item.received)
        if item.reply is not None:
            item.reply.put(answer)
        elif answer is not None:
            self._respond(answer)

    def _parse(self, message: Message) -> qp.QueueRequest | None:
        info = topics.parse(message.topic)
        device = info.device if info is not None else None
        try:
            if device is None:
                raise SchemaError(f"not a queue request topic: {message.topic}")
            return qp.parse_request(message.payload, device)
        except SchemaError as exc:
            self.stats.bad_requests += 1
            log.warning("queue service: bad request on %s: %s", message.topic, exc.reason)
            ids = qp.request_id_of(message.payload)
            if device is not None and ids is not None:
                rid, op = ids
                self._respond(_error(device, rid, op, qp.BAD_REQUEST, exc.reason))
            return None

    def _handle(self, req: qp.QueueRequest, received: float) -> qp.QueueResponse | None:
        key = (req.device, req.id)
        cached = self._answers.get(key)
        if cached is not None:
            if cached.op != req.op:
                self.stats.bad_requests += 1
                reason = f"request id {req.id} was used for {cached.op}, not {req.op}"
                return _error(req.device, req.id, req.op, qp.BAD_REQUEST, reason)
            self.stats.answered_from_cache += 1
            return cached
        if req.ttl_s is not None and time.monotonic() - received > req.ttl_s:
            self.stats.stale_dropped += 1
            log.warning("queue service: %s %s from %s dropped: stale", req.op, req.id, req.device)
            return None
        now = self.clock.now()
        self._new_day(now)  # never yesterday's ticket, even before the first tick
        if req.op == qp.HELD:
            return qp.QueueResponse(req.device, req.id, req.op, True, self._held(req.counter, now))
        try:
            events = self._apply(req, now)
        except QueueError as exc:
            self.stats.refused += 1
            answer = _error(req.device, req.id, req.op, qp.QUEUE_ERROR, str(exc))
            self._answers.put(key, answer)
            return answer
        except Exception as exc:  # a bug: the queue may be half-changed, so rebuild it
            log.exception("queue service: %s failed", req.op)
            return self._failed(req, f"{type(exc).__name__}: {exc}")
        tag = ev.RequestRef(device=req.device, id=req.id, op=req.op)
        tagged = [_tagged(e, tag) for e in events]
        assert self._store is not None
        try:
            stored = self._append(tagged)
        except Exception as exc:
            self.stats.store_failures += 1
            log.exception("queue service: cannot store %s", req.op)
            return self._failed(req, f"cannot store the change: {exc}")
        self.stats.applied += 1
        result = answer_from_events(req.op, events)
        answer = qp.QueueResponse(req.device, req.id, req.op, True, result)
        self._answers.put(key, answer)
        self._after_change(stored)
        return answer

    def _failed(self, req: qp.QueueRequest, reason: str) -> qp.QueueResponse:
        """Nothing was stored: go back to what the store says and tell the asker."""
        self._replay()
        return _error(req.device, req.id, req.op, qp.SERVICE_ERROR, reason)

    def _apply(self, req: qp.QueueRequest, now: Instant) -> list[DomainEvent]:
        q, counter = self.queue, req.counter
        if req.op == qp.ISSUE:
            assert req.business_type is not None  # the request's rules (QueueRequest)
            return q.issue(req.business_type, now, req.priority)[1]
        assert counter is not None
        if req.op == qp.CALL_NEXT:
            return q.call_next(counter, now)[1]
        if req.op == qp.CALL_SPECIFIC:
            assert req.number is not None
            return q.call_specific(counter, req.number, now)[1]
        ticket_id = req.ticket_id
        assert ticket_id is not None
        if req.op == qp.RECALL:
            return q.recall(ticket_id, counter, now)
        if req.op == qp.NO_SHOW:
            return q.no_show(ticket_id, counter, now)
        if req.op == qp.SERVED:
            return q.served(ticket_id, counter, now)
        if req.op == qp.TRANSFER:
            return q.transfer(
                ticket_id,
                counter,
                now,
                to_business_type=req.to_business_type,
                to_counter=req.to_counter,
            )
        raise QueueError(f"unknown op {req.op!r}")

    def _held(self, counter: int | None, now: Instant) -> dict:
        entries = []
        for e in snapshot(self.queue)["entries"]:
            if e["status"] == "called" and e["counter"] == counter:
                info = {**e["ticket"], "business_type": e["business_type"]}
                info["queued_at"] = e["queued_at"]
                waited = between(Instant.from_dict(e["queued_at"]), now).seconds
                entries.append(qp.entry_dict(info, waited, counter))
        return {"entries": entries}

    def _new_day(self, now: Instant) -> None:
        """Store the expiry of yesterday's tickets, if a new business day has begun."""
        events = self.queue.new_day(now)
        if events:
            try:
                self._after_change(self._append(events))
            except Exception:
                self.stats.store_failures += 1
                log.exception("queue service: cannot store the new business day")
                self._replay()

    def _append(self, events: list[DomainEvent]) -> list[StoredEvent]:
        """Store ``events`` with the queue's state after them (one transaction)."""
        assert self._store is not None
        state, tickets, gone = self.queue.checkpoint_parts()
        checkpoint = Checkpoint(CHECKPOINT, {**state, "version": CHECKPOINT_VERSION}, tickets, gone)
        stored = self._store.append_many(events, checkpoint=checkpoint)
        self._saved_quiet = self.queue.quiet_changes
        return stored

    def _tick(self) -> None:
        events = self.queue.tick(self.clock.now())
        changed = events or self.queue.quiet_changes != self._saved_quiet
        if changed and self._store is not None:
            try:
                self._after_change(self._append(events))
                return
            except Exception:
                self.stats.store_failures += 1
                log.exception("queue service: cannot store wait alerts")
                self._replay()
        self._publish_state()  # escalation may change what a counter would call

    # --- publishing ----------------------------------------------------------------------------

    def _respond(self, answer: qp.QueueResponse) -> None:
        topic = topics.queue_resp(self.branch, answer.device)
        self.connection.publish(topic, qp.encode_response(answer), qos=1)

    def _after_change(self, stored: list[StoredEvent]) -> None:
        for done in stored:
            self._seq = max(self._seq, done.seq)
            p = done.payload
            if isinstance(p, ev.TicketCalled | ev.TicketRecalled):
                call = qp.QueueCall(
                    seq=done.seq,
                    ticket=p.ticket.number,
                    ticket_id=p.ticket.id,
                    business_type=p.ticket.business_type,
                    counter=p.counter,
                    call=p.call if isinstance(p, ev.TicketRecalled) else 1,
                    at=done.wall.isoformat(),
                )
                self.connection.publish(self.calls_topic, qp.encode_call(call), qos=1)
                self.stats.calls_published += 1
        self._publish_state()

    def state(self, now: Instant | None = None) -> qp.QueueState:
        """The queue as the retained ``queue/state`` shows it (service thread only)."""
        now = now or self.clock.now()
        q, n = self.queue, self.settings.upcoming
        counters = {
            c.number: qp.CounterView(
                q.serves(c.number),
                q.has_work_for(c.number, now),
                tuple(upcoming(q, c.number, now, n)),
            )
            for c in self.config.counters
        }
        snap = snapshot(q)
        current = tuple(
            qp.CurrentCall(
                e["counter"],
                e["ticket"]["number"],
                e["ticket"]["id"],
                e["business_type"],
                e["calls"],
            )
            for e in snap["entries"]
            if e["status"] == "called"
        )
        if q.business_day is not None:
            day = q.business_day.isoformat()
        else:  # no reading of the clock yet: the business day of the service's clock
            day = now.wall.astimezone(ZoneInfo(self.config.device.timezone)).date().isoformat()
        return qp.QueueState(
            self._seq,
            now.wall.isoformat(),
            day,
            q.waiting_counts(),
            counters,
            current,
            self._store_id,
        )

    def _publish_state(self, force: bool = False) -> None:
        state = self.state()
        same = {k: v for k, v in msgspec.structs.asdict(state).items() if k not in ("seq", "at")}
        if not force and same == self._published:
            return
        self._published = same
        self.connection.publish(self.state_topic, qp.encode_state(state), qos=1, retain=True)
        self.stats.states_published += 1
