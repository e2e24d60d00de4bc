"""Lookalike accounts and terminal escapes: one account per address, no control characters stored.

On every backend: an address that only looks like a registered one is either the same account
(409, and it logs in) or refused (422); names, titles and messages keep terminal commands out.
"""

from __future__ import annotations

import unicodedata

import httpx
import pytest

from tests.utils.api import Account, sign_up

PASSWORD = "correct horse"
TEACHER = "teacher@school.fr"
ELEVE = "élève@école.fr"

# Each looks like TEACHER on screen; none may become a second account.
LOOKALIKES = {
    "cyrillic-e": "t\u0435acher@school.fr",
    "cyrillic-c-in-domain": "teacher@s\u0441hool.fr",
    "greek-omicron-in-domain": "teacher@scho\u03bfl.fr",
    "zero-width-space-inside": "tea\u200bcher@school.fr",
    "zero-width-space-at-the-end": "teacher@school.fr\u200b",
    "zero-width-joiner": "teacher\u200d@school.fr",
    "soft-hyphen": "teach\u00ader@school.fr",
    "right-to-left-override": "teacher@\u202erf.loohcs",  # shows as teacher@school.fr
    "left-to-right-mark": "teacher@school.fr\u200e",
    "byte-order-mark": "\ufeffteacher@school.fr",
    "ansi-colour": "\x1b[31mteacher@school.fr",
    "c1-csi": "\u009b31mteacher@school.fr",
    "hangul-filler": "teacher\u3164@school.fr",
}

# These are the same address written another way: the same account.
SAME_ADDRESS = {
    "upper-case": ("TEACHER@SCHOOL.FR", TEACHER),
    "fullwidth": ("\uff54\uff45\uff41\uff43\uff48\uff45\uff52@school.fr", TEACHER),
    "nfd": (unicodedata.normalize("NFD", ELEVE), ELEVE),
    "punycode-domain": ("élève@xn--cole-9oa.fr", ELEVE),
    "upper-case-accents": ("ÉLÈVE@ÉCOLE.FR", ELEVE),
}


async def _register(client: httpx.AsyncClient, email: str, **extra: object) -> httpx.Response:
    return await client.post("/auth/register", json={"email": email, "password": PASSWORD, **extra})


async def _accounts(client: httpx.AsyncClient, admin: Account) -> list[str]:
    listed = await client.get("/users", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    return sorted(user["email"] for user in listed.json()["items"])


@pytest.mark.parametrize("email", list(LOOKALIKES.values()), ids=list(LOOKALIKES))
async def test_an_address_that_only_looks_like_another_is_refused(
    client: httpx.AsyncClient, admin: Account, email: str
) -> None:
    assert (await _register(client, TEACHER)).status_code == 201

    response = await _register(client, email)

    assert response.status_code == 422, response.text
    assert await _accounts(client, admin) == sorted([TEACHER, admin.email])


@pytest.mark.parametrize(("email", "stored"), list(SAME_ADDRESS.values()), ids=list(SAME_ADDRESS))
async def test_another_spelling_of_a_registered_address_is_the_same_account(
    client: httpx.AsyncClient, admin: Account, email: str, stored: str
) -> None:
    first = await _register(client, stored)
    assert first.status_code == 201, first.text

    again = await _register(client, email)
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})

    assert again.status_code == 409, again.text
    assert login.status_code == 200, login.text
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.json()["id"] == first.json()["id"]
    assert await _accounts(client, admin) == sorted([stored, admin.email])


@pytest.mark.parametrize(("email", "stored"), list(SAME_ADDRESS.values()), ids=list(SAME_ADDRESS))
async def test_an_address_is_stored_in_its_one_normalised_form(
    client: httpx.AsyncClient, email: str, stored: str
) -> None:
    response = await _register(client, email)

    assert response.status_code == 201, response.text
    assert response.json()["email"] == stored
    assert unicodedata.is_normalized("NFC", response.json()["email"])


@pytest.mark.parametrize(
    "email",
    [
        "иван@школа.рф",  # one script per part: Cyrillic throughout
        "ivan.petrov@школа.рф",  # Latin local part, Cyrillic domain
        "山田太郎@例え.jp",
        "taro山田@example.jp",  # Latin with Han, as Japanese addresses mix them
        "o'brien+class-2@sub.example-school.fr",
    ],
)
async def test_international_addresses_in_one_script_per_part_are_accepted(
    client: httpx.AsyncClient, email: str
) -> None:
    response = await _register(client, email)

    assert response.status_code == 201, response.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text


