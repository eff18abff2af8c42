"""Display power (hallq/drivers/displaypower.py) with fake wlr-randr, wlopm, xset, vcgencmd and
cec-ctl scripts on a PATH of their own, each recording how it was called."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from hallq.drivers.displaypower import DisplayPower, parse_wlr_randr

# wlr-randr 0.2 (Debian bookworm) has no --json and lists outputs like this.
WLR_PLAIN = """\
HDMI-A-1 "Samsung Electric Company SAMSUNG 0x01000E00 (HDMI-A-1)"
  Enabled: yes
  Modes:
    1920x1080 px, 60.000000 Hz (preferred, current)
  Position: 0,0
HDMI-A-2 "Unknown Unknown Unknown (HDMI-A-2)"
  Enabled: no
"""
WLR_JSON = '[{"name": "HDMI-A-1", "enabled": true}, {"name": "DSI-1", "enabled": true}]'


class FakeTools:
    """A bin folder of fake commands; each call is recorded as one line in calls.log."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "calls.log"

    def add(self, name: str, body: str = "exit 0") -> None:
        script = self.bin / name
        script.write_text(
            "#!/bin/sh\nexport PATH=/usr/bin:/bin\n"
            f'echo "{name} $*" >> "{self.log}"\n' + textwrap.dedent(body) + "\n"
        )
        script.chmod(0o755)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": str(self.bin), **extra}


@pytest.fixture
def tools(tmp_path: Path) -> FakeTools:
    return FakeTools(tmp_path)


def wlr_randr_plain(tools: FakeTools) -> None:
    listing = tools.bin.parent / "wlr.txt"
    listing.write_text(WLR_PLAIN)
    tools.add(
        "wlr-randr",
        f"""
        case "$1" in
          --json) echo "wlr-randr: unrecognized option '--json'" >&2; exit 1 ;;
          "") cat "{listing}" ;;
        esac
        """,
    )


async def test_the_first_tool_that_answers_is_used(tools: FakeTools) -> None:
    wlr_randr_plain(tools)
    tools.add("wlopm", 'echo "HDMI-A-1 on"')
    tools.add("xset", "exit 0")
    tools.add("vcgencmd", 'echo "display_power=1"')
    both = tools.env(WAYLAND_DISPLAY="wayland-1", DISPLAY=":0")
    assert await DisplayPower(env=both).detect() == "wlr-randr"
    assert await DisplayPower(env=tools.env(DISPLAY=":0")).detect() == "xset"
    assert await DisplayPower(env=tools.env()).detect() == "vcgencmd"

    # Bookworm's cage 0.1.4 has no output management: wlr-randr refuses, wlopm is next.
    tools.add(
        "wlr-randr",
        'echo "compositor doesn\'t support wlr-output-management-unstable-v1" >&2; exit 1',
    )
    assert await DisplayPower(env=both).detect() == "wlopm"
    (tools.bin / "wlopm").unlink()
    assert await DisplayPower(env=both).detect() == "xset"


async def test_vcgencmd_under_kms_and_no_tools_at_all_mean_none(tools: FakeTools) -> None:
    tools.add("vcgencmd", 'echo "display_power=-1"')  # the full KMS driver: no control
    display = DisplayPower(env=tools.env())
    assert await display.detect() == "none"
    health = await display.set(False)
    assert health.status == "ok" and "black" in health.reason_en
    empty = DisplayPower(env={"PATH": str(tools.bin.parent / "nothing")})
    assert await empty.detect() == "none"
    assert (await empty.set(True)).status == "ok"


async def test_wlr_randr_turns_off_the_enabled_outputs_and_back_on(tools: FakeTools) -> None:
    wlr_randr_plain(tools)
    display = DisplayPower(env=tools.env(WAYLAND_DISPLAY="wayland-1"))
    assert (await display.set(False)).status == "ok"
    switched = [c for c in tools.calls() if "--output" in c]
    assert switched == ["wlr-randr --output HDMI-A-1 --off"]  # HDMI-A-2 was already off
    assert (await display.set(True)).status == "ok"
    switched = [c for c in tools.calls() if "--output" in c]
    assert switched[-1] == "wlr-randr --output HDMI-A-1 --on"
    assert len(switched) == 2


