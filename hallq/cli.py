"""The `hallq` command: run the controller, check a configuration."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from hallq import __version__
from hallq.controller.store import EventLog
from hallq.errors import ConfigError, StorageError
from hallq.files import write_atomically
from hallq.hall.config import HallConfig, UplinkSettings, demo_config_path, load_config
from hallq.hall.schedule import Timetable, local_now
from hallq.hall.tomllines import line_of
from hallq.serving import DEMO_CENTRAL_PORT, state_dir


def _default_data_dir(demo: bool) -> Path:
    return state_dir() / ("demo" if demo else "hall")


def _demo_clock(cfg: HallConfig, data_dir: Path) -> tuple[Callable[[], float], str]:
    """In the demo, outside hours, run the hall's clock from the next opening so it can be tried.

    The shifted clock never starts before the demo's last event, so a restarted demo's time
    goes on from where it stopped rather than back.
    """
    table = Timetable(cfg)
    now = time.time()
    if table.issue_status(now).open:
        return time.time, ""
    log_ = EventLog(data_dir / "events.sqlite3")
    try:
        last = log_.last_ts()
    finally:
        log_.close()
    start = max(now, (last or 0.0) + 1.0)
    if not table.issue_status(start).open:
        opening = table.next_opening(start)
        if opening is None:
            return time.time, ""
        start = (opening + timedelta(minutes=20)).timestamp()
    offset = start - now
    note = (
        f"The demo hall is closed at {local_now(cfg, now):%a %H:%M}; its clock runs from "
        f"{datetime.fromtimestamp(start, cfg.zone):%Y-%m-%d %H:%M} instead (--real-clock to keep the real time)."
    )
    return (lambda: time.time() + offset), note


def _demo_staff(cfg: HallConfig) -> Callable[[Any], AsyncIterator[None]]:
    """In the demo, the staff of each window sign in at start, so calls can be tried at once."""

    async def sign_in(app: Any) -> AsyncIterator[None]:
        from hallq.controller.api import writer_key
        from hallq.errors import CommandRejected
        from hallq.hall.commands import SignIn

        writer = app[writer_key]
        signed = []
        for member in cfg.staff:
            for window in member.windows:
                if writer.engine.window_state(window).status != "closed":
                    continue
                try:
                    await writer.submit(
                        SignIn(request_id=f"demo-{uuid.uuid4()}", window=window, staff=member.id)
                    )
                    signed.append(window)
                except CommandRejected:
                    continue
        if signed:
            print(f"  demo           staff signed in at windows {signed}", flush=True)
        yield

    return sign_in


def _demo_config_copy(data_dir: Path) -> Path:
    """The demo hall's configuration, copied beside its data on first run so that the admin
    page's edits are saved there and never into the source tree."""
    copy = data_dir / "hall.toml"
    if not copy.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(copy, demo_config_path().read_text(encoding="utf-8"))
    return copy


DEMO_ADMIN = ("admin", "hallq-demo")  # printed at start; the demo only, never a real hall


def _demo_accounts(cfg: HallConfig) -> Callable[[Any], AsyncIterator[None]]:
    """The demo's admin login and window PINs (each staff member's PIN is their number)."""

    async def seed(app: Any) -> AsyncIterator[None]:
        from hallq.controller.api import accounts_key

        accounts = app[accounts_key]

        def fill() -> None:
            if accounts.needs_setup():
                accounts.add_user(DEMO_ADMIN[0], "admin", DEMO_ADMIN[1])
            have = accounts.pins_set()
            for member in cfg.staff:
                if member.id not in have:
                    accounts.set_pin(member.id, member.id[-8:].rjust(4, "0"))

        await asyncio.to_thread(fill)
        print(
            f"  demo           admin page login {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}; "
            "window PINs are the staff numbers",
            flush=True,
        )
        yield

    return seed


