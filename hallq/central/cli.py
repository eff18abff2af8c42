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
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hallq import __version__
from hallq.central.db import Database, DatabaseError, connect
from hallq.central.schema import migrate
from hallq.errors import CommandRejected


def default_db_url() -> str:
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "hallq"
    return f"sqlite:///{base / 'central' / 'central.sqlite3'}"


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
    central.set_defaults(func=cmd_run, host="127.0.0.1", port=8090, access_log=False)
    csub = central.add_subparsers(dest="central_command")
    # --db is taken before or after the sub-command: `hallq central run --db URL` too.
    db_arg = argparse.ArgumentParser(add_help=False)
    db_arg.add_argument("--db", default=argparse.SUPPRESS, help="database URL (as above)")

    run = csub.add_parser("run", parents=[db_arg], help="run the server (the default)")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    run.add_argument("--access-log", action="store_true", help="log every HTTP request")
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
    return str(args.db) if args.db else default_db_url()


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
    from aiohttp import web

    from hallq.central.app import create_central_app
    from hallq.cli import _fast_event_loop

    url = _url(args)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app = create_central_app(url)
    except DatabaseError as e:
        print(f"hallq central: {e}", file=sys.stderr)
        return 2
    shown = "localhost" if args.host in ("0.0.0.0", "::", "") else args.host
    base = f"http://{shown}:{args.port}"
    print(f"hallq {__version__}: central server")
    print(f"  database       {url.split('@')[-1] if '@' in url else url}")
    print(f"  pages          {base}/")
    print(f"  halls send to  {base}/api/uplink/batch  (a token each: hallq central token ID)")
    print(f"  public waits   {base}/api/public/halls", flush=True)
    _fast_event_loop()
    try:
        web.run_app(
            app,
            host=args.host,
            port=args.port,
            print=None,
            reuse_port=True,  # several server processes may share the port (docs/CENTRAL.md)
            access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
        )
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
