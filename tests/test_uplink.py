"""The uplink in the controller: a real controller shipping its log to a fake central server.

The fake central server (`FakeCentral`) implements the protocol of `hallq.hall.shipping` with
a dict: it checks the token, the gzip encoding and that batches continue where it stands
(a gap is refused with 409 and its position), and can be told to fail as a real one might:
down (503), hanging, refusing the token, refusing a batch, losing events, forgetting the
configuration. No test asserts a timing; waits poll for a state with a generous deadline.
"""

from __future__ import annotations

import asyncio
import logging
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hallq.controller.api import writer_key
from hallq.controller.app import create_app
from hallq.controller.uplink import Uplink, backoff_delay, uplink_key
from hallq.controller.writer import HallWriter
from hallq.drivers.base import DriverSet
from hallq.errors import ConfigError
from hallq.hall import commands as c
from hallq.hall.config import config_data, config_from_data, config_toml, parse_config
from hallq.hall.events import DeviceHealthChanged, Record
from hallq.hall.reconfigure import config_digest
from hallq.hall.shipping import (
    MAX_BATCH_RECORDS,
    BatchReply,
    Position,
    batch_decoder,
    config_upload_decoder,
)
from tests.conftest import SMALL_HALL_TOML, at

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]

TOKEN = "hq-test-token-0123456789abcdef"
PREFIX = "/central"  # the central server behind a path, as behind a reverse proxy


class FakeClock:
    def __init__(self) -> None:
        self.now = at(2026, 11, 23, 9, 0)

    def __call__(self) -> float:
        return self.now


