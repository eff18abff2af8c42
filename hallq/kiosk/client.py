"""The controller as the kiosk sees it: JSON calls and the live feed (`/api/feed`).

`KioskClient.call` never raises for an HTTP or network error: it answers an `ApiResult`
whose `error_code` says what went wrong ("offline" when the controller could not be
reached after a few tries with the same request id, so a retried command is done once).

`FeedFollower` keeps the hall view current like the web pages' `Feed` (hallq.js): a snapshot
on connect, events after it, a reconnect with `?since=SEQ` after a drop (backoff with
jitter, so several kiosks do not reconnect in lockstep), and a re-read of
`/api/state?tickets=none` after events, after a reconnect and once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger("hallq.kiosk.client")

REQUEST_TIMEOUT = 5.0
TRIES = 3
REFRESH_DELAY = 0.15
"""Seconds after an event before the view is read again (a burst of events makes one read)."""
PERIODIC_REFRESH = 60.0
BACKOFF_START = 0.5
BACKOFF_MAX = 10.0


def new_request_id(prefix: str = "kiosk") -> str:
    """A fresh id for one citizen action; the same id is sent again when retrying it."""
    return f"{prefix}-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class ApiResult:
    ok: bool
    status: int
    data: dict[str, Any] = field(default_factory=dict)
    error_code: str = ""
    message: str = ""

    @property
    def offline(self) -> bool:
        return self.status == 0


class KioskClient:
    """JSON calls to one controller (`base_url` such as http://10.0.0.2:8080)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self.calls: list[tuple[str, str, dict[str, Any] | None, int]] = []
        """Every call made (method, path, body, status): for logs and tests."""

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
            )
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, tries: int = TRIES
    ) -> ApiResult:
        """One request; network failures are retried with the same body (the same request id)."""
        for attempt in range(1, tries + 1):
            try:
                async with self.session.request(
                    method, self.base_url + path, json=body
                ) as response:
                    try:
                        data = await response.json(content_type=None)
                    except ValueError:
                        data = None
                    if not isinstance(data, dict):
                        data = {}
                    self.calls.append((method, path, body, response.status))
                    if response.status < 400:
                        return ApiResult(True, response.status, data)
                    raw = data.get("error")
                    err: dict[str, Any] = raw if isinstance(raw, dict) else {}
                    return ApiResult(
                        False,
                        response.status,
                        data,
                        str(err.get("code", f"http_{response.status}")),
                        str(err.get("message", response.reason or "")),
                    )
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                log.info("%s %s failed (try %d/%d): %s", method, path, attempt, tries, e)
                if attempt < tries:
                    await asyncio.sleep(0.3 * attempt)
        self.calls.append((method, path, body, 0))
        return ApiResult(False, 0, {}, "offline", "无法连接控制器 / Cannot reach the controller")

    async def state(self) -> ApiResult:
        return await self.call("GET", "/api/state?tickets=none", tries=1)

    async def appointment(self, code: str) -> ApiResult:
        """An appointment's service and slot by its code (404 `appointment_not_found`)."""
        return await self.call("GET", f"/api/appointments/{quote(code, safe='')}")

    async def issue(
        self,
        request_id: str,
        service: str,
        *,
        kiosk: str,
        language: str,
        category: str | None = None,
        appointment: str | None = None,
    ) -> ApiResult:
        body: dict[str, Any] = {
            "request_id": request_id,
            "service": service,
            "kiosk": kiosk,
            "language": language,
        }
        if category is not None:
            body["category"] = category
        if appointment is not None:
            body["appointment"] = appointment
        return await self.call("POST", "/api/tickets", body)

    async def report_health(
        self, device: str, status: str, reason: str, reason_en: str, kind: str = "printer"
    ) -> ApiResult:
        return await self.call(
            "POST",
            f"/api/devices/{quote(device, safe='')}/health",
            {
                "request_id": new_request_id("health"),
                "kind": kind,
                "status": status,
                "reason": reason,
                "reason_en": reason_en,
            },
        )

    def feed_url(self, since: int) -> str:
        base = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/api/feed" + (f"?since={since}" if since > 0 else "")


class FeedFollower:
    """Follows the feed and keeps `view` current; calls `on_change()` after each change."""

    def __init__(self, client: KioskClient, on_change: Callable[[], None]) -> None:
        self.client = client
        self.on_change = on_change
        self.view: dict[str, Any] | None = None
        self.seq = 0
        self.online = False
        self.backoff = BACKOFF_START
        self._refresh: asyncio.Task[None] | None = None
        self._refresh_again = False
        self._task: asyncio.Task[None] | None = None
        self._periodic: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kiosk-feed")
        self._periodic = asyncio.create_task(self._every_minute(), name="kiosk-refresh")

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._task, self._periodic, self._refresh):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _every_minute(self) -> None:
        while not self._stopped:
            await asyncio.sleep(PERIODIC_REFRESH)
            if self.online:
                self.schedule_refresh(0.0)

    async def _run(self) -> None:
        while not self._stopped:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # any failure: offline, then try again
                log.info("feed: %s", e)
            self._set_online(False)
            delay = self.backoff * (0.75 + random.random() * 0.5)
            log.debug("feed: reconnecting in %.1f s", delay)
            self.backoff = min(self.backoff * 2, BACKOFF_MAX)
            await asyncio.sleep(delay)

    async def _follow(self) -> None:
        log.debug("feed: connecting to %s", self.client.feed_url(self.seq))
        async with self.client.session.ws_connect(
            self.client.feed_url(self.seq),
            heartbeat=20,
            timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
        ) as ws:
            # Connected: online now. With ?since nothing may come until the next event, and
            # going online re-reads the view.
            self.backoff = BACKOFF_START
            self._set_online(True)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = msg.json()
                if isinstance(data, dict):
                    self.receive(data)
                    if data.get("type") == "resync":
                        return

    def receive(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "snapshot":
            self.backoff = BACKOFF_START
            self.seq = int(msg.get("seq") or 0)
            state = msg.get("state")
            if isinstance(state, dict):
                self.accept_view(state)
            self._set_online(True)
        elif kind == "event":
            self.backoff = BACKOFF_START
            seq = int(msg.get("seq") or 0)
            if seq <= self.seq:
                return
            self.seq = seq
            event = msg.get("event") or {}
            big = event.get("type") in ("config_changed", "day_started")
            self._set_online(True)
            self.schedule_refresh(0.0 if big else REFRESH_DELAY)
        elif kind == "resync":
            self.seq = 0

    def accept_view(self, view: dict[str, Any]) -> None:
        if self.view is not None and int(view.get("seq", 0)) < int(self.view.get("seq", 0)):
            return  # an older answer overtaken by a newer one
        self.view = view
        self.on_change()

    def _set_online(self, online: bool) -> None:
        if online == self.online:
            return
        self.online = online
        if online:
            self.schedule_refresh(0.0)  # after a reconnect: never a stale figure
        self.on_change()

    def schedule_refresh(self, delay: float) -> None:
        if self._stopped:
            return
        if self._refresh is not None and not self._refresh.done():
            self._refresh_again = True
            return
        self._refresh = asyncio.create_task(self._refresh_view(delay))

    async def _refresh_view(self, delay: float) -> None:
        await asyncio.sleep(delay)
        while True:
            self._refresh_again = False
            result = await self.client.state()
            if result.ok:
                self.accept_view(result.data)
            if not self._refresh_again:
                return
            await asyncio.sleep(REFRESH_DELAY)
