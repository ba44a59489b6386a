"""Event contracts: Avro schemas of every topic, the topic registry and the wire format.

Depends on nothing else in the project (but the shared plumbing's root exception).
"""

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog
from schemas.exceptions import (
    ContractError,
    InvalidRecordError,
    UndecodableError,
    UnknownFingerprintError,
    WrongSchemaError,
)
from schemas.serializer import Serializer, SingleObjectSerializer, serializer_for
from schemas.topics import TOPICS, TopicSpec, topic_by_name

__all__ = [
    "TOPICS",
    "ContractError",
    "InvalidRecordError",
    "SchemaCatalog",
    "SchemaVersion",
    "Serializer",
    "SingleObjectSerializer",
    "TopicSpec",
    "UndecodableError",
    "UnknownFingerprintError",
    "WrongSchemaError",
    "default_catalog",
    "serializer_for",
    "topic_by_name",
]
