"""TinyDB credits: the tokens an account spent since its credits were set, one small file per account.

users.json holds the credits an administrator set; `credits/<user_id>.json` holds what the account
spent since. A turn writes only its own account's file, under the lock it already holds, so a
limited account's turn never rewrites the accounts file (whose cost grows with the class) nor
waits on the other accounts' turns.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..records import UserRecord
from .journal import FileTransaction
from .record_file import RecordFile

__all__ = ["CreditFiles"]

_TABLE = "spent"
_KEY = "spent"


class CreditFiles:
    """The spent-token files, and the committed totals kept in memory once read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "credits"
        self._guard = threading.Lock()
        self._spent: dict[str, int] = {}

    def _file(self, user_id: str) -> RecordFile:
        # A fresh object per use: it reads the committed file, and an abandoned unit leaves nothing.
        return RecordFile(self.folder / f"{user_id}.json", _TABLE)

    def spent(self, user_id: str) -> int:
        """What the account spent since its credits were set, as committed."""
        with self._guard:
            known = self._spent.get(user_id)
            if known is None:
                record = self._file(user_id).get(_KEY) if (self.folder / f"{user_id}.json").exists() else None
                known = int(record["tokens"]) if record else 0
                self._spent[user_id] = known
            return known

    def effective(self, user: UserRecord, staged: dict[str, int]) -> UserRecord:
        """The account with the credits it has left (set credits minus spent)."""
        if user["credits"] is None:
            return user
        spent = staged.get(user["id"])
        spent = self.spent(user["id"]) if spent is None else spent
        return {**user, "credits": user["credits"] - spent} if spent else user

    def stage(self, user_id: str, total: int) -> None:
        """Stage the account's new spent total in the active file transaction (caller holds its lock)."""
        self.folder.mkdir(exist_ok=True)
        table = self._file(user_id)
        if table.get(_KEY) is None:
            table.insert([{"id": _KEY, "tokens": total}])
        else:
            table.update(_KEY, {"tokens": total})

    def stage_removal(self, user_id: str, transaction: FileTransaction) -> None:
        """Delete the account's file when `transaction` commits."""
        transaction.delete(self.folder / f"{user_id}.json")

    def committed(self, totals: dict[str, int], removed: list[str]) -> None:
        """A unit committed these totals and removals."""
        with self._guard:
            self._spent.update(totals)
            for user_id in removed:
                self._spent.pop(user_id, None)
