"""The event contract (domain/events.py): typed payloads, precise refusals, old events read."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.clock import ManualClock


def test_a_payload_round_trips_through_its_json() -> None:
    at = ManualClock().now()
    ticket = ev.TicketInfo(
        id="20261125-A001",
        number="A001",
        business_type="cash",
        business_day=date(2026, 11, 25),
        serial=1,
        issued_at=at,
    )
    issued = ev.TicketIssued(ticket=ticket, ahead=3)
    raw = ev.encode_payload(issued)
    assert ev.decode_payload("ticket.issued", raw) == issued
    assert json.loads(raw)["ticket"]["business_day"] == "2026-11-25"
    assert issued["ticket"]["number"] == "A001"  # the JSON view, for tests and tools


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (
            b'{"ticket": 1, "ahead": 3}',
            "ticket.issued: Expected `object`, got `int` - at `$.ticket`",
        ),
        (b'{"minute": 5}', "device.heartbeat: Expected `str`, got `int` - at `$.minute`"),
        (b"[1, 2]", "device.heartbeat: Expected `object`, got `array`"),
        (b"{", "device.heartbeat: Input data was truncated"),
    ],
)
def test_a_payload_that_does_not_fit_is_refused_saying_where(raw: bytes, fragment: str) -> None:
    kind = "ticket.issued" if b"ticket" in raw else "device.heartbeat"
    with pytest.raises(ev.EventContractError) as refused:
        ev.decode_payload(kind, raw)
    assert fragment in str(refused.value)


def test_events_stored_by_an_earlier_version_still_read() -> None:
    """Before issue 7: no waited_before on counter.called, timeline.finished, no exactness."""
    called = ev.decode_payload(
        "counter.called",
        b'{"counter":1,"transaction_id":"t","teller":"1001","ticket":"A001","ticket_id":"x",'
        b'"business_type":"cash","ticket_info":{"id":"x","number":"A001","business_type":"cash",'
        b'"priority":null,"business_day":"2026-11-25","serial":1,"issued_at":{"mono":1,'
        b'"wall":"2026-11-25T08:30:00+00:00","boot":"b"}},"queued_at":{"mono":1,'
        b'"wall":"2026-11-25T08:30:00+00:00","boot":"b"},"call":1}',
    )
    assert isinstance(called, ev.CounterCalled) and called.waited_before_s == 0.0
    closed = ev.decode_payload(
        "transaction.closed",
        b'{"counter":1,"transaction_id":"t","teller":"1001","business_type":"cash",'
        b'"outcome":"served","rating_status":"unrated","timeline":{"finished":null}}',
    )
    assert isinstance(closed, ev.TransactionClosed) and closed.exact is True


def test_types_outside_the_contract_keep_their_plain_payload() -> None:
    assert ev.decode_payload("test.tick", b'{"n": 1}') == {"n": 1}
    assert ev.typed_payload("test.tick", {"n": 1}) == {"n": 1}


TEXT = st.text(max_size=20) | st.sampled_from(["", "王芳", "a\u2028b", '"\\\n\x00', "\ud800"])
MONO = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.integers(0, 2**64), TEXT, TEXT, TEXT, MONO, TEXT, TEXT)
def test_the_chain_head_is_what_json_dumps_writes(prev, seq, eid, device, boot, mono, wall, kind):
    values = [prev, seq, eid, device, boot, mono, wall, kind]
    assert ev._head(*values) == json.dumps(values)
