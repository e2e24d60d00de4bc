"""Accounts from a class list: a CSV `email,name[,password]`, every valid row created, the rest explained."""

from __future__ import annotations

import csv
import io
import math
import secrets
import unicodedata
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import anyio

from ..emails import normalise_email
from ..errors import EmailAlreadyRegistered, InvalidRequest, RequestTooLarge
from ..records import UserRecord
from ..security import PasswordHasher
from ..storage import UnitOfWork
from .audit import audit_event
from .auth import check_email_domain, new_account

__all__ = ["MAX_ROWS", "ImportResult", "generate_password", "import_class_list", "parse_class_list"]

MAX_ROWS = 2_000
# Easy to read aloud and type: consonant-vowel syllables, grouped by two ("bako-turi-…").
_CONSONANTS = "bdfghjkmnprstvwz"
_VOWELS = "aeiou"
_SYLLABLES = 10
PASSWORD_BITS = _SYLLABLES * math.log2(len(_CONSONANTS) * len(_VOWELS))  # about 63


def generate_password() -> str:
    """A random password of about 63 bits (`secrets`), e.g. `bako-turi-meda-sonu-pife`."""
    syllables = [secrets.choice(_CONSONANTS) + secrets.choice(_VOWELS) for _ in range(_SYLLABLES)]
    return "-".join("".join(syllables[i : i + 2]) for i in range(0, _SYLLABLES, 2))


@dataclass(frozen=True)
class ClassRow:
    """One data row of the file, with the line it starts on (the header is line 1)."""

    line: int
    email: str
    name: str
    password: str


@dataclass
class ImportResult:
    """`created`: email, name, and the password only when generated; `skipped`: line, email, reason."""

    created: list[dict[str, object]] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)


def parse_class_list(data: bytes) -> list[ClassRow]:
    """The rows of a UTF-8 CSV (BOM, CRLF and quoting welcome); InvalidRequest or RequestTooLarge."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("The file is not a CSV: it is not UTF-8 text.") from None
    if "\x00" in text:
        raise InvalidRequest("The file is not a CSV: it holds binary data.")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or "email" not in [name.strip().lower() for name in header]:
            raise InvalidRequest(
                "The CSV must start with a header line naming an 'email' column (email,name,password)."
            )
        columns = [name.strip().lower() for name in header]
        rows: list[ClassRow] = []
        last_line = reader.line_num
        for record in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            if len(rows) == MAX_ROWS:
                raise RequestTooLarge(
                    f"The CSV has more than {MAX_ROWS} rows; nothing was created. Split it."
                )
            cells = dict(zip(columns, record, strict=False))
            rows.append(
                ClassRow(
                    line,
                    cells.get("email", "").strip(),
                    cells.get("name", "").strip(),
                    cells.get("password", ""),
                )
            )
    except csv.Error as exc:
        raise InvalidRequest(f"The file is not a valid CSV (line {reader.line_num}): {exc}.") from exc
    return rows


def _row_problem(row: ClassRow) -> str | None:
    if len(row.name) > 100 or any(unicodedata.category(char) == "Cc" for char in row.name):
        return "the name must be one line of at most 100 characters"
    if row.password and (len(row.password) < 8 or len(row.password.encode("utf-8")) > 72):
        return "the password must be 8 to 72 bytes long"
    if any(unicodedata.category(char) == "Cc" for char in row.password):
        return "the password must not contain control characters"
    return None


async def import_class_list(
    open_unit: Callable[[], AbstractContextManager[UnitOfWork]],
    hasher: PasswordHasher,
    rows: list[ClassRow],
    *,
    allowed_domains: list[str],
    credits: int | None,
    actor: UserRecord | None,
) -> ImportResult:
    """Create every valid row's account in one unit of work; the others are skipped with a reason."""
    result = ImportResult()
    valid: list[tuple[ClassRow, str]] = []
    first_line: dict[str, int] = {}
    for row in rows:
        try:
            email = normalise_email(row.email)
            check_email_domain(allowed_domains, email)
        except (ValueError, InvalidRequest) as exc:
            result.skipped.append({"line": row.line, "email": row.email, "reason": str(exc)})
            continue
        reason = _row_problem(row)
        if reason is None and email in first_line:
            reason = f"the email is already on line {first_line[email]}"
        if reason is not None:
            result.skipped.append({"line": row.line, "email": email, "reason": reason})
            continue
        first_line[email] = row.line
        valid.append((row, email))
    taken = await anyio.to_thread.run_sync(_taken, open_unit, [email for _, email in valid])
    accounts: list[tuple[ClassRow, UserRecord, str | None]] = []
    for row, email in valid:
        if email in taken:
            result.skipped.append({"line": row.line, "email": email, "reason": _TAKEN})
            continue
        generated = None if row.password else generate_password()
        password_hash = await hasher.hash(row.password or generated or "")
        accounts.append((row, new_account(email, row.name or None, password_hash, credits), generated))
    await anyio.to_thread.run_sync(_create, open_unit, accounts, actor, result)
    result.skipped.sort(key=lambda skipped: skipped["line"])  # type: ignore[arg-type, return-value]
    return result


_TAKEN = "an account with this email already exists"


def _taken(open_unit: Callable[[], AbstractContextManager[UnitOfWork]], emails: list[str]) -> set[str]:
    with open_unit() as unit:
        return {email for email in emails if unit.accounts.get_by_email(email) is not None}


def _create(
    open_unit: Callable[[], AbstractContextManager[UnitOfWork]],
    accounts: list[tuple[ClassRow, UserRecord, str | None]],
    actor: UserRecord | None,
    result: ImportResult,
) -> None:
    created: list[dict[str, object]] = []
    with open_unit() as unit:
        for row, account, generated in accounts:
            try:
                unit.accounts.add(account)
            except EmailAlreadyRegistered:  # registered meanwhile
                result.skipped.append({"line": row.line, "email": account["email"], "reason": _TAKEN})
                continue
            unit.audit.append(audit_event(actor, "import", account, f"line {row.line} of a class list"))
            created.append({"email": account["email"], "name": account["name"], "password": generated})
    result.created = created
