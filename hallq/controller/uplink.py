"""The uplink: ships the hall's event log to the central server, store and forward.

The event log is the store. The uplink reads it on a connection of its own (in a thread),
a batch at a time after the sequence number the central server has acknowledged, and posts
each batch gzip-compressed (protocol: `hallq.hall.shipping`). Nothing is queued in memory:
with the link down for days the hall runs exactly the same, and the backlog is read from the
log when the link is back, once, from wherever the central server says it stands.

- Online, a commit wakes the uplink at once (a writer listener): one request in flight;
  events committed meanwhile go in the next batch. Idle, a position request every 30 s is
  the heartbeat (and notices a central server that lost data and needs it again).
- Trouble: network errors, timeouts and 5xx are "offline" (backoff 0.5 s doubling to
  `max_backoff_seconds`, ±25 %); 401/403 "refused" (a wrong or revoked token: tried again
  every few minutes, or at once when the token file changes); other refusals "error" (the
  same batch again with backoff, never skipped); no token "no_token".
- Health: the status shows in the hall's device health (device "uplink") through a logged
  ReportDeviceHealth, as the drivers' does. Those reports are themselves logged and shipped,
  so they are held to at most one a minute, a trouble is reported only once it has lasted
  30 s, and the backlog in the reason is refreshed only when other events arrived: a
  status that flaps per batch cannot feed itself.

The token is a secret: read from the token file (or HALLQ_UPLINK_TOKEN) each time the
uplink connects anew, sent only in the Authorization header, never logged, shown or stored
elsewhere. docs/UPLINK.md is the guide.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import math
import os
import random
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import aiohttp
import msgspec
from aiohttp import web

from hallq import __version__
from hallq.controller.api import json_response
from hallq.controller.store import EventLog
from hallq.controller.writer import HallWriter
from hallq.errors import CommandRejected, StorageError
from hallq.hall.commands import ReportDeviceHealth
from hallq.hall.config import UplinkSettings, config_toml
from hallq.hall.events import ConfigChanged, DeviceHealthChanged, Record
from hallq.hall.schedule import local_now
from hallq.hall.shipping import (
    MAX_BATCH_BYTES,
    Batch,
    HallConfigUpload,
    batch_encoder,
    position_decoder,
    reply_decoder,
)

log = logging.getLogger("hallq.uplink")

DEVICE = "uplink"  # its name and kind in the hall's device health
TOKEN_ENV = "HALLQ_UPLINK_TOKEN"
STATE_FILE = "uplink.state"  # the last acknowledged position, a hint shown before contact

FIRST_BACKOFF_SECONDS = 0.5
HEARTBEAT_SECONDS = 30.0
REFUSED_RETRY_SECONDS = 180.0
NO_TOKEN_RETRY_SECONDS = 15.0
TOKEN_CHECK_SECONDS = 15.0  # while refused: how often the token file is looked at again
HEALTH_DELAY_SECONDS = 30.0  # a trouble is reported once it has lasted this long
HEALTH_INTERVAL_SECONDS = 60.0  # at most one health report a minute
MAX_REPLY_BYTES = 1024 * 1024
MAX_CONFLICTS = 3  # 409s in a row without progress before it counts as an error
GZIP_LEVEL = 6

Status = Literal["off", "starting", "ok", "offline", "refused", "error", "no_token"]
STATUSES: tuple[Status, ...] = (
    "off",
    "starting",
    "ok",
    "offline",
    "refused",
    "error",
    "no_token",
)
_HEALTH: dict[str, Literal["ok", "warning", "error"]] = {
    "ok": "ok",
    "offline": "warning",  # the hall works on and nothing is lost; it only waits
    "refused": "error",
    "error": "error",
    "no_token": "error",
}


def backoff_delay(
    attempt: int,
    max_backoff: float,
    first: float = FIRST_BACKOFF_SECONDS,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before try number `attempt` + 1 after `attempt` failures in a row.

    0.5 s doubling up to `max_backoff`, each spread ±25 % so that many halls cut off together
    do not all come back in the same instant; at the top the spread is 75-100 % of it.
    """
    step = min(max_backoff, first * 2.0 ** min(attempt, 60))
    low = step * 0.75
    high = min(step * 1.25, max_backoff)
    return low + (high - low) * rand()


