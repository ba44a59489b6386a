"""The user and session ids a message's bytes hold, found by decoding them, never by searching.

Erasure has to attribute rows whose decoded columns are empty (undecodable raw messages, dead
letters): only their bytes are left. Searching those bytes for an id matched `u-420` when
erasing `u-42` and any message containing `9` when erasing `9`. Here the bytes are read as the
single-object Avro message they claim to be (the fingerprint names the writer schema): in full
when they decode, else only up to the identifier fields at the start of the body, which a
truncated original still holds. Bytes that are neither give no identifiers at all: the caller
must keep such a row, since nothing says whose it is.
"""

from dataclasses import dataclass
from typing import Any

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog
from schemas.exceptions import ContractError
from schemas.serializer import HEADER_SIZE, MARKER, SingleObjectSerializer
from sinks.avro_prefix import CorruptPrefixError, PrefixReader

__all__ = ["IDENTIFIER_FIELDS", "IdentifierReader", "Identifiers"]

IDENTIFIER_FIELDS = ("session_id", "user_id")


@dataclass(frozen=True)
class Identifiers:
    """What a decoded message says about whose it is (None: the record has no such field)."""

    user_id: str | None = None
    session_id: str | None = None
    # Who gave a feedback (a user id for an end user's thumbs); only from a full decode.
    rater_id: str | None = None


class IdentifierReader:
    """Reads `Identifiers` out of single-object-encoded messages of any catalogued record."""

    def __init__(self, catalog: SchemaCatalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self._serializers: dict[str, SingleObjectSerializer] = {}
        self._prefixes: dict[bytes, PrefixReader | None] = {}

    def read(self, data: bytes | None) -> Identifiers | None:
        """The ids of one message, or None when the bytes cannot be read as a message."""
        if data is None or len(data) < HEADER_SIZE or data[:2] != MARKER:
            return None
        try:
            writer = self.catalog.by_fingerprint(bytes(data[2:HEADER_SIZE]))
        except ContractError:
            return None
        record: dict[str, Any] | None
        try:
            record = self._serializer(writer.full_name).decode(data)
        except ContractError:
            record = self._prefix(data, writer)
        if record is None:
            return None
        return Identifiers(
            user_id=_text(record.get("user_id")),
            session_id=_text(record.get("session_id")),
            rater_id=_text(record.get("rater_id")),
        )

    def attachment_digests(self, data: bytes | None) -> list[str]:
        """The sha256 of each attachment a message that decodes in full refers to."""
        if data is None or len(data) < HEADER_SIZE or data[:2] != MARKER:
            return []
        try:
            writer = self.catalog.by_fingerprint(bytes(data[2:HEADER_SIZE]))
            record = self._serializer(writer.full_name).decode(data)
        except ContractError:
            return []
        return [str(item["sha256"]) for item in record.get("attachments") or ()]

    def _serializer(self, full_name: str) -> SingleObjectSerializer:
        if full_name not in self._serializers:
            self._serializers[full_name] = SingleObjectSerializer(full_name, self.catalog)
        return self._serializers[full_name]

    def _prefix(self, data: bytes, writer: SchemaVersion) -> dict[str, Any] | None:
        """The identifier fields of a body that does not decode in full (e.g. cut short)."""
        if writer.fingerprint not in self._prefixes:
            self._prefixes[writer.fingerprint] = PrefixReader.for_version(writer, IDENTIFIER_FIELDS)
        reader = self._prefixes[writer.fingerprint]
        if reader is None or not set(IDENTIFIER_FIELDS) & set(writer.field_names):
            return None
        try:
            return reader.read(data)
        except CorruptPrefixError:
            return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