class FakeCentral:
    """The central server's side of the protocol, kept in a dict."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.url = ""  # where it listens, with the path prefix
        self.records: dict[int, Record] = {}
        self.stored: list[int] = []  # sequence numbers in the order they were first stored
        self.acked = 0
        self.config_text = ""
        self.config_digest = ""
        self.mode = "ok"  # ok | down (503) | hang | reject (400 on batches)
        self.lose_replies = 0  # store the next batches but answer 503 (the reply is lost)
        self.forget_before_batch: int | None = None  # lose events after this, then see the batch
        self.max_records: int | None = None  # a larger batch is refused with 413
        self.batch_sizes: list[int] = []
        self.resent = 0  # records received that it already had
        self.problems: list[str] = []  # protocol violations seen
        self.posts = 0
        self.positions = 0
        self.config_puts = 0
        self.hanging = 0
        self.release = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get(PREFIX + "/api/uplink/position", self.position)
        app.router.add_put(PREFIX + "/api/uplink/config", self.put_config)
        app.router.add_post(PREFIX + "/api/uplink/batch", self.batch)
        return app

    def forget_after(self, seq: int) -> None:
        """A restore from an old backup: events after `seq` are gone."""
        for s in [s for s in self.records if s > seq]:
            del self.records[s]
        self.acked = min(self.acked, seq)

    @property
    def need_config(self) -> bool:
        return not self.config_digest

    async def _gate(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "bad_token", "令牌无效 / Unknown or revoked token")
        if self.mode == "down":
            return _error(503, "unavailable", "down for maintenance")
        if self.mode == "hang":
            self.hanging += 1
            await self.release.wait()
        return None

    async def position(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        self.positions += 1
        return _json(
            Position(
                hall="test-hall",
                acked=self.acked,
                config_digest=self.config_digest,
                need_config=self.need_config,
            )
        )

    async def put_config(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        upload = config_upload_decoder.decode(await request.read())
        if config_digest(parse_config(upload.text)) != upload.digest:
            self.problems.append("the uploaded configuration does not match its digest")
        if "token" in tomllib.loads(upload.text).get("uplink", {}) or TOKEN in upload.text:
            self.problems.append("a token was sent in the configuration")
        self.config_text, self.config_digest = upload.text, upload.digest
        self.config_puts += 1
        return _json({"ok": True, "digest": upload.digest})

    async def batch(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        self.posts += 1
        if request.headers.get("Content-Encoding") != "gzip":
            self.problems.append("a batch was sent without gzip")
        # aiohttp's server has already inflated the body; a body that was not gzip would
        # have failed there.
        batch = batch_decoder.decode(await request.read())
        if self.mode == "reject":
            return _error(400, "bad_batch", "批次有误 / the batch is malformed (test)")
        self.batch_sizes.append(len(batch.records))
        if self.max_records is not None and len(batch.records) > self.max_records:
            return _error(413, "too_large", "批次过大 / the batch is too large")
        if self.forget_before_batch is not None:
            self.forget_after(self.forget_before_batch)
            self.forget_before_batch = None
        seqs = [r.seq for r in batch.records]
        if not seqs or seqs != list(range(batch.first, batch.first + len(seqs))):
            self.problems.append(f"a batch is not contiguous: {seqs[:5]}…")
            return _error(400, "bad_batch", "records are not contiguous")
        if batch.first > self.acked + 1:
            return _error(409, "gap", f"expected {self.acked + 1}", acked=self.acked)
        if self.need_config:
            return _error(409, "need_config", "send the configuration first", acked=self.acked)
        for record in batch.records:
            if record.seq <= self.acked:
                self.resent += 1
                continue
            self.records[record.seq] = record
            self.stored.append(record.seq)
            self.acked = record.seq
        if self.lose_replies:
            self.lose_replies -= 1
            return _error(503, "unavailable", "the reply was lost")
        return _json(
            BatchReply(hall="test-hall", acked=self.acked, config_digest=self.config_digest)
        )


def _json(data: Any) -> web.Response:
    return web.Response(body=msgspec.json.encode(data), content_type="application/json")


def _error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": message}, **extra}
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/json"
    )


def hall_toml(url: str, **uplink: Any) -> str:
    settings: dict[str, Any] = {
        "batch_records": 50,
        "timeout_seconds": 0.5,
        "max_backoff_seconds": 0.5,
    }
    settings.update(uplink)
    lines = [f'url = "{url}"'] + [
        f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in settings.items()
    ]
    return SMALL_HALL_TOML + "\n[uplink]\n" + "\n".join(lines) + "\n"


class Hall:
    """A running controller and its uplink."""

    def __init__(self, client: Client, app: web.Application, clock: FakeClock) -> None:
        self.client = client
        self.app = app
        self.clock = clock
        self.n = 0

    @property
    def writer(self) -> HallWriter:
        return self.app[writer_key]

    @property
    def uplink(self) -> Uplink:
        return self.app[uplink_key]

    async def do(self, cmd: type[c.Command], **fields: Any) -> dict[str, Any]:
        self.n += 1
        reply: dict[str, Any] = await self.writer.submit(cmd(request_id=f"t-{self.n}", **fields))
        return reply

    async def make_events(self, count: int) -> None:
        """`count` commands, each making at least one event: tickets and a device's health."""
        for i in range(count):
            if i % 3 == 0:
                await self.do(c.IssueTicket, service="alpha")
            else:
                await self.do(
                    c.ReportDeviceHealth,
                    device="printer-test",
                    kind="printer",
                    status="warning" if i % 2 else "ok",
                    reason=f"test {i}",
                )

    def log(self) -> list[Record]:
        return self.writer.log.read_after(0, 1_000_000)

    async def status(self) -> dict[str, Any]:
        resp = await self.client.get("/api/uplink")
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
        return data

    def health(self) -> tuple[str, str, str] | None:
        device = self.writer.engine.state.devices.get("uplink")
        return (device.status, device.reason, device.reason_en) if device else None


