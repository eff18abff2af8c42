"""What halls send: /api/uplink/* (token-authenticated), and the public JSON of waits.

The uplink protocol is in hallq/hall/shipping.py. Every uplink request carries
`Authorization: Bearer <hall token>`; the token alone says which hall is sending, so a hall
cannot write another hall's data. Batch bodies may be gzip-compressed
(`Content-Encoding: gzip`); whatever the encoding, at most MAX_BATCH_BYTES of JSON are read.

The public JSON (`/api/public/halls`, `/api/public/halls/{id}/waits`) is for a city's
website or app: no sign-in, any origin (CORS *), cached for 5 seconds, and no personal data
(no staff, no tickets): per service how many wait and the estimated wait.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from aiohttp import web

from hallq.central.app import clock_key, db_key, error_response, json_response
from hallq.central.halls import authenticate, parse_live
from hallq.central.ingest import Ingestor, UplinkRefused, without_nul
from hallq.hall.shipping import (
    MAX_BATCH_BYTES,
    MAX_CONFIG_BYTES,
    Batch,
    batch_decoder,
    config_upload_decoder,
)

ingestor_key = web.AppKey("ingestor", Ingestor)

REALM = 'Bearer realm="hallq uplink"'
PUBLIC_MAX_AGE = 5  # seconds
GZIP_MAGIC = b"\x1f\x8b"


def add_uplink_routes(app: web.Application) -> None:
    """Register the uplink and public routes (and the ingestor, once the database is open)."""
    app.cleanup_ctx.append(_ingestor_ctx)
    app.router.add_get("/api/uplink/position", get_position)
    app.router.add_put("/api/uplink/config", put_config)
    app.router.add_post("/api/uplink/batch", post_batch)
    app.router.add_get("/api/public/halls", public_halls)
    app.router.add_get("/api/public/halls/{hall_id}/waits", public_waits)


async def _ingestor_ctx(app: web.Application) -> AsyncIterator[None]:
    app[ingestor_key] = Ingestor(app[db_key])  # the database context runs before this one
    yield


# ------------------------------------------------------------------ the uplink


def _refusal(
    status: type[web.HTTPException],
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.HTTPException:
    body = msgspec.json.encode({"error": {"code": code, "message": message}, **extra})
    return status(text=body.decode(), content_type="application/json", headers=headers)


async def _hall_of(request: web.Request) -> str:
    """The hall whose token the request carries; 401 when there is none or it is refused."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refusal(
            web.HTTPUnauthorized,
            "token_required",
            "需要大厅令牌 / A hall token is required: Authorization: Bearer <token>",
            {"WWW-Authenticate": REALM},
        )
    hall = await authenticate(request.app[db_key], token, request.app[clock_key]())
    if hall is None:
        raise _refusal(
            web.HTTPUnauthorized,
            "token_refused",
            "令牌无效或已吊销，请在中心管理页面重新签发 / The token is unknown or revoked: "
            "issue a new one on the central server's admin page",
            {"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    return hall


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, decompressed, refused with 413 beyond `limit` bytes.

    aiohttp decompresses a `Content-Encoding: gzip` body itself, a piece at a time, so a
    small bomb never inflates all at once; a gzip body it left alone is inflated here,
    also a piece at a time.
    """
    body = bytearray()
    try:
        async for chunk in request.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > limit:
                raise _too_large(limit)
    except web.HTTPException:
        raise
    except Exception as e:  # a corrupt compressed stream, a connection cut mid-body
        raise _refusal(
            web.HTTPBadRequest, "bad_body", f"the request body could not be read: {e}"
        ) from None
    if body[:2] == GZIP_MAGIC:
        return _gunzip(bytes(body), limit)
    return bytes(body)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    try:
        while data:
            out += inflater.decompress(data, 1 << 16)
            if len(out) > limit:
                raise _too_large(limit)
            data = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as e:
        raise _refusal(web.HTTPBadRequest, "bad_body", f"not valid gzip: {e}") from None
    if len(out) > limit:
        raise _too_large(limit)
    return bytes(out)


def _too_large(limit: int) -> web.HTTPException:
    message = f"the body is larger than {limit} bytes (decompressed); send smaller batches"
    body = msgspec.json.encode({"error": {"code": "body_too_large", "message": message}})
    return web.HTTPRequestEntityTooLarge(
        max_size=limit, text=body.decode(), content_type="application/json"
    )


async def get_position(request: web.Request) -> web.Response:
    hall = await _hall_of(request)
    position = await request.app[ingestor_key].position(hall, request.app[clock_key]())
    return json_response(position)


async def put_config(request: web.Request) -> web.Response:
    hall = await _hall_of(request)
    body = await read_body(request, 2 * MAX_CONFIG_BYTES)  # JSON escapes make the text longer
    try:
        upload = config_upload_decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        return error_response("bad_config_upload", f"not a configuration upload: {e}", 400)
    position = await request.app[ingestor_key].set_config(hall, upload, request.app[clock_key]())
    return json_response(position)


async def post_batch(request: web.Request) -> web.Response:
    hall = await _hall_of(request)
    body = await read_body(request, MAX_BATCH_BYTES)
    try:
        batch: Batch = batch_decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        return error_response("bad_batch", f"not a batch of records: {e}", 400)
    if b"\\u0000" in body:
        batch = without_nul(batch)
    try:
        reply = await request.app[ingestor_key].ingest(hall, batch, request.app[clock_key]())
    except UplinkRefused as e:
        return error_response(e.code, e.message, e.status, **msgspec.to_builtins(e.reply))
    return json_response(reply)


# ------------------------------------------------------------------ the public JSON


def _public(data: Any, status: int = 200) -> web.Response:
    response = json_response(data, status)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
    return response


async def _open_now(request: web.Request, rows: list[Any]) -> dict[str, bool | None]:
    """Whether each hall is in its working hours now, by its own timetable."""
    ingestor = request.app[ingestor_key]
    unknown = [
        r["hall_id"] for r in rows if r["config_digest"] and not ingestor.knows(r["config_digest"])
    ]
    texts: dict[str, str] = {}
    if unknown:
        db = request.app[db_key]
        for hall_id in unknown:
            text = await db.fetchval("SELECT config_text FROM halls WHERE hall_id = $1", hall_id)
            texts[hall_id] = text or ""
    now = request.app[clock_key]()
    result: dict[str, bool | None] = {}
    for r in rows:
        tt = ingestor.timetable(r["config_digest"], texts.get(r["hall_id"]))
        result[r["hall_id"]] = None if tt is None else tt.session_at(now) is not None
    return result


def _updated_at(row: Any, live: dict[str, Any]) -> float | None:
    seen = row["last_seen"]
    return float(seen) if seen is not None else live.get("ts")


async def public_halls(request: web.Request) -> web.Response:
    rows = await request.app[db_key].fetch(
        "SELECT hall_id, name, name_en, config_digest, last_seen, live FROM halls ORDER BY hall_id"
    )
    opened = await _open_now(request, rows)
    halls = []
    for r in rows:
        live = parse_live(r["live"])
        halls.append(
            {
                "hall": r["hall_id"],
                "name": r["name"],
                "name_en": r["name_en"],
                "open": opened.get(r["hall_id"]),
                "waiting": live.get("waiting"),
                "updated_at": _updated_at(r, live),
                "waits": f"/api/public/halls/{r['hall_id']}/waits",
            }
        )
    return _public({"halls": halls})


async def public_waits(request: web.Request) -> web.Response:
    hall_id = request.match_info["hall_id"]
    row = await request.app[db_key].fetchrow(
        "SELECT hall_id, name, name_en, config_digest, last_seen, live FROM halls"
        " WHERE hall_id = $1",
        hall_id,
    )
    if row is None:
        return _public(
            {
                "error": {
                    "code": "no_such_hall",
                    "message": f"没有大厅 {hall_id} / No hall {hall_id}",
                }
            },
            404,
        )
    live = parse_live(row["live"])
    opened = await _open_now(request, [row])
    services = [
        {
            "code": s.get("code"),
            "name": s.get("name"),
            "name_en": s.get("name_en"),
            "waiting": s.get("waiting"),
            "estimated_wait_minutes": s.get("estimated_wait_minutes"),
            "windows_open": s.get("windows_open"),
        }
        for s in live.get("services", [])
        if isinstance(s, dict)
    ]
    return _public(
        {
            "hall": hall_id,
            "name": row["name"],
            "name_en": row["name_en"],
            "open": opened.get(hall_id),
            "day": live.get("day"),
            "waiting": live.get("waiting"),
            "updated_at": _updated_at(row, live),
            "services": services,
        }
    )
