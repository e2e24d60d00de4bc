"""The domain exceptions; the API layer maps them to HTTP responses in one place.

AssistantIAError
├── NotFoundError               something the caller may not see or that does not exist
├── EmailAlreadyRegistered
├── LimitReached                a per-user size cap (conversations, messages of a thread)
├── InvalidInput                well-formed JSON that says something unusable (a query with no word, a bad import)
│   └── UnreadableBody          a body read by the route itself is not JSON
├── InvalidChoice               a well-formed value the server's settings refuse (a model off ALLOWED_MODELS)
├── InvalidCredentials
├── AuthenticationError         missing, invalid or expired token, or a vanished account
│   └── AccountDisabled         a deactivated account's token (401)
├── PermissionDenied
│   └── LoginRefused            a correct password for a deactivated account (403)
├── ActionRefused               an admin action that would harm the class (409): self-deactivation
├── NothingToRegenerate         a regenerate whose thread does not end with an answered question (409)
├── InvalidRequest              input a schema cannot check (422): a CSV, an email domain
├── RequestTooLarge             a CSV over the row limit (413)
├── CreditsExhausted            the account has no credits left (402)
├── RetryLater                  a limit over time; carries Retry-After (429)
│   ├── TooManyChatsInFlight    the account already has USER_CONCURRENT_CHATS model calls running
│   ├── TooManyLoginFailures    LOGIN_MAX_FAILURES for this email or address
│   └── ChatRateExceeded        CHAT_RATE_PER_MINUTE
├── StorageError
│   ├── DataFileCorrupt          a data file is not valid JSON or not the expected shape
│   │   └── ThreadDamaged        a thread's history file, found damaged when first read (that thread only)
│   ├── DataFolderInUse          another process owns the data folder
│   ├── DataFolderInvalid        the data path cannot be used as a folder
│   ├── DatabaseSchemaUnknown    the database's schema revision is not one this version knows
│   ├── MigrationError           a schema migration cannot apply to the data as it is
│   ├── RestoreError             a dump cannot be restored
│   └── StorageUnavailable       the backend cannot serve the request right now
│       └── DatabaseUnavailable  the SQL database cannot be reached (it may come back)
└── UpstreamError
    ├── UpstreamNotConfigured    no API key
    ├── UpstreamTimeout
    ├── UpstreamRateLimited      carries the upstream's Retry-After
    └── UpstreamBadResponse      an error status, an error body or an unusable answer
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AccountDisabled",
    "ActionRefused",
    "AssistantIAError",
    "ChatRateExceeded",
    "CreditsExhausted",
    "InvalidRequest",
    "LoginRefused",
    "RequestTooLarge",
    "RetryLater",
    "TooManyLoginFailures",
    "AuthenticationError",
    "DataFileCorrupt",
    "DataFolderInUse",
    "DataFolderInvalid",
    "DatabaseSchemaUnknown",
    "DatabaseUnavailable",
    "EmailAlreadyRegistered",
    "InvalidChoice",
    "InvalidCredentials",
    "InvalidInput",
    "LimitReached",
    "MigrationError",
    "NotFoundError",
    "PermissionDenied",
    "RestoreError",
    "StorageError",
    "StorageUnavailable",
    "ThreadDamaged",
    "TooManyChatsInFlight",
    "UnreadableBody",
    "UpstreamBadResponse",
    "UpstreamError",
    "UpstreamNotConfigured",
    "UpstreamRateLimited",
    "UpstreamTimeout",
]


class AssistantIAError(Exception):
    """Base class: the message is safe to show to the person using the API."""


class NotFoundError(AssistantIAError):
    """The object does not exist, or it belongs to someone else (both look the same)."""


class EmailAlreadyRegistered(AssistantIAError):
    """An account with this email already exists."""


class LimitReached(AssistantIAError):
    """A per-user size cap is reached; the message says which and what to do."""


class InvalidInput(AssistantIAError):
    """The request is readable but its content cannot be used; the message says which part."""


class UnreadableBody(InvalidInput):
    """A body the route parses itself (an import) is not JSON: a 400, as FastAPI's parse errors are."""


class InvalidChoice(AssistantIAError):
    """A request field holds a value this server does not allow; answered as a 422 naming `location`."""

    def __init__(self, message: str, location: tuple[str, ...]) -> None:
        self.location = location
        super().__init__(message)


class InvalidCredentials(AssistantIAError):
    """Unknown email or wrong password; deliberately indistinguishable."""


class AuthenticationError(AssistantIAError):
    """The request carries no usable identity."""


class PermissionDenied(AssistantIAError):
    """The caller is authenticated but not allowed to do this."""


class AccountDisabled(AuthenticationError):
    """The account was deactivated by an administrator."""


class LoginRefused(PermissionDenied):
    """The password is right but the account is deactivated."""


class ActionRefused(AssistantIAError):
    """An administrator's action that would leave the class without its admin."""


class NothingToRegenerate(AssistantIAError):
    """A regenerate (issue 10) whose thread's last message is not an answer to a user message,
    or whose last turn changed while the model was answering."""


class InvalidRequest(AssistantIAError):
    """Input that breaks a rule the request schema cannot check."""


class RequestTooLarge(AssistantIAError):
    """The request holds more items than the server takes at once; nothing was done."""


class CreditsExhausted(AssistantIAError):
    """The account's credits are spent; refused before the model is asked."""


class RetryLater(AssistantIAError):
    """A limit over time is reached; `retry_after` (seconds, as text) says when to try again."""

    def __init__(self, message: str, retry_after: str) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class TooManyChatsInFlight(RetryLater):
    """The account already waits for as many answers as it may; refused before the model is asked."""


class TooManyLoginFailures(RetryLater):
    """Too many wrong passwords for this email or from this address within LOGIN_WINDOW_SECONDS."""


class ChatRateExceeded(RetryLater):
    """The account sent CHAT_RATE_PER_MINUTE messages within the last minute."""


class StorageError(AssistantIAError):
    """Base class for data-folder and database problems."""


class DataFileCorrupt(StorageError):
    """A data file cannot be parsed; it is never repaired or overwritten silently."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"data file {path} is unreadable: {reason}")


class ThreadDamaged(DataFileCorrupt):
    """A history file is damaged (found when first read): that thread is refused, never rewritten.

    Start-up no longer reads every message, so damage shows up when a thread is first used;
    the other threads keep working.
    """


class DataFolderInUse(StorageError):
    """Another server process already owns the data folder."""


class DataFolderInvalid(StorageError):
    """The configured data path exists but is not a usable folder."""


class DatabaseSchemaUnknown(StorageError):
    """The database was migrated by a newer version (or another application): never touched."""


class MigrationError(StorageError):
    """The stored data stops a schema migration; it was rolled back, nothing changed."""


class RestoreError(StorageError):
    """A dump file is malformed or the target is not empty."""


class StorageUnavailable(StorageError):
    """The backend cannot take this request now; retrying later may work."""


class DatabaseUnavailable(StorageUnavailable):
    """The database server is down or unreachable; the next request reconnects by itself."""


class UpstreamError(AssistantIAError):
    """Base class for failures of the AI provider."""


class UpstreamNotConfigured(UpstreamError):
    """No API key is configured on the server."""


class UpstreamTimeout(UpstreamError):
    """The provider did not answer within LLM_TIMEOUT_SECONDS."""


class UpstreamRateLimited(UpstreamError):
    """The provider asked us to slow down."""

    def __init__(self, message: str, retry_after: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class UpstreamBadResponse(UpstreamError):
    """The provider answered with an error or with something we cannot use."""