async def until(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Wait for `check` to hold (a deadline only so that a broken uplink fails, not hangs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.01)


async def until_status(hall: Hall, status: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        data = await hall.status()
        if data["status"] == status:
            return data
        if loop.time() > deadline:
            raise AssertionError(f"uplink status {data['status']}, not {status}: {data}")
        await asyncio.sleep(0.01)


async def assert_all_arrived(hall: Hall, central: FakeCentral) -> None:
    """The central server has every event of the hall's log, the same, and nothing else."""
    for _ in range(100):
        await until(lambda: central.acked == hall.writer.committed_seq, "all shipped")
        await hall.writer.settled()
        log = hall.log()
        if log[-1].seq == central.acked:
            break  # else the uplink's own health report was committed meanwhile: again
    assert central.problems == []
    assert central.acked == log[-1].seq
    assert sorted(central.records) == [r.seq for r in log]
    for record in log:
        assert msgspec.json.encode(central.records[record.seq]) == msgspec.json.encode(record)


@pytest.fixture
async def central() -> Any:
    fake = FakeCentral()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url(PREFIX))
    try:
        yield fake
    finally:
        fake.release.set()
        await server.close()


StartHall = Callable[..., Awaitable[Hall]]


@pytest.fixture
def start_hall(aiohttp_client: ClientFactory, tmp_path: Path) -> StartHall:
    async def start(
        toml: str, token: str | None = TOKEN, data: Path | None = None, **knobs: float
    ) -> Hall:
        data = data or tmp_path / "data"
        data.mkdir(parents=True, exist_ok=True)
        if token is not None:
            (data / "uplink.token").write_text(token + "\n", encoding="utf-8")
            (data / "uplink.token").chmod(0o600)
        clock = FakeClock()
        app = create_app(parse_config(toml), data, clock=clock, drivers=DriverSet())
        uplink = app[uplink_key]
        uplink.health_delay = 0  # report a trouble at once (the default waits 30 s)
        uplink.health_interval = 0
        for name, value in knobs.items():
            assert hasattr(uplink, name), name
            setattr(uplink, name, value)
        return Hall(await aiohttp_client(app), app, clock)

    return start


# ------------------------------------------------------------------ configuration


def test_uplink_settings_have_defaults_and_round_trip() -> None:
    cfg = parse_config(SMALL_HALL_TOML + '\n[uplink]\nurl = "https://hallq.example.gov.cn"\n')
    assert cfg.uplink is not None
    assert (cfg.uplink.token_file, cfg.uplink.batch_records) == ("uplink.token", 2000)
    assert (cfg.uplink.timeout_seconds, cfg.uplink.max_backoff_seconds) == (10.0, 60.0)
    again = parse_config(config_toml(cfg))  # the admin page's export and the upload
    assert again.uplink == cfg.uplink
    assert config_from_data(config_data(cfg)).uplink == cfg.uplink  # the admin page's edits
    assert parse_config(SMALL_HALL_TOML).uplink is None


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('url = "ftp://central.example.cn"', "uplink.url: write the central server's address"),
        ('url = "central.example.cn"', "starts with http:// or https://"),
        ('url = "https://"', "the server's name is missing"),
        ('url = "https://user:pw@central.example.cn"', "no user or password"),
        ('url = "https://central.example.cn/?x=1"', "no ?query"),
        ('url = " https://central.example.cn"', "no spaces"),
        ('url = "https://central.example.cn:99999"', "uplink.url"),
        (
            'url = "https://c.example.cn"\nbatch_records = 9000',
            f"uplink.batch_records: must be 1-{MAX_BATCH_RECORDS}",
        ),
        ('url = "https://c.example.cn"\ntimeout_seconds = 0', "uplink.timeout_seconds"),
        ('url = "https://c.example.cn"\nmax_backoff_seconds = 0.1', "uplink.max_backoff_seconds"),
        ('url = "https://c.example.cn"\ntoken_file = ""', "uplink.token_file"),
        (
            'url = "https://c.example.cn"\ntoken = "abc"',
            "uplink.token: the hall's token is a secret",
        ),
        ('url = "https://c.example.cn"\nurll = "x"', "unknown setting (misspelt?); allowed: url"),
        ("batch_records = 10", "uplink.url: this setting is required"),
    ],
)
def test_bad_uplink_settings_are_explained(setting: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(SMALL_HALL_TOML + "\n[uplink]\n" + setting + "\n", "hall.toml")
    assert expected in str(e.value)
    assert "hall.toml:" in str(e.value)  # the file and line


# ------------------------------------------------------------------ backoff


def test_backoff_doubles_from_half_a_second_to_the_maximum_with_jitter() -> None:
    middle = [backoff_delay(n, 60.0, rand=lambda: 0.5) for n in range(10)]
    assert middle[:8] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0 * 0.875]
    assert middle[9] == middle[8]
    for n in range(12):
        step = min(60.0, 0.5 * 2**n)
        low, high = (
            backoff_delay(n, 60.0, rand=lambda: 0.0),
            backoff_delay(n, 60.0, rand=lambda: 1.0),
        )
        assert low == pytest.approx(step * 0.75)
        assert high == pytest.approx(min(step * 1.25, 60.0))
        assert low < high <= 60.0  # spread, never beyond the maximum
    spread = {round(backoff_delay(3, 60.0), 6) for _ in range(50)}
    assert len(spread) > 10 and all(3.0 <= d <= 5.0 for d in spread)
    assert backoff_delay(10_000, 60.0, rand=lambda: 1.0) == 60.0  # no overflow


