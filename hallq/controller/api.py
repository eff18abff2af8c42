"""HTTP and WebSocket handlers. JSON in and out; every user mistake is a 4xx that says why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from hallq import webguard
from hallq.controller.accounts import Accounts
from hallq.controller.bus import EventBus, Notice
from hallq.controller.config_file import ConfigFile
from hallq.controller.routes import COMMAND_ROUTES, CommandRoute
from hallq.controller.status_codes import status_path, with_status_path
from hallq.controller.store import EventLog
from hallq.controller.views import add_last_seen, hall_view, ticket_view
from hallq.controller.writer import HallWriter
from hallq.drivers.base import DriverSet
from hallq.drivers.voice import CallerVoice
from hallq.errors import BadRequest, CommandRejected, NotFound
from hallq.hall.commands import SignIn
from hallq.hall.events import Record
from hallq.webguard import json_response as json_response  # named here for the web pages

log = logging.getLogger("hallq.api")


writer_key = web.AppKey("writer", HallWriter)
reader_key = web.AppKey("reader", EventLog)
bus_key = web.AppKey("bus", EventBus)
openapi_key = web.AppKey("openapi", dict)
drivers_key = web.AppKey("drivers", DriverSet)
accounts_key = web.AppKey("accounts", Accounts)
config_file_key = web.AppKey("config_file", ConfigFile)


class FeedFrames:
    """Each event's feed message, encoded once and shared by every connected client
    (a hall with 200 screens and terminals would otherwise encode each event 200 times)."""

    def __init__(self, keep: int = 4096) -> None:
        self.keep = keep
        self._frames: dict[int, str] = {}

    def __call__(self, record: Record) -> str:
        frame = self._frames.get(record.seq)
        if frame is None:
            message = {"type": "event", "seq": record.seq, "event": record_json(record)}
            frame = self._frames[record.seq] = msgspec.json.encode(message).decode()
            if len(self._frames) > self.keep:
                for seq in list(self._frames)[: self.keep // 2]:
                    del self._frames[seq]
        return frame


feed_frames_key = web.AppKey("feed_frames", FeedFrames)

FEED_CATCH_UP_LIMIT = 50_000  # beyond this gap a reconnecting client gets a snapshot instead
MAX_BODY = 64 * 1024


errors_middleware = webguard.errors_middleware(log, keep_headers=("Allow",))


def record_json(record: Record) -> dict[str, Any]:
    item: dict[str, Any] = msgspec.to_builtins(record.event)
    item["seq"] = record.seq
    item["ts"] = record.ts
    if record.request:
        item["request"] = record.request
    return item


async def _read_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    webguard.check_body_size(request.content_length, MAX_BODY)
    # Read whole and kept (the app caps any body at 1 MiB, for admin imports): a handler
    # may read the body again.
    return webguard.json_object(await request.read(), MAX_BODY)


def _is_number(raw: str, digits: int) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() refuses."""
    return raw.isascii() and raw.isdigit() and len(raw) <= digits


def _path_value(route: CommandRoute, name: str, raw: str) -> Any:
    if name == "window":
        if not _is_number(raw, 3) or not 1 <= int(raw) <= 999:
            raise BadRequest("invalid_window", f"window must be a number 1-999, not {raw!r}")
        return int(raw)
    return raw


def command_handler(route: CommandRoute) -> Callable[[web.Request], Awaitable[web.Response]]:
    tag = route.command.__struct_config__.tag

    async def handle(request: web.Request) -> web.Response:
        body = await _read_body(request)
        for name in (*route.path_params, "command"):
            if name in body:  # the path and the route say these; the body must not contradict them
                raise BadRequest(
                    "invalid_request", f"{route.operation_id}: unknown field {name!r} in the body"
                )
        for name in route.path_params:
            body[name] = _path_value(route, name, request.match_info[name])
        key = request.headers.get("Idempotency-Key")
        if key and "request_id" not in body:
            body["request_id"] = key
        if route.command is SignIn:
            await _check_pin(request, body)
        if not isinstance(body.get("request_id"), str) or not body["request_id"].strip():
            raise BadRequest(
                "request_id_required",
                "request_id is required: a new unique id for each action, the same id when retrying it",
            )
        if len(body["request_id"]) > 128:
            raise BadRequest("request_id_too_long", "request_id is at most 128 characters")
        body["command"] = tag
        try:
            cmd = msgspec.convert(body, route.command, strict=True)
        except msgspec.ValidationError as e:
            raise BadRequest("invalid_request", f"{route.operation_id}: {e}") from None
        reply = await request.app[writer_key].submit(cmd)
        reply = with_status_path(request.app, request.app[writer_key].engine.state.tickets, reply)
        return json_response(reply)

    handle.__name__ = route.operation_id
    return handle


