"""The Pi's systemd units and udev rules, checked by the real tools and by running them.

- `systemd-analyze verify` on every unit (with the install paths pointed at this checkout's
  venv), clean: no error and no warning; a unit broken on purpose is caught.
- `systemd-analyze security --offline`: each unit stays sandboxed (exposure below MEDIUM).
- The users and groups the units name are the ones the install script makes.
- The udev rules under `udevadm test` with a fake sysfs, in a private mount namespace (nothing
  on this machine changes): the names and groups an FTDI, a CH340, a two-port FT2232, a
  ticket printer and a GPIO chip get, and nothing for a device that is none of these.
- The controller unit's own command line starts a controller that says READY=1 on a
  NOTIFY_SOCKET, answers /api/state, and keeps an issued ticket across SIGKILL and restart.
"""

from __future__ import annotations

import grp
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import tomli_w

REPO = Path(__file__).resolve().parents[1]
UNITS_DIR = REPO / "systemd"
UNITS = ("hallq.service", "hallq-kiosk.service", "hallq-screen@.service", "hallq-central.service")
RULES = REPO / "deploy" / "udev" / "60-hallq.rules"
INSTALL = REPO / "scripts" / "install-pi.sh"
VENV_HALLQ = REPO / ".venv" / "bin" / "hallq"
INSTALLED_HALLQ = "/opt/hallq/venv/bin/hallq"
START_TIMEOUT = 90.0  # a loaded two-core machine can be slow to start Python


# ---------------------------------------------------------------- unit files