# ------------------------------------------------------------------ shipping


async def test_events_reach_the_central_server_in_order_exactly_once(
    central: FakeCentral, start_hall: StartHall
) -> None:
    hall = await start_hall(hall_toml(central.url))
    await hall.make_events(300)  # 50 a batch: several batches, and events committed meanwhile
    await until(lambda: central.acked == hall.writer.committed_seq, "all shipped")
    await assert_all_arrived(hall, central)
    assert central.stored == sorted(central.stored)  # in order
    assert len(central.stored) == len(set(central.stored))  # once
    assert central.resent == 0  # and nothing sent twice on the wire either
    # The central server had no configuration: it was sent, as in effect, with its digest.
    assert central.config_digest == hall.writer.engine.config_digest
    assert config_digest(parse_config(central.config_text)) == hall.writer.engine.config_digest
    data = await until_status(hall, "ok")
    assert data["configured"] is True and data["url"] == central.url
    assert data["acked"] == data["last_seq"] == hall.writer.committed_seq
    assert data["backlog"] == 0 and data["lag_seconds"] == 0
    assert data["last_ok_at"] is not None and data["next_try_at"] is None
    await until(lambda: hall.health() is not None, "uplink health reported")
    assert hall.health() == ("ok", "已连接中心服务器", "Connected to the central server")


async def test_an_idle_uplink_makes_no_events_of_its_own(
    central: FakeCentral, start_hall: StartHall
) -> None:
    """Heartbeats while idle, health reports: nothing feeds back into the log."""
    hall = await start_hall(hall_toml(central.url, timeout_seconds=10), heartbeat=0.02)
    await hall.make_events(5)
    await until(lambda: hall.health() is not None, "health reported")
    await until(lambda: central.acked == hall.writer.committed_seq, "all shipped")
    seq, beats, posts = hall.writer.committed_seq, central.positions, central.posts
    await until(lambda: central.positions >= beats + 20, "twenty heartbeats")
    assert hall.writer.committed_seq == seq
    assert central.acked == seq and central.posts == posts


async def test_the_backlog_arrives_once_when_the_link_is_back(
    central: FakeCentral, start_hall: StartHall
) -> None:
    hall = await start_hall(hall_toml(central.url))
    await hall.make_events(20)
    await until(lambda: central.acked == hall.writer.committed_seq, "first events shipped")
    central.mode = "down"
    await hall.make_events(600)  # the hall works on while the central server is down
    data = await until_status(hall, "offline")
    assert "HTTP 503" in data["last_error"] and data["backlog"] > 0
    await until(lambda: (hall.health() or ("",))[0] == "warning", "offline in device health")
    health = hall.health()
    assert health is not None
    assert "中心服务器无法连接（自 09:00 起），待上传" in health[1]
    assert "Central server unreachable since 09:00" in health[2]
    # The lag is the age of the oldest event not shipped, by the hall's clock.
    hall.clock.now += 120
    data = await hall.status()
    assert data["lag_seconds"] == pytest.approx(120, abs=1)
    central.mode = "ok"
    await until(lambda: central.acked == hall.writer.committed_seq, "backlog shipped")
    await assert_all_arrived(hall, central)
    assert len(central.stored) == len(set(central.stored)) and central.resent == 0
    await until(lambda: (hall.health() or ("",))[0] == "ok", "ok again in device health")
    data = await hall.status()
    assert data["status"] == "ok" and data["backlog"] == 0 and data["lag_seconds"] == 0