async def _check_pin(request: web.Request, body: dict[str, Any]) -> None:
    """签到 with a PIN: checked here and dropped, so that no PIN ever reaches the log."""
    pin = body.pop("pin", None)
    staff = body.get("staff")
    if not isinstance(staff, str):
        return  # the command's own check says what is wrong
    if pin is not None and not isinstance(pin, str):
        raise BadRequest("invalid_pin", "pin must be a string of digits")
    accounts = request.app[accounts_key]
    if pin is None:
        if await asyncio.to_thread(accounts.has_pin, staff.strip()):
            raise BadRequest("pin_required", "请输入 PIN / Enter your PIN to sign in")
        return
    await asyncio.to_thread(accounts.verify_pin, staff.strip(), pin)


async def get_state(request: web.Request) -> web.Response:
    writer = request.app[writer_key]
    which = request.query.get("tickets", "waiting")
    if which not in ("waiting", "all", "none"):
        raise BadRequest("invalid_query", "tickets must be 'waiting', 'all' or 'none'")
    await writer.settled()
    view = hall_view(
        writer.engine, writer.clock(), all_tickets=which == "all", tickets_shown=which != "none"
    )
    add_last_seen(view, request.app[drivers_key])
    return json_response(view)


async def get_ticket(request: web.Request) -> web.Response:
    writer = request.app[writer_key]
    await writer.settled()
    t = writer.engine.find_ticket(request.match_info["ticket"])
    waits = writer.engine.ticket_forecasts(writer.clock()) if t.status == "waiting" else {}
    view = ticket_view(t, waits.get(t.id))
    view["status_path"] = status_path(request.app, t)
    return json_response(view)


async def get_appointment(request: web.Request) -> web.Response:
    """An appointment by its code, for check-in at a kiosk: its service and slot, no name."""
    writer = request.app[writer_key]
    code = request.match_info["code"].strip()
    await writer.settled()
    appt = writer.engine.state.appointments.get(code) if len(code) <= 64 else None
    if appt is None:
        raise NotFound(
            "appointment_not_found",
            f"预约码 {code[:64]} 无效 / Appointment {code[:64]} was not found",
        )
    return json_response(
        {
            "code": appt.code,
            "service": appt.service,
            "day": appt.day,
            "slot_start": appt.slot_start,
            "slot_end": appt.slot_end,
            "checked_in": appt.ticket is not None,
        }
    )


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _is_number(raw, len(str(high))) or not low <= int(raw) <= high:
        raise BadRequest("invalid_query", f"{name} must be a whole number {low}-{high}")
    return int(raw)


async def get_events(request: web.Request) -> web.Response:
    after = _int_query(request, "after", 0, 0, 2**62)
    limit = _int_query(request, "limit", 1000, 1, 10_000)
    records = await asyncio.to_thread(request.app[reader_key].read_after, after, limit)
    last = request.app[writer_key].committed_seq
    return json_response({"events": [record_json(r) for r in records], "last_seq": last})


async def get_health(request: web.Request) -> web.Response:
    writer = request.app[writer_key]
    return json_response(
        {
            "ok": True,
            "seq": writer.committed_seq,
            "day": writer.engine.state.day,
            "commands": writer.commands,
            "batches": writer.batches,
            "feed_clients": len(request.app[bus_key]),
        }
    )