async def test_wlr_randr_json_listing_and_named_outputs(tools: FakeTools) -> None:
    tools.add("wlr-randr", f"[ \"$1\" = --json ] && echo '{WLR_JSON}'; exit 0")
    env = tools.env(WAYLAND_DISPLAY="wayland-1")
    assert (await DisplayPower(env=env).set(False)).status == "ok"
    assert [c for c in tools.calls() if "--output" in c] == [
        "wlr-randr --output HDMI-A-1 --off",
        "wlr-randr --output DSI-1 --off",
    ]
    tools.log.unlink()
    assert (await DisplayPower(env=env, outputs=["DSI-1"]).set(False)).status == "ok"
    assert [c for c in tools.calls() if "--output" in c] == ["wlr-randr --output DSI-1 --off"]


def test_wlr_randr_listings_are_read() -> None:
    assert parse_wlr_randr(WLR_PLAIN) == {"HDMI-A-1": True, "HDMI-A-2": False}
    assert parse_wlr_randr(WLR_JSON) == {"HDMI-A-1": True, "DSI-1": True}
    assert parse_wlr_randr("") == {}


async def test_wlopm_xset_and_vcgencmd_are_called_as_documented(tools: FakeTools) -> None:
    tools.add("wlopm", 'echo "HDMI-A-1 on"')
    wayland = DisplayPower(env=tools.env(WAYLAND_DISPLAY="wayland-1"))
    await wayland.set(False)
    await wayland.set(True)
    assert tools.calls()[-2:] == ["wlopm --off *", "wlopm --on *"]

    tools.add("xset", "exit 0")
    x11 = DisplayPower("xset", env=tools.env(DISPLAY=":0"))
    assert (await x11.set(False)).status == "ok"
    assert (await x11.set(True)).status == "ok"
    assert tools.calls()[-2:] == ["xset dpms force off", "xset dpms force on"]

    tools.add("vcgencmd", 'echo "display_power=${2:-1}"')
    firmware = DisplayPower("vcgencmd", env=tools.env())
    assert (await firmware.set(False)).status == "ok"
    assert tools.calls()[-1] == "vcgencmd display_power 0"


async def test_a_failing_command_is_a_warning_that_says_what_to_do(tools: FakeTools) -> None:
    tools.add("xset", 'echo "xset:  unable to open display \\":0\\"" >&2; exit 1')
    display = DisplayPower("xset", env=tools.env(DISPLAY=":0"))
    health = await display.set(False)  # never raises
    assert health.status == "warning"
    assert health.reason.startswith("显示屏关闭失败")
    assert "unable to open display" in health.reason_en
    assert display.health == health

    tools.add("vcgencmd", 'echo "display_power=-1"')
    kms = await DisplayPower("vcgencmd", env=tools.env()).set(False)
    assert kms.status == "warning" and "HDMI-CEC" in kms.reason_en

    missing = await DisplayPower("wlopm", env=tools.env(WAYLAND_DISPLAY="w")).set(True)
    assert missing.status == "warning"
    assert (
        "sudo apt install wlopm" in missing.reason_en and "sudo apt install wlopm" in missing.reason
    )


async def test_a_hanging_command_is_killed_with_its_children(tools: FakeTools) -> None:
    pids = tools.bin.parent / "pids"
    tools.add("xset", f'sleep 300 & echo $! > "{pids}"; exec sleep 300')
    display = DisplayPower("xset", env=tools.env(DISPLAY=":0"), timeout=0.5)
    health = await display.set(False)
    assert health.status == "warning"
    assert "no answer within 0.5 s" in health.reason_en
    child = int(pids.read_text())
    assert not running(child)


def running(pid: int) -> bool:
    """Whether `pid` is alive (a zombie waiting for init to reap it is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


async def test_hdmi_cec_puts_a_tv_in_standby_and_wakes_it(tools: FakeTools) -> None:
    tools.add("cec-ctl", "exit 0")
    tools.add("xset", "exit 0")
    display = DisplayPower(cec=True, env=tools.env(DISPLAY=":0"), cec_device="/dev/cec1")
    assert (await display.set(False)).status == "ok"
    assert (await display.set(True)).status == "ok"
    assert tools.calls()[-4:] == [
        "xset dpms force off",
        "cec-ctl -d /dev/cec1 --playback --to 0 --standby",
        "xset dpms force on",
        "cec-ctl -d /dev/cec1 --playback --to 0 --image-view-on",
    ]
    tools.add("cec-ctl", 'echo "	Tx, Not Acknowledged (4), Max Retries"; exit 0')
    only_cec = DisplayPower("cec", env=tools.env())
    health = await only_cec.set(False)
    assert health.status == "warning"
    assert "turn HDMI-CEC on in the TV's settings" in health.reason_en
    assert tools.calls()[-1] == "cec-ctl -d /dev/cec0 --playback --to 0 --standby"
