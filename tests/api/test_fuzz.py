"""Schemathesis over the app's own OpenAPI schema, in-process and signed in: no 5xx, an honest schema.

Every route gets generated valid and invalid requests (deterministic, a bounded number) with a
healthy fake upstream; each answer must be a non-5xx status the route documents, in the
documented shape.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.schemas import BaseSchema

from BackEnd.app import create_app
from BackEnd.records import ImageRef, message_record, new_id
from BackEnd.security import TokenCodec
from BackEnd.storage import Database, open_database
from BackEnd.storage.file_store import StoredFile
from tests.utils.api import FakeUpstream, make_settings
from tests.utils.images import PNG
from tests.utils.records import add_users, make_conversation, make_user
from tests.utils.routes import ENDPOINTS, Endpoint
from tests.utils.sql import BACKENDS, empty_database_url

EXAMPLES = 25  # per route and mode: the whole file stays within a few seconds
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
]


@dataclass
class FuzzTarget:
    """The app as schemathesis drives it, its database and token codec for making accounts directly."""

    schema: BaseSchema
    database: Database
    tokens: TokenCodec

    def sign_in(self, role: str = "user") -> tuple[dict[str, str], dict[str, str]]:
        """A fresh account stored directly (no bcrypt, no HTTP): its bearer header, and real ids.

        The ids are one of its conversations and another account, so generated valid requests
        reach the code behind the 404.
        """
        database = self.database
        user = make_user(f"fuzz-{secrets.token_hex(8)}@example.com", role=role)
        other = make_user(f"fuzz-{secrets.token_hex(8)}@example.com")
        add_users(database, user, other)
        conversation = {**make_conversation(user["id"]), "folder": "Fuzz folder", "tags": ["fuzz"]}
        file_id = new_id("file")
        image: ImageRef = {
            "id": file_id,
            "url": f"/files/{file_id}",
            "content_type": "image/png",
            "bytes": len(PNG),
        }
        question = message_record(user["id"], conversation["id"], "user", "picture", images=[image])
        with database.unit_of_work(user["id"]) as uow:
            uow.threads.add(conversation)  # type: ignore[arg-type]
            uow.threads.append(user["id"], conversation["id"], [question])
            uow.stored_files.add(
                StoredFile(file_id, user["id"], conversation["id"], question["id"], "image/png", PNG)
            )
        headers = {"Authorization": f"Bearer {self.tokens.issue(user['id'])}"}
        ids = {
            "conversation_id": conversation["id"],
            "user_id": other["id"],
            "folder": "Fuzz folder",
            "tag": "fuzz",
            "file_id": file_id,
        }
        return headers, ids


# Not the conftest `app`: that one runs its lifespan in the test's event loop, while schemathesis
# sends requests from its own event-loop thread and starts the lifespan there itself.
@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    folder = tmp_path_factory.mktemp("fuzz")
    settings = make_settings(folder / "BDD", database_url=empty_database_url(request.param, folder, request))
    upstream = FakeUpstream()
    # Schemathesis ends the app's lifespan after each test and starts it again on the next
    # request: the database is opened here, so every lifespan (and sign_in) shares this one.
    database = open_database(settings)
    app = create_app(settings, database=database, upstream_transport=httpx.MockTransport(upstream.handle))
    # Loading the schema starts the app's lifespan in schemathesis' own event-loop thread.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield FuzzTarget(schema, database, app.state.context.tokens)
    finally:
        shutdown_lifespans()
        database.close()


# Invalid requests need a constraint to break: a query parameter or a body. A path id is any
# string (an unknown one is a 404, tested in test_ownership.py), so it has no invalid values.
RUNS = [
    pytest.param(endpoint, mode, id=f"{endpoint}-{mode}")
    for endpoint in ENDPOINTS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or endpoint.query_params or endpoint.body_model
]


@pytest.mark.parametrize(("endpoint", "mode"), RUNS)
def test_generated_requests_get_a_documented_non_5xx_answer(
    fuzz_target: FuzzTarget, endpoint: Endpoint, mode: GenerationMode
) -> None:
    operation = fuzz_target.schema[endpoint.path][endpoint.method]
    # One account per route and mode, so DELETE /users/me or DELETE /history spoil nothing else.
    headers, ids = fuzz_target.sign_in("admin" if endpoint.admin else "user")
    real_ids = {name: ids[name] for name in endpoint.path_params} if mode is GenerationMode.POSITIVE else None
    strategy: SearchStrategy[schemathesis.Case] = operation.as_strategy(
        generation_mode=mode, path_parameters=real_ids
    )

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
