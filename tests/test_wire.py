"""The one envelope reader and writer (sync/wire.py), for every kind of wire message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest

from domain.clock import Instant
from domain.events import QueuedTicket, RatingPress, StoredEvent
from sync import config_downlink as cd
from sync import queue_protocol as qp
from sync import schema, wire
from sync.wire import SchemaError

STORE = "5b1c0d3e-7f00-4a1b-9c2d-0e1f2a3b4c5d"
AT = Instant(5021.25, datetime(2026, 11, 25, 1, 2, 3, 120000, tzinfo=UTC), "boot-1")
TICKET = QueuedTicket(id="20261125-A012", number="A012", business_type="cash", serial=12,
                      business_day=AT.wall.date(), issued_at=AT, queued_at=AT)  # fmt: skip
ENTRY = qp.entry_dict(msgspec.to_builtins(TICKET), 431.27, 3)


def event(seq: int, payload) -> StoredEvent:
    return StoredEvent(seq, f"00000000-0000-4000-8000-{seq:012d}", "w3", "boot-1", 1000.5 + seq,
                       AT.wall, "rating.press", payload)  # fmt: skip


MESSAGES: list[tuple[bytes, object]] = [
    (schema.encode_ack("w3", 42, store=STORE), schema.parse_ack),
    (schema.encode_resend("w3", 3, 9, store=STORE), schema.parse_resend),
    (schema.encode_status(schema.Status("w3", "offline", reason="lost")), schema.parse_status),
    (qp.encode_request(qp.QueueRequest("w3", "r1", qp.CALL_NEXT, 3, 2.0)), qp.parse_request),
    (qp.encode_response(qp.QueueResponse("w3", "r1", qp.CALL_NEXT, True, {"entry": ENTRY})),
     qp.parse_response),
    (qp.encode_response(qp.QueueResponse("w3", "r2", qp.RECALL, False, {}, qp.QUEUE_ERROR, "no")),
     qp.parse_response),
    (qp.encode_call(qp.QueueCall(812, "A012", TICKET.id, "cash", 3, 2, AT.wall.isoformat())),
     qp.parse_call),
    (qp.encode_state(qp.QueueState(812, AT.wall.isoformat(), "2026-11-25", {"cash": 4},
                                   {3: qp.CounterView(("cash",), 4, ("A013",))},
                                   (qp.CurrentCall(3, "A012", TICKET.id, "cash", 2),), STORE)),
     qp.parse_state),
    (cd.encode_message(7, "[queue]\nrecall_limit = 3\n", "2026-11-25T08:00:00+08:00"),
     cd.parse_message),
    (cd.encode_result(cd.DownlinkResult("w3", 8, "refused", ("config v8: x: no",), 7)),
     cd.parse_result),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "parse"), MESSAGES)
def test_every_message_round_trips_behind_its_envelope(raw: bytes, parse) -> None:
    message = parse(raw)
    assert raw.startswith(b'{"v":1,"kind":"%s",' % message.KIND.encode())
    assert wire.encode(message) == raw


@pytest.mark.parametrize(("raw", "parse"), MESSAGES)
def test_what_this_software_writes_msgspec_reads_and_writes_back_byte_for_byte(raw, parse) -> None:
    """The reader's fast duplicate-key check: nothing was dropped if the message comes back as
    it came. Holds for every message this software writes, so it never takes the slow path."""
    assert msgspec.json.encode(msgspec.json.decode(raw)) == raw


@pytest.mark.parametrize(("raw", "parse"), MESSAGES)
def test_what_this_software_writes_is_read_in_one_typed_pass(raw, parse, monkeypatch) -> None:
    """The fast path: no generic decode for a message as written (the checked path would fail
    here), and the same message as the checked path reads."""
    checked = parse(raw)

    def no_checked_path(raw: bytes) -> None:
        raise AssertionError("the checked path was taken")

    monkeypatch.setattr(wire, "_json_object", no_checked_path)
    assert parse(raw) == checked


def test_a_batch_as_written_is_read_in_one_typed_pass(monkeypatch) -> None:
    raw = schema.encode_batch("w3", [event(1, {"level": 5}), event(2, RatingPress(counter=3,
                              value=5, outcome="accepted"))], store=STORE)  # fmt: skip
    checked = schema.parse_batch(raw, "w3")
    monkeypatch.setattr(wire, "_json_object", lambda raw: 1 / 0)
    assert schema.parse_batch(raw, "w3") == checked
    with pytest.raises(ZeroDivisionError):  # a device other than the topic's: the checks
        schema.parse_batch(raw, "w4")


def test_a_batch_of_an_older_device_with_its_walls_written_by_isoformat_is_read() -> None:
    raw = schema.encode_batch("w3", [event(1, {"level": 5})], store=STORE)
    older = raw.replace(b'.120000Z"', b'.120000+00:00"')
    assert older != raw
    assert schema.parse_batch(older, "w3") == schema.parse_batch(raw, "w3")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            MESSAGES[0][0].replace(b'"upto":42', b'"upto":42,"upto":42'),
            "duplicate key 'upto' in a JSON object",
        ),  # read as written, but one key twice
        (
            MESSAGES[0][0].replace(b'"v":1', b'"v":2'),
            "unsupported version 2 (this software speaks v1)",
        ),
        (
            MESSAGES[0][0].replace(b'"kind":"ack"', b'"kind":"resend"'),
            "kind 'resend' where 'ack' was expected",
        ),
    ],
)
def test_what_the_typed_pass_reads_but_was_not_written_so_takes_the_checks(raw, reason) -> None:
    with pytest.raises(SchemaError) as err:
        schema.parse_ack(raw)
    assert err.value.reason == reason


def test_a_message_that_differs_only_in_form_is_read_by_the_checked_path() -> None:
    spaced = json.dumps(json.loads(MESSAGES[0][0]), indent=1).encode()
    assert schema.parse_ack(spaced) == schema.parse_ack(MESSAGES[0][0])


def test_a_batch_of_typed_payloads_comes_back_byte_for_byte() -> None:
    raw = schema.encode_batch("w3", [event(1, {"level": 5}), event(2, RatingPress(counter=3,
                              value=5, outcome="accepted"))], store=STORE)  # fmt: skip
    assert msgspec.json.encode(msgspec.json.decode(raw)) == raw


def test_only_the_configuration_may_leave_out_its_kind() -> None:
    config = json.loads(MESSAGES[-2][0])
    del config["kind"]
    assert cd.parse_message(json.dumps(config)).version == 7
    ack = json.loads(MESSAGES[0][0])
    del ack["kind"]
    with pytest.raises(SchemaError, match="missing field 'kind'"):
        schema.parse_ack(json.dumps(ack))


def test_the_device_is_checked_against_the_topic_only_when_one_is_given() -> None:
    raw = MESSAGES[0][0]
    assert schema.parse_ack(raw).device == "w3"
    with pytest.raises(SchemaError) as err:
        schema.parse_ack(raw, "w4")
    assert err.value.reason == "device 'w3' in the payload does not match 'w4'"


def test_a_number_too_large_is_refused_with_the_path_of_its_field() -> None:
    """An ack beyond any seq SQLite can hold would fail later, in the device's store."""
    ack = MESSAGES[0][0].replace(b'"upto":42', b'"upto":%d' % 2**63)
    with pytest.raises(SchemaError) as err:
        schema.parse_ack(ack)
    assert err.value.reason == "Expected `int` <= 9223372036854775807 - at `$.upto`"


