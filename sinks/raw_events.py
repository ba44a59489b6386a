"""Messages of the input topics -> rows of `raw_events`: the bytes as received plus a few columns.

Only what the lake needs to find, partition and erase an event is decoded (event_id, session_id,
user_id, event_time). Those fields open every input record, so by default the decoder reads the
record's prefix up to them and stops (`sinks.avro_prefix`): a fraction of a full decode. The
rest of the body is not checked then: a corrupt tail shows in the processor's dead letters, or
here with `validate_raw_bodies`. The full record stays in
`value` for anyone who needs it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, cast

import pyarrow as pa
from fastavro import parse_schema, schemaless_reader

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog, strip_logical_types
from schemas.exceptions import ContractError
from schemas.lake import RAW_EVENTS
from schemas.serializer import CONFLUENT_MAGIC, HEADER_SIZE, MARKER, writer_of
from sinks.avro_prefix import CorruptPrefixError, PrefixReader
from sinks.columns import event_dates
from sinks.messages import KafkaMessage, kafka_timestamp_ms

__all__ = ["RAW_DECODED_FIELDS", "RawEventConverter"]

RAW_DECODED_FIELDS = ("event_id", "session_id", "user_id", "event_time")


@dataclass(frozen=True)
class _WriterReader:
    """How to read the decoded columns out of one writer schema version."""

    record_name: str
    fingerprint_hex: str
    writer: dict[str, Any]
    reader: dict[str, Any] | None  # None: no schema resolution (read as written)
    reads_whole_body: bool
    prefix: PrefixReader | None = None


class RawEventConverter:
    """Builds `raw_events` Arrow tables column by column from batches of messages."""

    def __init__(
        self,
        expected_records: dict[str, str],
        catalog: SchemaCatalog | None = None,
        validate_bodies: bool = False,
    ) -> None:
        """`expected_records` maps each input topic name to the record it carries."""
        self.catalog = catalog or default_catalog()
        self.expected_records = expected_records
        self.schema = RAW_EVENTS.arrow_schema(self.catalog)
        self._readers: dict[bytes, _WriterReader] = {}
        for name in set(expected_records.values()):
            for version in self.catalog.versions(name):
                self._readers[version.fingerprint] = _reader_for(version, validate_bodies)

    def convert(self, messages: Sequence[KafkaMessage]) -> pa.Table:
        """One raw_events row per message, in order; bad messages get `decode_error`."""
        n = len(messages)
        values: list[bytes | None] = [None] * n
        keys: list[bytes | None] = [None] * n
        topics: list[str | None] = [None] * n
        partitions: list[int | None] = [None] * n
        offsets: list[int | None] = [None] * n
        timestamps: list[int | None] = [None] * n
        record_names: list[str | None] = [None] * n
        fingerprints: list[str | None] = [None] * n
        event_ids: list[Any] = [None] * n
        session_ids: list[Any] = [None] * n
        user_ids: list[Any] = [None] * n
        event_times: list[Any] = [None] * n
        errors: list[str | None] = [None] * n
        readers = self._readers
        for i, message in enumerate(messages):
            value = message.value()
            topic = message.topic()
            values[i] = value
            keys[i] = message.key()
            topics[i] = topic
            partitions[i] = message.partition()
            offsets[i] = message.offset()
            timestamps[i] = kafka_timestamp_ms(message)
            start = HEADER_SIZE
            if value and value[0] == CONFLUENT_MAGIC:
                # Schema Registry framing: the id names a catalog version (schemas.registry).
                try:
                    version, start = writer_of(value, self.catalog)
                except ContractError as exc:
                    errors[i] = f"{exc.reason}: {exc}"[:500]
                    continue
                fingerprint = version.fingerprint
            elif value is None or len(value) < HEADER_SIZE or value[:2] != MARKER:
                errors[i] = _not_single_object(value)
                continue
            else:
                fingerprint = value[2:HEADER_SIZE]
            reader = readers.get(fingerprint)
            if reader is None:
                errors[i] = self._unknown_writer(fingerprint, topic)
                fingerprints[i] = fingerprint.hex()
                continue
            fingerprints[i] = reader.fingerprint_hex
            record_names[i] = reader.record_name
            if reader.record_name != self.expected_records.get(topic or ""):
                errors[i] = (
                    f"wrong_schema: written as {reader.record_name}, "
                    f"topic {topic} carries {self.expected_records.get(topic or '')}"
                )
                continue
            if reader.prefix is not None:
                try:
                    record = reader.prefix.read(value, start)
                except CorruptPrefixError as exc:
                    errors[i] = f"undecodable: corrupt {reader.record_name} body: {exc}"
                    continue
            else:
                body = BytesIO(value)
                body.seek(start)
                try:
                    record = cast(
                        dict[str, Any], schemaless_reader(body, reader.writer, reader.reader)
                    )
                except Exception as exc:
                    errors[i] = f"undecodable: corrupt {reader.record_name} body: {exc!r}"[:500]
                    continue
                if reader.reads_whole_body and body.tell() != len(value):
                    errors[i] = f"undecodable: {len(value) - body.tell()} trailing bytes"
                    continue
            event_ids[i] = record["event_id"]
            session_ids[i] = record["session_id"]
            user_ids[i] = record.get("user_id")
            event_times[i] = record["event_time"]
        ms = pa.timestamp("ms", tz="UTC")
        event_time = pa.array(event_times, ms)
        kafka_timestamp = pa.array(timestamps, ms)
        columns = [
            pa.array(values, pa.binary()),
            pa.array(keys, pa.binary()),
            pa.array(record_names, pa.string()),
            pa.array(fingerprints, pa.string()),
            pa.array(event_ids, pa.string()),
            pa.array(session_ids, pa.string()),
            pa.array(user_ids, pa.string()),
            event_time,
            pa.array(errors, pa.string()),
            pa.array(topics, pa.string()),
            pa.array(partitions, pa.int32()),
            pa.array(offsets, pa.int64()),
            kafka_timestamp,
            event_dates(event_time, kafka_timestamp),
        ]
        return pa.Table.from_arrays(columns, schema=self.schema)

    def _unknown_writer(self, fingerprint: bytes, topic: str | None) -> str:
        try:
            version = self.catalog.by_fingerprint(fingerprint)
        except Exception as exc:
            return f"unknown_fingerprint: {exc}"
        return (
            f"wrong_schema: written as {version.full_name}, "
            f"topic {topic} carries {self.expected_records.get(topic or '')}"
        )


def _not_single_object(value: bytes | None) -> str:
    if value is None:
        return "undecodable: empty message (no value)"
    return (
        f"undecodable: not an Avro single-object message ({len(value)} bytes, "
        f"starts with {value[:2].hex() or 'nothing'}; expected c301)"
    )


def _reader_for(version: SchemaVersion, validate_bodies: bool) -> _WriterReader:
    """A reader of the decoded columns for one writer version.

    Fast path: `PrefixReader` reads up to the last decoded field and stops (or, for a schema
    it cannot read, a writer schema cut after that field, so fastavro stops there).
    Validating path: a full decode of the body, which must end exactly at the message's end.
    """
    source = strip_logical_types(version.source)
    fields = source["fields"]
    wanted = [i for i, field in enumerate(fields) if field["name"] in RAW_DECODED_FIELDS]
    name = {"name": source["name"], "namespace": source["namespace"], "type": "record"}
    reader = None
    if validate_bodies:
        writer = version.plain  # a full decode: also checks every string is UTF-8
    else:
        writer = cast(dict[str, Any], parse_schema({**name, "fields": fields[: max(wanted) + 1]}))
    return _WriterReader(
        record_name=version.full_name,
        fingerprint_hex=version.fingerprint.hex(),
        writer=writer,
        reader=reader,
        reads_whole_body=validate_bodies,
        prefix=None if validate_bodies else PrefixReader.for_version(version, RAW_DECODED_FIELDS),
    )
