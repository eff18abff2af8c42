"""The admin page's device actions: voice broadcasts and tests, kiosk printer tests and previews.

Broadcasts are proxied here (not called on `/api/voice/broadcast` from the page) so that they
carry the session's CSRF token like every other admin action.

The kiosk printers belong to the kiosks (issue 5); the controller builds no driver for them.
A test print opens the printer at its configured address with the same driver the kiosk uses,
prints a test ticket (number 000, which is never issued), closes it again and records the
printer's health (device `<kiosk>-printer`, kind `printer`) so the overview shows it. A
printer the kiosk holds open (USB) may refuse a second user: the result says so.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web

from hallq.controller.api import json_response, queue_broadcast, writer_key
from hallq.drivers.printer import PrinterAddress, SimulatedPrinter, TicketPrinter, open_printer
from hallq.drivers.ticket import TicketContent
from hallq.drivers.ticket_preview import preview_png
from hallq.errors import BadRequest, NotFound
from hallq.hall.commands import ReportDeviceHealth
from hallq.hall.config import HallConfig, Kiosk
from hallq.hall.engine import Engine
from hallq.hall.schedule import local_now
from hallq.web.admin_auth import add_guarded, admin_state_key, read_json

TEST_TEXT = {
    "zh": "这是叫号系统的语音测试。",
    "yue": "這是叫號系統的語音測試。",
    "en": "This is a test of the hall's announcements.",
}


# ---------------------------------------------------------------- voice


async def broadcast(request: web.Request) -> web.StreamResponse:
    """广播: free text said in the hall after the calls waiting (as POST /api/voice/broadcast)."""
    return json_response(queue_broadcast(request.app, await read_json(request)), status=202)


async def voice_test(request: web.Request) -> web.StreamResponse:
    """A short test sentence at the current volume, said even in quiet hours."""
    cfg = request.app[writer_key].engine.config
    language = cfg.voice.language if cfg.voice is not None else "zh"
    text = TEST_TEXT.get(language, TEST_TEXT["zh"])
    queued = queue_broadcast(request.app, {"text": text, "repeats": 1, "force": True})
    return json_response(queued, status=202)


# ---------------------------------------------------------------- printers


def printer_device(kiosk: str) -> str:
    """The device name a kiosk's printer reports its health under."""
    return f"{kiosk}-printer"


def _kiosk(cfg: HallConfig, name: str) -> Kiosk:
    for k in cfg.kiosks:
        if k.name == name:
            return k
    raise NotFound("kiosk_not_found", f"没有取号机 {name} / No kiosk {name!r} in the configuration")


def _device_json(engine: Engine, kiosk: str) -> dict[str, Any] | None:
    devices = engine.state.devices
    for name in (printer_device(kiosk), kiosk):
        d = devices.get(name)
        if d is not None and d.kind == "printer":
            return {
                "device": name,
                "status": d.status,
                "reason": d.reason,
                "reason_en": d.reason_en,
                "since": d.since,
            }
    return None


async def list_printers(request: web.Request) -> web.StreamResponse:
    writer = request.app[writer_key]
    await writer.settled()
    tests = request.app[admin_state_key].last_tests
    return json_response(
        {
            "printers": [
                {
                    "kiosk": k.name,
                    "printer": k.printer,
                    "paper_columns": k.paper_columns,
                    "qr_native": k.qr_native,
                    "health": _device_json(writer.engine, k.name),
                    "last_test": tests.get(k.name),
                }
                for k in writer.engine.config.kiosks
            ]
        }
    )


def _status_url(request: web.Request, cfg: HallConfig) -> str:
    base = cfg.hall.public_url.rstrip("/") or f"{request.scheme}://{request.host}"
    return f"{base}/t/sample"


def sample_ticket(
    request: web.Request, service: str | None, language: str, test: bool
) -> TicketContent:
    """A ticket as the kiosk would print it now for `service` (default: the first enabled)."""
    writer = request.app[writer_key]
    engine = writer.engine
    cfg = engine.config
    if service:
        s = cfg.service(service)
        if s is None:
            raise NotFound("service_not_found", f"没有业务 {service} / No service {service!r}")
    else:
        s = next((x for x in cfg.services if x.enabled), cfg.services[0])
    en = language == "en"

    def pick(zh: Any, english: Any) -> Any:
        return english if en and english else zh

    outlook = engine.outlooks()[s.code]
    now = writer.clock()
    # Number 000 is never issued, so a test ticket cannot be taken for a real one.
    number = s.prefix + ("0" * s.number_width if test else f"{1:0{s.number_width}d}")
    name = pick(s.name, s.name_en)
    if test:
        name = ("Print test · " if en else "打印测试 · ") + name
    return TicketContent(
        hall_name=pick(cfg.hall.name, cfg.hall.name_en),
        service_name=name,
        number=number,
        ahead=outlook.waiting,
        estimate_minutes=outlook.new_ticket_minutes,
        issued_at=local_now(cfg, now).strftime("%Y-%m-%d %H:%M"),
        windows=[w.number for w in cfg.windows_serving(s.code)],
        materials=list(pick(s.guide.materials, s.guide.materials_en)),
        status_url=_status_url(request, cfg),
        footer=pick(cfg.hall.footer, cfg.hall.footer_en),
        language="en" if en else "zh",
    )


