"""Avro single-object encoding: C3 01, the writer schema's CRC-64-AVRO fingerprint, the body.

Readers find the writer schema by fingerprint in the shipped catalog and resolve it to their own
(newest) schema, so producers and consumers can be upgraded independently and no registry service
is needed. Readers also take the Confluent wire format (magic byte 0, a 4-byte schema id, the
same body; `schemas.registry`) when a registry is configured, so a namespace can hold both while
it migrates. `serializer_for` picks the format a topic's producers write (`WireSettings`).
"""

import os
from collections.abc import Mapping
from io import BytesIO
from typing import Any, Protocol, cast

from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import ValidationError, validate

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog
from schemas.exceptions import InvalidRecordError, UndecodableError, WrongSchemaError
from schemas.fast_reader import RecordReader, compile_reader
from schemas.fast_writer import RecordWriter, compile_writer
from schemas.topics import TopicSpec

__all__ = [
    "CONFLUENT_HEADER_SIZE",
    "CONFLUENT_MAGIC",
    "CONTENT_TYPES",
    "HEADER_SIZE",
    "MARKER",
    "SchemaIdResolver",
    "Serializer",
    "SingleObjectSerializer",
    "content_type_headers",
    "serializer_for",
    "writer_of",
]

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8
CONFLUENT_MAGIC = 0
CONFLUENT_HEADER_SIZE = 5

# The `content-type` header of every message, by framing: which decoder a consumer needs,
# without looking at the bytes. `avro/binary` is the Avro specification's media type.
CONTENT_TYPES = {
    "single-object": "avro/binary; framing=single-object",
    "confluent": "avro/binary; framing=confluent",
}
_Headers = list[tuple[str, str | bytes | None]]
_HEADERS: dict[str, _Headers] = {
    framing: [("content-type", value.encode())] for framing, value in CONTENT_TYPES.items()
}


def content_type_headers(value: bytes | None) -> _Headers | None:
    """Kafka headers saying the framing of `value` (from its first byte; None: unknown)."""
    if value:
        if value[0] == CONFLUENT_MAGIC:
            return _HEADERS["confluent"]
        if value[:2] == MARKER:
            return _HEADERS["single-object"]
    return None


class SchemaIdResolver(Protocol):
    """Maps a Confluent schema id to the catalog version it stands for (a registry client)."""

    def version_for_id(self, schema_id: int) -> SchemaVersion: ...


class Serializer(Protocol):
    """What producers, processors and sinks need from a wire format."""

    def encode(self, record: Mapping[str, Any]) -> bytes: ...

    def decode(self, data: bytes) -> dict[str, Any]: ...


class SingleObjectSerializer:
    """Encodes with one writer version of a record and decodes any catalogued version of it.

    Timestamps are epoch milliseconds (int) and UUIDs strings, on both sides. Messages in the
    Confluent framing are read too, their schema id resolved by `resolver` (default: the
    registry of FEEDBACK_WIRE_REGISTRY_URL, asked only when such a message arrives).
    """

    framing = "single-object"

    def __init__(
        self,
        full_name: str,
        catalog: SchemaCatalog | None = None,
        writer_version: int | None = None,
        resolver: SchemaIdResolver | None = None,
    ) -> None:
        self.catalog = catalog or default_catalog()
        self._resolver = resolver
        self.full_name = full_name
        versions = self.catalog.versions(full_name)
        self.reader = versions[-1]
        self.writer = self.reader if writer_version is None else _pick(versions, writer_version)
        self._header = MARKER + self.writer.fingerprint
        # Same bytes as fastavro, about twice as fast; records it declines go to fastavro.
        self._compiled = _compiled_writer(self.writer, self._header)
        # Messages of the newest version (no resolution needed), read about twice as fast.
        self._compiled_reader = _compiled_reader(self.reader)

    def install_reader(self, readers: Mapping[bytes, RecordReader]) -> bool:
        """Read the newest version's messages with `readers[its fingerprint]` when there is
        one: the same code as the compiled reader made ahead of time (`schemas.reader_module`),
        e.g. compiled by a build. Returns whether one was installed."""
        reader = readers.get(self.reader.fingerprint)
        if reader is not None:
            self._compiled_reader = reader
        return reader is not None

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """Encode a record; raise InvalidRecordError naming the field when it does not fit."""
        if self._compiled is not None:
            # Any record it declines (Fallback, or an error) goes to fastavro, which fills
            # defaults or explains what is wrong. (try/except: free in 3.11, unlike suppress.)
            try:
                return self._compiled(record)
            except Exception:
                pass
        buffer = BytesIO()
        buffer.write(self._header)
        try:
            schemaless_writer(buffer, self.writer.plain, record, strict_allow_default=True)
        except Exception as exc:
            raise _explain(record, self.writer, exc) from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode one message, resolving its writer schema to this serializer's reader schema."""
        return self.decode_with_writer(data)[0]

    def writer_of(self, data: bytes) -> tuple[SchemaVersion, int]:
        """The writer schema version of a message in either framing, and where its body starts."""
        return writer_of(data, self.catalog, self._resolver)

    def decode_with_writer(self, data: bytes) -> tuple[dict[str, Any], SchemaVersion]:
        """Decode and also return the writer schema version (its fingerprint goes to the lake)."""
        writer, start = self.writer_of(data)
        if writer.full_name != self.full_name:
            raise WrongSchemaError(
                f"message was written as {writer.full_name}, this topic carries {self.full_name}"
            )
        if writer is self.reader and self._compiled_reader is not None:
            # It refuses (raises) anything not plainly valid; fastavro then gives the error.
            try:
                return self._compiled_reader(data, start), writer
            except Exception:
                pass
        body = BytesIO(data)
        body.seek(start)
        reader = None if writer is self.reader else self.reader.plain
        try:
            record = cast(dict[str, Any], schemaless_reader(body, writer.plain, reader))
        except Exception as exc:
            raise UndecodableError(
                f"corrupt {self.full_name} v{writer.version} body: {type(exc).__name__}: {exc}"
            ) from exc
        if body.tell() != len(data):
            raise UndecodableError(
                f"{len(data) - body.tell()} trailing bytes after a {self.full_name} record"
            )
        return record, writer