async def test_a_stopped_central_server_is_offline_then_caught_up(
    central: FakeCentral, start_hall: StartHall
) -> None:
    """Connection refused (nothing listening), then a central server on the same address."""
    server = TestServer(web.Application(), host="127.0.0.1")
    await server.start_server()
    port = server.port
    await server.close()
    url = f"http://127.0.0.1:{port}{PREFIX}"
    hall = await start_hall(hall_toml(url))
    await hall.make_events(30)
    data = await until_status(hall, "offline")
    assert data["acked"] is None and data["backlog"] is None  # never heard from it
    later = TestServer(central.app(), host="127.0.0.1", port=port)
    await later.start_server()
    try:
        await until(lambda: central.acked == hall.writer.committed_seq, "shipped once it is up")
        await assert_all_arrived(hall, central)
    finally:
        await later.close()


async def test_resumes_from_the_central_servers_position_when_it_lost_events(
    central: FakeCentral, start_hall: StartHall
) -> None:
    hall = await start_hall(hall_toml(central.url), heartbeat=0.05)
    await hall.make_events(120)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped")
    # Restored from an old backup: the heartbeat finds it behind, the events go again.
    shipped = len(central.stored)  # the hall may have logged more since (its health)
    central.forget_after(40)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped again")
    await assert_all_arrived(hall, central)
    last = hall.writer.committed_seq
    assert central.stored == list(range(1, shipped + 1)) + list(range(41, last + 1))
    # Lost while a batch is on its way: 409 with its position, and the uplink resumes there.
    kept = last - 10
    central.forget_before_batch = kept
    await hall.make_events(60)
    await until(lambda: central.acked == hall.writer.committed_seq, "gap filled")
    await assert_all_arrived(hall, central)
    # Stored, but the reply lost: the uplink asks where the central server stands and goes
    # on from there; nothing is stored twice.
    central.lose_replies = 1
    await hall.make_events(60)
    await until(lambda: central.acked == hall.writer.committed_seq, "after a lost reply")
    await assert_all_arrived(hall, central)
    final = hall.writer.committed_seq
    assert central.stored == [
        *range(1, last + 1),
        *range(41, last + 1),
        *range(kept + 1, final + 1),
    ]


async def test_the_configuration_is_sent_when_the_central_server_needs_it(
    central: FakeCentral, start_hall: StartHall
) -> None:
    hall = await start_hall(hall_toml(central.url))
    await hall.make_events(10)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped")
    assert central.config_puts == 1
    # The central server forgot it: the next batch is refused with need_config, the
    # configuration goes first, then the batch.
    central.config_digest = ""
    await hall.make_events(10)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped after the config")
    assert central.config_puts == 2 and central.config_digest == hall.writer.engine.config_digest
    # The hall's configuration changes: the central server has the new one after the batch.
    text = hall_toml(central.url).replace('name = "测试大厅"', 'name = "新名字大厅"')
    await hall.do(c.ChangeConfig, text=text, by="test")
    await until(lambda: central.acked == hall.writer.committed_seq, "the change shipped")
    await until(lambda: central.config_digest == hall.writer.engine.config_digest, "new config")
    assert "新名字大厅" in central.config_text
    await assert_all_arrived(hall, central)


