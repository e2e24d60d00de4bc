"""The stored-files capability: the images of messages, kept once outside the thread's history."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

__all__ = ["FileStore", "StoredFile"]


@dataclass(frozen=True)
class StoredFile:
    """One file and what it belongs to: its owner, thread and message go, it goes."""

    id: str
    user_id: str
    conversation_id: str
    message_id: str
    content_type: str
    data: bytes


class FileStore(ABC):
    """Files of an account's messages, committed with the unit that stores the message.

    Deleting the message's thread, its history or the account deletes its files in the same
    unit (each backend's cascade), so no file outlives what refers to it.
    """

    @abstractmethod
    def add(self, file: StoredFile) -> None:
        """Store a file of a message appended in this unit."""

    @abstractmethod
    def get(self, user_id: str, file_id: str) -> StoredFile | None:
        """The file if it is this account's, else None (another account's file is not found)."""