def test_peek_reads_what_it_can_of_a_message_that_does_not_parse() -> None:
    bad = b'{"v":9,"id":"r-7","op":"call_next","counter":0}'
    assert qp.request_id_of(bad) == ("r-7", "call_next")
    assert qp.request_id_of(b'{"id":"a b","op":"x"}') is None
    assert qp.request_id_of(b"[") is None


def test_a_queue_answer_result_is_read_for_its_op_with_the_path_of_a_wrong_field() -> None:
    entry = qp.parse_result(qp.CALL_NEXT, {"entry": ENTRY})
    assert isinstance(entry, qp.CallResult) and entry.entry is not None
    assert entry.entry.as_ticket().id == TICKET.id and entry.entry.queued_at == AT
    wrong = {"entry": {**ENTRY, "waited_s": -1}}
    with pytest.raises(SchemaError) as err:
        qp.parse_result(qp.CALL_NEXT, wrong)
    assert err.value.reason == "in the result: Expected `float` >= 0.0 - at `$.entry.waited_s`"
    other_day = {"entry": {**ENTRY, "ticket": {**ENTRY["ticket"], "id": "20261124-A012"}}}
    with pytest.raises(SchemaError) as err:
        qp.parse_result(qp.CALL_NEXT, other_day)
    assert err.value.reason == (
        "in the result: ticket id '20261124-A012' does not match its number and day - at `$.entry`"
    )
    with pytest.raises(SchemaError, match="call_specific answered without an entry"):
        qp.parse_result(qp.CALL_SPECIFIC, {"entry": None})


def test_a_queue_state_names_counters_by_number() -> None:
    state = json.loads(MESSAGES[7][0])
    assert qp.parse_state(json.dumps(state)).counters[3].has_work == 4
    state["counters"]["0"] = state["counters"].pop("3")
    with pytest.raises(SchemaError) as err:
        qp.parse_state(json.dumps(state))
    assert err.value.reason == "Expected `int` >= 1 - at `key` in `$.counters`"


def test_messages_as_the_previous_release_wrote_them_still_read() -> None:
    """Nulls where this release leaves a field out, a refusal without ``result``, the store first:
    the same field names, so devices and centres of both releases understand each other."""
    served = (b'{"v":1,"kind":"queue_req","device":"w3","id":"r1","op":"served","counter":3,'
              b'"ttl_s":null,"ticket_id":"20261125-A001"}')  # fmt: skip
    assert qp.parse_request(served, "w3") == qp.QueueRequest(
        "w3", "r1", qp.SERVED, 3, ticket_id="20261125-A001"
    )
    issue = (b'{"v":1,"kind":"queue_req","device":"w3","id":"r2","op":"issue","ttl_s":2.0,'
             b'"business_type":"cash","priority":null}')  # fmt: skip
    assert qp.parse_request(issue, "w3") == qp.QueueRequest(
        "w3", "r2", qp.ISSUE, None, 2.0, business_type="cash"
    )
    refusal = (b'{"v":1,"kind":"queue_resp","device":"w3","id":"r1","op":"recall","ok":false,'
               b'"error":"queue_error","message":"no"}')  # fmt: skip
    assert qp.parse_response(refusal, "w3") == qp.QueueResponse(
        "w3", "r1", qp.RECALL, False, {}, qp.QUEUE_ERROR, "no"
    )
    state = (b'{"v":1,"kind":"queue_state","store":"' + STORE.encode() + b'","seq":3,'
             b'"at":"2026-11-25T08:30:00+00:00","day":"2026-11-25","waiting":{"cash":1},'
             b'"counters":{"1":{"serves":["cash"],"has_work":1,"upcoming":["A002"]}},'
             b'"current":[{"counter":1,"ticket":"A001","ticket_id":"20261125-A001",'
             b'"business_type":"cash","calls":1}]}')  # fmt: skip
    assert qp.parse_state(state).counters == {1: qp.CounterView(("cash",), 1, ("A002",))}
