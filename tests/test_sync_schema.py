"""The sync wire format: round trips, and a clear reason for every way a message can be wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events import StoredEvent
from sync import schema
from sync.schema import SchemaError

DEVICE = "pad-01"


def event(seq: int, **changes) -> StoredEvent:
    fields: dict[str, Any] = {
        "seq": seq,
        "id": f"00000000-0000-4000-8000-{seq:012d}",
        "device_id": DEVICE,
        "boot_id": "boot-1",
        "mono": 1000.5 + seq,
        "wall": datetime(2026, 11, 25, 8, 30, tzinfo=UTC) + timedelta(seconds=seq),
        "type": "rating.given",
        "payload": {"level": 5, "comment": "办理很快"},
    }
    fields.update(changes)
    return StoredEvent(**fields)


def batch_dict(first: int = 1, n: int = 3) -> dict:
    return json.loads(schema.encode_batch(DEVICE, [event(s) for s in range(first, first + n)]))


def reason(payload: bytes | str | dict, parse=schema.parse_batch, topic_device=DEVICE) -> str:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    with pytest.raises(SchemaError) as info:
        parse(payload, topic_device)
    return info.value.reason


# --- round trips -------------------------------------------------------------------------------


def test_batch_round_trip_keeps_every_field() -> None:
    beijing = timezone(timedelta(hours=8))
    events = [event(7), event(8, wall=datetime(2026, 1, 2, 3, 4, 5, tzinfo=beijing))]
    parsed = schema.parse_batch(schema.encode_batch(DEVICE, events), DEVICE)
    assert parsed.device == DEVICE
    assert parsed.events == tuple(events)
    assert (parsed.first, parsed.last) == (7, 8)


def test_batch_is_compact_utf8_with_version() -> None:
    raw = schema.encode_batch(DEVICE, [event(1)])
    assert "办理很快".encode() in raw  # not \u-escaped: smaller batches
    obj = json.loads(raw)
    assert (obj["v"], obj["kind"], obj["device"]) == (1, "events", DEVICE)
    assert len(raw) == schema.batch_envelope_size(DEVICE) + len(schema.encode_event(event(1)))


@given(
    first=st.integers(1, 10**9),
    payloads=st.lists(
        st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8))),
        min_size=1,
        max_size=20,
    ),
)
def test_batch_round_trip_property(first: int, payloads: list[dict]) -> None:
    events = [event(first + i, payload=p) for i, p in enumerate(payloads)]
    assert schema.parse_batch(schema.encode_batch(DEVICE, events), DEVICE).events == tuple(events)


def test_ack_resend_status_round_trip() -> None:
    assert schema.parse_ack(schema.encode_ack(DEVICE, 42), DEVICE) == schema.Ack(DEVICE, 42)
    assert schema.parse_resend(schema.encode_resend(DEVICE, 3, 9), DEVICE) == (
        schema.ResendRequest(DEVICE, 3, 9)
    )
    status = schema.Status(DEVICE, "online", "2026-11-25T08:30:00+00:00", "boot-1", "connected")
    assert schema.parse_status(schema.encode_status(status), DEVICE) == status
    will = schema.Status(DEVICE, "offline", reason="connection lost")
    assert schema.parse_status(schema.encode_status(will), DEVICE) == will


def test_unknown_fields_are_ignored() -> None:
    obj = batch_dict()
    obj["future"] = {"x": 1}
    obj["events"][0]["extra"] = True
    assert schema.parse_batch(json.dumps(obj), DEVICE).last == 3


# --- rejections --------------------------------------------------------------------------------


def test_not_json() -> None:
    assert reason(b"{not json").startswith("not JSON")
    assert reason(b"").startswith("not JSON")
    assert reason(b"\xff\xfe").startswith("not UTF-8")
    assert reason(b"[1, 2]") == "not a JSON object but list"


def test_wrong_or_missing_version() -> None:
    obj = batch_dict()
    obj["v"] = 2
    assert reason(obj) == "unsupported version 2 (this software speaks v1)"
    obj["v"] = True
    assert "unsupported version True" in reason(obj)
    del obj["v"]
    assert reason(obj) == "missing field 'v' (protocol version)"


def test_wrong_kind() -> None:
    assert reason(schema.encode_ack(DEVICE, 1)) == "kind 'ack' where 'events' was expected"


def test_missing_kind() -> None:
    obj = batch_dict()
    del obj["kind"]
    assert reason(obj) == "missing field 'kind'"


@pytest.mark.parametrize("field", ["device", "events"])
def test_missing_envelope_field(field: str) -> None:
    obj = batch_dict()
    del obj[field]
    assert reason(obj) == f"Object missing required field `{field}`"


@pytest.mark.parametrize("field", ["seq", "id", "boot", "mono", "wall", "type", "payload"])
def test_missing_event_field(field: str) -> None:
    obj = batch_dict()
    del obj["events"][1][field]
    assert reason(obj) == f"Object missing required field `{field}` - at `$.events[1]`"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("seq", "2", "Expected `int`, got `str`"),
        ("seq", True, "Expected `int`, got `bool`"),
        ("seq", 2.0, "Expected `int`, got `float`"),
        ("seq", 0, "Expected `int` >= 1"),
        ("seq", 2**63, "Expected `int` <= 9223372036854775807"),
        ("id", 5, "Expected `str`, got `int`"),
        ("id", "", "Expected `str` of length >= 1"),
        ("mono", "1.5", "Expected `float`, got `str`"),
        ("wall", 17, "Expected `datetime`, got `int`"),
        ("wall", "yesterday", "Invalid RFC3339 encoded datetime"),
        ("wall", "2026-11-25T08:30:00", "Expected `datetime` with a timezone component"),
        ("type", None, "Expected `str`, got `null`"),
        ("payload", [1], "Expected `object`, got `array`"),
    ],
)
def test_wrong_event_field_types(field: str, value: object, expected: str) -> None:
    obj = batch_dict()
    obj["events"][1][field] = value
    assert reason(obj) == f"{expected} - at `$.events[1].{field}`"


def test_a_number_too_large_for_a_float_is_refused_saying_where() -> None:
    text = json.dumps(batch_dict()).replace('"mono": 1002.5', '"mono": 1e999')
    assert reason(text) == "Number out of range - at `$.events[1].mono`"


def test_wrong_envelope_types() -> None:
    obj = batch_dict()
    obj["events"] = {"seq": 1}
    assert reason(obj) == "Expected `array`, got `object` - at `$.events`"
    obj["events"] = []
    assert reason(obj) == "Expected `array` of length >= 1 - at `$.events`"
    obj["events"] = [1]
    assert reason(obj) == "Expected `object`, got `int` - at `$.events[0]`"
    assert reason({"v": 1, "kind": "events", "device": 7, "events": []}) == (
        "Expected `str`, got `int` - at `$.device`"
    )


def test_seqs_not_contiguous_inside_a_batch() -> None:
    obj = batch_dict(first=4)
    obj["events"][2]["seq"] = 7
    assert reason(obj) == "seqs not contiguous: event 2 has seq 7 after seq 5"
    obj["events"][2]["seq"] = 5
    assert reason(obj) == "seqs not contiguous: event 2 has seq 5 after seq 5"


def test_device_mismatch_between_topic_and_payload() -> None:
    raw = schema.encode_batch(DEVICE, [event(1)])
    assert reason(raw, topic_device="pad-02") == (
        "device 'pad-01' in the payload does not match 'pad-02'"
    )
    assert reason(schema.encode_ack(DEVICE, 1), schema.parse_ack, "pad-02").startswith("device")


def test_oversized_batch() -> None:
    big = [event(s, payload={"note": "x" * 2000}) for s in range(1, 200)]
    raw = schema.encode_batch(DEVICE, big)
    assert len(raw) > schema.MAX_MESSAGE_BYTES
    assert reason(raw) == f"message too large: {len(raw)} bytes > {schema.MAX_MESSAGE_BYTES}"
    many = schema.encode_batch(DEVICE, [event(s, payload={}) for s in range(1, 1100)])
    assert len(many) < schema.MAX_MESSAGE_BYTES
    assert reason(many) == f"too many events in one batch: 1099 > {schema.MAX_BATCH_EVENTS}"


def test_ack_resend_status_rejections() -> None:
    assert reason({"v": 1, "kind": "ack", "device": DEVICE}, schema.parse_ack) == (
        "Object missing required field `upto`"
    )
    assert reason({"v": 1, "kind": "ack", "device": DEVICE, "upto": -1}, schema.parse_ack) == (
        "Expected `int` >= 0 - at `$.upto`"
    )
    bad_range = {"v": 1, "kind": "resend", "device": DEVICE, "from": 9, "to": 3}
    assert reason(bad_range, schema.parse_resend) == "empty range: 'to' (3) is before 'from' (9)"
    bad_state = {"v": 1, "kind": "status", "device": DEVICE, "state": "sleeping"}
    assert reason(bad_state, schema.parse_status) == "Invalid enum value 'sleeping' - at `$.state`"


def test_deeply_nested_json_is_a_reason_not_a_crash() -> None:
    assert reason(b"[" * 100_000 + b"]" * 100_000).startswith("not JSON")


def test_duplicate_keys_are_refused_at_any_depth() -> None:
    """``"seq":6,…,"seq":999`` must not parse as seq 999 (a permanent resend loop for 6..998)."""
    good = schema.encode_batch(DEVICE, [event(6)]).decode()
    twice = good.replace('"seq":6,', '"seq":6,"seq":999,')
    assert reason(twice) == "duplicate key 'seq' in a JSON object"
    in_payload = good.replace('"level":5', '"level":5,"level":1')
    assert reason(in_payload) == "duplicate key 'level' in a JSON object"
    envelope = good.replace('"v":1,', '"v":1,"v":1,')
    assert reason(envelope) == "duplicate key 'v' in a JSON object"
    ack = '{"v":1,"kind":"ack","device":"pad-01","upto":3,"upto":900}'
    assert reason(ack, schema.parse_ack) == "duplicate key 'upto' in a JSON object"


STORE = "5b1c0d3e-7f00-4a1b-9c2d-0e1f2a3b4c5d"


def test_batches_acks_and_resends_name_the_store_they_concern() -> None:
    raw = schema.encode_batch(DEVICE, [event(1)], store=STORE)
    assert json.loads(raw)["store"] == STORE
    assert len(raw) == schema.batch_envelope_size(DEVICE, STORE) + len(
        schema.encode_event(event(1))
    )
    assert schema.parse_batch(raw, DEVICE).store == STORE
    ack = schema.parse_ack(schema.encode_ack(DEVICE, 42, store=STORE), DEVICE)
    assert ack == schema.Ack(DEVICE, 42, STORE)
    resend = schema.parse_resend(schema.encode_resend(DEVICE, 3, 9, store=STORE), DEVICE)
    assert resend == schema.ResendRequest(DEVICE, 3, 9, STORE)


def test_a_message_without_a_store_concerns_the_unnamed_store() -> None:
    """Sent by software from before stores had identities: their events are filed under ''."""
    legacy = {"v": 1, "kind": "ack", "device": DEVICE, "upto": 5}
    assert schema.parse_ack(json.dumps(legacy), DEVICE).store == ""
    assert schema.parse_batch(json.dumps(batch_dict()), DEVICE).store == ""


def test_a_store_identity_is_a_uuid_or_empty() -> None:
    assert reason({**batch_dict(), "store": "my-store"}) == (
        "field 'store' must be a UUID (or empty), not 'my-store'"
    )
    assert reason({**batch_dict(), "store": 7}) == "Expected `str`, got `int` - at `$.store`"
    upper = {"v": 1, "kind": "ack", "device": DEVICE, "upto": 5, "store": STORE.upper()}
    assert reason(upper, schema.parse_ack).startswith("field 'store' must be a UUID")


def test_invalid_utf8_inside_a_string_is_named() -> None:
    raw = schema.encode_batch(DEVICE, [event(1)]).replace("办理很快".encode(), b"\xff\xfe")
    assert reason(raw).startswith("not UTF-8: 'utf-8' codec can't decode byte 0xff")


def test_duplicate_keys_are_refused_whatever_the_spacing() -> None:
    """Messages another encoder wrote (spaces, escapes) take the slow path: still refused."""
    spaced = json.dumps(batch_dict(), indent=1)
    assert schema.parse_batch(spaced, DEVICE).last == 3
    twice = spaced.replace('"seq": 2,', '"seq": 2,\n "seq" : 9,')
    assert reason(twice) == "duplicate key 'seq' in a JSON object"
    escaped = spaced.replace('"level": 5', '"level": 5, "\\u006cevel": 1')
    assert reason(escaped) == "duplicate key 'level' in a JSON object"


def test_events_are_checked_against_the_event_contract_one_by_one() -> None:
    """A payload that does not fit its type is named, with the reason; the batch still parses
    (the centre puts that event aside and keeps the sequence whole)."""
    obj = batch_dict(first=1, n=3)
    obj["events"][1].update(type="rating.press", payload={"counter": 3, "value": "five"})
    obj["events"][2].update(type="rating.press", payload={"counter": 3, "value": 4, "outcome": "x"})
    batch = schema.parse_batch(json.dumps(obj), DEVICE)
    assert batch.last == 3
    assert batch.unfit == {2: "rating.press: Expected `int`, got `str` - at `$.value`"}
    built = schema.EventBatch(DEVICE, batch.events)  # however a batch is made
    assert built.unfit == batch.unfit


def test_an_ack_names_the_id_of_the_event_it_covers_only_when_given() -> None:
    plain = schema.encode_ack("pad-1", 42, store=STORE)
    before = f'{{"v":1,"kind":"ack","device":"pad-1","upto":42,"store":"{STORE}"}}'
    assert plain == before.encode()  # as before the field
    assert isinstance(schema.parse_ack(plain, "pad-1").id, msgspec.UnsetType)
    named = schema.encode_ack("pad-1", 42, store=STORE, event_id="0190a1b2-c3d4")
    assert named == plain[:-1] + b',"id":"0190a1b2-c3d4"}'
    assert schema.parse_ack(named, "pad-1").id == "0190a1b2-c3d4"
    assert schema.encode_ack("pad-1", 42, store=STORE, event_id="") == plain
