from datetime import UTC, date, datetime

from domain.clock import ManualClock
from domain.tickets import Ticket, TicketIssuer, format_number

PREFIXES = {"cash": "A", "general": "B"}


def issuer() -> TicketIssuer:
    return TicketIssuer(PREFIXES, 3, "Asia/Shanghai")


def test_numbers_are_prefixed_and_zero_padded_per_type():
    clock, iss = ManualClock(), issuer()
    numbers = [iss.issue(t, None, clock.now()).number for t in ("cash", "cash", "general", "cash")]
    assert numbers == ["A001", "A002", "B001", "A003"]


def test_a_serial_too_large_for_the_width_widens_instead_of_wrapping():
    assert format_number("A", 12, 3) == "A012"
    assert format_number("A", 1000, 3) == "A1000"


def test_numbering_restarts_at_local_midnight_and_ids_stay_unique():
    # 15:59 UTC is 23:59 in Shanghai; two minutes later it is the next business day there.
    clock = ManualClock(wall=datetime(2026, 11, 25, 15, 59, tzinfo=UTC))
    iss = issuer()
    before = [iss.issue("cash", None, clock.now()) for _ in range(3)]
    clock.advance(120)
    after = iss.issue("cash", None, clock.now())
    assert before[-1].number == "A003" and before[-1].business_day == date(2026, 11, 25)
    assert after.number == "A001" and after.business_day == date(2026, 11, 26)
    assert after.id != before[0].id  # history stays distinguishable


def test_a_wall_clock_stepping_back_does_not_restart_numbering():
    clock = ManualClock(wall=datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    iss = issuer()
    iss.issue("cash", None, clock.now())
    clock.jump_wall(-3 * 86400)  # an RTC-less Pi before NTP
    again = iss.issue("cash", None, clock.now())
    assert again.number == "A002" and again.business_day == date(2026, 11, 25)


def test_priority_is_kept_on_the_ticket_and_round_trips():
    clock, iss = ManualClock(), issuer()
    ticket = iss.issue("general", "elderly", clock.now())
    assert ticket.priority == "elderly"
    assert Ticket.from_dict(ticket.to_dict()) == ticket


def test_restore_continues_numbering_after_a_restart():
    clock, first = ManualClock(), issuer()
    issued = [first.issue("cash", None, clock.now()) for _ in range(5)]
    second = issuer()
    for t in issued:
        second.restore(t)
    assert second.issue("cash", None, clock.now()).number == "A006"
    assert second.issue("general", None, clock.now()).number == "B001"
