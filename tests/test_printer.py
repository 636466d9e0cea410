"""The ticket printer: ESC/POS bytes, failures that keep the ticket pending, the simulated PNG."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from escpos import printer as escpos_printer
from PIL import Image

from config.model import TextsConfig
from device.presenter import ticket_info
from domain.clock import ManualClock
from domain.tickets import TicketIssuer
from drivers.printer import (
    KEEP,
    EscposTicketPrinter,
    PendingTickets,
    PrinterSettings,
    PrintResult,
    PrintSpool,
    SimulatedPrinter,
    TicketInfo,
    make_printer,
    ticket_labels,
    ticket_lines,
)

GS_V0 = b"\x1dv0"  # raster image
FS_AND = b"\x1c&"  # Chinese character mode on
CUT = b"\x1dV"


def gb(text: str) -> bytes:
    return text.encode("gb18030")


@pytest.fixture
def info() -> TicketInfo:
    return TicketInfo(
        ticket_id="20261125-A012",
        number="A012",
        business_name="现金业务",
        branch_name="测试支行",
        issued_at=datetime(2026, 11, 25, 16, 31),
        ahead=3,
        priority_name="老年人",
        expected_wait_min=12,
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeNetworkPrinter:
    """A TCP 'printer' on 127.0.0.1 that keeps what it receives; answers status queries."""

    def __init__(self, status: bytes = b"\x12") -> None:
        self.status = status
        self.received = b""
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._server.accept()
        with conn:
            while chunk := conn.recv(65536):
                self.received += chunk
                if chunk.endswith(b"\x10\x04\x04"):  # DLE EOT 4: paper sensor status
                    conn.sendall(self.status)

    def close(self) -> bytes:
        self._thread.join(10)
        self._server.close()
        return self.received


# -- what is sent ----------------------------------------------------------------------------------


def test_text_mode_sends_the_ticket_as_gb18030_in_chinese_mode(info):
    p = EscposTicketPrinter(PrinterSettings(connection="dummy"))
    assert p.print_ticket(info) == PrintResult(True, info.ticket_id)
    out = p.output
    assert FS_AND in out and b"A012" in out
    for text in ("现金业务", "测试支行", "【老年人】", "您前面还有3人", "预计等候约12分钟"):
        assert gb(text) in out, text
    assert "现金业务".encode() not in out  # not UTF-8: the printer's font is GB
    assert b"2026-11-25 16:31" in out
    assert out.rindex(CUT) > out.index(b"A012")


def test_image_mode_sends_a_raster_image_and_no_text(info):
    p = EscposTicketPrinter(PrinterSettings(connection="dummy", text_mode="image"))
    assert p.print_ticket(info).ok
    out = p.output
    assert GS_V0 in out and CUT in out
    assert gb("现金业务") not in out and b"A012" not in out
    assert out.count(b"\x00") < len(out) * 0.99  # the raster holds black dots


def test_wording_follows_the_language_and_configured_texts(info):
    texts = TextsConfig({"zh-CN": {"ticket_footer": "过号请重新取号"}, "en": {}})
    labels = ticket_labels("zh-CN", texts)
    assert labels["footer"] == "过号请重新取号"
    english = TicketInfo(**{**info.__dict__, "language": "en", "expected_wait_min": None})
    texts_en = [line.text for line in ticket_lines(english, ticket_labels("en"))]
    assert "3 people ahead of you" in texts_en
    assert not any("wait" in t for t in texts_en)


def test_ticket_info_comes_from_the_queue_ticket_and_config(config):
    clock = ManualClock(wall=datetime(2026, 11, 25, 1, 5, tzinfo=UTC))
    ticket = TicketIssuer({"cash": "A"}, 3, "Asia/Shanghai").issue("cash", "vip", clock.now())
    info = ticket_info(ticket, config, ahead=2, expected_wait_min=5)
    assert (info.number, info.business_name, info.priority_name) == ("A001", "现金业务", "贵宾")
    assert info.branch_name == "测试支行" and info.ticket_id == ticket.id
    assert f"{info.issued_at:%H:%M}" == "09:05"  # Shanghai time on the ticket
    assert ticket_info(ticket, config, 2, language="en").business_name == "Cash"


# -- failures and reprints -------------------------------------------------------------------------


def test_a_failed_print_keeps_the_ticket_pending_until_a_reprint_works(tmp_path, info):
    device = tmp_path / "usb" / "lp0"  # the folder does not exist yet: printer unplugged
    printer = EscposTicketPrinter(PrinterSettings(connection="file", device=str(device)))
    pending = PendingTickets()
    pending.add(info)

    result = printer.print_ticket(info)
    assert not result.ok and result.reason and str(device) in result.reason
    event = pending.record(info.ticket_id, result)
    assert event["type"] == "ticket.print_failed"
    assert event["payload"]["ticket"] == {"id": info.ticket_id, "number": "A012"}
    assert event["payload"]["reason"] == result.reason and event["payload"]["attempt"] == 1
    assert [t.info for t in pending.failed()] == [info]

    device.parent.mkdir()  # plugged in again
    again = pending.reprint(info.ticket_id)
    assert pending.failed() == [] and info.ticket_id in pending
    event = pending.record(info.ticket_id, printer.print_ticket(again))
    assert event == {
        "type": "ticket.printed",
        "payload": {"ticket": {"id": info.ticket_id, "number": "A012"}, "attempt": 2},
    }
    assert info.ticket_id not in pending and len(pending) == 0
    assert gb("现金业务") in device.read_bytes() and b"A012" in device.read_bytes()


def test_a_network_printer_that_is_off_is_an_error_not_an_exception(info):
    port = closed_port()
    settings = PrinterSettings(connection="network", host="127.0.0.1", port=port, timeout_s=2)
    result = EscposTicketPrinter(settings).print_ticket(info)
    assert not result.ok and result.reason and f"127.0.0.1:{port}" in result.reason


def test_a_network_printer_receives_the_ticket(info):
    fake = FakeNetworkPrinter()
    settings = PrinterSettings(connection="network", host="127.0.0.1", port=fake.port)
    assert EscposTicketPrinter(settings).print_ticket(info).ok
    received = fake.close()
    assert b"A012" in received and gb("您前面还有3人") in received


def test_paper_out_reported_by_the_printer_fails_the_print(info):
    fake = FakeNetworkPrinter(status=b"\x72")  # paper end sensor
    settings = PrinterSettings(
        connection="network", host="127.0.0.1", port=fake.port, check_paper=True
    )
    result = EscposTicketPrinter(settings).print_ticket(info)
    received = fake.close()
    assert not result.ok and result.reason and "paper out" in result.reason
    assert b"A012" not in received


@pytest.mark.skipif(escpos_printer.Usb.is_usable(), reason="pyusb is installed here")
def test_usb_without_pyusb_says_what_to_do(info):
    settings = PrinterSettings(connection="usb", usb_vendor=0x0416, usb_product=0x5011)
    result = EscposTicketPrinter(settings).print_ticket(info)
    assert (
        not result.ok
        and result.reason
        and "pyusb" in result.reason
        and "/dev/usb/lp0" in result.reason
    )


def test_pending_tickets_refuse_unknown_and_duplicate_tickets(info):
    pending = PendingTickets()
    pending.add(info)
    with pytest.raises(ValueError, match="already pending"):
        pending.add(info)
    with pytest.raises(KeyError, match="20261125-Z999"):
        pending.reprint("20261125-Z999")
    event = pending.abandon(info.ticket_id, "customer left")
    assert (
        event["type"] == "ticket.print_abandoned" and event["payload"]["reason"] == "customer left"
    )
    assert json.loads(json.dumps(event)) == event
    with pytest.raises(KeyError):
        pending.mark_printed(info.ticket_id)


def test_settings_name_the_wrong_key():
    with pytest.raises(ValueError, match=r'printer\.connection: must be one of .*, got "lpt"'):
        PrinterSettings(connection="lpt")
    with pytest.raises(ValueError, match=r"printer\.host"):
        PrinterSettings(connection="network")


# -- the simulated twin ----------------------------------------------------------------------------


def test_simulated_printer_draws_the_ticket(tmp_path, info):
    printer = make_printer(PrinterSettings(simulated_dir=str(tmp_path / "tickets")))
    result = printer.print_ticket(info)
    assert result.ok and result.output == str(tmp_path / "tickets" / "20261125-A012.png")
    with Image.open(result.output) as image:
        assert image.width == 576 and image.height > 300
        gray = image.convert("L")
        histogram = gray.histogram()
    dark = sum(histogram[:128]) / (gray.width * gray.height)
    assert 0.02 < dark < 0.5, f"{dark:.1%} of the ticket is ink"


def test_simulated_printer_can_run_out_of_paper(tmp_path, info):
    printer = SimulatedPrinter(tmp_path, fail_reason="paper out")
    result = printer.print_ticket(info)
    assert not result.ok and result.reason and "paper out" in result.reason
    assert list(tmp_path.iterdir()) == []
    printer.fail_reason = None
    assert printer.print_ticket(info).ok and len(printer.printed) == 1


def test_simulated_printer_remembers_only_the_last_tickets(tmp_path, info):
    printer = SimulatedPrinter(tmp_path)
    for i in range(KEEP + 5):
        assert printer.print_ticket(replace(info, ticket_id=f"20261125-A{i:03d}")).ok
    assert len(printer.printed) == KEEP and printer.printed_total == KEEP + 5
    assert printer.printed[-1].name == f"20261125-A{KEEP + 4:03d}.png"


# -- the print spool -----------------------------------------------------------------------------


class HeldPrinter:
    """A printer that prints only when let go; it raises for ticket numbers starting with X."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.started = threading.Event()
        self.printed: list[str] = []

    def print_ticket(self, info: TicketInfo) -> PrintResult:
        self.started.set()
        assert self.go.wait(30)
        if info.number.startswith("X"):
            raise OSError("cable pulled")
        self.printed.append(info.number)
        return PrintResult(True, info.ticket_id)


