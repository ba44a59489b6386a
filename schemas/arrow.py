"""The one mapping from Avro contracts to Arrow schemas, used for every Delta table."""

from typing import Any

import pyarrow as pa

from schemas.catalog import SchemaVersion

__all__ = ["arrow_schema", "arrow_type"]

_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bytes": pa.binary(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}
_LOGICAL: dict[str, pa.DataType] = {
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "uuid": pa.string(),
    "date": pa.date32(),
}


def arrow_type(avro: Any) -> tuple[pa.DataType, bool]:
    """The Arrow type of an Avro type, and whether it is nullable.

    Enums become strings (their symbols), maps become map<string, value>, unions of null and one
    type become that type, nullable. Other unions are not used by our contracts.
    """
    if isinstance(avro, str):
        return _PRIMITIVES[avro], False
    if isinstance(avro, list):
        branches = [branch for branch in avro if branch != "null"]
        if len(branches) != 1:
            raise TypeError(f"only [null, T] unions map to Arrow, got {avro}")
        return arrow_type(branches[0])[0], True
    logical = avro.get("logicalType")
    if logical in _LOGICAL:
        return _LOGICAL[logical], False
    kind = avro["type"]
    if kind == "record":
        return pa.struct([arrow_field(field) for field in avro["fields"]]), False
    if kind == "enum":
        return pa.string(), False
    if kind == "array":
        item, nullable = arrow_type(avro["items"])
        return pa.list_(pa.field("element", item, nullable=nullable)), False
    if kind == "map":
        value, _ = arrow_type(avro["values"])
        return pa.map_(pa.string(), value), False
    if kind == "fixed":
        return pa.binary(avro["size"]), False
    return arrow_type(kind)


def arrow_field(field: dict[str, Any]) -> pa.Field:
    data_type, nullable = arrow_type(field["type"])
    return pa.field(field["name"], data_type, nullable=nullable)


def arrow_schema(version: SchemaVersion) -> pa.Schema:
    """Arrow schema with one column per field of the Avro record (in the same order)."""
    return pa.schema([arrow_field(field) for field in version.source["fields"]])
