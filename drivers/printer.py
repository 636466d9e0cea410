"""The ticket printer (ESC/POS thermal printers via python-escpos) and its simulated twin.

Chinese text, ``text_mode`` setting:

- ``"gb18030"`` (default): Chinese character mode (``FS &``) and the text sent as GB18030 bytes,
  drawn by the printer's own font. Fast and sharp; needs a printer with a Chinese font (nearly
  every printer sold in China). python-escpos's ``text()`` is not used: it encodes by Western
  code pages and cannot write Chinese.
- ``"image"``: the ticket drawn with PIL and a CJK font and sent as a raster image (``GS v 0``).
  Works on any ESC/POS printer, slower.

A print that fails is reported as a :class:`PrintResult` with the reason, never raised;
:class:`PendingTickets` keeps such a ticket until it is printed or given up. The kiosk prints
through a :class:`PrintSpool`, on a thread of its own, so a slow printer never holds up its
screen. The settings type,
:class:`PrinterSettings`, is the ``[printer]`` table of :mod:`config.model` (``Config.printer``).
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from escpos import printer as escpos_printer
from escpos.escpos import Escpos
from PIL import Image, ImageDraw, ImageFont

from config.model import (
    PRINTER_CONNECTIONS,
    PRINTER_TEXT_MODES,
    PrinterSettings,
    TextsConfig,
)

log = logging.getLogger(__name__)

CONNECTIONS = PRINTER_CONNECTIONS
TEXT_MODES = PRINTER_TEXT_MODES
FS_CHINESE_ON = b"\x1c&"
FS_CHINESE_OFF = b"\x1c."

# Ticket wording per language; a TextsConfig with keys ticket_ahead, ticket_wait, ticket_issued,
# ticket_priority or ticket_footer overrides these.
TICKET_LABELS: Mapping[str, Mapping[str, str]] = {
    "zh-CN": {
        "ahead": "您前面还有{ahead}人",
        "wait": "预计等候约{minutes}分钟",
        "issued": "取号时间 {time}",
        "priority": "【{name}】",
        "footer": "请留意叫号，凭票办理",
    },
    "en": {
        "ahead": "{ahead} people ahead of you",
        "wait": "Expected wait about {minutes} min",
        "issued": "Issued {time}",
        "priority": "[{name}]",
        "footer": "Please listen for your number",
    },
}


@dataclass(frozen=True)
class TicketInfo:
    """What goes on a ticket, already in the customer's language; ``issued_at`` is local time
    (``device.presenter.ticket_info`` makes it from a ticket and the configuration)."""

    ticket_id: str
    number: str
    business_name: str
    branch_name: str
    issued_at: datetime
    ahead: int
    priority_name: str | None = None
    expected_wait_min: int | None = None
    language: str = "zh-CN"

    def ref(self) -> dict[str, str]:
        return {"id": self.ticket_id, "number": self.number}


@dataclass(frozen=True)
class PrintResult:
    ok: bool
    ticket_id: str
    reason: str | None = None
    output: str | None = None  # e.g. the simulated printer's PNG


# -- layout ----------------------------------------------------------------------------------

Size = Literal["small", "normal", "large", "huge"]


@dataclass(frozen=True)
class Line:
    text: str
    size: Size = "normal"
    bold: bool = False
    align: Literal["center", "left"] = "center"


def ticket_labels(language: str, texts: TextsConfig | Mapping | None = None) -> dict[str, str]:
    """The ticket's wording: ``TICKET_LABELS`` overridden by ``texts`` keys ``ticket_<name>``."""
    labels = dict(TICKET_LABELS.get(language, TICKET_LABELS["zh-CN"]))
    table = texts.by_language if isinstance(texts, TextsConfig) else (texts or {})
    for lang in ("zh-CN", language):
        for name in labels:
            value = table.get(lang, {}).get(f"ticket_{name}")
            if value:
                labels[name] = value
    return labels


def ticket_lines(info: TicketInfo, labels: Mapping[str, str]) -> list[Line]:
    """The ticket, top to bottom; the same layout for text, image and simulated printing."""
    lines = [
        Line(info.branch_name, "normal", bold=True),
        Line(""),
        Line(info.business_name, "large", bold=True),
        Line(info.number, "huge", bold=True),
    ]
    if info.priority_name:
        lines.append(Line(labels["priority"].format(name=info.priority_name), "large"))
    lines.append(Line(labels["ahead"].format(ahead=info.ahead)))
    if info.expected_wait_min is not None:
        lines.append(Line(labels["wait"].format(minutes=info.expected_wait_min)))
    lines += [
        Line("-" * 32, "small"),
        Line(labels["issued"].format(time=f"{info.issued_at:%Y-%m-%d %H:%M}"), "small"),
    ]
    if labels.get("footer"):
        lines.append(Line(labels["footer"], "small"))
    return lines