def writer_of(
    data: bytes, catalog: SchemaCatalog, resolver: SchemaIdResolver | None = None
) -> tuple[SchemaVersion, int]:
    """The writer schema version of a single-object or Confluent-framed message and the offset
    of its Avro body. A Confluent schema id is resolved by `resolver` (default: the registry of
    FEEDBACK_WIRE_REGISTRY_URL); UndecodableError when the bytes are neither framing."""
    if len(data) > CONFLUENT_HEADER_SIZE and data[0] == CONFLUENT_MAGIC:
        resolver = resolver or _default_resolver()
        if resolver is None:
            raise UndecodableError(
                "a Confluent-framed message (magic byte 0 + schema id) but no schema "
                "registry is configured: set FEEDBACK_WIRE_REGISTRY_URL"
            )
        schema_id = int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big")
        return resolver.version_for_id(schema_id), CONFLUENT_HEADER_SIZE
    if len(data) < HEADER_SIZE or data[:2] != MARKER:
        raise UndecodableError(
            f"not an Avro single-object or Confluent message ({len(data)} bytes, "
            f"starts with {data[:2].hex() or 'nothing'}; expected c301 or 00)"
        )
    return catalog.by_fingerprint(bytes(data[2:HEADER_SIZE])), HEADER_SIZE


def serializer_for(
    topic: TopicSpec, catalog: SchemaCatalog | None = None
) -> SingleObjectSerializer:
    """The serializer of a registered topic's value record (`topic` with its namespace): it
    writes the format FEEDBACK_WIRE_* chooses for the namespace and reads both."""
    environment = _wire_environment()
    if environment:
        from schemas.registry_settings import wire_settings, writes_confluent

        if writes_confluent(topic, wire_settings(environment)):
            # Imported only then: the registry mode needs confluent-kafka's schemaregistry
            # extra, which a process writing single-object messages need not install.
            from schemas.registry import registry_serializer

            confluent = registry_serializer(topic, environment)
            if confluent is not None:
                return confluent
    return SingleObjectSerializer(topic.value_record, catalog)


def _wire_environment() -> tuple[tuple[str, str], ...]:
    """The FEEDBACK_WIRE_* variables (none set: single-object everywhere, no registry)."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(_WIRE)))


_WIRE = "FEEDBACK_WIRE_"


def _default_resolver() -> SchemaIdResolver | None:
    """The registry of FEEDBACK_WIRE_REGISTRY_URL, or None when it is not set."""
    environment = _wire_environment()
    if not environment:
        return None
    from schemas.registry_settings import wire_settings

    if not wire_settings(environment).registry_url:
        return None
    from schemas.registry import default_registry

    return default_registry(environment)


_COMPILED: dict[bytes, RecordWriter | None] = {}


def _compiled_writer(writer: SchemaVersion, header: bytes) -> RecordWriter | None:
    """Compiled once per schema version and process: serializers are cheap to create."""
    if header not in _COMPILED:
        _COMPILED[header] = compile_writer(writer.plain, prefix=header)
    return _COMPILED[header]


_COMPILED_READERS: dict[bytes, RecordReader | None] = {}


def _compiled_reader(version: SchemaVersion) -> RecordReader | None:
    if version.fingerprint not in _COMPILED_READERS:
        _COMPILED_READERS[version.fingerprint] = compile_reader(version.plain)
    return _COMPILED_READERS[version.fingerprint]


def _pick(versions: list[SchemaVersion], number: int) -> SchemaVersion:
    for version in versions:
        if version.version == number:
            return version
    raise KeyError(f"{versions[0].full_name} has no version {number}")


def _explain(
    record: Mapping[str, Any], writer: SchemaVersion, exc: Exception
) -> InvalidRecordError:
    """Turn fastavro's encoding failure into an error that names the offending field."""
    if not isinstance(record, Mapping):
        return InvalidRecordError(
            f"{writer.full_name} must be a mapping, got {type(record).__name__}"
        )
    unknown = sorted(set(record) - set(writer.field_names))
    if unknown:
        return InvalidRecordError(
            f"{writer.full_name} has no field {unknown[0]!r}", field=unknown[0]
        )
    for field in writer.source["fields"]:
        if field["name"] not in record and "default" not in field:
            name = field["name"]
            return InvalidRecordError(
                f"{writer.full_name}: required field {name!r} is missing", name
            )
    try:
        validate(record, writer.plain, raise_errors=True)
    except ValidationError as invalid:
        first = invalid.errors[0] if invalid.errors else None
        namespace = writer.full_name.rsplit(".", 1)[0]
        path = str(getattr(first, "field", "") or "")
        path = path.removeprefix(writer.full_name + ".").removeprefix(namespace + ".")
        datum = repr(getattr(first, "datum", None))
        if len(datum) > 80:
            datum = datum[:77] + "..."
        return InvalidRecordError(
            f"{writer.full_name}: field {path!r} has an invalid value {datum}",
            field=path or None,
        )
    return InvalidRecordError(f"{writer.full_name}: {type(exc).__name__}: {exc}")
