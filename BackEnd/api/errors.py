"""The one place where domain errors become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..errors import (
    ActionRefused,
    AssistantIAError,
    AuthenticationError,
    CreditsExhausted,
    DatabaseUnavailable,
    EmailAlreadyRegistered,
    InvalidChoice,
    InvalidCredentials,
    InvalidInput,
    InvalidRequest,
    LimitReached,
    NotFoundError,
    NothingToRegenerate,
    PermissionDenied,
    RequestTooLarge,
    RetryLater,
    StorageError,
    ThreadDamaged,
    UnreadableBody,
    UpstreamBadResponse,
    UpstreamNotConfigured,
    UpstreamRateLimited,
    UpstreamTimeout,
)

__all__ = [
    "BODY_ERRORS",
    "ErrorBody",
    "install_error_handlers",
    "json_responses",
    "responses",
    "status_and_detail",
]

logger = logging.getLogger(__name__)

# Most specific first: the first matching class decides the status.
_STATUS_BY_ERROR: list[tuple[type[AssistantIAError], int]] = [
    (NotFoundError, 404),
    (EmailAlreadyRegistered, 409),
    (LimitReached, 409),
    (UnreadableBody, 400),
    (InvalidInput, 422),
    (InvalidChoice, 422),  # over HTTP its own handler answers; a socket's error event needs the status
    (InvalidCredentials, 401),
    (AuthenticationError, 401),
    (PermissionDenied, 403),
    (ActionRefused, 409),
    (NothingToRegenerate, 409),
    (InvalidRequest, 422),
    (RequestTooLarge, 413),
    (CreditsExhausted, 402),
    (RetryLater, 429),
    (UpstreamNotConfigured, 503),
    (UpstreamTimeout, 504),
    (UpstreamRateLimited, 429),
    (UpstreamBadResponse, 502),
    (StorageError, 503),
]

_DESCRIPTIONS = {
    400: "The body is not valid JSON, or is nested too deeply to parse",
    401: "Missing, invalid or expired token, or wrong credentials",
    402: "No credits left on the account (see PATCH /users/{id})",
    403: "Reserved for administrators, sign-up closed, or a deactivated account's login",
    404: "No such object for this user",
    409: "Already exists, a per-user limit is reached, an admin acting on their own account, "
    "or a regenerate with no answered question to ask again",
    413: "The request body is over the 1 MiB limit (25 MiB for an import), or a CSV over 2,000 rows",
    422: "The request is well-formed but its content cannot be used (a malformed CSV, a domain not allowed…)",
    429: "The account already has USER_CONCURRENT_CHATS chats waiting for an answer, sent "
    "CHAT_RATE_PER_MINUTE messages this minute, too many failed logins, "
    "or the AI service is rate limiting; see Retry-After",
    502: "The AI service failed or sent an unusable answer",
    503: "The AI service is not configured, or storage is unavailable",
    504: "The AI service did not answer in time",
}


# What any route taking a body may answer before the route runs (422 FastAPI documents itself).
BODY_ERRORS = (400, 413)


class ErrorBody(BaseModel):
    """Every error answer: a sentence a person can read."""

    detail: str


class UnusableInputBody(BaseModel):
    """A 422: FastAPI's list of validation errors, or a sentence naming what cannot be used."""

    detail: str | list[dict[str, Any]]


def responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The `responses=` entry documenting these error statuses of a route."""
    return {
        status: {
            "model": UnusableInputBody if status == 422 else ErrorBody,
            "description": _DESCRIPTIONS[status],
        }
        for status in statuses
    }


def status_and_detail(exc: AssistantIAError) -> tuple[int, str]:
    """The HTTP status and the sentence an error answers with (also in streams and on sockets)."""
    status = next((code for kind, code in _STATUS_BY_ERROR if isinstance(exc, kind)), 500)
    if isinstance(exc, ThreadDamaged):
        # Logged with its file when it was found (thread_files.py): not again at every request.
        return status, (
            "This conversation's stored messages are damaged and cannot be shown or changed; "
            "the administrator must check the server log."
        )
    if isinstance(exc, StorageError):
        # File names, hosts and system errors are for the administrator's log, not for API clients.
        logger.error("%s", exc)
        return status, (
            "The database is unavailable; try again shortly."
            if isinstance(exc, DatabaseUnavailable)
            else "The server cannot read or save data right now; the administrator must check the server log."
        )
    return status, str(exc)


def json_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """`responses` for a route whose success is not JSON (a stream): errors stay documented as JSON."""
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        status: {"description": _DESCRIPTIONS[status], "content": {"application/json": {"schema": schema}}}
        for status in statuses
    }


async def _handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AssistantIAError)
    status, detail = status_and_detail(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, (UpstreamRateLimited, RetryLater)) and exc.retry_after:
        headers["Retry-After"] = exc.retry_after
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _handle_invalid_choice(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidChoice)
    # The shape of FastAPI's own 422, so a client reads every refused field the same way.
    error = {"type": "invalid_choice", "loc": list(exc.location), "msg": str(exc)}
    return JSONResponse({"detail": [error]}, status_code=422)


async def _handle_invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's default echoes the rejected `input`: a password would come back in the body,
    # and text that is not valid Unicode could not even be encoded (a 500).
    errors = [
        {key: value for key, value in error.items() if key not in ("input", "ctx")} for error in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Route every domain error through one mapping, and keep 422 bodies free of echoed input."""
    app.add_exception_handler(AssistantIAError, _handle_domain_error)
    app.add_exception_handler(InvalidChoice, _handle_invalid_choice)
    app.add_exception_handler(RequestValidationError, _handle_invalid_request)
