"""scripts/install-pi.sh, run for real in a throwaway root (`--root DIR`) and as a plan
(`--dry-run`).

Under --root every file step happens under DIR and the commands that would change this
machine (apt-get, adduser, udevadm, systemctl) are printed as "would run:" lines, which the
tests read. Most tests reuse this checkout's venv (HALLQ_INSTALL_VENV_FROM) to stay quick;
one builds the venv for real under the root, upgrades it, and has an upgrade fail.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_deploy_units import (
    INSTALLED_HALLQ,
    REPO,
    UNITS,
    runnable_copies,
    verify,
)

INSTALL = REPO / "scripts" / "install-pi.sh"
VENV = REPO / ".venv"
SITE_PACKAGES = next((VENV / "lib").glob("python3*/site-packages"))


def venv_base_python() -> str:
    """The interpreter this checkout's venv was made with: a venv made with it under the root
    can use the venv's compiled packages (same Python version)."""
    for line in (VENV / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "executable":
            return value.strip()
    return "python3"


def install(
    root: Path, *args: str, venv_from: Path | None = VENV, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HALLQ_INSTALL_")}
    if venv_from is not None:
        environ["HALLQ_INSTALL_VENV_FROM"] = str(venv_from)
    environ.update(env or {})
    return subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
        stdin=subprocess.DEVNULL,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def would_run(out: str) -> list[list[str]]:
    """The commands the script would have run on a real system, as argv lists."""
    found = []
    for line in out.splitlines():
        if line.startswith("would run: "):
            found.append(shlex.split(line.removeprefix("would run: "), comments=True))
    return found


def listed_packages() -> list[str]:
    """Every package of the two lists, as a --root run names it (the first alternative)."""
    names = []
    for name in ("debian-packages.txt", "debian-packages-pi.txt"):
        for line in (REPO / "scripts" / name).read_text().splitlines():
            for entry in line.split("#", 1)[0].split():
                names.append(entry.split("|")[0].rstrip("?"))
    return names


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file and link under `root` with its content (or target)."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = path.read_bytes()
        else:
            found[rel] = f"dir {path.stat().st_mode & 0o7777:o}"
    return found


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_install_then_upgrade_keeps_configuration_and_data(tmp_path):
    root = tmp_path / "root"
    out = ok(install(root))

    # The layout.
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_bytes() == (
            REPO / "systemd" / unit
        ).read_bytes()
    rules = root / "etc/udev/rules.d/60-hallq.rules"
    assert rules.read_bytes() == (REPO / "deploy/udev/60-hallq.rules").read_bytes()
    config = root / "etc/hallq/hall.toml"
    assert config.read_bytes() == (REPO / "config/demo-hall.toml").read_bytes()
    assert mode(config) == 0o640 and mode(root / "etc/hallq") == 0o750
    assert mode(root / "var/lib/hallq") == 0o750 and mode(root / "var/lib/hallq/hall") == 0o750
    env_file = (root / "etc/hallq/hallq.env").read_text()
    assert "HALLQ_CONTROLLER=http://127.0.0.1:8080\n" in env_file
    version = subprocess.run(
        [str(root / INSTALLED_HALLQ.lstrip("/")), "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("hallq ")
    assert not list(root.rglob(".*.new")), "a temporary file was left behind"

    # What it would have done to the system, in order.
    commands = would_run(out)
    apt = [c for c in commands if "apt-get" in c and "install" in c]
    assert len(apt) == 1 and set(listed_packages()) <= set(apt[0])
    assert [
        "adduser",
        "--system",
        "--group",
        "--home",
        "/var/lib/hallq",
        "--no-create-home",
        "hallq",
    ] in commands
    usermod = [c for c in commands if c[:1] == ["usermod"]]
    assert usermod and set(usermod[0][3].split(",")) >= {"gpio", "dialout", "lp", "audio", "video"}
    assert ["chown", "hallq:hallq", "/var/lib/hallq"] in commands
    reload_ = commands.index(["systemctl", "daemon-reload"])
    enable = commands.index(["systemctl", "enable", "hallq.service"])
    restart = commands.index(["systemctl", "restart", "hallq.service"])
    assert reload_ < enable < restart
    assert ["udevadm", "control", "--reload-rules"] in commands
    assert not any("hallq-kiosk.service" in c and "enable" in c for c in commands)

    # A technician edits the configuration; the hall has data; an old unit is on disk.
    edited = config.read_text().replace("枣庄市市中区政务服务中心", "测试大厅", 1)
    config.write_text(edited)
    events = root / "var/lib/hallq/hall/events.sqlite3"
    events.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    kept_events = events.read_bytes()
    (root / "etc/hallq/hallq.env").write_text(env_file + "HALLQ_KIOSK_ARGS=--kiosk kiosk-2\n")
    (root / "etc/systemd/system/hallq.service").write_text("[Service]\nExecStart=/bin/old\n")

    out = ok(install(root, "--screen", "lobby"))
    assert config.read_text() == edited
    assert events.read_bytes() == kept_events
    assert "HALLQ_KIOSK_ARGS=--kiosk kiosk-2" in (root / "etc/hallq/hallq.env").read_text()
    assert "kept /etc/hallq/hall.toml" in out
    assert "测试大厅" in out  # check-config ran on the technician's file
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_bytes() == (
            REPO / "systemd" / unit
        ).read_bytes()
    commands = would_run(out)
    assert ["systemctl", "enable", "hallq-screen@lobby.service"] in commands
    assert ["systemctl", "restart", "hallq-screen@lobby.service"] in commands
    assert ["systemctl", "restart", "hallq.service"] in commands

    # The units as installed pass systemd-analyze verify (the programs pointed at this machine's).
    installed = {u: (root / "etc/systemd/system" / u).read_text() for u in UNITS}
    assert verify(runnable_copies(installed, tmp_path / "verify")) == ""


def test_a_bad_option_is_refused_with_exit_2(tmp_path):
    root = tmp_path / "root"
    for args, says in [
        (["--bogus"], "unknown option: --bogus"),
        (["--screen"], "--screen needs a value"),
        (["--screen", "Lobby 1"], "a screen id is a-z, 0-9 and -"),
        (["--controller", "10.0.0.2"], "give the controller's URL"),
        (["--kiosk", "--screen", "hall"], "one Pi per screen"),
        (["--screen", "hall", "--screen", "hall-portrait"], "one Pi per screen"),
    ]:
        done = install(root, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert says in done.stderr and "usage: install-pi.sh" in done.stderr
    assert not root.exists()


def test_an_invalid_configuration_stops_before_anything_restarts(tmp_path):
    root = tmp_path / "root"
    ok(install(root))
    config = root / "etc/hallq/hall.toml"
    config.write_text(
        config.read_text().replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"', 1)
    )
    marker = root / "etc/systemd/system/hallq-kiosk.service"
    marker.write_text("# the old unit\n")

    done = install(root, "--kiosk")
    assert done.returncode == 1
    said = done.stdout + done.stderr
    assert f"{config}:" in said and "timezone" in said  # check-config's own message, with the line
    assert "/etc/hallq/hall.toml has errors" in done.stderr
    assert not any(c[:2] == ["systemctl", "restart"] for c in would_run(done.stdout))
    assert marker.read_text() == "# the old unit\n"  # stopped before the units were replaced
    assert 'timezone = "Mars/Olympus"' in config.read_text()  # and never "fixed" by the script


def test_dry_run_plans_every_step_and_writes_nothing(tmp_path):
    root = tmp_path / "root"
    done = install(root, "--dry-run", "--screen", "hall", "--central", venv_from=None)
    out = ok(done)
    assert not root.exists()
    for step in [
        "would create /etc/hallq",
        "would install /etc/hallq/hall.toml from config/demo-hall.toml",
        "would create /etc/hallq/central.env",
        "would create /var/lib/hallq",
        "would install /etc/udev/rules.d/60-hallq.rules",
        "would build a new venv in /opt/hallq/releases/",
        "would check it with the new hallq before restarting anything",
        "would install hallq.service hallq-kiosk.service hallq-screen@.service hallq-central.service",
        "dry run: nothing was changed",
    ]:
        assert step in out, step
    commands = would_run(out)
    for unit in (
        "hallq.service",
        "hallq-screen@hall.service",
        "hallq-central.service",
    ):
        assert ["systemctl", "enable", unit] in commands
    assert any("apt-get" in c for c in commands)
    kiosk = would_run(ok(install(root, "--dry-run", "--kiosk", venv_from=None)))
    assert ["systemctl", "enable", "hallq-kiosk.service"] in kiosk
    assert not root.exists()

    # On an installed root: the plan keeps the configuration and checks it; nothing changes.
    ok(install(root))
    before = snapshot(root)
    out = ok(install(root, "--dry-run"))
    assert snapshot(root) == before
    assert "/etc/hallq/hall.toml exists and is kept" in out
    assert f"{root}/etc/hallq/hall.toml: ok" in out


def test_dry_run_reports_what_would_stop_the_install(tmp_path):
    root = tmp_path / "root"
    done = install(root, "--dry-run", venv_from=tmp_path / "no-venv")
    assert done.returncode == 1
    assert "PROBLEM" in done.stderr and "no-venv has no bin/hallq" in done.stderr
    assert "the install would stop" in done.stdout
    done = install(root, venv_from=None, env={"HALLQ_INSTALL_PYTHON": str(tmp_path / "python9")})
    assert done.returncode == 1
    assert "venv module (python3-venv) is needed" in done.stderr
    assert not root.exists()


def test_a_screen_pi_uses_another_controller(tmp_path):
    root = tmp_path / "root"
    out = ok(install(root, "--screen", "hall", "--controller", "http://10.0.0.2:8080/"))
    env_file = root / "etc/hallq/hallq.env"
    assert "HALLQ_CONTROLLER=http://10.0.0.2:8080\n" in env_file.read_text()
    commands = would_run(out)
    assert ["systemctl", "enable", "hallq-screen@hall.service"] in commands
    assert not any(c[:2] == ["systemctl", "enable"] and "hallq.service" in c for c in commands)

    # systemctl enable made this link on a real system; the Pi now shows another screen.
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "hallq-screen@hall.service").symlink_to("../hallq-screen@.service")
    env_file.write_text(env_file.read_text() + "HALLQ_KIOSK_ARGS=--kiosk kiosk-3\n")
    out = ok(install(root, "--screen", "entrance", "--controller", "http://10.0.0.9:8080"))
    text = env_file.read_text()
    assert "HALLQ_CONTROLLER=http://10.0.0.9:8080\n" in text and "10.0.0.2" not in text
    assert "HALLQ_KIOSK_ARGS=--kiosk kiosk-3" in text
    commands = would_run(out)
    disable = commands.index(["systemctl", "disable", "--now", "hallq-screen@hall.service"])
    assert disable < commands.index(["systemctl", "enable", "hallq-screen@entrance.service"])


@pytest.mark.slow
def test_real_venv_build_upgrade_and_a_failed_upgrade(tmp_path):
    """The venv built for real under the root: `python3 -m venv --system-site-packages` and
    `pip install -c constraints.txt '.[pi]'` of this checkout. `--no-deps` and PYTHONPATH
    (this checkout's venv) stand in for downloading hallq's dependencies, which takes minutes;
    hallq itself is the copy pip installed under the root."""
    root = tmp_path / "root"
    env = {
        "HALLQ_INSTALL_PIP_ARGS": "--no-deps",
        "HALLQ_INSTALL_PYTHON": venv_base_python(),
        "PYTHONPATH": str(SITE_PACKAGES),
    }
    venv = root / "opt/hallq/venv"
    releases = root / "opt/hallq/releases"

    ok(install(root, venv_from=None, env=env))
    first = os.readlink(venv)
    assert first.startswith("releases/") and not Path(first).is_absolute()
    where = subprocess.run(
        [str(venv / "bin/python"), "-c", "import hallq; print(hallq.__file__)"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(releases / Path(first).name)

    # The units as installed verify against the root itself (its venv, a stand-in cage).
    system_units = root / "usr/lib/systemd/system"
    shutil.copytree("/usr/lib/systemd/system", system_units, symlinks=True)
    cage = root / "usr/bin/cage"
    cage.parent.mkdir(parents=True)
    cage.write_text("#!/bin/sh\nexit 0\n")
    cage.chmod(0o755)
    units = [root / "etc/systemd/system" / u.replace("@.service", "@lobby.service") for u in UNITS]
    assert verify(units, root=root) == ""

    ok(install(root, venv_from=None, env=env))
    second = os.readlink(venv)
    assert second != first and {p.name for p in releases.iterdir()} == {
        Path(first).name,
        Path(second).name,
    }

    # An upgrade whose pip fails (no index: the build backend cannot be had) changes nothing.
    broken = {**env, "HALLQ_INSTALL_PIP_ARGS": "--no-deps --no-index --find-links /nonexistent"}
    done = install(root, venv_from=None, env=broken)
    assert done.returncode == 1 and "the installed hallq is unchanged" in done.stderr
    assert os.readlink(venv) == second
    assert {p.name for p in releases.iterdir()} == {Path(first).name, Path(second).name}
    assert not any(c[:2] == ["systemctl", "restart"] for c in would_run(done.stdout))

    ok(install(root, venv_from=None, env=env))
    third = os.readlink(venv)
    names = {p.name for p in releases.iterdir()}
    assert names == {Path(second).name, Path(third).name}  # the oldest release is gone
    version = subprocess.run(
        [str(venv / "bin/hallq"), "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert version.returncode == 0 and version.stdout.startswith("hallq ")
    assert re.fullmatch(r"releases/\d{8}-\d{6}-\w{4}", third)
