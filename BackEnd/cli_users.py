"""`python main.py users import class.csv [--out passwords.csv]` and `python main.py users list`."""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from pathlib import Path

import anyio

from .config import Settings
from .errors import InvalidRequest
from .security import PasswordHasher
from .services.class_import import ImportResult, import_class_list, parse_class_list
from .storage import command_line_unit

__all__ = ["add_users_parser", "run_users_command"]


def add_users_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The `users` command and its two subcommands."""
    users = commands.add_parser("users", help="create accounts from a class list, or list them")
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    importing = actions.add_parser(
        "import", help="create an account per row of a CSV (email,name[,password])"
    )
    importing.add_argument("file", type=Path)
    importing.add_argument("--out", type=Path, help="write email,name,password of the created accounts here")
    actions.add_parser("list", help="every account, oldest first")


def run_users_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run `users import` or `users list`; the process exit code."""
    if args.users_command == "list":
        return _list(settings)
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        rows = parse_class_list(data)
    except InvalidRequest as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 1
    hasher = PasswordHasher(rounds=settings.bcrypt_rounds, concurrency=os.cpu_count() or 2)
    result = anyio.run(
        lambda: import_class_list(
            lambda: command_line_unit(settings),
            hasher,
            rows,
            allowed_domains=settings.allowed_email_domains,
            credits=settings.default_credits,
            actor=None,
        )
    )
    _report(result, args.out)
    return 0


def _report(result: ImportResult, out: Path | None) -> None:
    for skipped in result.skipped:
        print(f"skipped line {skipped['line']} ({skipped['email']}): {skipped['reason']}", file=sys.stderr)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["email", "name", "password"])
    for created in result.created:
        writer.writerow([created["email"], created["name"], created["password"] or "(as given in the file)"])
    if out is None:
        print(table.getvalue(), end="")
    else:
        # Passwords: readable by the teacher alone.
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(table.getvalue())
    print(f"created {len(result.created)} account(s), skipped {len(result.skipped)}", file=sys.stderr)


def _list(settings: Settings) -> int:
    with command_line_unit(settings) as unit:
        accounts = unit.accounts.all()
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["email", "name", "role", "active", "credits", "last_login_at"])
    for account in accounts:
        credits = "unlimited" if account["credits"] is None else account["credits"]
        active = "yes" if account["is_active"] else "no"
        writer.writerow(
            [
                account["email"],
                account["name"],
                account["role"],
                active,
                credits,
                account["last_login_at"] or "",
            ]
        )
    return 0