def test_the_spool_prints_in_order_without_holding_up_the_caller(info):
    printer = HeldPrinter()
    spool = PrintSpool(printer, limit=3)
    numbers = ["A001", "X002", "A003"]
    for number in numbers:
        assert spool.submit(replace(info, ticket_id=f"t-{number}", number=number))
    assert printer.started.wait(30) and printer.printed == []  # submit did not wait
    assert spool.results() == [] and len(spool) == 3
    printer.go.set()
    assert spool.wait_idle(30)
    results = spool.results()
    assert [r.ticket_id for r in results] == ["t-A001", "t-X002", "t-A003"]
    assert [r.ok for r in results] == [True, False, True] and "cable pulled" in str(
        results[1].reason
    )
    assert printer.printed == ["A001", "A003"] and spool.results() == [] and len(spool) == 0
    spool.close()
    with pytest.raises(RuntimeError):
        spool.submit(info)


def test_a_full_spool_refuses_until_its_results_are_collected(info):
    printer = HeldPrinter()
    spool = PrintSpool(printer, limit=2)
    assert spool.submit(replace(info, ticket_id="t1")) and spool.submit(
        replace(info, ticket_id="t2")
    )
    assert not spool.submit(replace(info, ticket_id="t3"))  # the caller records a failed print
    printer.go.set()
    assert spool.wait_idle(30)
    assert not spool.submit(replace(info, ticket_id="t3"))  # done, but not yet collected
    assert len(spool.results()) == 2
    assert spool.submit(replace(info, ticket_id="t3"))
    spool.close()
    assert [r.ticket_id for r in spool.results()] == ["t3"]  # close prints what was queued
