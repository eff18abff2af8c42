"""The admin page's configuration endpoints: read, save, import and export the hall config.

A save is a `ChangeConfig` command like any other: checked here first (so that every problem
comes back with its field path, or its line for an imported file), then submitted with the
digest the editor started from. The controller commits it, saves the file atomically and
every screen has it within a second; two editors never overwrite each other (409
`config_changed_meanwhile`), and a service with live tickets cannot be removed (409
`config_conflict`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from hallq.controller.api import config_file_key, json_response, writer_key
from hallq.controller.config_file import HEADER
from hallq.drivers.factory import check_devices
from hallq.errors import BadRequest, ConfigError
from hallq.hall.commands import ChangeConfig
from hallq.hall.config import (
    HallConfig,
    config_data,
    config_from_data,
    config_toml,
    parse_config,
)
from hallq.hall.events import ConfigChanged
from hallq.hall.reconfigure import config_digest
from hallq.hall.schedule import local_now
from hallq.web.admin_auth import add_guarded, current_session, read_json

MAX_IMPORT = 900 * 1024  # the controller takes request bodies up to 1 MiB

# Sections the running hall cannot take live: their drivers are built when the controller
# starts. A change is saved at once and takes effect after a restart.
RESTART_SECTIONS: dict[str, Callable[[HallConfig], Any]] = {
    "hall.timezone": lambda c: c.hall.timezone,
    "led_buses": lambda c: c.led_buses,
    "keypad_buses": lambda c: c.keypad_buses,
    "buttons": lambda c: c.buttons,
    "kiosks": lambda c: [(k.name, k.printer, k.paper_columns, k.qr_native) for k in c.kiosks],
    "voice": lambda c: c.voice is not None,
    "voice.output": lambda c: c.voice and (c.voice.output, c.voice.pack),
    "voice.language": lambda c: c.voice and (c.voice.language, c.voice.speed, c.voice.template),
}


def restart_needed(old: HallConfig, new: HallConfig) -> list[str]:
    """The changed settings that take effect only when the controller restarts."""
    return [
        name
        for name, part in RESTART_SECTIONS.items()
        if msgspec.json.encode(part(old), order="sorted")
        != msgspec.json.encode(part(new), order="sorted")
    ]


def keep_key_order(new: Any, old: Any) -> Any:
    """`new` with its tables' keys in `old`'s order where they have the same keys.

    A browser's JavaScript object lists integer-like keys ("0", "3") in rising order, so
    tables such as a keypad bus's `evaluator_levels = { 3 = ..., 0 = ... }` come back
    reordered; unchanged, they would count as a change of the configuration (its digest
    encodes tables in order) and ask for a restart that is not needed.
    """
    if isinstance(new, dict) and isinstance(old, dict):
        ordered = [k for k in old if k in new] + [k for k in new if k not in old]
        return {k: keep_key_order(new[k], old.get(k)) for k in ordered}
    if isinstance(new, list) and isinstance(old, list):
        return [keep_key_order(n, old[i] if i < len(old) else None) for i, n in enumerate(new)]
    return new


_DATA_PROBLEM = re.compile(r"^(?:[^:]*): (?P<path>[A-Za-z_][\w.\[\]-]*): (?P<message>.*)$", re.S)
_FILE_PROBLEM = re.compile(
    r"^(?P<source>.*?):(?P<line>\d+):(?: (?P<path>[A-Za-z_][\w.\[\]-]*):)? (?P<message>.*)$", re.S
)
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _problems(err: ConfigError, with_lines: bool) -> list[dict[str, Any]]:
    """Each problem as {path, line, message, text}, for the page to show beside its field."""
    out: list[dict[str, Any]] = []
    for text in err.problems:
        path, line, message = "", None, text
        m = (_FILE_PROBLEM if with_lines else _DATA_PROBLEM).match(text)
        if m:
            path = m.group("path") or ""
            message = m.group("message")
            if with_lines:
                line = int(m.group("line"))
        elif with_lines:
            found = _TOML_LINE.search(text)
            line = int(found.group(1)) if found else None
            message = text.split(": ", 1)[1] if ": " in text else text
        out.append({"path": path, "line": line, "message": message, "text": text})
    return out


def _invalid(problems: list[dict[str, Any]], zh: str, en: str) -> web.Response:
    n = len(problems)
    message = f"{zh}有 {n} 处问题 / {n} problem{'s' if n != 1 else ''} in the {en}"
    return json_response(
        {"error": {"code": "invalid_config", "message": message, "problems": problems}},
        status=400,
    )


def _device_problems(cfg: HallConfig, source: str) -> list[dict[str, Any]]:
    out = []
    for text in check_devices(cfg):
        path, _, message = text.partition(": ")
        out.append({"path": path, "line": None, "message": message, "text": f"{source}: {text}"})
    return out


def _header(request: web.Request) -> str:
    writer = request.app[writer_key]
    when = local_now(writer.engine.config, writer.clock()).strftime("%Y-%m-%d %H:%M")
    return HEADER.format(when=when)


async def get_config(request: web.Request) -> web.StreamResponse:
    writer = request.app[writer_key]
    await writer.settled()
    cfg = writer.engine.config
    return json_response(
        {
            "data": config_data(cfg),
            "digest": writer.engine.config_digest,
            "text": await _current_text(request),
            "restart_sections": list(RESTART_SECTIONS),
        }
    )


async def _current_text(request: web.Request) -> str:
    """The running configuration as TOML, comments kept where there are any to keep."""
    writer = request.app[writer_key]
    engine = writer.engine
    if engine.state.config_text:
        return engine.state.config_text
    text = await asyncio.to_thread(request.app[config_file_key].read)
    if text is not None:
        try:
            if config_digest(parse_config(text)) == engine.config_digest:
                return text  # the file the hall was started with, comments and all
        except ConfigError:
            pass
    return config_toml(engine.config, _header(request))


async def _submit(
    request: web.Request, text: str, new: HallConfig, base_digest: str, body: dict[str, Any]
) -> web.Response:
    writer = request.app[writer_key]
    await writer.settled()
    old = writer.engine.config
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= 100:
        request_id = uuid.uuid4().hex
    reply = await writer.submit(
        ChangeConfig(
            request_id=f"admin-{request_id}",
            text=text,
            base_digest=base_digest,
            by=current_session(request).name,
        )
    )
    changed: list[str] = []
    for item in reply.get("events", []):
        if item.get("type") == ConfigChanged.__struct_config__.tag:
            changed = list(item.get("changed", []))
    return json_response(
        {
            "ok": True,
            "digest": writer.engine.config_digest,
            "changed": changed,
            "restart_needed": restart_needed(old, new) if changed else [],
            "seq": reply.get("seq"),
        }
    )


def _base_digest(body: dict[str, Any]) -> str:
    base = body.get("base_digest", "")
    if not isinstance(base, str) or not base:
        raise BadRequest(
            "base_digest_required",
            "base_digest is required: the digest of the configuration the edit started from",
        )
    return base


async def save_config(request: web.Request) -> web.StreamResponse:
    """Save the edited configuration: {"data": {...}, "base_digest": "..."}."""
    body = await read_json(request)
    data = body.get("data")
    if not isinstance(data, dict):
        raise BadRequest("invalid_request", "data must be the whole configuration {...}")
    base = _base_digest(body)
    data = keep_key_order(data, config_data(request.app[writer_key].engine.config))
    try:
        cfg = config_from_data(data, "配置 / configuration")
    except ConfigError as e:
        return _invalid(_problems(e, with_lines=False), "配置", "configuration")
    devices = _device_problems(cfg, "配置 / configuration")
    if devices:
        return _invalid(devices, "配置", "configuration")
    return await _submit(request, config_toml(cfg, _header(request)), cfg, base, body)


async def import_config(request: web.Request) -> web.StreamResponse:
    """Replace the whole configuration with a TOML file: JSON {text, name, base_digest}, or a
    form with `file`, `base_digest` and `csrf` fields."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise BadRequest("invalid_request", "choose a file to import (form field 'file')")
        raw = upload.file.read(MAX_IMPORT + 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(
                "not_utf8", "文件不是 UTF-8 文本 / The file is not UTF-8 text: save it as UTF-8"
            ) from None
        body: dict[str, Any] = {
            "name": upload.filename,
            "base_digest": form.get("base_digest", ""),
            "request_id": form.get("request_id"),
        }
    else:
        body = await read_json(request)
        given = body.get("text")
        if not isinstance(given, str):
            raise BadRequest("invalid_request", "text must be the configuration file's text")
        text = given
    if len(text.encode("utf-8")) > MAX_IMPORT:
        raise BadRequest("file_too_large", f"the file is over {MAX_IMPORT // 1024} KiB")
    name = body.get("name")
    source = name if isinstance(name, str) and 0 < len(name) <= 100 else "hall.toml"
    base = _base_digest(body)
    try:
        cfg = parse_config(text, source)
    except ConfigError as e:
        return _invalid(_problems(e, with_lines=True), "文件", "file")
    devices = _device_problems(cfg, source)
    if devices:
        return _invalid(devices, "文件", "file")
    return await _submit(request, text, cfg, base, body)


async def export_config(request: web.Request) -> web.StreamResponse:
    """The whole configuration as a TOML download: hall-<id>-<date>.toml."""
    writer = request.app[writer_key]
    await writer.settled()
    cfg = writer.engine.config
    day = local_now(cfg, writer.clock()).date().isoformat()
    response = web.Response(
        text=await _current_text(request), content_type="application/toml", charset="utf-8"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="hall-{cfg.hall.id}-{day}.toml"'
    response.headers["X-Config-Digest"] = writer.engine.config_digest
    return response


def add_routes(app: web.Application) -> None:
    add_guarded(app, "GET", "/admin/api/config", get_config, "staff")
    add_guarded(app, "GET", "/admin/api/config/export", export_config, "staff")
    add_guarded(app, "POST", "/admin/api/config", save_config, "admin")
    add_guarded(app, "POST", "/admin/api/config/import", import_config, "admin")
