"""Encoding a record whose schema extends another's by copying the other's encoded body.

An enriched interaction is an interaction (the same first fields, in the same order, encoded the
same way) followed by labels, so its Avro body is the interaction's body followed by the labels'
encoding. Given the interaction's original message, written with the current interaction schema,
`ExtensionEncoder` copies those bytes and encodes only the added fields: the prompt, response,
reasoning, tools and context are not encoded again (about half the cost of an enriched record).

The result decodes to the same record as a full encoding. It is byte-identical to one unless the
producer's encoding was valid but not minimal (e.g. an array written in several blocks), which
fastavro and the compiled writer never produce; the same input always gives the same output.
"""

from collections.abc import Mapping
from typing import Any

from schemas.fast_writer import RecordWriter, compile_writer
from schemas.serializer import HEADER_SIZE, MARKER, SingleObjectSerializer

__all__ = ["ExtensionEncoder", "shared_prefix"]

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class ExtensionEncoder:
    """Encodes `serializer`'s records, reusing the body of a `base` message when it can."""

    def __init__(self, serializer: SingleObjectSerializer, base: SingleObjectSerializer) -> None:
        self.serializer = serializer
        self._header = MARKER + serializer.writer.fingerprint
        self._base_header = MARKER + base.reader.fingerprint
        shared = shared_prefix(base.reader.plain, serializer.writer.plain)
        # Splicing writes a single-object header: not for the Confluent framing (either side).
        framings = {serializer.framing, base.framing}
        complete = shared == len(base.reader.plain["fields"]) and framings == {"single-object"}
        # None: the schemas do not line up, or the added fields need fastavro; encode in full.
        self._tail: RecordWriter | None = (
            compile_writer(serializer.writer.plain, first_field=shared) if complete else None
        )

    @property
    def splices(self) -> bool:
        """Whether base messages can be reused at all (the schemas line up)."""
        return self._tail is not None

    def encode(self, record: Mapping[str, Any], base_message: bytes | None = None) -> bytes:
        """The single-object encoding of `record`; `base_message` is the message its first
        fields came from, unchanged (None, or written with another version: full encoding)."""
        if (
            self._tail is not None
            and base_message is not None
            and base_message[:HEADER_SIZE] == self._base_header
        ):
            try:
                tail = self._tail(record)
            except Exception:  # a record the compiled writer declines: encode it in full
                pass
            else:
                return b"".join((self._header, memoryview(base_message)[HEADER_SIZE:], tail))
        return self.serializer.encode(record)


def shared_prefix(base: dict[str, Any], extended: dict[str, Any]) -> int:
    """How many of `base`'s fields open `extended` with the same names and binary encoding
    (parsed schemas; named types must be defined inline, not referenced by name)."""
    count = 0
    for mine, theirs in zip(base["fields"], extended["fields"], strict=False):
        if mine["name"] != theirs["name"] or not _same_encoding(mine["type"], theirs["type"]):
            break
        count += 1
    return count


def _same_encoding(a: Any, b: Any) -> bool:
    """Whether values of schemas `a` and `b` are written with the same bytes: names, docs and
    defaults do not matter, structure and field/symbol order do."""
    if isinstance(a, list) or isinstance(b, list):
        return (
            isinstance(a, list)
            and isinstance(b, list)
            and len(a) == len(b)
            and all(_same_encoding(x, y) for x, y in zip(a, b, strict=True))
        )
    kind_a = a if isinstance(a, str) else a.get("type")
    kind_b = b if isinstance(b, str) else b.get("type")
    if kind_a != kind_b:
        return False
    if kind_a in _PRIMITIVES:
        return True
    if isinstance(a, str) or isinstance(b, str):
        return False  # a reference to a named type: not followed
    if kind_a == "record":
        fields_a, fields_b = a["fields"], b["fields"]
        return len(fields_a) == len(fields_b) and all(
            x["name"] == y["name"] and _same_encoding(x["type"], y["type"])
            for x, y in zip(fields_a, fields_b, strict=True)
        )
    if kind_a == "enum":
        return bool(a["symbols"] == b["symbols"])
    if kind_a == "array":
        return _same_encoding(a["items"], b["items"])
    if kind_a == "map":
        return _same_encoding(a["values"], b["values"])
    if kind_a == "fixed":
        return bool(a["size"] == b["size"])
    return False