def unit_entries(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as section → key → values (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: {raw!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: {raw!r} is not KEY=VALUE"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(entries: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = entries[section][key]
    assert len(values) == 1, f"{key} given {len(values)} times"
    return values[0]


def runnable_copies(units: dict[str, str], into: Path) -> list[Path]:
    """Copies of the units whose programs exist here: the venv's hallq is this checkout's,
    cage is /bin/true where it is not installed. The template is verified as an instance."""
    cage = shutil.which("cage") or "/bin/true"
    into.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in units.items():
        text = text.replace(INSTALLED_HALLQ, str(VENV_HALLQ)).replace("/usr/bin/cage", cage)
        path = into / name.replace("@.service", "@lobby.service")
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def verify(paths: list[Path], root: Path | None = None) -> str:
    """What `systemd-analyze verify` says of the units: empty when they are clean.

    Its exit status is 0 for unknown keys and bad values (systemd ignores those lines at
    boot), so anything it prints counts as a problem too.
    """
    cmd = ["systemd-analyze", "verify", "--man=no", "--generators=no"]
    if root is not None:
        cmd.append(f"--root={root}")
    cmd += [str(p) if root is None else p.name for p in paths]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        return out or f"exit status {done.returncode}"
    return out


def repo_units() -> dict[str, str]:
    return {name: (UNITS_DIR / name).read_text(encoding="utf-8") for name in UNITS}


def test_every_unit_passes_systemd_analyze_verify(tmp_path):
    assert verify(runnable_copies(repo_units(), tmp_path)) == ""


@pytest.mark.parametrize(
    ("unit", "old", "new", "expected"),
    [
        ("hallq.service", "NoNewPrivileges=yes", "NoNewPrivilege=yes", "Unknown key"),
        ("hallq.service", "Type=notify", "Type=notifyy", "Failed to parse"),
        (
            "hallq-kiosk.service",
            "ExecStart=/opt/hallq/venv/bin/hallq ",
            "ExecStart=/opt/hallq/venv/bin/hallqq ",
            "not executable",
        ),
        ("hallq-screen@.service", "[Service]", "[Servic]", "Unknown section"),
        ("hallq-central.service", "StartLimitBurst=10", "StartLimitBurst=ten", "Failed to parse"),
    ],
)
def test_a_broken_unit_fails_verify(tmp_path, unit, old, new, expected):
    units = repo_units()
    lines = units[unit].splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith(old)]  # not in a comment
    assert len(hits) == 1
    lines[hits[0]] = new + lines[hits[0]].removeprefix(old)
    units[unit] = "".join(lines)
    problems = verify(runnable_copies(units, tmp_path))
    assert expected in problems


def test_units_stay_sandboxed(tmp_path):
    """`systemd-analyze security --offline`: every unit's exposure stays below MEDIUM (5.0)."""
    for path in runnable_copies(repo_units(), tmp_path):
        done = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", "--man=no", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
        assert found, done.stdout + done.stderr
        assert float(found[1]) < 5.0, f"{path.name}: exposure {found[1]}\n{done.stdout}"


def test_the_units_run_what_the_spec_names():
    controller = unit_entries(UNITS_DIR / "hallq.service")
    assert one(controller, "Service", "Type") == "notify"
    assert one(controller, "Service", "NotifyAccess") == "main"
    assert one(controller, "Service", "WatchdogSec") == "30"
    assert one(controller, "Service", "Restart") == "always"
    assert shlex.split(one(controller, "Service", "ExecStart")) == [
        INSTALLED_HALLQ,
        "run",
        "--config",
        "/etc/hallq/hall.toml",
        "--data-dir",
        "/var/lib/hallq/hall",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]
    central = unit_entries(UNITS_DIR / "hallq-central.service")
    assert one(central, "Service", "Type") == "notify"
    assert one(central, "Service", "WatchdogSec") == "30"
    # The database URL (perhaps with a password) comes from the environment, never argv.
    assert "--db" not in one(central, "Service", "ExecStart")
    screen = unit_entries(UNITS_DIR / "hallq-screen@.service")
    argv = shlex.split(one(screen, "Service", "ExecStart"))
    assert argv[:4] == ["/usr/bin/cage", "-d", "-s", "--"]
    # The instance as written (%i): %I would unescape "window-1" into "window/1".
    assert argv[4:7] == [INSTALLED_HALLQ, "screen", "%i"]
    kiosk = unit_entries(UNITS_DIR / "hallq-kiosk.service")
    assert shlex.split(one(kiosk, "Service", "ExecStart"))[:2] == [INSTALLED_HALLQ, "kiosk"]
    assert "SDL_VIDEODRIVER=kmsdrm" in kiosk["Service"]["Environment"]
    for name in UNITS:
        entries = unit_entries(UNITS_DIR / name)
        assert "StartLimitBurst" in entries["Unit"] and "StartLimitIntervalSec" in entries["Unit"]
        assert one(entries, "Service", "ProtectSystem") == "strict", name
        assert one(entries, "Service", "NoNewPrivileges") == "yes", name
        assert one(entries, "Service", "PrivateTmp") == "yes", name


def planned_accounts(tmp_path: Path) -> tuple[set[str], str]:
    """The groups and the adduser command the install script's plan names."""
    done = subprocess.run(
        ["bash", str(INSTALL), "--dry-run", "--root", str(tmp_path / "root")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HALLQ_INSTALL_VENV_FROM": str(REPO / ".venv")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    groups = set(re.findall(r"^would run: groupadd --system (\S+)", done.stdout, re.M))
    adduser = re.findall(r"^would run: (adduser .*?)(?:  #.*)?$", done.stdout, re.M)
    assert len(adduser) == 1, done.stdout
    return groups, adduser[0]


def test_unit_users_and_groups_are_made_by_the_install_script(tmp_path):
    groups, adduser = planned_accounts(tmp_path)
    argv = shlex.split(adduser)
    assert "--system" in argv and "--group" in argv
    made_user = argv[-1]
    for name in UNITS:
        entries = unit_entries(UNITS_DIR / name)
        assert one(entries, "Service", "User") == made_user, name
        assert one(entries, "Service", "Group") == made_user, name  # --group: same name
        for value in entries["Service"].get("SupplementaryGroups", []):
            missing = set(value.split()) - groups
            assert not missing, f"{name} needs groups the install script does not make: {missing}"


# ---------------------------------------------------------------- udev rules


@dataclass
class Node:
    """A device in the fake sysfs."""

    path: str  # under devices/, e.g. "platform/soc/usb1/1-1/1-1.3"
    subsystem: str  # the link's target under the fake /sys, e.g. "bus/usb"
    uevent: dict[str, str]
    attrs: dict[str, str]
    driver: str | None = None  # e.g. "bus/usb-serial/drivers/ftdi_sio"


def build_sysfs(root: Path, nodes: list[Node]) -> None:
    for node in nodes:
        folder = root / "devices" / node.path
        folder.mkdir(parents=True, exist_ok=True)
        links = {"subsystem": node.subsystem, "driver": node.driver}
        for link, target in links.items():
            if target is None:
                continue
            (root / target).mkdir(parents=True, exist_ok=True)
            (folder / link).symlink_to(os.path.relpath(root / target, folder))
        text = "".join(f"{k}={v}\n" for k, v in node.uevent.items())
        (folder / "uevent").write_text(text)
        for name, value in node.attrs.items():
            (folder / name).write_text(value + "\n")


def usb_serial(
    hub: str,
    port: str,
    vendor: str,
    product: str,
    serial: str | None,
    interface: str = "00",
    tty: str = "ttyUSB0",
    driver: str = "ftdi_sio",
) -> tuple[list[Node], str]:
    """A USB-serial adapter on bus 1 at `port` (e.g. "1.3") and its tty; returns (nodes, tty)."""
    device = f"platform/soc/usb1/{hub}/1-{port}"
    attrs = {"idVendor": vendor, "idProduct": product, "busnum": "1", "devpath": port}
    if serial:
        attrs["serial"] = serial
    iface = f"{device}/1-{port}:1.{int(interface)}"
    usb_port = f"{iface}/{tty}"
    tty_node = f"{usb_port}/tty/{tty}"
    minor = int(tty.removeprefix("ttyUSB"))
    nodes = [
        Node(device, "bus/usb", {"DEVTYPE": "usb_device", "DRIVER": "usb"}, attrs),
        Node(
            iface,
            "bus/usb",
            {"DEVTYPE": "usb_interface", "DRIVER": driver},
            {"bInterfaceNumber": interface, "bInterfaceClass": "ff"},
            f"bus/usb/drivers/{driver}",
        ),
        Node(
            usb_port,
            "bus/usb-serial",
            {"DRIVER": driver},
            {"port_number": "0"},
            f"bus/usb-serial/drivers/{driver}",
        ),
        Node(tty_node, "class/tty", {"MAJOR": "188", "MINOR": str(minor), "DEVNAME": tty}, {}),
    ]
    return nodes, tty_node


@dataclass
class UdevResult:
    links: set[str]
    group: int | None
    mode: str | None
    properties: dict[str, str]
    ours: list[str]  # every line the tool printed about 60-hallq.rules


def udev_test(tmp_path: Path, nodes: list[Node], device: str, rules: Path = RULES) -> UdevResult:
    """`udevadm test` of `device` with our rules, in a private mount namespace.

    /run (the rules go to /run/udev/rules.d), /dev and /sys are replaced there by a tmpfs, a
    tmpfs and the fake sysfs, so udev creates its links and database where nothing else sees
    them. SYSTEMD_DEVICE_VERIFY_SYSFS=0 lets udev read a sysfs that is not the kernel's.
    """
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace needs root (CI runs as root)")
    if shutil.which("udevadm") is None:
        pytest.fail("udevadm is missing: scripts/debian-packages-dev.txt installs udev")
    sys_root = tmp_path / "sys"
    build_sysfs(sys_root, nodes)
    script = (
        'set -e; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /dev; mount --bind "$1" /sys; '
        'mkdir -p /run/udev/rules.d; cp "$2" /run/udev/rules.d/60-hallq.rules; '
        'exec udevadm test --action=add "/sys/devices/$3"'
    )
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "udev-test",
            str(sys_root),
            str(rules),
            device,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_DEVICE_VERIFY_SYSFS": "0", "SYSTEMD_LOG_LEVEL": "debug"},
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    ours = [line for line in out.splitlines() if "60-hallq.rules" in line]
    links = set(re.findall(r"60-hallq\.rules:\d+ LINK '([^']+)'", out))
    groups = re.findall(r"60-hallq\.rules:\d+ GROUP (\d+)", out)
    modes = re.findall(r"60-hallq\.rules:\d+ MODE (\d+)", out)
    properties = dict(
        line.split("=", 1) for line in done.stdout.splitlines() if re.match(r"^[A-Z_]+=", line)
    )
    return UdevResult(
        links, int(groups[-1]) if groups else None, modes[-1] if modes else None, properties, ours
    )


def gid(name: str) -> int:
    return grp.getgrnam(name).gr_gid


def test_udev_names_an_ftdi_adapter_by_socket_and_serial(tmp_path):
    nodes, tty = usb_serial("1-1", "1.3", "0403", "6001", "A10KZP9X")
    result = udev_test(tmp_path, nodes, tty)
    assert result.links == {"hallq-rs485-usb1-1.3", "hallq-rs485-sn-A10KZP9X"}
    assert result.group == gid("dialout")
    assert result.mode == "0660"
    assert result.properties.get("ID_MM_DEVICE_IGNORE") == "1"  # ModemManager keeps off the bus


def test_udev_names_a_ch340_without_serial_by_its_socket(tmp_path):
    nodes, tty = usb_serial("1-1", "1.2", "1a86", "7523", None, driver="ch341")
    result = udev_test(tmp_path, nodes, tty)
    assert result.links == {"hallq-rs485-usb1-1.2"}
    assert result.group == gid("dialout")


def test_udev_names_the_second_port_of_a_two_port_adapter(tmp_path):
    nodes, tty = usb_serial("1-1", "1.4", "0403", "6010", "FT55AB", interface="01", tty="ttyUSB1")
    result = udev_test(tmp_path, nodes, tty)
    assert result.links == {"hallq-rs485-usb1-1.4-if01", "hallq-rs485-sn-FT55AB-if01"}


def test_udev_leaves_other_serial_devices_alone(tmp_path):
    nodes, tty = usb_serial("1-1", "1.1", "2341", "0043", "ARDUINO1", driver="cdc_acm")
    result = udev_test(tmp_path, nodes, tty)
    assert result.links == set()
    assert "ID_MM_DEVICE_IGNORE" not in result.properties


def test_udev_gives_a_ticket_printer_to_lp_with_its_names(tmp_path):
    device = "platform/soc/usb1/1-1/1-1.2"
    usb = Node(
        device,
        "bus/usb",
        {
            "DEVTYPE": "usb_device",
            "DRIVER": "usb",
            "MAJOR": "189",
            "MINOR": "1",
            "DEVNAME": "bus/usb/001/002",
        },
        {"idVendor": "0416", "idProduct": "5011", "busnum": "1", "devpath": "1.2"},
    )
    iface = Node(
        f"{device}/1-1.2:1.0",
        "bus/usb",
        {"DEVTYPE": "usb_interface", "DRIVER": "usblp"},
        {"bInterfaceNumber": "00", "bInterfaceClass": "07"},
        "bus/usb/drivers/usblp",
    )
    lp = Node(
        f"{device}/1-1.2:1.0/usbmisc/lp0",
        "class/usbmisc",
        {"MAJOR": "180", "MINOR": "0", "DEVNAME": "usb/lp0"},
        {},
    )
    result = udev_test(tmp_path, [usb, iface, lp], lp.path)
    assert result.links == {"hallq-printer", "hallq-printer-usb1-1.2"}
    assert result.group == gid("lp")
    # libusb (printer = "usb:0416:5011") opens the USB device's own node: lp's too.
    result = udev_test(tmp_path / "usb", [usb, iface, lp], device)
    assert result.group == gid("lp") and result.mode == "0660"


def test_udev_opens_the_gpio_chips_to_group_gpio(tmp_path):
    chip = Node(
        "platform/soc/fe200000.gpio/gpiochip0",
        "bus/gpio",
        {"MAJOR": "254", "MINOR": "0", "DEVNAME": "gpiochip0"},
        {},
    )
    result = udev_test(tmp_path, [chip], chip.path)
    assert result.mode == "0660"
    try:
        assert result.group == gid("gpio")
    except KeyError:  # no gpio group on this machine (the install script makes it on the Pi)
        assert any("Unknown group 'gpio'" in line for line in result.ours)


def test_udev_rules_parse_cleanly_and_a_broken_copy_does_not(tmp_path):
    nodes, tty = usb_serial("1-1", "1.3", "0403", "6001", "A10KZP9X")
    clean = udev_test(tmp_path / "clean", nodes, tty)
    complaints = [
        line
        for line in clean.ours
        if re.search(r"60-hallq\.rules:\d+ (?!GROUP|MODE|LINK|OWNER|ATTR|Importing)", line)
        and "Unknown group 'gpio'" not in line  # made by the install script on a Pi
    ]
    assert complaints == []
    broken = tmp_path / "60-hallq.rules"
    text = RULES.read_text().replace('SYMLINK+="hallq-printer"', 'SYMLIINK+="hallq-printer"')
    broken.write_text(text.replace('ATTRS{idVendor}=="10c4"', 'ATTRS{idVendor}="10c4"'))
    result = udev_test(tmp_path / "broken", nodes, tty, rules=broken)
    said = "\n".join(result.ours)
    assert "Invalid key 'SYMLIINK'" in said
    assert "Invalid operator for ATTRS" in said


# ---------------------------------------------------------------- the controller's command line


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def open_all_day_config(path: Path) -> dict[str, Any]:
    """The demo hall (what a fresh install runs) open around the clock, so the real time works."""
    cfg = tomllib.loads((REPO / "config" / "demo-hall.toml").read_text(encoding="utf-8"))
    cfg["hours"] = {
        "workdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "sessions": ["00:00-23:59"],
        "issue_cutoff_minutes": 0,
    }
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return cfg


def wait_past_midnight(zone: ZoneInfo) -> None:
    """The hall closes for its last minute and a new day expires yesterday's tickets: start
    again after midnight when the test would run into it."""
    now = datetime.now(zone)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=5, microsecond=0)
    if midnight - now < timedelta(minutes=2):
        time.sleep((midnight - now).total_seconds())


class UnitProcess:
    """The controller unit's ExecStart, run as systemd would run it (environment, working
    folder, NOTIFY_SOCKET, WATCHDOG_USEC), with its paths moved into a temporary folder."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        entries = unit_entries(UNITS_DIR / "hallq.service")
        service = entries["Service"]
        self.port = free_port()
        self.paths = {
            INSTALLED_HALLQ: str(VENV_HALLQ),
            "/etc/hallq/hall.toml": str(tmp / "etc" / "hall.toml"),
            "/var/lib/hallq/hall": str(tmp / "var-lib" / "hall"),
            "/var/lib/hallq": str(tmp / "var-lib"),
            "/var/cache": str(tmp / "var-cache"),
        }
        argv = shlex.split(one(entries, "Service", "ExecStart"))
        self.argv = [self.paths.get(a, a) for a in argv]
        self.argv[self.argv.index("--port") + 1] = str(self.port)
        left = [a for a in self.argv if a.startswith(("/etc", "/var", "/opt"))]
        assert not left, f"paths in ExecStart the test does not know: {left}"
        self.cwd = self.paths[one(entries, "Service", "WorkingDirectory")]
        self.env = dict(os.environ)
        self.env.pop("NOTIFY_SOCKET", None)
        for assignment in service.get("Environment", []):
            for pair in shlex.split(assignment):
                key, _, value = pair.partition("=")
                self.env[key] = self.paths.get(value, value)
        self.env["WATCHDOG_USEC"] = str(int(one(entries, "Service", "WatchdogSec")) * 1_000_000)
        for folder in ("etc", "var-lib", "var-cache"):
            (tmp / folder).mkdir(exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> list[str]:
        """Start it; return what it told systemd up to READY=1."""
        self.starts += 1
        sock_path = self.tmp / f"notify-{self.starts}.sock"
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(sock_path))
        notify.settimeout(0.5)
        env = {**self.env, "NOTIFY_SOCKET": str(sock_path)}
        log = (self.tmp / f"run-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        messages: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while "READY=1" not in messages:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"no READY=1 (told {messages}):\n{self.log()}")
                try:
                    messages += notify.recv(4096).decode().split("\n")
                except TimeoutError:
                    continue
        finally:
            notify.close()
        return messages

    def log(self) -> str:
        return (self.tmp / f"run-{self.starts}.log").read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=60)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture
def unit_process(tmp_path) -> Iterator[UnitProcess]:
    process = UnitProcess(tmp_path)
    try:
        yield process
    finally:
        process.kill()


def test_controller_unit_command_serves_and_survives_sigkill(unit_process):
    cfg = open_all_day_config(Path(unit_process.paths["/etc/hallq/hall.toml"]))
    wait_past_midnight(ZoneInfo(cfg["hall"].get("timezone", "Asia/Shanghai")))
    told = unit_process.start()
    assert "READY=1" in told
    state = unit_process.request("GET", "/api/state")
    assert state["hall"]["id"] == cfg["hall"]["id"]
    service = cfg["services"][0]["code"]
    issued = unit_process.request(
        "POST", "/api/tickets", {"request_id": "deploy-unit-t1", "service": service}
    )
    ticket = issued["ticket"]

    unit_process.kill()  # a pulled plug, as far as the process can tell
    unit_process.start()
    waiting = unit_process.request("GET", "/api/state?tickets=waiting")["tickets"]
    assert [(t["id"], t["number"]) for t in waiting] == [(ticket["id"], ticket["number"])]
    again = unit_process.request(
        "POST", "/api/tickets", {"request_id": "deploy-unit-t1", "service": service}
    )
    assert again.get("repeated") is True
    assert again["ticket"]["number"] == ticket["number"]
    # The event log and the voice pack went where the unit says (StateDirectory, CacheDirectory).
    assert (Path(unit_process.paths["/var/lib/hallq/hall"]) / "events.sqlite3").exists()
    packs = Path(unit_process.paths["/var/cache"]) / "hallq"
    assert any(packs.glob("voicepack-*/*")), "the voice pack is not in XDG_CACHE_HOME/hallq"