def cmd_run(args: argparse.Namespace) -> int:
    from hallq.controller.app import create_app
    from hallq.serving import base_url, log_to_stderr, serve

    demo = args.config is None
    data_dir = Path(args.data_dir) if args.data_dir else _default_data_dir(demo)
    path = Path(args.config) if args.config else _demo_config_copy(data_dir)
    try:
        cfg = load_config(path)
    except ConfigError as e:
        print(f"hallq: the configuration has errors:\n{e}", file=sys.stderr)
        return 2
    config_file = path
    central_note = ""
    if demo and cfg.uplink is None and (data_dir / "uplink.token").exists():
        # `hallq central run --demo` (make central) left the demo hall a token: report there.
        central = f"http://127.0.0.1:{DEMO_CENTRAL_PORT}"
        cfg = msgspec.structs.replace(cfg, uplink=UplinkSettings(url=central))
        central_note = f"{central}/  (the demo central server: make central)"
    clock: Callable[[], float] = time.time
    note = ""
    if demo and not args.real_clock:
        try:
            clock, note = _demo_clock(cfg, data_dir)
        except StorageError as e:
            print(f"hallq: {e}", file=sys.stderr)
            return 2
    log_to_stderr()
    try:
        app = create_app(cfg, data_dir, clock=clock, freeze_gc=True, config_path=config_file)
    except StorageError as e:
        print(f"hallq: {e}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"hallq: the configuration has errors:\n{path}: {e}", file=sys.stderr)
        return 2
    if demo:
        app.cleanup_ctx.insert(0, _demo_accounts(cfg))  # before the "no admin yet" check
        app.cleanup_ctx.append(_demo_staff(cfg))
    shown, base = base_url(args.host, args.port)
    print(f"hallq {__version__}: {cfg.hall.name} ({cfg.hall.id})")
    print(f"  configuration  {path}")
    print(f"  event log      {data_dir / 'events.sqlite3'}")
    if note:
        print(f"  clock          {note}")
    print(f"  pages          {base}/  (every screen, window terminal and evaluator)")
    print(f"  hall screen    {base}/screen/{cfg.screens[0].id if cfg.screens else 'window-1'}")
    print(f"  window 1       {base}/window/1      evaluator {base}/evaluate/1")
    print(f"  admin          {base}/admin")
    if central_note:
        print(f"  reports to     {central_note}")
    print(f"  hall state     {base}/api/state")
    print(f"  API document   {base}/api/openapi.json")
    print(f"  live feed      ws://{shown}:{args.port}/api/feed")
    print(
        "  try:  curl -X POST " + base + "/api/tickets -H 'Content-Type: application/json' "
        f'-d \'{{"request_id": "t1", "service": "{cfg.services[0].code}"}}\'',
        flush=True,
    )
    try:
        serve(app, args.host, args.port, args.access_log)
    except OSError as e:
        print(
            f"hallq: cannot listen on {args.host}:{args.port}: {e.strerror or e}; "
            "is another hallq running? Choose another --port",
            file=sys.stderr,
        )
        return 2
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    bad = 0
    for name in args.files:
        try:
            cfg = load_config(name)
        except ConfigError as e:
            print(e, file=sys.stderr)
            bad += 1
            continue
        from hallq.drivers.factory import check_devices

        device_problems = check_devices(cfg)
        if device_problems:
            text = Path(name).read_text(encoding="utf-8")
            for problem in device_problems:
                field, _, message = problem.partition(": ")
                line = line_of(text, field)
                where = f"{name}:{line}" if line else name
                print(f"{where}: {field}: {message}", file=sys.stderr)
            bad += 1
            continue
        print(
            f"{name}: ok — {cfg.hall.name}: {len(cfg.services)} services, "
            f"{len(cfg.windows)} windows, {len(cfg.priority)} priority categories"
        )
    return 1 if bad else 0


def cmd_voicepack_build(args: argparse.Namespace) -> int:
    from hallq.drivers.voicepack import VoicePackError, build_pack, load_pack

    out = Path(args.out) if args.out else Path(f"voicepack-{args.language}")
    try:
        build_pack(out, args.language, args.speed)
        pack = load_pack(out)
    except VoicePackError as e:
        print(f"hallq voicepack build: {e}", file=sys.stderr)
        return 1
    seconds = sum(pack.seconds(name) for name in pack.clips)
    print(
        f"voice pack ({pack.language}, espeak-ng voice {pack.voice}, speed {pack.speed}, "
        f"{pack.rate} Hz, {len(pack.clips)} clips, {seconds:.1f} s) written to {out.resolve()}"
    )
    return 0


def cmd_kiosk(args: argparse.Namespace) -> int:
    from hallq.kiosk.run import KioskOptions, main, parse_size

    path = Path(args.config) if args.config else demo_config_path()
    try:
        cfg = load_config(path)
        size = parse_size(args.size) if args.size else None
        options = KioskOptions(
            controller=args.controller,
            kiosk=args.kiosk,
            printer=args.printer,
            windowed=args.windowed,
            size=size,
            preview_dir=Path(args.preview) if args.preview else None,
        )
        from hallq.kiosk.run import kiosk_entry

        kiosk_entry(cfg, args.kiosk)
    except (ConfigError, ValueError) as e:
        print(f"hallq kiosk: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return main(cfg, options)


def cmd_screen(args: argparse.Namespace) -> int:
    """`hallq screen ID`: Chromium in kiosk mode on /screen/ID, dark outside its hours."""
    from hallq.drivers.displaypower import METHODS
    from hallq.screen.run import ScreenOptions, main
    from hallq.serving import log_to_stderr

    if args.display not in METHODS:  # from HALLQ_SCREEN_DISPLAY, which argparse does not check
        print(
            f"hallq screen: display method {args.display!r}: use one of {', '.join(METHODS)}",
            file=sys.stderr,
        )
        return 2
    log_to_stderr()
    return main(
        ScreenOptions(
            screen=args.id,
            controller=args.controller,
            browser=args.browser,
            profile=Path(args.profile) if args.profile else None,
            display=args.display,
            cec=args.cec,
            cec_device=args.cec_device,
            outputs=tuple(args.output),
        )
    )


def _positive_minutes(text: str) -> float:
    """--target-p90: a wait in minutes above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{text}" is not a number of minutes, e.g. 20') from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: give a wait above 0 minutes, e.g. 20")
    return value


def _whole_number(least: int) -> Callable[[str], int]:
    """An argument type: a whole number, `least` or more."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'"{text}" is not a whole number') from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text}: give {least} or more")
        return value

    return parse


_at_least_one = _whole_number(1)  # --days, --seeds, --rounds, --max-windows
_at_least_zero = _whole_number(0)  # --learn-days


def cmd_simulate_plan(args: argparse.Namespace) -> int:
    """`hallq simulate --plan`: windows per service and hour for a target p90 wait."""
    from hallq.simulate.plan_report import PlanCommand, run_plan

    plan_only = {
        "--target-p90": args.target_p90,
        "--seeds": args.seeds,
        "--rounds": args.rounds,
        "--max-windows": args.max_windows,
    }
    if not args.plan:
        given = ", ".join(flag for flag, value in plan_only.items() if value is not None)
        print(f"hallq simulate: {given} only go with --plan", file=sys.stderr)
        return 2
    if args.target_p90 is None:
        print(
            "hallq simulate: --plan needs --target-p90 MINUTES, the p90 wait to stay under "
            "(e.g. --target-p90 20)",
            file=sys.stderr,
        )
        return 2
    command = PlanCommand(
        scenario=Path(args.scenario),
        target_p90_minutes=args.target_p90,
        config=Path(args.config) if args.config else None,
        seed=args.seed,
        json_out=Path(args.json) if args.json else None,
        plot_out=Path(args.plot) if args.plot else None,
        max_windows=args.max_windows,
    )
    if args.seeds is not None:
        command = dataclasses.replace(command, seeds=args.seeds)
    if args.rounds is not None:
        command = dataclasses.replace(command, rounds=args.rounds)
    return run_plan(command)


def cmd_simulate(args: argparse.Namespace) -> int:
    from hallq.simulate.report import SimulateOptions, run

    if args.plan or any(
        v is not None for v in (args.target_p90, args.seeds, args.rounds, args.max_windows)
    ):
        return cmd_simulate_plan(args)
    return run(
        SimulateOptions(
            scenario=Path(args.scenario),
            config=Path(args.config) if args.config else None,
            seed=args.seed,
            json_out=Path(args.json) if args.json else None,
            plot_out=Path(args.plot) if args.plot else None,
            p90=args.p90,
            days=args.days,
            learn_days=args.learn_days,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hallq", description="Queue calling and hall signage.")
    parser.add_argument("--version", action="version", version=f"hallq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the hall controller (the demo hall with no --config)")
    run.add_argument("--config", help="hall configuration (TOML); default: the demo hall")
    run.add_argument(
        "--data-dir", help="where the event log lives (default: ~/.local/state/hallq/...)"
    )
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    run.add_argument(
        "--access-log", action="store_true", help="log every HTTP request (off by default)"
    )
    run.add_argument(
        "--real-clock", action="store_true", help="demo hall: keep the real time even when closed"
    )
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="check hall configuration files")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_check_config)

    voicepack = sub.add_parser("voicepack", help="caller voice packs (docs/VOICE.md)")
    vp_sub = voicepack.add_subparsers(dest="voicepack_command", required=True)
    vp_build = vp_sub.add_parser("build", help="make a voice pack with espeak-ng")
    vp_build.add_argument("--out", help="folder for the pack (default: ./voicepack-LANGUAGE)")
    vp_build.add_argument(
        "--language", choices=["zh", "yue", "en"], default="zh", help="zh (default), yue or en"
    )
    vp_build.add_argument(
        "--speed", type=int, default=150, help="words a minute, 80-450 (default 150)"
    )
    vp_build.set_defaults(func=cmd_voicepack_build)

    kiosk = sub.add_parser("kiosk", help="run a touch ticket kiosk (取号机; docs/KIOSK.md)")
    kiosk.add_argument("--controller", default="http://127.0.0.1:8080", help="the controller's URL")
    kiosk.add_argument("--kiosk", help="this kiosk's name in [[kiosks]] (default: the first)")
    kiosk.add_argument(
        "--config", help="hall configuration with the [[kiosks]] entry; default: the demo hall"
    )
    kiosk.add_argument("--printer", help="printer address instead of the configured one")
    kiosk.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    kiosk.add_argument("--size", help="window size, e.g. 800x480 (full screen: the panel's)")
    kiosk.add_argument("--preview", help="simulated printer: draw each ticket as a PNG here")
    kiosk.set_defaults(func=cmd_kiosk)

    from hallq.drivers.displaypower import METHODS as DISPLAY_METHODS

    screen = sub.add_parser(
        "screen",
        help="run a hall screen: Chromium in kiosk mode on /screen/ID, dark outside its hours",
        description="Waits until the controller serves /screen/ID, runs Chromium in kiosk mode on "
        "it (again if it exits), and turns the display off outside the screen's hours "
        "(docs/DEPLOY.md). Settings also come from HALLQ_CONTROLLER, HALLQ_SCREEN_DISPLAY and "
        "HALLQ_SCREEN_CEC=1 in the environment.",
    )
    screen.add_argument("id", metavar="ID", help="the screen's id in [[screens]], or window-N")
    screen.add_argument(
        "--controller",
        default=os.environ.get("HALLQ_CONTROLLER", "http://127.0.0.1:8080"),
        help="the controller's URL (default http://127.0.0.1:8080)",
    )
    screen.add_argument(
        "--browser", help="the browser (default /usr/bin/chromium, else chromium-browser)"
    )
    screen.add_argument(
        "--profile",
        help="Chromium's profile folder (default $XDG_RUNTIME_DIR/hallq-screen-ID, "
        "else /var/lib/hallq/screen-ID)",
    )
    screen.add_argument(
        "--display",
        choices=DISPLAY_METHODS,
        default=os.environ.get("HALLQ_SCREEN_DISPLAY", "auto"),
        help="how the display is turned off and on (default: auto, the first that works)",
    )
    screen.add_argument(
        "--cec",
        action="store_true",
        default=os.environ.get("HALLQ_SCREEN_CEC", "") in ("1", "yes", "true"),
        help="also put a TV in standby and wake it over HDMI-CEC (cec-ctl)",
    )
    screen.add_argument(
        "--cec-device", default="/dev/cec0", help="the HDMI-CEC device (default /dev/cec0)"
    )
    screen.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="NAME",
        help="an output to switch, e.g. HDMI-A-1 (repeatable; default: all)",
    )
    screen.set_defaults(func=cmd_screen)

    simulate = sub.add_parser(
        "simulate", help="simulate a business day of a hall (docs/SIMULATION.md)"
    )
    simulate.add_argument("--scenario", required=True, help="scenario file (TOML)")
    simulate.add_argument(
        "--config", help="hall configuration (TOML); default: the hall the scenario names"
    )
    simulate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    simulate.add_argument("--json", metavar="OUT", help="write the figures as JSON (- for stdout)")
    simulate.add_argument("--plot", metavar="OUT.png", help="draw queue length and waits (PNG)")
    # Wait estimates (docs/ESTIMATES.md).
    simulate.add_argument(
        "--p90", action="store_true", help="print the P90 wait estimate's calibration too"
    )
    simulate.add_argument(
        "--days",
        type=_at_least_one,
        default=1,
        metavar="N",
        help="play N days in a row (seeds from --seed on) and pool the estimates' accuracy",
    )
    simulate.add_argument(
        "--learn-days",
        type=_at_least_zero,
        default=0,
        metavar="K",
        help="first play K days only for the hall to learn from, as one that has run a while",
    )
    # Capacity planning (docs/SIMULATION.md, "Capacity planning").
    simulate.add_argument(
        "--plan", action="store_true", help="plan windows per service and hour for a target wait"
    )
    simulate.add_argument(
        "--target-p90",
        type=_positive_minutes,
        metavar="MINUTES",
        help="with --plan: the p90 wait to stay under in every hour of every service",
    )
    simulate.add_argument(
        "--seeds",
        type=_at_least_one,
        metavar="K",
        help="with --plan: days checked per round, seeds from --seed on (default 10)",
    )
    simulate.add_argument(
        "--rounds",
        type=_at_least_one,
        help="with --plan: most check-and-adjust rounds (default 12)",
    )
    simulate.add_argument(
        "--max-windows",
        type=_at_least_one,
        metavar="N",
        help="with --plan: most windows of one service in an hour (default 3 × Erlang C's, at least 10)",
    )
    simulate.set_defaults(func=cmd_simulate)

    from hallq.central.cli import add_central_parser

    add_central_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