class _Trouble(Exception):
    """A failed exchange with the central server: the status it means and what was said."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _NoToken(_Trouble):
    def __init__(self, message: str) -> None:
        super().__init__("no_token", message)


class Uplink:
    """Ships the log of `writer` to the central server named in the hall's `[uplink]`.

    Follows configuration changes while running: a new address is used at once, a removed
    section stops the shipping. `start` and `stop` belong to the controller's lifecycle.
    """

    def __init__(self, writer: HallWriter, data_dir: str | Path) -> None:
        self.writer = writer
        self.data_dir = Path(data_dir)
        # Timings, module defaults; tests shorten them.
        self.heartbeat = HEARTBEAT_SECONDS
        self.refused_retry = REFUSED_RETRY_SECONDS
        self.no_token_retry = NO_TOKEN_RETRY_SECONDS
        self.token_check = TOKEN_CHECK_SECONDS
        self.health_delay = HEALTH_DELAY_SECONDS
        self.health_interval = HEALTH_INTERVAL_SECONDS
        self.status: Status = "off"
        self.acked: int | None = None  # what the central server has, as it last said
        self.last_ok_at: float | None = None
        self.last_error = ""
        self.next_try_at: float | None = None
        self.batches = 0
        self.config_uploads = 0
        self._active: UplinkSettings | None = None
        self._newest = 0  # the newest committed sequence number
        self._synced = False
        self._limit = 0  # events a batch now: halved after a timeout, doubled back after a success
        self._ceiling = 0  # at most this many: halved when the central server says too large
        self._config_sent = ""  # the digest last uploaded in this session
        self._conflicts = 0
        self._since = 0.0  # hall clock: when the status last changed
        self._status_changed = 0.0  # loop clock: the same
        self._wake = asyncio.Event()  # a commit or a change of the [uplink] settings
        self._reconfigured = asyncio.Event()  # a change of the [uplink] settings
        self._reader: EventLog | None = None
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._remembered: dict[str, Any] = {}
        self._token = ""
        self._warned: set[Path] = set()  # token files readable by others, warned about once
        # Health reporting
        self._reported: Status | None = None
        self._last_report = -math.inf
        self._other_events = False  # events other than our own reports since the last one
        self._health_timer: asyncio.TimerHandle | None = None
        self._health_tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    def __repr__(self) -> str:
        return f"<Uplink {self.url or '(not configured)'} {self.status} acked={self.acked}>"

    @property
    def url(self) -> str:
        settings = self._active or self.writer.engine.config.uplink
        return settings.url if settings is not None else ""

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Begin shipping (after the writer has loaded and started)."""
        self._reader = await asyncio.to_thread(EventLog, self.writer.log.path)
        self._remembered = await asyncio.to_thread(self._read_state_file)
        self._newest = self.writer.committed_seq
        self._session = aiohttp.ClientSession(
            headers={
                "User-Agent": f"hallq/{__version__} (hall {self.writer.engine.config.hall.id})"
            },
            trust_env=True,  # HTTPS_PROXY / NO_PROXY, as government networks often need
            timeout=aiohttp.ClientTimeout(total=10),
        )
        self.writer.listeners.append(self._on_commit)
        self._task = asyncio.create_task(self._run(), name="hallq-uplink")

    async def stop(self) -> None:
        """Stop shipping: the request in flight is dropped (the central server's ack says
        where to resume), the position is remembered for the next start."""
        self._stopping = True
        if self._on_commit in self.writer.listeners:
            self.writer.listeners.remove(self._on_commit)
        if self._health_timer is not None:
            self._health_timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._health_tasks:
            await asyncio.wait(self._health_tasks, timeout=2)
        if self._session is not None:
            await self._session.close()
            self._session = None
        await asyncio.to_thread(self._write_state_file)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.close)
            self._reader = None

    def _on_commit(self, records: list[Record]) -> None:
        """Writer listener: note the newest event and wake the shipping; never blocks."""
        self._newest = records[-1].seq
        self._wake.set()
        if not self._other_events and any(not _own_report(r) for r in records):
            self._other_events = True
        if (
            any(isinstance(r.event, ConfigChanged) for r in records)
            and self.writer.engine.config.uplink != self._active
        ):
            self._reconfigured.set()
        if self.status in _HEALTH and self.status != "ok" and self._health_timer is None:
            self._consider_health()  # a report already due looks at the backlog when it runs

    # ------------------------------------------------------------ the shipping loop

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._reconfigured.clear()
            settings = self.writer.engine.config.uplink
            if settings != self._active:
                self._begin(settings)
                attempt = 0
            if settings is None:
                self._set_status("off")
                self._consider_health()
                await self._reconfigured.wait()
                continue
            try:
                if not self._synced:
                    # Read again at each new start: a token put in place or replaced is used.
                    self._token = await asyncio.to_thread(self._read_token, settings)
                    await self._sync(settings, self._token)
                if self.acked is not None and self.acked < self._newest:
                    await self._ship(settings, self._token)
                else:
                    await self._idle(settings, self._token)
                attempt = 0
            except _Trouble as trouble:
                self._synced = False
                self._set_status(trouble.status, trouble.message)
                if trouble.status == "refused":
                    delay = self.refused_retry * (0.75 + 0.5 * random.random())
                elif trouble.status == "no_token":
                    delay = self.no_token_retry
                else:
                    delay = backoff_delay(attempt, settings.max_backoff_seconds)
                attempt += 1
                await self._pause(delay, settings, trouble.status)

    def _begin(self, settings: UplinkSettings | None) -> None:
        """A new or changed [uplink] section: a fresh session with the central server."""
        old = self._active
        self._active = settings
        self._synced = False
        self._conflicts = 0
        self._config_sent = ""
        if settings is None:
            self.acked = None
            return
        self._limit = self._ceiling = settings.batch_records
        if old is None or old.url != settings.url:
            remembered = self._remembered
            self.acked = remembered.get("acked") if remembered.get("url") == settings.url else None
            self.last_ok_at = None
            self.last_error = ""
            self._set_status("starting")
            log.info("uplink to %s", settings.url)

    async def _pause(self, delay: float, settings: UplinkSettings, status: Status) -> None:
        """Wait before the next try; a settings change ends the wait at once, and while the
        token is missing or refused, so does a new token."""
        self.next_try_at = self.writer.clock() + delay
        loop = asyncio.get_running_loop()
        until = loop.time() + delay
        watch_token = status in ("refused", "no_token")
        token = await asyncio.to_thread(self._peek_token, settings) if watch_token else None
        try:
            while (left := until - loop.time()) > 0:
                with contextlib.suppress(TimeoutError):
                    step = min(left, self.token_check) if watch_token else left
                    await asyncio.wait_for(self._reconfigured.wait(), step)
                    return
                if watch_token and await asyncio.to_thread(self._peek_token, settings) != token:
                    return
        finally:
            self.next_try_at = None

    async def _idle(self, settings: UplinkSettings, token: str) -> None:
        """Caught up: wait for the next commit; the position request is the heartbeat."""
        self._set_status("ok")
        self.last_ok_at = self.writer.clock()
        self._wake.clear()
        if self._newest > (self.acked or 0):
            return  # committed between the check and here
        try:
            await asyncio.wait_for(self._wake.wait(), self.heartbeat)
            return
        except TimeoutError:
            pass
        if self.writer.engine.config.uplink != settings:
            return
        await self._sync(settings, token)  # the heartbeat: where the central server stands

    async def _sync(self, settings: UplinkSettings, token: str) -> None:
        """Where the central server stands, and whether it has this hall's configuration."""
        raw = await self._call(settings, "GET", "/api/uplink/position", token)
        try:
            position = position_decoder.decode(raw)
        except msgspec.DecodeError as e:
            raise _not_central(settings, "GET /api/uplink/position", e) from None
        self._take(position.acked)
        self._conflicts = 0
        if position.need_config or position.config_digest != self.writer.engine.config_digest:
            await self._put_config(settings, token)
        self._synced = True

    async def _put_config(self, settings: UplinkSettings, token: str) -> None:
        cfg, digest = self.writer.engine.config, self.writer.engine.config_digest
        text = await asyncio.to_thread(config_toml, cfg)
        body = msgspec.json.encode(HallConfigUpload(text=text, digest=digest))
        await self._call(settings, "PUT", "/api/uplink/config", token, body)
        self._config_sent = digest
        self.config_uploads += 1
        log.info("uplink: configuration %s sent to the central server", digest)

    async def _ship(self, settings: UplinkSettings, token: str) -> None:
        """Send the next batch after the acknowledged position."""
        assert self.acked is not None
        digest = self.writer.engine.config_digest
        limit = min(self._limit, settings.batch_records)
        body = await asyncio.to_thread(self._read_batch, self.acked, limit, digest)
        if body is None:  # the log ends before the newest commit: never expected
            raise _Trouble("error", f"the event log has no events after {self.acked}")
        path = "/api/uplink/batch"
        try:
            raw = await self._call(settings, "POST", path, token, body, gzipped=True)
        except _Conflict as conflict:
            await self._resolve(conflict, settings, token)
            return
        except _TooLarge as e:
            if limit > 1:
                self._limit = self._ceiling = max(1, limit // 2)
                log.warning(
                    "uplink: batch too large for the central server; now %d events", self._limit
                )
            raise _Trouble("error", e.message) from None
        except _TimedOut:
            # A slow link: a smaller batch may get through in time (never fewer than one).
            self._limit = max(1, limit // 2)
            raise
        try:
            reply = reply_decoder.decode(raw)
        except msgspec.DecodeError as e:
            raise _not_central(settings, f"POST {path}", e) from None
        self._take(reply.acked)
        self._conflicts = 0
        self._limit = min(self._ceiling, limit * 2)
        self.batches += 1
        self.last_ok_at = self.writer.clock()
        self._set_status("ok")
        ours = self.writer.engine.config_digest
        if reply.need_config or (reply.config_digest != ours and self._config_sent != ours):
            await self._put_config(settings, token)

    async def _resolve(self, conflict: _Conflict, settings: UplinkSettings, token: str) -> None:
        """409: a gap (resume from the central server's ack) or the configuration is wanted."""
        self._conflicts += 1
        if self._conflicts > MAX_CONFLICTS:
            raise _Trouble(
                "error",
                f"the central server refused {self._conflicts} batches in a row: {conflict.message}",
            )
        if conflict.need_config:
            await self._put_config(settings, token)
        if conflict.acked is not None:
            self._take(conflict.acked)
        elif not conflict.need_config:
            raise _Trouble("error", conflict.message)

    def _take(self, acked: int) -> None:
        """Accept the central server's acknowledged position: from here the log is sent."""
        if acked > self._newest:
            raise _Trouble(
                "error",
                f"the central server has events up to {acked} from this hall but its log ends "
                f"at {self._newest}: the log was replaced or another controller uses this "
                "hall's token; ask the central server's administrator",
            )
        if self.acked is not None and acked < self.acked:
            log.warning(
                "uplink: the central server has only up to %d (it had %d): sending again from there",
                acked,
                self.acked,
            )
        self.acked = max(0, acked)

    # ------------------------------------------------------------ HTTP

    async def _call(
        self,
        settings: UplinkSettings,
        method: str,
        path: str,
        token: str,
        body: bytes | None = None,
        gzipped: bool = False,
    ) -> bytes:
        """One request; a 2xx returns its body, anything else raises what it means."""
        assert self._session is not None
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            if gzipped:
                headers["Content-Encoding"] = "gzip"
        url = settings.url.rstrip("/") + path
        what = f"{method} {path}"
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                allow_redirects=False,  # never carry the token to another address
                timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds),
            ) as response:
                raw = await _read_limited(response)
                status = response.status
                location = response.headers.get("Location", "")
        except aiohttp.ClientSSLError as e:
            raise _Trouble(
                "error", f"{what}: the central server's certificate is not accepted: {e}"
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            kind = _TimedOut if isinstance(e, TimeoutError) else _Trouble
            raise kind("offline", f"{what}: {_describe(e)}") from None
        if 200 <= status < 300:
            return raw
        message = f"{what}: HTTP {status}: {_error_message(raw)}"
        if status in (401, 403):
            raise _Trouble("refused", message)
        if status == 409:
            raise _Conflict(message, raw)
        if status == 413:
            raise _TooLarge(message)
        if status in (408, 429) or status >= 500:
            raise _Trouble("offline", message)
        if 300 <= status < 400:
            raise _Trouble(
                "error",
                f"{what}: the address {settings.url} redirects to {location or '?'}; "
                "write the address it moved to in [uplink] url",
            )
        if status == 404:
            raise _Trouble(
                "error",
                f"{what}: HTTP 404: no hallq central server at {settings.url}; check [uplink] url",
            )
        raise _Trouble("error", message)

    # ------------------------------------------------------------ in threads

    def _read_batch(self, after: int, limit: int, digest: str) -> bytes | None:
        """The next batch after `after`, as gzip-compressed JSON (None: nothing to send)."""
        assert self._reader is not None
        try:
            records = self._reader.read_after(after, limit)
        except StorageError as e:
            raise _Trouble("error", f"cannot read the event log: {e}") from None
        if not records:
            return None
        if records[0].seq != after + 1:
            raise _Trouble(
                "error",
                f"the event log has no events {after + 1}-{records[0].seq - 1}; the central "
                "server needs them first",
            )
        while True:
            body = batch_encoder.encode(
                Batch(first=records[0].seq, records=records, config_digest=digest)
            )
            if len(body) <= MAX_BATCH_BYTES or len(records) == 1:
                break
            records = records[: len(records) // 2]
        return gzip.compress(body, GZIP_LEVEL, mtime=0)

    def token_path(self, settings: UplinkSettings) -> Path:
        return self.data_dir / Path(settings.token_file).expanduser()

    def _peek_token(self, settings: UplinkSettings) -> str | None:
        try:
            return self._read_token(settings)
        except _NoToken:
            return None

    def _read_token(self, settings: UplinkSettings) -> str:
        """The hall's token: HALLQ_UPLINK_TOKEN, else the token file. Never logged."""
        from_env = os.environ.get(TOKEN_ENV, "").strip()
        if from_env:
            return _checked_token(from_env, f"the environment variable {TOKEN_ENV}")
        path = self.token_path(settings)
        what = f"put the token from the central server in {path}"
        try:
            text = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise _NoToken(f"no token: {what}") from None
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else "not text"
            raise _NoToken(f"no token: {path} cannot be read ({reason}); {what}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO) and path not in self._warned:
            self._warned.add(path)
            log.warning("uplink: %s can be read by other users; chmod 600 it", path)
        if not text:
            raise _NoToken(f"no token: {path} is empty; {what}")
        return _checked_token(text, str(path))

    def _read_state_file(self) -> dict[str, Any]:
        try:
            data = msgspec.json.decode((self.data_dir / STATE_FILE).read_bytes())
        except (OSError, msgspec.DecodeError):
            return {}
        if not isinstance(data, dict) or not isinstance(data.get("acked"), int):
            return {}
        return data

    def _write_state_file(self) -> None:
        """Remember the central server's position, to show the backlog before it answers."""
        if self._active is None or self.acked is None:
            return
        path = self.data_dir / STATE_FILE
        temp = path.with_suffix(".tmp")
        try:
            temp.write_bytes(msgspec.json.encode({"url": self._active.url, "acked": self.acked}))
            temp.replace(path)
        except OSError as e:
            log.warning("uplink: %s not written: %s", path, e)

    # ------------------------------------------------------------ status and health

    def _set_status(self, status: Status, message: str = "") -> None:
        if message:
            self.last_error = message
        if status == self.status:
            return
        previous, self.status = self.status, status
        self._since = self.writer.clock()
        self._status_changed = asyncio.get_running_loop().time()
        if status == "ok":
            log.info("uplink to %s: ok", self.url)
        elif status not in ("off", "starting"):
            log.warning("uplink to %s: %s: %s", self.url, status, message)
            if previous == "ok":  # the position as it stood, should the controller restart
                self._remembered = {"url": self.url, "acked": self.acked}
                task = asyncio.create_task(asyncio.to_thread(self._write_state_file))
                self._health_tasks.add(task)
                task.add_done_callback(self._health_tasks.discard)
        self._consider_health()

    def _consider_health(self) -> None:
        """Report the status in the device health when it is due (see the module's doc)."""
        if self._stopping:
            return
        if self._health_timer is not None:
            self._health_timer.cancel()
            self._health_timer = None
        if self.status == "starting":
            return
        if self.status == "off":
            known = self.writer.engine.state.devices.get(DEVICE)
            if known is not None and known.status != "unknown":
                self._report(
                    "unknown", "未配置中心服务器", "No central server configured ([uplink])"
                )
            return
        changed = self.status != self._reported
        if not changed and (self.status == "ok" or not self._other_events):
            return
        loop = asyncio.get_running_loop()
        due = self._last_report + self.health_interval
        if changed and self.status != "ok":
            due = max(due, self._status_changed + self.health_delay)
        if due > loop.time():
            self._health_timer = loop.call_at(due, self._consider_health)
            return
        self._reported = self.status
        self._other_events = False
        self._report(*self._health_text())

    def _health_text(self) -> tuple[Literal["ok", "warning", "error"], str, str]:
        status = self.status
        if status == "ok":
            return "ok", "已连接中心服务器", "Connected to the central server"
        cfg = self.writer.engine.config
        local = local_now(cfg, self._since)
        today = local_now(cfg, self.writer.clock()).date() == local.date()
        since = local.strftime("%H:%M") if today else local.strftime("%m-%d %H:%M")
        waiting = self.backlog()
        zh_wait = f"，待上传 {waiting} 条" if waiting is not None else ""
        en_wait = f"; {waiting} events waiting to upload" if waiting is not None else ""
        detail = _short(self.last_error)
        if status == "offline":
            zh = f"中心服务器无法连接（自 {since} 起）{zh_wait}"
            en = f"Central server unreachable since {since}{en_wait}"
        elif status == "refused":
            zh = f"中心服务器拒绝了本大厅的令牌，令牌错误或已吊销（自 {since} 起）{zh_wait}"
            en = f"The central server refuses this hall's token (wrong or revoked) since {since}{en_wait}"
        elif status == "no_token":
            assert self._active is not None
            path = self.token_path(self._active)
            zh = f"缺少上传令牌：请把中心服务器发给本大厅的令牌放入 {path}{zh_wait}"
            en = f"No token: put the token from the central server in {path}{en_wait}"
        else:
            zh = f"中心服务器拒收数据（自 {since} 起）：{detail}{zh_wait}"
            en = f"The central server refuses the data since {since}: {detail}{en_wait}"
        return _HEALTH[status], zh, en

    def _report(
        self, status: Literal["ok", "warning", "error", "unknown"], zh: str, en: str
    ) -> None:
        self._last_report = asyncio.get_running_loop().time()
        cmd = ReportDeviceHealth(
            request_id=f"uplink-{uuid.uuid4()}",
            device=DEVICE,
            kind=DEVICE,
            status=status,
            reason=zh,
            reason_en=en,
        )
        task = asyncio.create_task(self._submit_health(cmd))
        self._health_tasks.add(task)
        task.add_done_callback(self._health_tasks.discard)

    async def _submit_health(self, cmd: ReportDeviceHealth) -> None:
        try:
            await self.writer.submit(cmd)
        except CommandRejected as e:  # stopping, or storage trouble: try again later
            log.warning("uplink health not recorded: %s", e.message)
            self._reported = None
            if not self._stopping:
                self._consider_health()

    def backlog(self) -> int | None:
        """Events committed and not yet acknowledged (None before the first answer)."""
        if self._active is None or self.acked is None:
            return None
        return max(0, self._newest - self.acked)

    async def report(self) -> dict[str, Any]:
        """The uplink as GET /api/uplink shows it."""
        settings = self._active
        lag: float | None = None
        backlog = self.backlog()
        if backlog == 0:
            lag = 0.0
        elif backlog is not None and self.acked is not None and self._reader is not None:
            oldest = await asyncio.to_thread(self._reader.read_after, self.acked, 1)
            lag = max(0.0, round(self.writer.clock() - oldest[0].ts, 3)) if oldest else 0.0
        return {
            "configured": settings is not None,
            "url": settings.url if settings is not None else None,
            "status": self.status,
            "acked": self.acked if settings is not None else None,
            "last_seq": self._newest,
            "backlog": backlog,
            "lag_seconds": lag,
            "last_ok_at": self.last_ok_at,
            "last_error": self.last_error,
            "next_try_at": self.next_try_at,
        }


class _Conflict(_Trouble):
    """409 from the central server: a gap in the sequence, or the configuration wanted."""

    def __init__(self, message: str, raw: bytes) -> None:
        super().__init__("error", message)
        body = _json_object(raw)
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        acked = body.get("acked", error.get("acked"))
        self.acked = acked if isinstance(acked, int) and not isinstance(acked, bool) else None
        self.need_config = (
            body.get("need_config") is True
            or error.get("need_config") is True
            or error.get("code") == "need_config"
        )


class _TimedOut(_Trouble):
    """No answer within `timeout_seconds`."""


class _TooLarge(_Trouble):
    def __init__(self, message: str) -> None:
        super().__init__("error", message)


def _own_report(record: Record) -> bool:
    event = record.event
    return isinstance(event, DeviceHealthChanged) and event.device == DEVICE


def _checked_token(token: str, where: str) -> str:
    if not (
        8 <= len(token) <= 512 and token.isascii() and token.isprintable() and " " not in token
    ):
        raise _NoToken(
            f"no token: {where} does not hold a token (one line of letters and digits as the "
            "central server gave it)"
        )
    return token


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_message(raw: bytes) -> str:
    """The central server's own words for a refusal."""
    error = _json_object(raw).get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return _short(error["message"])
    text = raw[:300].decode("utf-8", "replace").strip()
    return _short(text) or "(no message)"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "no answer in time"
    return _short(str(e)) or type(e).__name__


def _not_central(settings: UplinkSettings, what: str, e: Exception) -> _Trouble:
    return _Trouble(
        "error",
        f"{what}: the server at {settings.url} did not answer as a hallq central server ({_short(str(e), 100)})",
    )


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    """The reply's body, refusing one too large to be the central server's."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise _Trouble(
                "error", f"the reply is over {MAX_REPLY_BYTES} bytes: not a hallq central server"
            )
        chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------ the status endpoint

uplink_key = web.AppKey("uplink", Uplink)


async def get_uplink(request: web.Request) -> web.Response:
    """GET /api/uplink: the uplink's status, position and lag."""
    return json_response(await request.app[uplink_key].report())


def add_uplink_routes(app: web.Application) -> None:
    app.router.add_get("/api/uplink", get_uplink)


__all__ = [
    "DEVICE",
    "STATUSES",
    "Uplink",
    "add_uplink_routes",
    "backoff_delay",
    "uplink_key",
]
