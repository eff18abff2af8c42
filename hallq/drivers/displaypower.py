"""Turning a hall screen's display off and on (显示屏电源), with whatever this system has.

Found in this order, the first that answers (`auto`):

- `wlr-randr` under a Wayland compositor with output management (cage 0.1.5 or later,
  labwc, sway): `wlr-randr --output NAME --off` / `--on` for each output;
- `wlopm` under a compositor with output power management: `wlopm --off '*'` / `--on '*'`;
- `xset` under X11: `xset dpms force off` / `on`;
- `vcgencmd display_power 0` / `1`: the Pi's legacy firmware display stack (it has no effect
  under the full KMS driver, so it is only used when `vcgencmd display_power` reports a state);
- else `none`: nothing is switched, and the screen page shows black by itself.

HDMI-CEC (`cec-ctl`) is an option for TVs (`cec=True`): the TV is put in standby and woken
(Image View On), besides the method above; a TV that only loses its signal often stays on
showing "no signal". The method `cec` uses HDMI-CEC alone.

Every command runs under a timeout and is killed (with its children) past it. Nothing is
raised to the caller: `set` returns the display's health, a warning with a reason a person can
act on when the display could not be switched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hallq.drivers.base import Health

log = logging.getLogger("hallq.display")

METHODS = ("auto", "wlr-randr", "wlopm", "xset", "vcgencmd", "cec", "none")
AUTO_ORDER = ("wlr-randr", "wlopm", "xset", "vcgencmd")
TOOL = {
    "wlr-randr": "wlr-randr",
    "wlopm": "wlopm",
    "xset": "xset",
    "vcgencmd": "vcgencmd",
    "cec": "cec-ctl",
}
# The Debian (Raspberry Pi OS) package that brings each tool.
PACKAGE = {
    "wlr-randr": "wlr-randr",
    "wlopm": "wlopm",
    "xset": "x11-xserver-utils",
    "vcgencmd": "libraspberrypi-bin",
    "cec-ctl": "v4l-utils",
}
COMMAND_SECONDS = 5.0

_VCGENCMD_STATE = re.compile(r"display_power=([01])\b")
_CEC_NACK = re.compile(r"\bnack\b|not acknowledged", re.IGNORECASE)


@dataclass(frozen=True)
class CommandResult:
    """What a command did: its exit code (None: it could not run, or was killed), its output."""

    code: int | None
    out: str = ""
    err: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    def detail(self) -> str:
        """The command's own words about what went wrong, short."""
        text = (self.err.strip() or self.out.strip()).splitlines()
        if self.code is None:
            return text[-1] if text else "did not run"
        return f"exit {self.code}" + (f": {text[-1][:200]}" if text else "")