async def test_a_wrong_token_is_refused_and_a_new_one_used(
    central: FakeCentral, start_hall: StartHall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "hq-wrong-token-000000000000"
    hall = await start_hall(
        hall_toml(central.url),
        token=wrong,
        token_check=0.05,
    )
    await hall.make_events(5)
    data = await until_status(hall, "refused")
    assert "HTTP 401" in data["last_error"] and data["next_try_at"] is not None
    await until(lambda: (hall.health() or ("",))[0] == "error", "refused in device health")
    health = hall.health()
    assert health is not None and "令牌错误或已吊销" in health[1] and "revoked" in health[2]
    # The right token in the file: taken at once (the file is watched while refused).
    (hall.uplink.data_dir / "uplink.token").write_text(TOKEN, encoding="utf-8")
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped with the new token")
    await assert_all_arrived(hall, central)
    # The token is never logged, shown or sent anywhere but the header.
    text = caplog.text + str(await hall.status()) + central.config_text
    assert TOKEN not in text and wrong not in text


async def test_no_token_says_where_to_put_it(
    central: FakeCentral, start_hall: StartHall, tmp_path: Path
) -> None:
    hall = await start_hall(
        hall_toml(central.url),
        token=None,
        no_token_retry=0.05,
    )
    await hall.make_events(5)
    path = tmp_path / "data" / "uplink.token"
    data = await until_status(hall, "no_token")
    assert f"put the token from the central server in {path}" in data["last_error"]
    await until(lambda: (hall.health() or ("",))[0] == "error", "no token in device health")
    health = hall.health()
    assert health is not None
    assert f"缺少上传令牌：请把中心服务器发给本大厅的令牌放入 {path}" in health[1]
    assert f"No token: put the token from the central server in {path}" in health[2]
    assert central.posts == central.positions == 0
    path.write_text(TOKEN + "\n", encoding="utf-8")
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped once it is there")
    await assert_all_arrived(hall, central)


async def test_the_environment_token_overrides_the_file(
    central: FakeCentral, start_hall: StartHall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLQ_UPLINK_TOKEN", TOKEN)
    hall = await start_hall(hall_toml(central.url), token="hq-stale-token-in-the-file")
    await hall.make_events(5)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped")


async def test_a_refused_batch_is_an_error_and_never_skipped(
    central: FakeCentral, start_hall: StartHall
) -> None:
    hall = await start_hall(hall_toml(central.url))
    await hall.make_events(10)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped")
    acked = central.acked
    central.mode = "reject"
    await hall.make_events(10)
    data = await until_status(hall, "error")
    assert "批次有误 / the batch is malformed (test)" in data["last_error"]
    await until(lambda: (hall.health() or ("",))[0] == "error", "error in device health")
    health = hall.health()
    assert health is not None and "中心服务器拒收数据" in health[1] and "malformed" in health[2]
    await until(lambda: central.posts >= 4, "tried again")
    assert central.acked == acked
    central.mode = "ok"
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped after the fix")
    await assert_all_arrived(hall, central)
    assert central.stored == list(range(1, hall.writer.committed_seq + 1))


async def test_the_writer_is_never_held_up_by_a_hanging_central_server(
    central: FakeCentral, start_hall: StartHall
) -> None:
    hall = await start_hall(hall_toml(central.url, timeout_seconds=0.5))
    await hall.make_events(5)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped")
    central.mode = "hang"
    await hall.make_events(1)  # a batch that never gets an answer
    await until(lambda: central.hanging >= 1, "a request hangs")
    before = hall.writer.committed_seq
    await asyncio.wait_for(hall.make_events(300), timeout=60)  # commands go on meanwhile
    assert hall.writer.committed_seq >= before + 300
    await until_status(hall, "offline")
    assert "no answer in time" in hall.uplink.last_error
    central.mode = "ok"
    central.release.set()
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped after the hang")
    await assert_all_arrived(hall, central)


async def test_a_restarted_controller_knows_its_backlog_before_contact(
    central: FakeCentral, start_hall: StartHall, tmp_path: Path
) -> None:
    hall = await start_hall(hall_toml(central.url))
    await hall.make_events(20)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped")
    acked = central.acked
    central.mode = "down"
    await hall.make_events(40)
    await until_status(hall, "offline")
    last = hall.writer.committed_seq
    await hall.client.close()  # the controller stops (its health report is logged too)
    again = await start_hall(hall_toml(central.url), data=tmp_path / "data")
    data = await until_status(again, "offline")
    assert data["acked"] == acked and data["backlog"] >= last - acked
    central.mode = "ok"
    await until(lambda: central.acked == again.writer.committed_seq, "shipped after restart")
    await assert_all_arrived(again, central)


async def test_a_status_flapping_per_batch_is_not_reported_per_batch(
    central: FakeCentral, start_hall: StartHall
) -> None:
    """Every other batch fails: the status changes each time, the device health does not."""
    hall = await start_hall(hall_toml(central.url, batch_records=5))
    hall.uplink.health_delay = 30.0  # the defaults: a trouble must last before it is reported
    hall.uplink.health_interval = 60.0
    changes: list[str] = []
    original = hall.uplink._set_status

    def spy(status: Any, message: str = "") -> None:
        if status != hall.uplink.status:
            changes.append(status)
        original(status, message)

    hall.uplink._set_status = spy  # type: ignore[method-assign]
    await hall.make_events(3)
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped")
    for _ in range(8):
        central.lose_replies = 1
        await hall.make_events(3)
        await until(lambda: central.acked == hall.writer.committed_seq, "shipped")
    assert changes.count("offline") >= 8
    reports = [
        r
        for r in hall.log()
        if isinstance(r.event, DeviceHealthChanged) and r.event.device == "uplink"
    ]
    assert len(reports) <= 1  # the first ok, at most


async def test_the_address_can_change_while_running_and_the_section_go(
    central: FakeCentral, start_hall: StartHall
) -> None:
    hall = await start_hall(hall_toml("http://127.0.0.1:9/nowhere"))
    await hall.make_events(10)
    await until_status(hall, "offline")
    await hall.do(c.ChangeConfig, text=hall_toml(central.url), by="test")
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped to the new address")
    await assert_all_arrived(hall, central)
    await hall.do(c.ChangeConfig, text=SMALL_HALL_TOML, by="test")
    data = await until_status(hall, "off")
    assert data["configured"] is False and data["url"] is None
    await until(lambda: (hall.health() or ("",))[0] == "unknown", "uplink shown as not in use")


async def test_not_configured(start_hall: StartHall) -> None:
    hall = await start_hall(SMALL_HALL_TOML, token=None)
    await until(lambda: hall.writer.committed_seq == 1, "the day started (its only event)")
    data = await hall.status()
    assert data == {
        "configured": False,
        "url": None,
        "status": "off",
        "acked": None,
        "last_seq": hall.writer.committed_seq,
        "backlog": None,
        "lag_seconds": None,
        "last_ok_at": None,
        "last_error": "",
        "next_try_at": None,
    }
    assert hall.health() is None
    spec = await (await hall.client.get("/api/openapi.json")).json()
    assert spec["paths"]["/api/uplink"]["get"]["operationId"] == "getUplink"


async def test_a_batch_too_large_is_sent_in_smaller_ones(
    central: FakeCentral, start_hall: StartHall
) -> None:
    central.max_records = 12  # e.g. a reverse proxy's body limit
    central.mode = "down"
    hall = await start_hall(hall_toml(central.url, batch_records=50))
    await hall.make_events(100)  # a backlog: full batches of 50 when the link is back
    central.mode = "ok"
    await until(lambda: central.acked == hall.writer.committed_seq, "shipped in smaller batches")
    await assert_all_arrived(hall, central)
    assert max(central.batch_sizes) == 50 and central.batch_sizes[-1] <= 12
    assert central.stored == list(range(1, hall.writer.committed_seq + 1))
    await until_status(hall, "ok")


async def test_a_central_server_ahead_of_the_hall_is_an_error(
    central: FakeCentral, start_hall: StartHall
) -> None:
    """The hall's log was replaced (a new SD card): its events would be taken as repeats."""
    central.acked = 10_000
    central.config_digest = "x"
    hall = await start_hall(hall_toml(central.url))
    data = await until_status(hall, "error")
    assert "the central server has events up to 10000" in data["last_error"]
    assert central.posts == 0
