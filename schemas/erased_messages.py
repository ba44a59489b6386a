"""Whether an input message belongs to an erased user: decoded identifiers, then the key.

Replays copy Kafka, which keeps an erased user's messages until retention; backfills may read
a pinned lake version from before an erasure, or rows of the user's later traffic. Both ask
this, per message, before publishing. The value is decoded as the single-object Avro message
it claims to be (any catalogued record): its `user_id` and `session_id` count. Input topics are
keyed by session id (`schemas.topics`), so the key counts as a session too: that catches the
user's undecodable bytes. A message with neither says nothing about whose it is and passes. A
message that names another user is that user's, even in an erased session they shared
(`ErasedIdentities.erasure_of`): the lake keeps it, so a replay does too. Feedback an erased
user gave (`rater_id`) is theirs in any session.
"""

from dataclasses import dataclass, field
from typing import Any

from schemas.catalog import SchemaCatalog, default_catalog
from schemas.erasure_ledger import ErasedIdentities
from schemas.exceptions import ContractError
from schemas.serializer import HEADER_SIZE, MARKER, SingleObjectSerializer
from schemas.topics import session_key

__all__ = ["ErasedMessages"]


@dataclass
class ErasedMessages:
    """Tells an erased user's messages apart, and counts them."""

    identities: ErasedIdentities
    catalog: SchemaCatalog = field(default_factory=default_catalog)
    skipped: int = 0
    _serializers: dict[str, SingleObjectSerializer] = field(default_factory=dict, repr=False)

    def erased(self, key: bytes | None, value: bytes | None, key_is_session: bool = True) -> bool:
        """True (and counted) when the message is an erased user's or of an erased session."""
        if not self.identities:
            return False
        record = self._decode(value) or {}
        found = (
            self.identities.erasure_of_event(
                _text(record.get("user_id")),
                _text(record.get("session_id")),
                _text(record.get("rater_id")),
                session_key(key) if key_is_session else None,
            )
            is not None
        )
        if found:
            self.skipped += 1
        return found

    def _decode(self, value: bytes | None) -> dict[str, Any] | None:
        if value is None or len(value) < HEADER_SIZE or value[:2] != MARKER:
            return None
        try:
            writer = self.catalog.by_fingerprint(bytes(value[2:HEADER_SIZE]))
            if writer.full_name not in self._serializers:
                self._serializers[writer.full_name] = SingleObjectSerializer(
                    writer.full_name, self.catalog
                )
            return self._serializers[writer.full_name].decode(value)
        except ContractError:
            return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
