"""The app's own route table, read from FastAPI, so route-wide attack tests cover a new route at once."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import httpx
from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel

from BackEnd.api.deps import get_current_user, require_admin
from BackEnd.app import create_app
from tests.utils.api import Account, make_settings


@dataclass(frozen=True)
class Endpoint:
    """One method on one path, with what its dependency tree says about access."""

    method: str
    path: str
    protected: bool  # depends on get_current_user: a bearer token is required
    admin: bool  # depends on require_admin
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body_model: type[BaseModel] | None
    form: bool

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def id_params(self) -> tuple[str, ...]:
        """Every stored object's id the request carries: in the path, or as a `*_id` body field.

        Only protected routes reach stored objects; a public form's `client_id` is OAuth2's.
        """
        fields = self.body_model.model_fields if self.body_model and self.protected else {}
        return self.path_params + tuple(field for field in fields if field.endswith("_id"))

    def __str__(self) -> str:  # readable pytest ids
        return self.name


def _calls(dependant: Dependant) -> Iterator[object]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The body's model, also when the body is optional (`Model | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(
        (arg for arg in get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)), None
    )


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every documented endpoint of `app`, nested routers included."""
    found = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None or not getattr(route, "include_in_schema", False):
            continue  # the docs pages, the schema itself, and the WebSocket (tests/api/test_ownership.py)
        calls = set(_calls(dependant))
        body = route.body_field
        for method in sorted(route.methods):
            found.append(
                Endpoint(
                    method=method,
                    path=route.path,
                    protected=get_current_user in calls,
                    admin=require_admin in calls,
                    path_params=tuple(param.name for param in dependant.path_params),
                    query_params=tuple(param.name for param in dependant.query_params),
                    body_model=_model_of(body.field_info.annotation) if body else None,
                    form=body is not None and isinstance(body.field_info, params.Form),
                )
            )
    return found


# create_app touches no file until its lifespan runs: this app only lends its route table.
ENDPOINTS = endpoints(create_app(make_settings(Path("route-table-only"))))

_VALID_BODIES: dict[str, Callable[[Account], dict[str, Any]]] = {
    "POST /auth/register": lambda who: {
        "email": f"new-{secrets.token_hex(4)}@example.com",
        "password": "correct horse",
    },
    "POST /auth/login": lambda who: {"email": who.email, "password": who.password},
    "POST /auth/token": lambda who: {"username": who.email, "password": who.password},
    "POST /conversations": lambda who: {"title": "A title"},
    "PATCH /conversations/{conversation_id}": lambda who: {"title": "Renamed"},
    "POST /ai/chat": lambda who: {"message": "Hello"},
    "POST /ai/chat/stream": lambda who: {"message": "Hello"},
    "POST /ai/chat/stop": lambda who: {},  # its one field is the conversation_id the test sets
    # Regenerate (issue 10): the conversation_id is set by the test; an edit tries to change it.
    "POST /ai/chat/regenerate": lambda who: {"message": "Edited by someone else"},
    "POST /ai/chat/regenerate/stream": lambda who: {"message": "Edited by someone else"},
    "POST /conversations/{conversation_id}/tags": lambda who: {"tag": "physique"},
    "POST /conversations/{conversation_id}/fork": lambda who: {},
    "PATCH /folders/{folder}": lambda who: {"name": "Renamed folder"},
    # Parsed by the route itself (no body model): our export format, one short thread.
    "POST /conversations/import": lambda who: {
        "format": "assistantia-conversations",
        "version": 1,
        "conversations": [
            {
                "title": "Imported",
                "created_at": "2026-01-01T00:00:00.000000Z",
                "updated_at": "2026-01-01T00:00:00.000000Z",
                "messages": [
                    {"role": "user", "content": "Hello", "created_at": "2026-01-01T00:00:01.000000Z"}
                ],
            }
        ],
    },
    "PATCH /auth/me": lambda who: {"name": "Renamed", "preferences": {"temperature": 0.5}},
    "POST /auth/me/password": lambda who: {"current_password": who.password, "new_password": "another one"},
    "PATCH /users/{user_id}": lambda who: {"credits": 10, "is_active": False},
    "POST /users/{user_id}/password": lambda who: {"new_password": "set by the teacher"},
}


# Routes that read their body themselves (no body model): a valid raw body and its type.
RAW_BODIES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "POST /users/import": (
        "text/csv",
        lambda: f"email,name\nnew-{secrets.token_hex(4)}@example.com,New\n".encode(),
    ),
}


# Query parameters a route needs to succeed (the rest have defaults).
_VALID_QUERIES: dict[str, dict[str, str]] = {"GET /search": {"q": "secret"}}


def valid_body(endpoint: Endpoint, who: Account) -> dict[str, Any] | None:
    """A body `endpoint` accepts from `who`; fails loudly for a new route that has no sample yet."""
    if endpoint.body_model is None:
        return _VALID_BODIES[endpoint.name](who) if endpoint.name in _VALID_BODIES else None
    if endpoint.name not in _VALID_BODIES:
        raise AssertionError(f"{endpoint.name} takes a body: add a valid sample to tests/utils/routes.py")
    return _VALID_BODIES[endpoint.name](who)


