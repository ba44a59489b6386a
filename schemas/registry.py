"""Schema Registry mode: the Confluent wire format (magic byte 0 + 4-byte schema id + Avro body)
written by confluent-kafka's own `AvroSerializer`, schemas registered from the shipped catalog.

The body after the 5-byte header is the same Avro binary as in a single-object message, so
readers (`SingleObjectSerializer.decode_with_writer`) take either framing: the schema id is looked
up once in the registry, the registered schema is matched to a catalog version by its
CRC-64-AVRO fingerprint, and the rest is the same (compiled) decoding. Subjects follow the
Confluent default, TopicNameStrategy: `<topic>-value`, so Kafka Connect, ksqlDB and
`kafka-avro-console-consumer` find them.
"""

import json
import threading
from collections.abc import Mapping
from functools import cache
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog
from schemas.exceptions import UnknownFingerprintError
from schemas.registry_errors import (
    IncompatibleSchemaError,
    RegistryUnavailableError,
    UnknownSchemaIdError,
)
from schemas.registry_settings import (
    CONFLUENT,
    WireSettings,
    namespace_of,
    wire_settings,
    writes_confluent,
)
from schemas.serializer import SingleObjectSerializer, _explain
from schemas.topics import TopicSpec

__all__ = [
    "COMPATIBILITY",
    "RegistryClient",
    "RegistrySerializer",
    "default_registry",
    "namespace_of",
    "registry_for",
    "registry_serializer",
    "subject_of",
    "writes_confluent",
]

# Every new catalog version reads data written by the older ones (schemas/compatibility.py).
COMPATIBILITY = "BACKWARD"


def subject_of(topic_name: str) -> str:
    """The value subject of a topic (Confluent's TopicNameStrategy)."""
    return f"{topic_name}-value"


class RegistryClient:
    """The catalog's schemas in one registry: registration with a compatibility check, and
    schema id -> catalog version for readers (each id asked once per process)."""

    def __init__(self, url: str, catalog: SchemaCatalog | None = None) -> None:
        self.url = url
        self.catalog = catalog or default_catalog()
        self.client = SchemaRegistryClient({"url": url})
        self._by_id: dict[int, SchemaVersion] = {}
        self._registered: dict[str, dict[int, int]] = {}
        self._lock = threading.Lock()

    def register(self, topic_name: str, full_name: str) -> dict[int, int]:
        """Register every catalog version of `full_name` under the topic's subject, oldest
        first, each after the registry confirmed it is compatible with what the subject
        holds; returns catalog version -> schema id. Idempotent (a known schema keeps its id).
        """
        subject = subject_of(topic_name)
        with self._lock:
            known = self._registered.get(subject)
            if known is not None:
                return known
        ids: dict[int, int] = {}
        try:
            existing = self.client.get_subjects()
            if subject not in existing:
                self.client.set_compatibility(subject_name=subject, level=COMPATIBILITY)
            for version in self.catalog.versions(full_name):
                schema = Schema(json.dumps(version.source), "AVRO")
                checked = subject in existing or bool(ids)
                if checked and not self.client.test_compatibility(subject, schema):
                    raise IncompatibleSchemaError(
                        f"{full_name} v{version.version} is not {COMPATIBILITY} compatible "
                        f"with the schemas of subject {subject!r} in {self.url}"
                    )
                ids[version.version] = self.client.register_schema(subject, schema)
        except SchemaRegistryError as exc:
            raise RegistryUnavailableError(
                f"schema registry {self.url} refused subject {subject!r}: {exc}"
            ) from exc
        except OSError as exc:
            raise RegistryUnavailableError(f"schema registry {self.url}: {exc}") from exc
        with self._lock:
            self._registered[subject] = ids
            for version in self.catalog.versions(full_name):
                self._by_id[ids[version.version]] = version
        return ids

    def version_for_id(self, schema_id: int) -> SchemaVersion:
        """The catalog version a schema id stands for (UnknownSchemaIdError if none)."""
        version = self._by_id.get(schema_id)
        if version is not None:
            return version
        try:
            registered = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise UnknownSchemaIdError(
                    f"schema id {schema_id} is not in the registry {self.url}"
                ) from None
            raise RegistryUnavailableError(f"schema registry {self.url}: {exc}") from exc
        except OSError as exc:
            raise RegistryUnavailableError(f"schema registry {self.url}: {exc}") from exc
        canonical = to_parsing_canonical_form(
            parse_schema(json.loads(registered.schema_str or "null"))
        )
        found = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
        try:
            version = self.catalog.by_fingerprint(found)
        except UnknownFingerprintError:
            raise UnknownSchemaIdError(
                f"schema id {schema_id} of {self.url} is not a schema of this release's catalog"
            ) from None
        with self._lock:
            self._by_id[schema_id] = version
        return version


class RegistrySerializer(SingleObjectSerializer):
    """Writes one topic's records in the Confluent wire format with confluent-kafka's
    `AvroSerializer`; reads both formats like its parent.

    The writer schema is registered (with the compatibility check) when the serializer is
    made, so the first `encode` needs no round trip.
    """

    framing = CONFLUENT

    def __init__(
        self,
        topic_name: str,
        full_name: str,
        registry: RegistryClient,
        writer_version: int | None = None,
    ) -> None:
        super().__init__(full_name, registry.catalog, writer_version, resolver=registry)
        self.topic_name = topic_name
        registry.register(topic_name, full_name)
        self._avro = AvroSerializer(
            registry.client,
            json.dumps(self.writer.source),
            conf={"auto.register.schemas": False, "normalize.schemas": False},
        )
        self._context = SerializationContext(topic_name, MessageField.VALUE)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """Encode a record; raise InvalidRecordError naming the field when it does not fit."""
        try:
            data = self._avro(record, self._context)
        except SchemaRegistryError as exc:
            raise RegistryUnavailableError(f"schema registry: {exc}") from exc
        except Exception as exc:
            raise _explain(record, self.writer, exc) from exc
        assert data is not None
        return data


def registry_for(settings: WireSettings) -> RegistryClient | None:
    """A client of the configured registry (one per URL and process), or None when unset."""
    if not settings.registry_url:
        return None
    return _client(settings.registry_url)


@cache
def _client(url: str) -> RegistryClient:
    return RegistryClient(url)


def default_registry(environment: tuple[tuple[str, str], ...] = ()) -> RegistryClient | None:
    """The registry of this process's FEEDBACK_WIRE_REGISTRY_URL (`environment`: the
    FEEDBACK_WIRE_* variables, the cache key), or None."""
    return registry_for(wire_settings(environment))


_SERIALIZERS: dict[tuple[str, str, tuple[tuple[str, str], ...]], RegistrySerializer] = {}


def registry_serializer(
    topic: TopicSpec, environment: tuple[tuple[str, str], ...]
) -> RegistrySerializer | None:
    """The Confluent-format serializer of `topic` when its namespace is in that format (one
    per topic and process: it registered its schemas), else None."""
    settings = wire_settings(environment)
    if not writes_confluent(topic, settings):
        return None
    registry = registry_for(settings)
    if registry is None:
        raise RegistryUnavailableError(
            f"{topic.name} is written in the confluent format but no schema registry is "
            "configured: set FEEDBACK_WIRE_REGISTRY_URL"
        )
    key = (topic.name, registry.url, environment)
    serializer = _SERIALIZERS.get(key)
    if serializer is None:
        serializer = _SERIALIZERS[key] = RegistrySerializer(
            topic.name, topic.value_record, registry
        )
    return serializer
