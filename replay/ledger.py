"""The erasure ledgers a replay or backfill obeys, and the check of each message against them.

Kafka keeps an erased user's messages until retention, and a backfill may read a lake version
pinned before an erasure or the user's later traffic: both copy only what the ledger does not
name (`schemas.erased_messages`). The ledgers are the live lake's and the source namespace's
(`schemas.erasure_ledger.ledger_paths`); an erasure in either binds the copy.
"""

from schemas.erased_messages import ErasedMessages
from schemas.erasure_ledger import ledger_paths, read_ledger

__all__ = ["erased_messages"]


def erased_messages(lake_uri: str, *prefixes: str) -> ErasedMessages:
    """The check for messages of erased users, from the ledgers of the lake and `prefixes`."""
    return ErasedMessages(read_ledger(ledger_paths(lake_uri, *(p for p in prefixes if p))))
