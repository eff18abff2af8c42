"""The uplink routes (/api/uplink/*) and the public JSON of waits, through HTTP, on both databases."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hallq.central.app import create_central_app, db_key
from hallq.central.db import Database
from hallq.central.halls import create_hall, issue_token, revoke_token
from hallq.hall.shipping import (
    MAX_BATCH_BYTES,
    MAX_CONFIG_BYTES,
    Batch,
    batch_encoder,
    position_decoder,
    reply_decoder,
)
from tests.conftest import at
from tests.test_central_ingest import MON, Hall, dump, monday

Client = TestClient[web.Request, web.Application]


class Clock:
    def __init__(self) -> None:
        self.now = at(*MON, 10, 30)

    def __call__(self) -> float:
        return self.now


class Central:
    """A central server under test, with two halls and a token each."""

    def __init__(self, client: Client, clock: Clock) -> None:
        self.client = client
        self.clock = clock
        self.tokens: dict[str, str] = {}

    @property
    def db(self) -> Database:
        return self.client.app[db_key]

    def auth(self, hall: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[hall]}"}

    async def put_config(self, hall_id: str, hall: Hall) -> dict[str, Any]:
        upload = msgspec.json.encode(hall.upload())
        async with self.client.put(
            "/api/uplink/config", data=upload, headers=self.auth(hall_id)
        ) as r:
            assert r.status == 200, await r.text()
            body: dict[str, Any] = await r.json()
            return body

    async def post(
        self, hall_id: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        all_headers = {**self.auth(hall_id), "Content-Type": "application/json", **(headers or {})}
        async with self.client.post("/api/uplink/batch", data=body, headers=all_headers) as r:
            assert r.content_type == "application/json"
            return r.status, await r.json()


@pytest.fixture
async def central(aiohttp_client: Callable[..., Any], central_db_url: str) -> Central:
    clock = Clock()
    client = await aiohttp_client(create_central_app(central_db_url, clock=clock))
    server = Central(client, clock)
    for hall_id in ("h1", "h2"):
        await create_hall(server.db, hall_id, "", "", 1.0)
        server.tokens[hall_id], _ = await issue_token(server.db, hall_id, "pi", "admin", 1.0)
    return server


def encoded(batch: Batch) -> bytes:
    return batch_encoder.encode(batch)


# ------------------------------------------------------------------ tokens


async def test_no_token_is_asked_for_one(central: Central) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer "}):
        async with central.client.get("/api/uplink/position", headers=headers) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await r.json())["error"]["code"] == "token_required"


async def test_wrong_and_revoked_tokens_are_refused(central: Central) -> None:
    hall = Hall()
    monday(hall)
    wrong = {"Authorization": "Bearer hqt_not-a-real-token"}
    async with central.client.get("/api/uplink/position", headers=wrong) as r:
        assert r.status == 401
        assert (await r.json())["error"]["code"] == "token_refused"
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    await central.put_config("h1", hall)
    token_id = await central.db.fetchval("SELECT token_id FROM hall_tokens WHERE hall_id = 'h1'")
    await revoke_token(central.db, "h1", token_id, "admin", 2.0)
    before = await dump(central.db)
    status, body = await central.post("h1", encoded(hall.batch()))
    assert status == 401 and body["error"]["code"] == "token_refused"
    async with central.client.get("/api/uplink/position", headers=central.auth("h1")) as r:
        assert r.status == 401
    assert await dump(central.db) == before


async def test_the_token_decides_the_hall(central: Central) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h2", hall)
    # h2's token with a body that claims to be h1's: the hall is h2, whatever the body says.
    body = msgspec.json.encode({**msgspec.to_builtins(hall.batch()), "hall": "h1"})
    status, reply = await central.post("h2", body)
    assert status == 200 and reply["hall"] == "h2" and reply["acked"] == hall.seq
    halls = {r["hall_id"]: r["acked_seq"] for r in await central.db.fetch("SELECT * FROM halls")}
    assert halls == {"h1": 0, "h2": hall.seq}
    assert await central.db.fetchval("SELECT count(*) FROM events WHERE hall_id = 'h1'") == 0
    assert await central.db.fetchval("SELECT count(*) FROM tickets WHERE hall_id = 'h1'") == 0


# ------------------------------------------------------------------ the protocol


async def test_a_hall_reports_in(central: Central) -> None:
    hall = Hall()
    monday(hall)
    async with central.client.get("/api/uplink/position", headers=central.auth("h1")) as r:
        position = position_decoder.decode(await r.read())
    assert (position.hall, position.acked, position.need_config) == ("h1", 0, True)

    status, refused = await central.post("h1", encoded(hall.batch()))
    assert status == 409 and refused["error"]["code"] == "need_config"
    assert refused["need_config"] is True and refused["acked"] == 0

    stored = await central.put_config("h1", hall)
    assert stored["need_config"] is False and stored["config_digest"] == hall.upload().digest

    status, reply = await central.post("h1", encoded(hall.batch(1, 10)))
    assert status == 200
    assert reply_decoder.decode(msgspec.json.encode(reply)).acked == 10
    status, reply = await central.post(
        "h1", gzip.compress(encoded(hall.batch(11))), {"Content-Encoding": "gzip"}
    )
    assert (status, reply["acked"], reply["need_config"]) == (200, hall.seq, False)
    assert reply["config_digest"] == hall.upload().digest

    central.clock.now += 30
    async with central.client.get("/api/uplink/position", headers=central.auth("h1")) as r:
        position = position_decoder.decode(await r.read())
    assert (position.acked, position.need_config) == (hall.seq, False)
    assert await central.db.fetchval("SELECT last_seen FROM halls WHERE hall_id = 'h1'") == (
        central.clock.now
    )


async def test_resent_and_overlapping_batches_are_stored_once(central: Central) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h1", hall)
    assert (await central.post("h1", encoded(hall.batch(1, 12))))[1]["acked"] == 12
    before = await dump(central.db, heartbeat=False)
    assert (await central.post("h1", encoded(hall.batch(1, 12))))[1]["acked"] == 12
    assert await dump(central.db, heartbeat=False) == before
    assert (await central.post("h1", encoded(hall.batch(5, 20))))[1]["acked"] == 20
    assert await central.db.fetchval("SELECT count(*) FROM events") == 20
    assert await central.db.fetchval("SELECT count(DISTINCT seq) FROM events") == 20


async def test_a_gap_says_where_to_resume(central: Central) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h1", hall)
    await central.post("h1", encoded(hall.batch(1, 5)))
    status, body = await central.post("h1", encoded(hall.batch(8)))
    assert status == 409
    assert body["error"]["code"] == "gap" and body["acked"] == 5
    assert reply_decoder.decode(msgspec.json.encode(body)).acked == 5  # the uplink reads it so
    assert await central.db.fetchval("SELECT count(*) FROM events") == 5


async def test_a_gzip_body_without_its_header_is_read_too(central: Central) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h1", hall)
    status, reply = await central.post("h1", gzip.compress(encoded(hall.batch())))
    assert status == 200 and reply["acked"] == hall.seq


# ------------------------------------------------------------------ refused, nothing written


def _wrong_ticket_type(hall: Hall) -> bytes:
    data = msgspec.to_builtins(hall.batch())
    data["records"][5]["event"]["ticket"] = "five"
    return msgspec.json.encode(data)


def _unknown_event(hall: Hall) -> bytes:
    data = msgspec.to_builtins(hall.batch())
    data["records"][2]["event"]["type"] = "ticket_teleported"
    return msgspec.json.encode(data)


def _missing_field(hall: Hall) -> bytes:
    data = msgspec.to_builtins(hall.batch())
    del data["records"][7]["ts"]
    return msgspec.json.encode(data)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_wrong_ticket_type, "$.records[5].event.ticket"),
        (_unknown_event, "$.records[2].event"),
        (_missing_field, "$.records[7]"),
        (lambda hall: encoded(hall.batch())[:-20], "truncated"),
        (lambda hall: b'{"first": 1, "records": [], "config_digest": "\xff"}', "utf-8"),
        (lambda hall: b"[1, 2, 3]", "Expected `object`"),
        (lambda hall: b"", "truncated"),
    ],
)
async def test_malformed_batches_are_refused_with_what_is_wrong(
    central: Central, make: Callable[[Hall], bytes], expected: str
) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h1", hall)
    await central.post("h1", encoded(hall.batch(1, 3)))
    before = await dump(central.db)
    status, body = await central.post("h1", make(hall))
    assert status == 400
    assert body["error"]["code"] == "bad_batch"
    assert expected in body["error"]["message"]
    assert await dump(central.db) == before


async def test_a_record_that_cannot_be_applied_is_named(central: Central) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h1", hall)
    data = msgspec.to_builtins(hall.batch())
    called = next(r for r in data["records"] if r["event"]["type"] == "ticket_called")
    called["event"]["ticket"] = 4321
    before = await dump(central.db)
    status, body = await central.post("h1", msgspec.json.encode(data))
    assert status == 400 and body["error"]["code"] == "bad_record"
    assert f"record seq {called['seq']} cannot be applied" in body["error"]["message"]
    assert await dump(central.db) == before


async def test_bodies_too_large_are_refused_even_when_small_compressed(central: Central) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h1", hall)
    before = await dump(central.db)
    # A bomb: 17 MB of JSON-ish whitespace in about 17 kB of gzip.
    bomb = gzip.compress(b"{" + b" " * (MAX_BATCH_BYTES + 1024) + b"}")
    assert len(bomb) < 100_000
    for headers in ({"Content-Encoding": "gzip"}, {}):
        status, body = await central.post("h1", bomb, headers)
        assert status == 413 and body["error"]["code"] == "body_too_large"
    status, body = await central.post("h1", b" " * (MAX_BATCH_BYTES + 1))
    assert status == 413
    assert await dump(central.db) == before


async def test_a_corrupt_gzip_body_is_refused(central: Central) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h1", hall)
    before = await dump(central.db)
    body = gzip.compress(encoded(hall.batch()))
    corrupt = body[:30] + bytes(b ^ 0x55 for b in body[30:60]) + body[60:]
    for encoding in (b"Content-Encoding: gzip\r\n", b""):
        # A raw request: aiohttp closes the connection after its answer, which its own
        # client may report as a disconnect before reading the answer.
        reader, writer = await asyncio.open_connection(central.client.host, central.client.port)
        writer.write(
            b"POST /api/uplink/batch HTTP/1.1\r\nHost: central\r\nConnection: close\r\n"
            + f"Authorization: Bearer {central.tokens['h1']}\r\n".encode()
            + encoding
            + f"Content-Length: {len(corrupt)}\r\n\r\n".encode()
            + corrupt
        )
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), answer
        assert msgspec.json.decode(payload)["error"]["code"] == "bad_body"
    assert await dump(central.db) == before


async def test_configuration_uploads_are_checked(central: Central) -> None:
    hall = Hall()
    broken = msgspec.json.encode({"text": hall.toml.replace("[hall]", "[hal]"), "digest": ""})
    async with central.client.put(
        "/api/uplink/config", data=broken, headers=central.auth("h1")
    ) as r:
        assert r.status == 400
        error = (await r.json())["error"]
        assert error["code"] == "bad_config" and "hal" in error["message"]
    async with central.client.put(
        "/api/uplink/config", data=b'{"text": 5}', headers=central.auth("h1")
    ) as r:
        assert r.status == 400
        assert "$.text" in (await r.json())["error"]["message"]
    huge = msgspec.json.encode({"text": "#" * (2 * MAX_CONFIG_BYTES + 10), "digest": ""})
    async with central.client.put("/api/uplink/config", data=huge, headers=central.auth("h1")) as r:
        assert r.status == 413
    assert await central.db.fetchval("SELECT config_text FROM halls WHERE hall_id = 'h1'") == ""


# ------------------------------------------------------------------ the public JSON


async def test_the_public_waits_per_service(central: Central) -> None:
    hall = Hall()
    monday(hall)
    await central.put_config("h1", hall)
    await central.post("h1", encoded(hall.batch()))

    async with central.client.get("/api/public/halls/h1/waits") as r:
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "max-age=5" in r.headers["Cache-Control"]
        text = await r.text()
        waits = msgspec.json.decode(text)
    assert (waits["hall"], waits["name"], waits["open"]) == ("h1", "测试大厅", True)
    assert waits["updated_at"] == central.clock.now
    services = {s["code"]: s for s in waits["services"]}
    assert set(services) == {"alpha", "beta", "gamma"}
    assert set(services["alpha"]) == {
        "code",
        "name",
        "name_en",
        "waiting",
        "estimated_wait_minutes",
        "windows_open",
    }
    assert services["alpha"]["waiting"] == 1 and services["alpha"]["windows_open"] == 2
    assert services["alpha"]["name"] == "甲事项"
    assert isinstance(services["alpha"]["estimated_wait_minutes"], float)
    for personal in ("张三", "李四", "1001", "staff", "A002"):  # no staff, no tickets
        assert personal not in text

    central.clock.now = at(*MON, 20, 0)  # after closing: by the hall's own timetable
    async with central.client.get("/api/public/halls") as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        halls = {h["hall"]: h for h in (await r.json())["halls"]}
    assert halls["h1"]["open"] is False and halls["h1"]["waiting"] == 3
    assert halls["h1"]["waits"] == "/api/public/halls/h1/waits"
    assert halls["h2"]["open"] is None and halls["h2"]["waiting"] is None  # nothing known yet
    assert "张三" not in str(halls)


async def test_an_unknown_hall_is_a_json_404(central: Central) -> None:
    async with central.client.get("/api/public/halls/nope/waits") as r:
        assert r.status == 404
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert (await r.json())["error"]["code"] == "no_such_hall"


async def test_uplink_routes_take_only_their_methods(central: Central) -> None:
    async with central.client.get("/api/uplink/batch", headers=central.auth("h1")) as r:
        assert r.status == 405
        assert (await r.json())["error"]["code"] == "method_not_allowed"
