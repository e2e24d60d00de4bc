"""`python main.py [serve|migrate|promote|demote|users|dump|restore]`: the server and its admin commands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from .cli_users import add_users_parser, run_users_command
from .config import Settings
from .emails import email_key
from .errors import AssistantIAError
from .progress import Progress
from .records import Role
from .security import load_or_create_secret
from .services.audit import audit_event
from .storage import change_role, migrate_schema, open_database
from .storage.dump import open_dump, write_dump

__all__ = ["main"]


def _serve(settings: Settings, _: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .server import connection_limits, server_options

    if settings.workers > 1 and not settings.database_url:
        print(
            f"error: WORKERS={settings.workers} needs DATABASE_URL: a TinyDB data folder is owned "
            'by one server process (see "Outgrowing one machine" in the README)',
            file=sys.stderr,
        )
        return 2
    try:
        limits = connection_limits(settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Opened here, not in the lifespan, so a locked or corrupt folder, an unreachable database
    # or a damaged generated JWT key ends with one clear line, and migrations run once, before
    # any worker starts.
    database = open_database(settings)
    try:
        secret = settings.jwt_secret or load_or_create_secret(settings.bdd_dir, settings.jwt_algorithm)
        options = server_options(settings, limits)
        if settings.workers == 1:
            app = create_app(settings.model_copy(update={"jwt_secret": secret}), database=database)
            uvicorn.run(app, **options)
            return 0
    finally:
        database.close()
    # Each worker process builds its own app and connection pool from the same environment,
    # and reads the key made above; the options (limits included) reach each worker pickled.
    uvicorn.run("BackEnd.app:create_app", factory=True, workers=settings.workers, **options)
    return 0


def _migrate(settings: Settings, _: argparse.Namespace) -> int:
    print(migrate_schema(settings))
    return 0


def _set_role(role: Role) -> Callable[[Settings, argparse.Namespace], int]:
    def command(settings: Settings, args: argparse.Namespace) -> int:
        action = "promote" if role == "admin" else "demote"
        user = change_role(
            settings, email_key(args.email), role, audit_event(None, action, None, "command line")
        )
        if user is None:
            print(f"error: no account has the email {args.email!r}", file=sys.stderr)
            return 1
        print(f"{user['email']} is now {role}")
        return 0

    return command


def _dump(settings: Settings, args: argparse.Namespace) -> int:
    database = open_database(settings)
    try:
        with database.dump_source() as source, Progress("dump", source.counts.total) as progress:
            write_dump(args.file, source, progress.advance)
            counts = source.counts
    finally:
        database.close()
    print(
        f"wrote {args.file}: {counts.users} users, {counts.conversations} conversations, "
        f"{counts.messages} messages"
    )
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    # Checked whole in a first streamed pass before anything is written, then written in a second.
    size = args.file.stat().st_size if args.file.is_file() else 0
    with (
        Progress("restore: check", size, unit="bytes") as checking,
        open_dump(args.file, checking.advance) as dump,
    ):
        checking.finish()
        database = open_database(settings)
        try:
            with Progress("restore", dump.counts.total) as progress:
                database.restore(dump, progress.advance)
        finally:
            database.close()
    counts = dump.counts
    print(
        f"restored {counts.users} users, {counts.conversations} conversations, "
        f"{counts.messages} messages from {args.file}"
    )
    return 0


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": _serve,
    "migrate": _migrate,
    "promote": _set_role("admin"),
    "demote": _set_role("user"),
    "users": run_users_command,
    "dump": _dump,
    "restore": _restore,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py", description="AssistantIA server and admin commands."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="run the API server (the default)")
    commands.add_parser("migrate", help="bring the SQL database's schema up to date (start-up does it too)")
    for name, verb in (("promote", "make an account admin"), ("demote", "make an admin a plain user")):
        commands.add_parser(name, help=verb).add_argument("email")
    add_users_parser(commands)
    commands.add_parser("dump", help="write the whole database to one JSON file").add_argument(
        "file", type=Path
    )
    commands.add_parser("restore", help="load a dump into an empty database").add_argument("file", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        print(f"error: invalid settings: {problems}", file=sys.stderr)
        return 2
    try:
        return _COMMANDS[args.command or "serve"](settings, args)
    except AssistantIAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