_TEXT_SIZES: dict[Size, tuple[int, int]] = {
    "small": (1, 1),
    "normal": (1, 2),
    "large": (2, 2),
    "huge": (4, 4),
}
_PIXEL_SIZES: dict[Size, int] = {"small": 24, "normal": 30, "large": 48, "huge": 128}


def send_text(p: Escpos, lines: list[Line], cut: str) -> None:
    """The ticket as text in the printer's Chinese mode (``FS &``, GB18030 bytes)."""
    p.hw("INIT")
    p._raw(FS_CHINESE_ON)
    for line in lines:
        width, height = _TEXT_SIZES[line.size]
        p.set(align=line.align, bold=line.bold, custom_size=True, width=width, height=height)
        p._raw(line.text.encode("gb18030") + b"\n")
    p.set(align="left", bold=False, normal_textsize=True)
    p._raw(FS_CHINESE_OFF)
    p.cut(mode=cut)


@functools.lru_cache(maxsize=16)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        log.warning("printer: font %s missing (Debian package fonts-wqy-zenhei)", path)
        return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Break ``text`` to fit ``width`` pixels: at spaces when there are any, else anywhere."""
    if draw.textlength(text, font=font) <= width:
        return [text]  # most lines: one measure, not one per character
    rows, row = [], ""
    for char in text:
        if draw.textlength(row + char, font=font) <= width or not row:
            row += char
            continue
        cut = row.rfind(" ")
        if cut > 0:
            rows.append(row[:cut])
            row = row[cut + 1 :] + char
        else:
            rows.append(row)
            row = char
    return [*rows, row]


def render_image(lines: list[Line], width: int, font_path: str) -> Image.Image:
    """The ticket drawn black on white, ``width`` pixels wide (grayscale)."""
    scale = width / 576
    margin = round(16 * scale)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    rows: list[tuple[str, Any, Line, int]] = []
    for line in lines:
        font = _font(font_path, max(12, round(_PIXEL_SIZES[line.size] * scale)))
        height = round(_PIXEL_SIZES[line.size] * scale * 1.25)
        for row in _wrap(probe, line.text, font, width - 2 * margin):
            rows.append((row, font, line, height))
    image = Image.new("L", (width, sum(r[3] for r in rows) + 2 * margin), 255)
    draw = ImageDraw.Draw(image)
    y = margin
    for text, font, line, height in rows:
        x: float = margin
        if line.align == "center":
            x = (width - draw.textlength(text, font=font)) / 2
        draw.text((x, y), text, font=font, fill=0, stroke_width=1 if line.bold else 0)
        y += height
    return image


def send_image(p: Escpos, image: Image.Image, impl: str, cut: str) -> None:
    """The ticket as one raster image, then a cut."""
    p.hw("INIT")
    p.image(image.convert("1"), impl=impl)
    p.cut(mode=cut)


# -- printers ----------------------------------------------------------------------------------


class TicketPrinter(Protocol):
    def print_ticket(self, info: TicketInfo) -> PrintResult: ...


class EscposTicketPrinter:
    """Prints through python-escpos; opens the connection per ticket so a replug just works."""

    def __init__(
        self, settings: PrinterSettings, texts: TextsConfig | Mapping | None = None
    ) -> None:
        if settings.connection == "simulated":
            raise ValueError("printer.connection 'simulated': use SimulatedPrinter or make_printer")
        self.settings = settings
        self.texts = texts
        self._dummy = None
        if settings.connection == "dummy":
            self._dummy = escpos_printer.Dummy(profile=settings.profile)

    @property
    def output(self) -> bytes:
        """Everything sent so far (``dummy`` connection only)."""
        if self._dummy is None:
            raise AttributeError("output: only a dummy printer keeps what it was sent")
        return self._dummy.output

    def connect(self) -> Escpos:
        """A new escpos printer object for the configured connection (not opened yet)."""
        s = self.settings
        if self._dummy is not None:
            return self._dummy
        if s.connection == "file":
            return escpos_printer.File(s.device, profile=s.profile)
        if s.connection == "serial":
            return escpos_printer.Serial(
                s.device, baudrate=s.baudrate, timeout=s.timeout_s, profile=s.profile
            )
        if s.connection == "network":
            return escpos_printer.Network(s.host, s.port, timeout=s.timeout_s, profile=s.profile)
        if not escpos_printer.Usb.is_usable():
            raise RuntimeError(
                "the usb connection needs the Python package pyusb; or use connection = "
                '"file" with device = "/dev/usb/lp0" (kernel usblp driver)'
            )
        return escpos_printer.Usb(s.usb_vendor, s.usb_product, timeout=0, profile=s.profile)

    def where(self) -> str:
        s = self.settings
        return {
            "dummy": "dummy",
            "file": s.device,
            "serial": s.device,
            "network": f"{s.host}:{s.port}",
            "usb": f"{s.usb_vendor:04x}:{s.usb_product:04x}",
        }[s.connection]

    def print_ticket(self, info: TicketInfo) -> PrintResult:
        s = self.settings
        lines = ticket_lines(info, ticket_labels(info.language, self.texts))
        p: Escpos | None = None
        try:
            p = self.connect()
            _set_width(p, s.paper_width_px)
            if s.connection != "dummy":
                p.open()
            if s.check_paper and s.connection in ("serial", "network", "usb") and _no_paper(p):
                return self._failed(info, "paper out")
            if s.text_mode == "image":
                send_image(
                    p, render_image(lines, s.paper_width_px, s.font_path), s.image_impl, s.cut
                )
            else:
                send_text(p, lines, s.cut)
        except Exception as exc:  # escpos, OS, serial and usb errors alike: the kiosk goes on
            return self._failed(info, f"{type(exc).__name__}: {exc}")
        finally:
            if p is not None and p is not self._dummy:
                _close_quietly(p)
        return PrintResult(True, info.ticket_id)

    def _failed(self, info: TicketInfo, reason: str) -> PrintResult:
        reason = " ".join(f"{self.settings.connection} printer {self.where()}: {reason}".split())
        log.warning("printer: ticket %s not printed: %s", info.number, reason)
        return PrintResult(False, info.ticket_id, reason)


def _set_width(p: Escpos, pixels: int) -> None:
    """Tell this printer object its paper width (a copy: profiles are shared between objects)."""
    data = copy.deepcopy(p.profile.profile_data)
    data.setdefault("media", {}).setdefault("width", {})["pixels"] = pixels
    p.profile.profile_data = data


def _no_paper(p: Escpos) -> bool:
    try:
        return p.paper_status() == 0
    except Exception as exc:  # printers that do not answer status queries
        log.debug("printer: no paper status (%s)", exc)
        return False


def _close_quietly(p: Escpos) -> None:
    try:
        p.close()
    except Exception as exc:
        log.debug("printer: close failed: %s", exc)


KEEP = 200
"""How many printed tickets the simulated printer remembers (``printed``)."""


@dataclass
class SimulatedPrinter:
    """Twin that draws each ticket to ``<out_dir>/<ticket id>.png``; set ``fail_reason`` to fail.

    ``printed`` holds the paths of the last :data:`KEEP` tickets, ``printed_total`` counts all.
    """

    out_dir: Path
    settings: PrinterSettings = field(default_factory=PrinterSettings)
    texts: TextsConfig | Mapping | None = None
    fail_reason: str | None = None
    printed: deque[Path] = field(default_factory=lambda: deque(maxlen=KEEP))
    printed_total: int = 0

    def print_ticket(self, info: TicketInfo) -> PrintResult:
        if self.fail_reason:
            log.warning("printer (simulated): ticket %s: %s", info.number, self.fail_reason)
            return PrintResult(False, info.ticket_id, f"simulated printer: {self.fail_reason}")
        lines = ticket_lines(info, ticket_labels(info.language, self.texts))
        image = render_image(lines, self.settings.paper_width_px, self.settings.font_path)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / f"{info.ticket_id}.png"
            image.save(path)
        except OSError as exc:
            return PrintResult(False, info.ticket_id, f"simulated printer: {exc}")
        self.printed.append(path)
        self.printed_total += 1
        return PrintResult(True, info.ticket_id, output=str(path))


def make_printer(
    settings: PrinterSettings, texts: TextsConfig | Mapping | None = None
) -> TicketPrinter:
    if settings.connection == "simulated":
        return SimulatedPrinter(Path(settings.simulated_dir), settings, texts)
    return EscposTicketPrinter(settings, texts)


class PrintSpool:
    """Prints tickets one after another on a thread of its own (started by the first).

    ``submit(info)`` returns at once: ``False`` if ``limit`` tickets are already in the spool
    (waiting, printing, or printed and not yet collected), and the caller then records that
    print as failed. ``results()`` hands over the results since the last call, in order, for
    the app's main loop to record (the event store belongs to that thread).
    """

    def __init__(self, printer: TicketPrinter, limit: int = 16) -> None:
        if limit < 1:
            raise ValueError(f"a print spool holds at least one ticket, not {limit}")
        self.printer = printer
        self.limit = limit
        self._jobs: deque[TicketInfo] = deque()
        self._done: deque[PrintResult] = deque()
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        """Tickets in the spool: waiting, printing, or printed and not yet collected."""
        with self._cond:
            return len(self._jobs) + self._busy + len(self._done)

    def submit(self, info: TicketInfo) -> bool:
        """Queue ``info`` for printing; ``False`` (nothing queued) when the spool is full."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the print spool is closed")
            if len(self._jobs) + self._busy + len(self._done) >= self.limit:
                return False
            self._jobs.append(info)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="print-spool", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return True

    def results(self) -> list[PrintResult]:
        """The results of the prints finished since the last call, oldest first."""
        with self._cond:
            done = list(self._done)
            self._done.clear()
        return done

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every submitted ticket has been printed (or failed); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._busy, timeout)

    def close(self, timeout: float | None = 5.0) -> None:
        """Print what is queued, then stop the thread (waiting up to ``timeout``)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._jobs or self._closed)
                if not self._jobs:
                    return
                info = self._jobs.popleft()
                self._busy = True
            try:
                result = self.printer.print_ticket(info)
            except Exception as exc:  # print_ticket reports failures; this is a bug: go on
                log.exception("printer: ticket %s", info.number)
                result = PrintResult(False, info.ticket_id, f"{type(exc).__name__}: {exc}")
            with self._cond:
                self._done.append(result)
                self._busy = False
                self._cond.notify_all()


# -- tickets not yet in the customer's hand ------------------------------------------------------


@dataclass
class PendingTicket:
    info: TicketInfo
    attempts: int = 1
    reason: str | None = None  # why the last attempt failed; None while printing

    @property
    def failed(self) -> bool:
        return self.reason is not None


class PendingTickets:
    """Tickets issued by the queue but not yet printed. Pure: returns events as plain dicts.

    Flow: ``add(info)``, print, ``record(id, result)``; a failed ticket waits in ``failed()``
    until ``reprint(id)`` (then print and ``record`` again) or ``abandon(id, reason)``. Each
    event is ``{"type": ..., "payload": {...}}`` for the app to store with its clock's instant.
    """

    def __init__(self) -> None:
        self._tickets: dict[str, PendingTicket] = {}

    def __contains__(self, ticket_id: str) -> bool:
        return ticket_id in self._tickets

    def __len__(self) -> int:
        return len(self._tickets)

    def add(self, info: TicketInfo) -> None:
        """A ticket the queue has issued, about to be printed (its first attempt)."""
        if info.ticket_id in self._tickets:
            raise ValueError(f"ticket {info.ticket_id} is already pending")
        self._tickets[info.ticket_id] = PendingTicket(info)

    def get(self, ticket_id: str) -> PendingTicket:
        try:
            return self._tickets[ticket_id]
        except KeyError:
            raise KeyError(f"ticket {ticket_id} is not waiting to be printed") from None

    def pending(self) -> list[PendingTicket]:
        return list(self._tickets.values())

    def failed(self) -> list[PendingTicket]:
        return [t for t in self._tickets.values() if t.failed]

    def mark_printed(self, ticket_id: str) -> dict:
        entry = self.get(ticket_id)
        del self._tickets[ticket_id]
        return _event("ticket.printed", entry)

    def mark_failed(self, ticket_id: str, reason: str) -> dict:
        entry = self.get(ticket_id)
        entry.reason = reason or "unknown"
        return _event("ticket.print_failed", entry, reason=entry.reason)

    def record(self, ticket_id: str, result: PrintResult) -> dict:
        """The event for a print attempt's result."""
        if result.ok:
            return self.mark_printed(ticket_id)
        return self.mark_failed(ticket_id, result.reason or "unknown")

    def reprint(self, ticket_id: str) -> TicketInfo:
        """Start another attempt; returns what to print."""
        entry = self.get(ticket_id)
        entry.attempts += 1
        entry.reason = None
        return entry.info

    def abandon(self, ticket_id: str, reason: str) -> dict:
        """Give up printing (staff cancelled, customer left): the ticket was never handed over."""
        entry = self.get(ticket_id)
        del self._tickets[ticket_id]
        return _event("ticket.print_abandoned", entry, reason=reason)


def _event(type_: str, entry: PendingTicket, **extra: Any) -> dict:
    payload = {"ticket": entry.info.ref(), "attempt": entry.attempts, **extra}
    return {"type": type_, "payload": payload}