class BroadcastBody(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    repeats: int = 1
    force: bool = False  # also during quiet hours
    request_id: str | None = None


def queue_broadcast(app: web.Application, raw: dict[str, Any]) -> dict[str, Any]:
    """广播: queue free text (lost property, closing notices) behind the calls waiting."""
    try:
        body = msgspec.convert(raw, BroadcastBody, strict=True)
    except msgspec.ValidationError as e:
        raise BadRequest("invalid_request", f"broadcast: {e}") from None
    text = body.text.strip()
    if not 1 <= len(text) <= 500:
        raise BadRequest("invalid_text", "广播内容需 1-500 字 / The text must be 1-500 characters")
    if not 1 <= body.repeats <= 3:
        raise BadRequest("invalid_repeats", "重复次数为 1-3 / repeats must be 1-3")
    voices = [d for d in app[drivers_key].drivers if isinstance(d, CallerVoice)]
    if not voices:
        raise CommandRejected(
            "no_voice",
            "叫号语音未运行：请检查 [voice] 设置（修改后需重启） / The caller voice is not "
            "running: check the [voice] settings (a change needs a restart)",
        )
    if not all(v.broadcast(text, body.repeats, body.force) for v in voices):
        raise CommandRejected(
            "voice_busy", "语音队列已满，请稍后再试 / The announcement queue is full; retry", 503
        )
    return {"ok": True, "queued": True, "text": text}


async def broadcast(request: web.Request) -> web.Response:
    """POST /api/voice/broadcast."""
    return json_response(queue_broadcast(request.app, await _read_body(request)), status=202)


async def get_openapi(request: web.Request) -> web.Response:
    return json_response(request.app[openapi_key])


async def feed(request: web.Request) -> web.WebSocketResponse:
    """A snapshot on connect (or the events since ?since=SEQ), then every event, in order."""
    since_raw = request.query.get("since")
    since: int | None = None
    if since_raw is not None:
        if not _is_number(since_raw, 18):
            raise BadRequest("invalid_query", "since must be a sequence number")
        since = int(since_raw)
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_BODY)
    await ws.prepare(request)
    writer = request.app[writer_key]
    sub = request.app[bus_key].subscribe()
    encoded = request.app[feed_frames_key]
    sent = 0
    try:
        await writer.settled()
        current = writer.committed_seq
        if since is not None and since <= current and current - since <= FEED_CATCH_UP_LIMIT:
            reader = request.app[reader_key]
            sent = since
            while sent < current:
                chunk = await asyncio.to_thread(reader.read_after, sent, 2000)
                if not chunk:
                    break
                for r in chunk:
                    await _send(ws, {"type": "event", "seq": r.seq, "event": record_json(r)})
                sent = chunk[-1].seq
        else:
            await writer.settled()  # no await between this and the view: it is committed state
            view = hall_view(writer.engine, writer.clock())
            add_last_seen(view, request.app[drivers_key])
            sent = view["seq"]
            await _send(
                ws, {"type": "snapshot", "seq": sent, "version": view["version"], "state": view}
            )
        reader_task = asyncio.create_task(_drain_client(ws))
        try:
            async for record in sub:
                if isinstance(record, Notice):
                    await _send(ws, {"type": record.type, **record.data})
                    continue
                if record.seq <= sent:
                    continue
                await ws.send_str(encoded(record))
                sent = record.seq
            if sub.overflowed:
                await _send(
                    ws,
                    {
                        "type": "resync",
                        "seq": sent,
                        "message": "fell behind; reconnect with ?since",
                    },
                )
        finally:
            reader_task.cancel()
    except ConnectionResetError:
        pass
    finally:
        sub.close()
        await ws.close()
    return ws


async def _send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    await ws.send_str(msgspec.json.encode(message).decode())


async def _drain_client(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings and close frames are handled."""
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


def add_routes(app: web.Application) -> None:
    app[feed_frames_key] = FeedFrames()
    for route in COMMAND_ROUTES:
        app.router.add_route(route.method, route.path, command_handler(route))
    app.router.add_get("/api/state", get_state)
    app.router.add_get("/api/tickets/{ticket}", get_ticket)
    app.router.add_get("/api/appointments/{code}", get_appointment)
    app.router.add_get("/api/events", get_events)
    app.router.add_get("/api/health", get_health)
    app.router.add_get("/api/openapi.json", get_openapi)
    app.router.add_post("/api/voice/broadcast", broadcast)
    app.router.add_get("/api/feed", feed)