async def run_command(
    argv: Sequence[str], env: Mapping[str, str], timeout: float = COMMAND_SECONDS
) -> CommandResult:
    """Run `argv` (no shell), killed with its children if it takes longer than `timeout`."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            start_new_session=True,  # its own process group: a timeout kills what it started
        )
    except OSError as e:
        return CommandResult(None, "", f"{argv[0]}: {e.strerror or e}")
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except (TimeoutError, asyncio.CancelledError) as e:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        if isinstance(e, asyncio.CancelledError):
            raise
        return CommandResult(None, "", f"no answer within {timeout:g} s")
    return CommandResult(
        proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    )


def parse_wlr_randr(text: str) -> dict[str, bool]:
    """Outputs and whether each is enabled, from `wlr-randr --json` or its plain listing."""
    try:
        heads = json.loads(text)
    except ValueError:
        heads = None
    if isinstance(heads, list):
        return {
            str(h["name"]): bool(h.get("enabled", True))
            for h in heads
            if isinstance(h, dict) and "name" in h
        }
    outputs: dict[str, bool] = {}
    name = ""
    for line in text.splitlines():
        if line and not line[0].isspace():
            name = line.split()[0]
            outputs[name] = True
        elif name and line.strip().lower().startswith("enabled:"):
            outputs[name] = line.split(":", 1)[1].strip().lower() == "yes"
    return outputs


class DisplayPower:
    """The local display's power, switched with the first method this system has.

    `method`: one of METHODS ("auto" finds one). `cec`: also put a TV in standby and wake it
    over HDMI-CEC (`cec_device`). `outputs`: the outputs to switch (wlr-randr, wlopm);
    empty: all. `env`: the environment the commands see (WAYLAND_DISPLAY, DISPLAY, PATH).
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        cec: bool = False,
        cec_device: str = "/dev/cec0",
        outputs: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = COMMAND_SECONDS,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"display power method {method!r}: use one of {', '.join(METHODS)}")
        self.requested = method
        self.cec = cec or method == "cec"
        self.cec_device = cec_device
        self.outputs = list(outputs)
        self.env = dict(os.environ if env is None else env)
        self.timeout = timeout
        self.method: str | None = None  # found on first use; looked for again after a failure
        self.health = Health("unknown")
        self._switched_off: list[str] = []  # wlr-randr: the outputs turned off, to turn on

    def __repr__(self) -> str:
        return f"<DisplayPower {self.method or self.requested} {self.health.status}>"

    def _which(self, tool: str) -> str | None:
        return shutil.which(tool, path=self.env.get("PATH", os.defpath))

    async def _run(self, *argv: str) -> CommandResult:
        path = self._which(argv[0])
        if path is None:
            return CommandResult(None, "", f"{argv[0]} is not installed")
        return await run_command([path, *argv[1:]], self.env, self.timeout)

    async def detect(self) -> str:
        """The method to use: the one asked for, or the first of AUTO_ORDER that answers."""
        if self.requested != "auto":
            return self.requested
        for method in AUTO_ORDER:
            if await self._answers(method):
                return method
        return "cec" if self.cec else "none"

    async def _answers(self, method: str) -> bool:
        if self._which(TOOL[method]) is None:
            return False
        if method == "wlr-randr":
            return bool(self.env.get("WAYLAND_DISPLAY")) and bool(await self._wlr_outputs())
        if method == "wlopm":
            return bool(self.env.get("WAYLAND_DISPLAY")) and (await self._run("wlopm")).ok
        if method == "xset":
            return bool(self.env.get("DISPLAY")) and (await self._run("xset", "q")).ok
        answer = await self._run("vcgencmd", "display_power")
        return answer.ok and _VCGENCMD_STATE.search(answer.out) is not None

    async def _wlr_outputs(self) -> dict[str, bool]:
        listed = await self._run("wlr-randr", "--json")  # wlr-randr 0.3 and later
        if not listed.ok:
            listed = await self._run("wlr-randr")
        return parse_wlr_randr(listed.out) if listed.ok else {}

    async def set(self, on: bool) -> Health:
        """Turn the display on or off; its health afterwards (never raises)."""
        try:
            health = await self._set(on)
        except Exception as e:  # a bug here must not stop the screen
            log.exception("display power failed")
            health = _warning(on, "hallq", str(e))
        if health.status != "ok":
            self.method = None  # look again next time: the compositor may have changed
            if health != self.health:
                log.warning("display not turned %s: %s", "on" if on else "off", health.reason_en)
        elif health.reason_en:
            if health != self.health:
                log.info("%s", health.reason_en)
        else:
            log.info("display turned %s (%s)", "on" if on else "off", self.method)
        self.health = health
        return health

    async def _set(self, on: bool) -> Health:
        if self.method is None:
            self.method = await self.detect()
        method = self.method
        switch = {
            "wlr-randr": self._wlr_randr,
            "wlopm": self._wlopm,
            "xset": self._xset,
            "vcgencmd": self._vcgencmd,
        }.get(method)
        problems: list[Health] = []
        if switch is not None:
            problem = await switch(on)
            if problem is not None:
                problems.append(problem)
        if self.cec:
            problem = await self._cec(on)
            if problem is not None:
                problems.append(problem)
        if problems:
            return Health(
                "warning",
                "；".join(p.reason for p in problems),
                "; ".join(p.reason_en for p in problems),
            )
        if method == "none" and not self.cec:
            return Health(
                "ok",
                "本机无法关闭显示屏电源：非办公时间页面显示黑屏",
                "no display power control here: the page shows black outside hours",
            )
        return Health("ok")

    async def _wlr_randr(self, on: bool) -> Health | None:
        listed = await self._wlr_outputs()
        if not listed:
            if self._which("wlr-randr") is None:
                return _warning(on, "wlr-randr", "wlr-randr is not installed")
            return _warning(on, "wlr-randr", "no outputs listed", _wlr_hint())
        if on:
            names = self.outputs or self._switched_off or list(listed)
        else:
            names = self.outputs or [n for n, enabled in listed.items() if enabled]
        failed: list[str] = []
        for name in names:
            result = await self._run("wlr-randr", "--output", name, "--on" if on else "--off")
            if not result.ok:
                failed.append(f"{name}: {result.detail()}")
        self._switched_off = [] if on else [n for n in names if not _failed(failed, n)]
        if failed:
            return _warning(on, "wlr-randr", "; ".join(failed), _wlr_hint())
        return None

    async def _wlopm(self, on: bool) -> Health | None:
        for name in self.outputs or ["*"]:
            result = await self._run("wlopm", "--on" if on else "--off", name)
            if not result.ok:
                return _warning(on, "wlopm", result.detail())
        return None

    async def _xset(self, on: bool) -> Health | None:
        result = await self._run("xset", "dpms", "force", "on" if on else "off")
        return None if result.ok else _warning(on, "xset", result.detail())

    async def _vcgencmd(self, on: bool) -> Health | None:
        want = "1" if on else "0"
        result = await self._run("vcgencmd", "display_power", want)
        state = _VCGENCMD_STATE.search(result.out)
        if result.ok and state is not None and state.group(1) == want:
            return None
        return _warning(
            on,
            "vcgencmd",
            result.detail() if not result.ok else result.out.strip()[:200],
            (
                "在完整 KMS 驱动下 vcgencmd 无法关屏，可启用 HDMI-CEC（--cec）",
                "vcgencmd has no effect under the full KMS driver; use HDMI-CEC (--cec) for a TV",
            ),
        )

    async def _cec(self, on: bool) -> Health | None:
        action = "--image-view-on" if on else "--standby"
        result = await self._run(
            "cec-ctl", "-d", self.cec_device, "--playback", "--to", "0", action
        )
        nacked = _CEC_NACK.search(result.out + result.err) is not None
        if result.ok and not nacked:
            return None
        detail = "the TV did not acknowledge" if result.ok else result.detail()
        return _warning(
            on,
            "cec-ctl",
            detail,
            (
                f"请确认电视已开启 HDMI-CEC（如 Anynet+、SimpLink、Bravia Sync）且接在 {self.cec_device} 对应的 HDMI 口",
                "turn HDMI-CEC on in the TV's settings (Anynet+, SimpLink, Bravia Sync…) and "
                f"check it is on the HDMI port of {self.cec_device}",
            ),
        )


def _failed(failed: list[str], name: str) -> bool:
    return any(f.startswith(f"{name}: ") for f in failed)


def _wlr_hint() -> tuple[str, str]:
    return (
        "合成器需支持 wlr-output-management（cage 0.1.5 及以上），否则请用 HDMI-CEC（--cec）",
        "the compositor needs wlr-output-management (cage 0.1.5 or later); "
        "otherwise use HDMI-CEC (--cec) for a TV",
    )


def _warning(on: bool, tool: str, detail: str, hint: tuple[str, str] | None = None) -> Health:
    """A switch that failed, as staff read it: what, the tool's own words, what to do."""
    missing = detail.endswith("is not installed")
    if missing and tool in PACKAGE:
        hint = (
            f"请安装：sudo apt install {PACKAGE[tool]}",
            f"install it: sudo apt install {PACKAGE[tool]}",
        )
    zh = f"显示屏{'打开' if on else '关闭'}失败（{tool}：{detail}）"
    en = f"display not turned {'on' if on else 'off'} ({tool}: {detail})"
    if hint is not None:
        zh, en = f"{zh}，{hint[0]}", f"{en}; {hint[1]}"
    return Health("warning", zh, en)
