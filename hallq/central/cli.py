"""`hallq central …`: run the central server and look after its halls, tokens and users.

hallq central                      run it (SQLite in ~/.local/state/hallq/central)
hallq central run --db URL         run it on another database (PostgreSQL for production)
hallq central add-hall ID --name N register a hall
hallq central token ID             issue an uplink token for a hall (printed once)
hallq central add-user NAME --role city_admin|hall_manager [--hall ID]
hallq central migrate              bring the database's tables up to date, then exit
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hallq import __version__
from hallq.central.db import Database, DatabaseError, connect
from hallq.central.schema import migrate
from hallq.errors import CommandRejected
from hallq.files import write_atomically
from hallq.serving import DEMO_CENTRAL_PORT, state_dir


def default_db_url(demo: bool = False) -> str:
    return f"sqlite:///{state_dir() / ('central-demo' if demo else 'central') / 'central.sqlite3'}"


DEMO_USERS = (  # the demo only, printed at start; never a real server's
    ("admin", "hallq-demo", "city_admin", None, "演示市级管理员"),
    ("manager", "hallq-demo", "hall_manager", "demo-szq", "演示大厅负责人"),
)


def add_central_parser(sub: Any) -> None:
    central = sub.add_parser(
        "central", help="run the central server that halls report to (docs/CENTRAL.md)"
    )
    central.add_argument(
        "--db",
        default=os.environ.get("HALLQ_CENTRAL_DB") or None,
        help="database URL: sqlite:///path or postgresql://user@host/db "
        "(default: $HALLQ_CENTRAL_DB, else SQLite under ~/.local/state/hallq/central)",
    )
    central.set_defaults(
        func=cmd_run, host="127.0.0.1", port=DEMO_CENTRAL_PORT, access_log=False, demo=False
    )
    csub = central.add_subparsers(dest="central_command")
    # --db is taken before or after the sub-command: `hallq central run --db URL` too.
    db_arg = argparse.ArgumentParser(add_help=False)
    db_arg.add_argument("--db", default=argparse.SUPPRESS, help="database URL (as above)")

    run = csub.add_parser("run", parents=[db_arg], help="run the server (the default)")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument(
        "--port", type=int, default=DEMO_CENTRAL_PORT, help=f"port (default {DEMO_CENTRAL_PORT})"
    )
    run.add_argument("--access-log", action="store_true", help="log every HTTP request")
    run.add_argument(
        "--demo",
        action="store_true",
        help="a demo server that the demo hall (hallq run) reports to: demo logins, the demo "
        "hall registered and its token put in the demo hall's data folder",
    )
    run.set_defaults(func=cmd_run)

    hall = csub.add_parser("add-hall", parents=[db_arg], help="register a hall")
    hall.add_argument("hall_id", metavar="ID", help="e.g. zaozhuang-shizhong (a-z, 0-9, -)")
    hall.add_argument("--name", required=True, help="the hall's name, e.g. 市中区政务服务中心")
    hall.add_argument("--name-en", default="", help="its English name")
    hall.set_defaults(func=cmd_add_hall)

    token = csub.add_parser(
        "token", parents=[db_arg], help="issue an uplink token for a hall (printed once)"
    )
    token.add_argument("hall_id", metavar="ID")
    token.add_argument("--label", default="", help="a note, e.g. the controller's host name")
    token.set_defaults(func=cmd_token)

    user = csub.add_parser(
        "add-user", parents=[db_arg], help="add a person who signs in to the central server"
    )
    user.add_argument("username")
    user.add_argument("--role", choices=["city_admin", "hall_manager"], required=True)
    user.add_argument("--hall", help="the hall a hall_manager sees")
    user.add_argument("--name", default="", help="display name")
    user.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the password from this environment variable instead of asking",
    )
    user.set_defaults(func=cmd_add_user)

    mig = csub.add_parser(
        "migrate", parents=[db_arg], help="bring the database's tables up to date and exit"
    )
    mig.set_defaults(func=cmd_migrate)


def _url(args: argparse.Namespace) -> str:
    return str(args.db) if args.db else default_db_url(getattr(args, "demo", False))


def _with_db(args: argparse.Namespace, work: Callable[[Database], Awaitable[int]]) -> int:
    async def main() -> int:
        db = await connect(_url(args))
        try:
            await migrate(db)
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except DatabaseError as e:
        print(f"hallq central: {e}", file=sys.stderr)
        return 2
    except CommandRejected as e:
        print(f"hallq central: {e.message}", file=sys.stderr)
        return 2


def cmd_run(args: argparse.Namespace) -> int:
    from hallq.central.app import create_central_app
    from hallq.serving import SystemdService, base_url, log_to_stderr, serve

    url = _url(args)
    log_to_stderr()
    demo_lines: list[str] = []
    if args.demo:
        code = _with_db(args, lambda db: _seed_demo(db, demo_lines))
        if code:
            return code
    try:
        app = create_central_app(url)
    except DatabaseError as e:
        print(f"hallq central: {e}", file=sys.stderr)
        return 2
    _, base = base_url(args.host, args.port)
    # systemd (hallq-central.service, Type=notify): ready once listening, the loop's watchdog.
    SystemdService(app, lambda: f"running: central server on {base}")
    print(f"hallq {__version__}: central server")
    print(f"  database       {url.split('@')[-1] if '@' in url else url}")
    print(f"  pages          {base}/")
    print(f"  halls send to  {base}/api/uplink/batch  (a token each: hallq central token ID)")
    print(f"  public waits   {base}/api/public/halls")
    for line in demo_lines:
        print(f"  demo           {line}")
    sys.stdout.flush()
    try:
        # reuse_port: several server processes may share the port (docs/CENTRAL.md)
        serve(app, args.host, args.port, args.access_log, reuse_port=True)
    except OSError as e:
        print(f"hallq central: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2
    except DatabaseError as e:
        print(f"hallq central: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        print(f"hallq central: {db.describe()} is up to date")
        return 0

    return _with_db(args, work)


def cmd_add_hall(args: argparse.Namespace) -> int:
    from hallq.central.halls import create_hall

    async def work(db: Database) -> int:
        await create_hall(db, args.hall_id, args.name, args.name_en, time.time())
        print(
            f"hall {args.hall_id} added; issue its token with: hallq central token {args.hall_id}"
        )
        return 0

    return _with_db(args, work)


def cmd_token(args: argparse.Namespace) -> int:
    from hallq.central.halls import issue_token

    async def work(db: Database) -> int:
        token, token_id = await issue_token(db, args.hall_id, args.label, "cli", time.time())
        print(token)
        print(
            f"(token {token_id} for hall {args.hall_id}: put it in the hall controller's "
            "data folder as uplink.token; it is not shown again)",
            file=sys.stderr,
        )
        return 0

    return _with_db(args, work)


def cmd_add_user(args: argparse.Namespace) -> int:
    from hallq.central.accounts import create_user

    if args.role == "hall_manager" and not args.hall:
        print("hallq central: a hall_manager needs --hall ID", file=sys.stderr)
        return 2
    if args.password_env:
        password = os.environ.get(args.password_env, "")
        if not password:
            print(f"hallq central: ${args.password_env} is empty", file=sys.stderr)
            return 2
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if password != getpass.getpass("again: "):
            print("hallq central: the passwords differ", file=sys.stderr)
            return 2

    async def work(db: Database) -> int:
        await create_user(db, args.username, password, args.role, args.hall, args.name, time.time())
        print(f"user {args.username} ({args.role}) added")
        return 0

    return _with_db(args, work)


async def _seed_demo(db: Database, lines: list[str]) -> int:
    """The demo: logins, the demo hall, and a token the demo hall (`hallq run`) picks up."""
    from hallq.central.accounts import create_user
    from hallq.central.halls import authenticate, create_hall, issue_token
    from hallq.hall.config import demo_config_path, load_config

    now = time.time()
    cfg = load_config(demo_config_path())
    hall_id = cfg.hall.id
    if await db.fetchval("SELECT 1 FROM halls WHERE hall_id = $1", hall_id) is None:
        await create_hall(db, hall_id, cfg.hall.name, cfg.hall.name_en, now)
    if not await db.fetchval("SELECT count(*) FROM users"):
        for name, password, role, hall, display in DEMO_USERS:
            await create_user(db, name, password, role, hall and hall_id, display, now)
    logins = ", ".join(f"{n} / {p} ({r})" for n, p, r, _h, _d in DEMO_USERS)
    lines.append(f"logins {logins}")
    token_file = state_dir() / "demo" / "uplink.token"
    known = token_file.read_text(encoding="utf-8").strip() if token_file.exists() else ""
    if not known or await authenticate(db, known, now) != hall_id:
        token, _ = await issue_token(db, hall_id, "demo", "demo", now)
        write_atomically(token_file, token + "\n", mode=0o600)
    lines.append(
        f"the demo hall ({hall_id}) reports here once started with `make run` "
        f"(its token: {token_file})"
    )
    return 0
