"""POST /users/import: a class list as CSV, every valid row created, the others skipped with a reason."""

from __future__ import annotations

import math
import re

import httpx
import pytest
from fastapi import FastAPI

from BackEnd.services.class_import import PASSWORD_BITS, generate_password
from tests.utils.api import Account, change_settings
from tests.utils.records import stored_state


async def _import(client: httpx.AsyncClient, admin: Account, data: bytes | str) -> httpx.Response:
    body = data.encode("utf-8") if isinstance(data, str) else data
    headers = {**admin.headers, "Content-Type": "text/csv"}
    return await client.post("/users/import", content=body, headers=headers)


async def _login(client: httpx.AsyncClient, email: str, password: str) -> int:
    return (await client.post("/auth/login", json={"email": email, "password": password})).status_code


async def test_import_creates_rows_generates_passwords_and_they_log_in(
    client: httpx.AsyncClient, admin: Account
) -> None:
    csv_text = "email,name,password\r\nann@lycee.fr,Ann Dupont,given password\r\nbob@lycee.fr,Bob,\r\n"
    response = await _import(client, admin, csv_text)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["skipped"] == []
    created = {item["email"]: item for item in body["created"]}
    assert created["ann@lycee.fr"] == {"email": "ann@lycee.fr", "name": "Ann Dupont", "password": None}
    generated = created["bob@lycee.fr"]["password"]
    assert generated and created["bob@lycee.fr"]["name"] == "Bob"
    assert await _login(client, "ann@lycee.fr", "given password") == 200
    assert await _login(client, "bob@lycee.fr", generated) == 200
    listed = (await client.get("/users?q=lycee.fr", headers=admin.headers)).json()
    assert {item["role"] for item in listed["items"]} == {"user"}


async def test_bom_quoting_crlf_column_order_and_blank_lines(
    client: httpx.AsyncClient, admin: Account
) -> None:
    csv_text = '\ufeffName,EMAIL\r\n"Dupont, Ann",ann@lycee.fr\r\n\r\n"Line ""two""\nname",bob@lycee.fr\r\n'
    body = (await _import(client, admin, csv_text)).json()
    assert body["skipped"] == [{"line": 4, "email": "bob@lycee.fr", "reason": body["skipped"][0]["reason"]}]
    assert "one line" in body["skipped"][0]["reason"]  # a name with a newline in it
    assert [(item["email"], item["name"]) for item in body["created"]] == [("ann@lycee.fr", "Dupont, Ann")]


async def test_invalid_duplicate_and_existing_rows_are_skipped_with_their_line(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    csv_text = (
        "email,name,password\n"
        "good@lycee.fr,Good,\n"  # line 2
        "not an email,Bad,\n"  # 3
        "GOOD@lycee.fr,Again,\n"  # 4: the same email once normalised
        f"{alice.email},Alice,\n"  # 5: already registered
        "short@lycee.fr,Short,abc\n"  # 6: password too short
        "ok@lycee.fr,,\n"  # 7: no name: the email's local part
    )
    body = (await _import(client, admin, csv_text)).json()

    assert [item["email"] for item in body["created"]] == ["good@lycee.fr", "ok@lycee.fr"]
    assert body["created"][1]["name"] == "ok"
    assert [(item["line"], item["email"]) for item in body["skipped"]] == [
        (3, "not an email"),
        (4, "good@lycee.fr"),
        (5, alice.email),
        (6, "short@lycee.fr"),
    ]
    reasons = [item["reason"] for item in body["skipped"]]
    assert "line 2" in reasons[1] and "already exists" in reasons[2] and "8 to 72" in reasons[3]


async def test_rows_of_other_domains_are_skipped_when_domains_are_restricted(
    client: httpx.AsyncClient, app: FastAPI, admin: Account
) -> None:
    change_settings(app, allowed_email_domains=["lycee.fr"])
    csv_text = "email,name\nann@lycee.fr,Ann\nbob@sub.lycee.fr,Bob\ncarl@gmail.com,Carl\n"
    body = (await _import(client, admin, csv_text)).json()
    assert [item["email"] for item in body["created"]] == ["ann@lycee.fr"]
    assert [(item["line"], item["email"]) for item in body["skipped"]] == [
        (3, "bob@sub.lycee.fr"),
        (4, "carl@gmail.com"),
    ]
    assert all("ALLOWED_EMAIL_DOMAINS" in item["reason"] for item in body["skipped"])


async def test_new_accounts_get_default_credits(
    client: httpx.AsyncClient, app: FastAPI, admin: Account
) -> None:
    change_settings(app, default_credits=1000)
    await _import(client, admin, "email\nann@lycee.fr\n")
    listed = (await client.get("/users?q=ann@lycee.fr", headers=admin.headers)).json()
    assert listed["items"][0]["credits"] == 1000


async def test_over_2000_rows_creates_nothing(
    client: httpx.AsyncClient, app: FastAPI, admin: Account
) -> None:
    before = stored_state(app.state.context.database)
    rows = "".join(f"student{n}@lycee.fr,Student {n}\n" for n in range(2001))
    response = await _import(client, admin, "email,name\n" + rows)
    assert response.status_code in (413, 422)
    assert "2000" in response.text
    assert stored_state(app.state.context.database) == before


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"name,password\nAnn,secret123\n",  # no email column
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # not text
        b'email\n"unterminated\n',  # broken quoting
        b"email\nann@lycee.fr\x00\n",
    ],
)
async def test_not_a_csv_or_no_email_column_is_422(
    client: httpx.AsyncClient, app: FastAPI, admin: Account, data: bytes
) -> None:
    before = stored_state(app.state.context.database)
    response = await _import(client, admin, data)
    assert response.status_code == 422, response.text
    assert stored_state(app.state.context.database) == before


async def test_a_multipart_file_field_works_too(client: httpx.AsyncClient, admin: Account) -> None:
    files = {"file": ("class.csv", b"email,name\nann@lycee.fr,Ann\n", "text/csv")}
    response = await client.post("/users/import", files=files, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert [item["email"] for item in response.json()["created"]] == ["ann@lycee.fr"]
    other = await client.post("/users/import", files={"other": ("a.csv", b"email\n")}, headers=admin.headers)
    assert other.status_code == 422


def test_generated_passwords_are_readable_random_and_strong_enough() -> None:
    assert PASSWORD_BITS >= 60
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert re.fullmatch(r"([bdfghjkmnprstvwz][aeiou]){2}(-([bdfghjkmnprstvwz][aeiou]){2}){4}", password)
        assert 8 <= len(password.encode()) <= 72
    assert math.isclose(PASSWORD_BITS, 10 * math.log2(80))
