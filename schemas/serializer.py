"""Avro single-object encoding: C3 01, the writer schema's CRC-64-AVRO fingerprint, the body.

Readers find the writer schema by fingerprint in the shipped catalog and resolve it to their own
(newest) schema, so producers and consumers can be upgraded independently and no registry service
is needed.
"""

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

__all__ = ["HEADER_SIZE", "MARKER", "Serializer", "SingleObjectSerializer", "serializer_for"]

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8


class Serializer(Protocol):
    """What producers, processors and sinks need from a wire format."""

    def encode(self, record: Mapping[str, Any]) -> bytes: ...

    def decode(self, data: bytes) -> dict[str, Any]: ...


class SingleObjectSerializer:
    """Encodes with one writer version of a record and decodes any catalogued version of it.

    Timestamps are epoch milliseconds (int) and UUIDs strings, on both sides.
    """

    def __init__(
        self,
        full_name: str,
        catalog: SchemaCatalog | None = None,
        writer_version: int | None = None,
    ) -> None:
        self.catalog = catalog or default_catalog()
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

    def decode_with_writer(self, data: bytes) -> tuple[dict[str, Any], SchemaVersion]:
        """Decode and also return the writer schema version (its fingerprint goes to the lake)."""
        if len(data) < HEADER_SIZE or data[:2] != MARKER:
            raise UndecodableError(
                f"not an Avro single-object message ({len(data)} bytes, "
                f"starts with {data[:2].hex() or 'nothing'}; expected c301)"
            )
        writer = self.catalog.by_fingerprint(bytes(data[2:HEADER_SIZE]))
        if writer.full_name != self.full_name:
            raise WrongSchemaError(
                f"message was written as {writer.full_name}, this topic carries {self.full_name}"
            )
        if writer is self.reader and self._compiled_reader is not None:
            # It refuses (raises) anything not plainly valid; fastavro then gives the error.
            try:
                return self._compiled_reader(data, HEADER_SIZE), writer
            except Exception:
                pass
        body = BytesIO(data)
        body.seek(HEADER_SIZE)
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


def serializer_for(
    topic: TopicSpec, catalog: SchemaCatalog | None = None
) -> SingleObjectSerializer:
    """The serializer of a registered topic's value record."""
    return SingleObjectSerializer(topic.value_record, catalog)


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