def _language(request: web.Request) -> str:
    lang = request.query.get("lang", "zh")
    if lang not in ("zh", "en"):
        raise BadRequest("invalid_query", "lang must be 'zh' or 'en'")
    return lang


async def preview(request: web.Request) -> web.StreamResponse:
    """The ticket a citizen would get now, drawn as the printer prints it (PNG)."""
    writer = request.app[writer_key]
    await writer.settled()
    kiosk = _kiosk(writer.engine.config, request.match_info["kiosk"])
    content = sample_ticket(request, request.query.get("service"), _language(request), False)
    png = await asyncio.to_thread(preview_png, content, kiosk.paper_columns)
    return web.Response(body=png, content_type="image/png")


def _open(request: web.Request, kiosk: Kiosk) -> TicketPrinter:
    try:
        address = PrinterAddress.parse(kiosk.printer)
    except ValueError as e:
        raise BadRequest("invalid_printer", str(e)) from None
    sims = request.app[admin_state_key].simulators
    simulator = None
    if address.kind == "sim":
        simulator = sims.setdefault(kiosk.name, SimulatedPrinter())
    return open_printer(
        kiosk.name,
        address,
        simulator=simulator,
        paper_columns=kiosk.paper_columns,
        qr_native=kiosk.qr_native,
    )


async def _record_health(request: web.Request, kiosk: str, printer: TicketPrinter) -> None:
    health = printer.health()
    await request.app[writer_key].submit(
        ReportDeviceHealth(
            request_id=f"admin-printer-{uuid.uuid4().hex}",
            device=printer_device(kiosk),
            kind="printer",
            status=health.status,
            reason=health.reason,
            reason_en=health.reason_en,
        )
    )


async def _with_printer(request: web.Request, test: bool) -> web.StreamResponse:
    writer = request.app[writer_key]
    await writer.settled()
    kiosk = _kiosk(writer.engine.config, request.match_info["kiosk"])
    body = await read_json(request)
    language = body.get("lang", "zh")
    if language not in ("zh", "en"):
        raise BadRequest("invalid_request", "lang must be 'zh' or 'en'")
    state = request.app[admin_state_key]
    lock = state.printer_locks.setdefault(kiosk.name, asyncio.Lock())
    async with lock:
        printer = _open(request, kiosk)
        try:
            if test:
                content = sample_ticket(request, None, language, True)
                result = await printer.print_ticket(content)
                printed, reason, reason_en = result.printed, result.reason, result.reason_en
                status = result.status
            else:
                status = await printer.status()
                printed, reason, reason_en = False, "", ""
        finally:
            await printer.close()
        health = printer.health()
        if not reason:
            reason, reason_en = health.reason, health.reason_en
        outcome: dict[str, Any] = {
            "kiosk": kiosk.name,
            "action": "test_print" if test else "status",
            "printed": printed,
            "health": health.status,
            "paper": status.paper,
            "cover_open": status.cover_open,
            "reason": reason,
            "reason_en": reason_en,
            "at": writer.clock(),
        }
        state.last_tests[kiosk.name] = outcome
        await _record_health(request, kiosk.name, printer)
    return json_response(outcome)


async def test_print(request: web.Request) -> web.StreamResponse:
    return await _with_printer(request, test=True)


async def check_printer(request: web.Request) -> web.StreamResponse:
    return await _with_printer(request, test=False)


def add_routes(app: web.Application) -> None:
    add_guarded(app, "POST", "/admin/api/voice/broadcast", broadcast, "staff")
    add_guarded(app, "POST", "/admin/api/voice/test", voice_test, "staff")
    add_guarded(app, "GET", "/admin/api/printers", list_printers, "staff")
    add_guarded(app, "GET", "/admin/api/printers/{kiosk}/preview.png", preview, "staff")
    add_guarded(app, "POST", "/admin/api/printers/{kiosk}/test", test_print, "staff")
    add_guarded(app, "POST", "/admin/api/printers/{kiosk}/status", check_printer, "staff")