@pytest.mark.parametrize(
    "email",
    [
        "user@exa_mple.com",
        "user@-example.com",
        "user@example..com",
        ".user@example.com",
        "us..er@example.com",
        'us"er@example.com',
        "user@xn--zz.com",
        "user@exa<mple.com",
    ],
)
async def test_addresses_no_mail_server_would_take_are_refused(client: httpx.AsyncClient, email: str) -> None:
    response = await _register(client, email)

    assert response.status_code == 422, response.text


@pytest.mark.parametrize("email", [*LOOKALIKES.values(), "user@xn--zz.com", "a@@b"])
async def test_login_with_a_refused_address_is_the_usual_401(
    client: httpx.AsyncClient, alice: Account, email: str
) -> None:
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})

    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Incorrect email or password."}


CONTROL_CHARACTERS = {
    "escape": "red \x1b[31malert\x1b[0m",
    "bell": "ding\x07",
    "backspace": "nice\x08\x08\x08\x08evil",
    "delete": "a\x7fb",
    "c1-csi": "x\u009b2Jy",
    "nul-like-c0": "a\x01b",
}
ONE_LINE_CONTROLS = {**CONTROL_CHARACTERS, "newline": "two\nlines", "tab": "a\tb", "return": "over\rwrite"}


@pytest.mark.parametrize("name", list(ONE_LINE_CONTROLS.values()), ids=list(ONE_LINE_CONTROLS))
async def test_a_name_with_control_characters_is_refused(
    client: httpx.AsyncClient, admin: Account, name: str
) -> None:
    response = await _register(client, "nina@example.com", name=name)

    assert response.status_code == 422, response.text
    assert await _accounts(client, admin) == [admin.email]


@pytest.mark.parametrize("title", list(ONE_LINE_CONTROLS.values()), ids=list(ONE_LINE_CONTROLS))
async def test_a_title_with_control_characters_is_refused_on_create_and_rename(
    client: httpx.AsyncClient, alice: Account, title: str
) -> None:
    created = await client.post("/conversations", json={"title": title}, headers=alice.headers)
    plain = await client.post("/conversations", json={"title": "plain"}, headers=alice.headers)
    renamed = await client.patch(
        f"/conversations/{plain.json()['id']}", json={"title": title}, headers=alice.headers
    )

    assert created.status_code == 422, created.text
    assert renamed.status_code == 422, renamed.text
    listed = await client.get("/conversations", headers=alice.headers)
    assert [item["title"] for item in listed.json()["items"]] == ["plain"]


@pytest.mark.parametrize("message", list(CONTROL_CHARACTERS.values()), ids=list(CONTROL_CHARACTERS))
async def test_a_message_with_terminal_control_characters_is_refused_before_the_model(
    client: httpx.AsyncClient, alice: Account, upstream, message: str
) -> None:
    response = await client.post("/ai/chat", json={"message": message}, headers=alice.headers)

    assert response.status_code == 422, response.text
    assert upstream.requests == []


async def test_a_message_keeps_its_newlines_tabs_and_right_to_left_text(
    client: httpx.AsyncClient, alice: Account
) -> None:
    message = "def f():\r\n\treturn 1\n\nمرحبا \u200fשלום\u200e ok 👩\u200d💻"

    response = await client.post("/ai/chat", json={"message": message}, headers=alice.headers)

    assert response.status_code == 200, response.text
    history = await client.get(f"/history/{response.json()['conversation_id']}", headers=alice.headers)
    assert history.json()["items"][0]["content"] == message


async def test_names_and_titles_keep_right_to_left_text_and_emoji(client: httpx.AsyncClient) -> None:
    account = await _register(client, "layla@example.com", name="ليلى \u200f👩\u200d🏫")
    assert account.status_code == 201, account.text
    user = await sign_up(client, "omar@example.com")

    created = await client.post("/conversations", json={"title": "درس ١ – 📚"}, headers=user.headers)

    assert created.status_code == 201, created.text
    assert created.json()["title"] == "درس ١ – 📚"


@pytest.mark.parametrize("backend", ["tinydb"])
async def test_a_hand_edited_users_json_spelling_still_logs_in(client: httpx.AsyncClient, data_dir) -> None:
    created = await _register(client, ELEVE)
    users_json = data_dir / "users.json"
    hand_edit = unicodedata.normalize("NFD", "ÉLÈVE@xn--cole-9oa.FR")
    users_json.write_text(users_json.read_text(encoding="utf-8").replace(ELEVE, hand_edit), encoding="utf-8")

    login = await client.post("/auth/login", json={"email": ELEVE, "password": PASSWORD})
    again = await _register(client, ELEVE)

    assert login.status_code == 200, login.text
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.json()["id"] == created.json()["id"]
    assert again.status_code == 409, again.text