async def call(
    client: httpx.AsyncClient,
    endpoint: Endpoint,
    *,
    headers: dict[str, str],
    ids: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    """Send `endpoint` with `ids` in its path or, for body fields such as `conversation_id`, its body."""
    ids = ids or {}
    path = endpoint.path.format(**{name: ids[name] for name in endpoint.path_params})
    if body is not None:
        body = {**body, **{name: value for name, value in ids.items() if name not in endpoint.path_params}}
    params = _VALID_QUERIES.get(endpoint.name)
    if endpoint.form:
        return await client.request(endpoint.method, path, data=body, headers=headers, params=params)
    if endpoint.name in RAW_BODIES and body is None:
        content_type, make = RAW_BODIES[endpoint.name]
        return await client.request(
            endpoint.method,
            path,
            content=make(),
            headers={**headers, "Content-Type": content_type},
            params=params,
        )
    return await client.request(endpoint.method, path, json=body, headers=headers, params=params)


async def call_as(
    client: httpx.AsyncClient, endpoint: Endpoint, who: Account, ids: dict[str, str]
) -> httpx.Response:
    """`who` sends `endpoint` on the objects `ids`, with a valid body of their own."""
    return await call(client, endpoint, headers=who.headers, ids=ids, body=valid_body(endpoint, who))


async def _conversation_of(client: httpx.AsyncClient, owner: Account) -> str:
    turn = await client.post("/ai/chat", json={"message": "owner's secret"}, headers=owner.headers)
    assert turn.status_code == 200, turn.text
    return str(turn.json()["conversation_id"])


async def _account_of(client: httpx.AsyncClient, owner: Account) -> str:
    return owner.id


async def _message_of(client: httpx.AsyncClient, owner: Account) -> str:
    turn = await client.post("/ai/chat", json={"message": "owner's secret"}, headers=owner.headers)
    assert turn.status_code == 200, turn.text
    return str(turn.json()["user_message_id"])


async def _file_of(client: httpx.AsyncClient, owner: Account) -> str:
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(16)).decode()
    body = {"message": "owner's picture", "images": [png]}
    turn = await client.post("/ai/chat", json=body, headers=owner.headers)
    assert turn.status_code == 200, turn.text
    page = await client.get(f"/history/{turn.json()['conversation_id']}", headers=owner.headers)
    return str(page.json()["items"][0]["images"][0]["id"])


async def _organised_conversation_of(
    client: httpx.AsyncClient, owner: Account, changes: dict[str, Any]
) -> None:
    conversation_id = await _conversation_of(client, owner)
    changed = await client.patch(f"/conversations/{conversation_id}", json=changes, headers=owner.headers)
    assert changed.status_code == 200, changed.text


async def _folder_of(client: httpx.AsyncClient, owner: Account) -> str:
    folder = f"folder of {owner.email}"
    await _organised_conversation_of(client, owner, {"folder": folder})
    return folder


async def _tag_of(client: httpx.AsyncClient, owner: Account) -> str:
    tag = f"tag-{secrets.token_hex(4)}"
    await _organised_conversation_of(client, owner, {"tags": [tag]})
    return tag


# Every id a route can carry needs a factory making a real object of the owner, and an unknown
# id of the same shape; a route with an id not listed here fails tests/api/test_ownership.py.
OBJECT_FACTORIES: dict[str, Callable[[httpx.AsyncClient, Account], Awaitable[str]]] = {
    "conversation_id": _conversation_of,
    "user_id": _account_of,
    "message_id": _message_of,
    "folder": _folder_of,
    "tag": _tag_of,
    "file_id": _file_of,
}
UNKNOWN_IDS = {
    "conversation_id": "conv_" + "0" * 32,
    "user_id": "usr_" + "0" * 32,
    "message_id": "msg_" + "0" * 32,
    "folder": "no such folder",
    "tag": "no-such-tag",
    "file_id": "file_" + "0" * 32,
}


async def objects_of(client: httpx.AsyncClient, endpoint: Endpoint, owner: Account) -> dict[str, str]:
    """Real objects of `owner` for every id `endpoint` carries."""
    missing = set(endpoint.id_params) - set(OBJECT_FACTORIES)
    assert not missing, f"{endpoint}: add an object factory for {sorted(missing)} to OBJECT_FACTORIES"
    made: dict[str, str] = {}
    if {"conversation_id", "message_id"} <= set(endpoint.id_params):  # a message of that very thread
        turn = await client.post("/ai/chat", json={"message": "owner's secret"}, headers=owner.headers)
        assert turn.status_code == 200, turn.text
        made = {
            "conversation_id": turn.json()["conversation_id"],
            "message_id": turn.json()["user_message_id"],
        }
    return {
        name: made.get(name) or await OBJECT_FACTORIES[name](client, owner) for name in endpoint.id_params
    }
