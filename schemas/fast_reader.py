"""A compiled Avro binary reader for our record schemas: the same records as fastavro, faster.

fastavro's reader walks the schema for every message; for our small records that walk and its
per-call setup cost more than the reading (a 7-field signal took ~6 µs on this project's
machine). `compile_reader(schema)` turns a parsed schema (without logical types) into a Python
function specialised for it: one straight-line block per field, short varints inlined.

It reads only what is plainly valid: a varint longer than 64 bits, a negative length, a block
count larger than the data, a union or enum index out of range, a boolean byte other than 0 or 1,
invalid UTF-8 or a read past the end raises (any exception), and so does a record that does not
end exactly at the end of the data.
The caller then decodes the message with fastavro, which produces the error it always did (or
the record, for the rare valid encodings refused here, such as a union index padded to two
bytes). So whatever this reader returns is what fastavro returns for the same bytes (tests
compare them on random and damaged records).
"""

import struct
from collections.abc import Callable
from typing import Any

from schemas.codegen import GeneratedFunction

__all__ = ["RecordReader", "compile_reader"]

RecordReader = Callable[[bytes, int], dict[str, Any]]
"""read(data, start) -> the record encoded from `start` to the very end of `data`."""


def _long_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint of 3 to 10 bytes starting at `pos` (shorter ones are read inline).

    A tenth byte may only add the 64th bit: longer or larger varints are refused.
    """
    value = data[pos] & 0x7F
    shift = 7
    end = pos + 9
    pos += 1
    while pos < end:
        byte = data[pos]
        pos += 1
        if byte < 0x80:
            value |= byte << shift
            return (value >> 1) ^ -(value & 1), pos
        value |= (byte & 0x7F) << shift
        shift += 7
    if data[pos] > 1:
        raise ValueError("varint longer than 64 bits")
    value |= data[pos] << 63
    return (value >> 1) ^ -(value & 1), pos + 1


# One-byte varints (below 0x80) decoded; lengths and counts cannot be negative (odd bytes).
_ONE_BYTE = tuple((byte >> 1) ^ -(byte & 1) for byte in range(0x80))
_LENGTHS = tuple(byte >> 1 if byte % 2 == 0 else -1 for byte in range(0x80))


class _Compiler(GeneratedFunction):
    def __init__(self, tag: str = "") -> None:
        self.tag = tag  # in the names of its tables: several readers can share a module
        super().__init__(
            {
                "_long_varint": _long_varint,
                "_ONE_BYTE": _ONE_BYTE,
                "_LENGTHS": _LENGTHS,
                "_unpack_double": struct.Struct("<d").unpack_from,
                "_unpack_float": struct.Struct("<f").unpack_from,
            }
        )

    def varint(self, target: str, indent: int) -> None:
        """Lines that read a zigzag varint at `pos` into `target` and move `pos` past it."""
        self.emit(indent, f"{target} = data[pos]")
        self.emit(indent, f"if {target} < 0x80: {target} = _ONE_BYTE[{target}]; pos += 1")
        self.two_bytes(target, indent)

    def two_bytes(self, target: str, indent: int) -> None:
        """The `else` of a one-byte read: two-byte varints inline, longer ones by a call."""
        self.emit(indent, "elif data[pos + 1] < 0x80:")
        self.emit(indent + 1, f"{target} = ({target} & 0x7F) | (data[pos + 1] << 7)")
        self.emit(indent + 1, f"{target} = ({target} >> 1) ^ -({target} & 1); pos += 2")
        self.emit(indent, f"else: {target}, pos = _long_varint(data, pos)")

    def length(self, target: str, indent: int) -> None:
        """Like varint, for a length or count that must not be negative."""
        self.emit(indent, f"{target} = data[pos]")
        self.emit(indent, f"if {target} < 0x80: {target} = _LENGTHS[{target}]; pos += 1")
        self.two_bytes(target, indent)
        self.emit(indent, f"if {target} < 0: raise ValueError('negative length')")

    def read(self, schema: Any, target: str, indent: int) -> None:
        """Lines that read a value of `schema` at `pos` into the local name `target`."""
        if isinstance(schema, list):
            self._union(schema, target, indent)
            return
        kind = schema if isinstance(schema, str) else schema.get("type")
        if kind == "null":
            self.emit(indent, f"{target} = None")
        elif kind == "boolean":
            self.emit(indent, f"{target} = _BOOLEANS[data[pos]]")
            self.emit(indent, "pos += 1")
            self.constants["_BOOLEANS"] = (False, True)
        elif kind in ("int", "long"):
            self.varint(target, indent)
        elif kind in ("float", "double"):
            unpack, width = ("_unpack_double", 8) if kind == "double" else ("_unpack_float", 4)
            self.emit(indent, f"{target} = {unpack}(data, pos)[0]")
            self.emit(indent, f"pos += {width}")
        elif kind in ("string", "bytes"):
            size = self.name("n")
            self.length(size, indent)
            self.emit(indent, f"{size} += pos")
            decode = ".decode()" if kind == "string" else ""
            self.emit(indent, f"{target} = data[pos:{size}]{decode}")
            self.emit(indent, f"pos = {size}")
        elif kind == "enum":
            # One byte per index below 64 (zigzag 2n); any other byte is a KeyError.
            table = self.name(f"_SYMBOLS{self.tag}")
            self.constants[table] = {2 * i: symbol for i, symbol in enumerate(schema["symbols"])}
            self.emit(indent, f"{target} = {table}[data[pos]]")
            self.emit(indent, "pos += 1")
        elif kind == "array":
            self._blocks(schema["items"], target, "list", indent)
        elif kind == "map":
            self._blocks(schema["values"], target, "dict", indent)
        elif kind == "record":
            self._record(schema, target, indent)
        else:
            raise NotImplementedError(kind)

    def _union(self, branches: list[Any], target: str, indent: int) -> None:
        # The branch index as its one-byte zigzag varint (2n); any other byte is refused.
        index = self.name("u")
        self.emit(indent, f"{index} = data[pos]")
        self.emit(indent, "pos += 1")
        for number, branch in enumerate(branches):
            self.emit(indent, f"{'if' if number == 0 else 'elif'} {index} == {2 * number}:")
            self.read(branch, target, indent + 1)
        self.emit(indent, "else: raise ValueError('union index out of range')")

    def _blocks(self, items: Any, target: str, container: str, indent: int) -> None:
        count, item = self.name("c"), self.name("item")
        self.emit(indent, f"{target} = {'[]' if container == 'list' else '{}'}")
        self.emit(indent, "while True:")
        self.varint(count, indent + 1)
        self.emit(indent + 1, f"if {count} == 0: break")
        self.emit(indent + 1, f"if {count} < 0:")
        # A negative count is followed by the block's size in bytes, which we do not need.
        self.emit(indent + 2, f"{count} = -{count}")
        self.length(self.name("size"), indent + 2)
        # Our items take a byte at least: a larger count is corrupt (or null items: fastavro's).
        self.emit(indent + 1, f"if {count} > len(data): raise ValueError('count beyond the data')")
        self.emit(indent + 1, f"for _ in range({count}):")
        if container == "list":
            self.read(items, item, indent + 2)
            self.emit(indent + 2, f"{target}.append({item})")
        else:
            key = self.name("key")
            self.read("string", key, indent + 2)
            self.read(items, item, indent + 2)
            self.emit(indent + 2, f"{target}[{key}] = {item}")

    def _record(self, schema: dict[str, Any], target: str, indent: int) -> None:
        values = []
        for field in schema["fields"]:
            local = self.name("v")
            self.read(field["type"], local, indent)
            values.append(f"{field['name']!r}: {local}")
        self.emit(indent, f"{target} = {{{', '.join(values)}}}")


_LAST = "if pos != len(data): raise ValueError('trailing or missing bytes')\nreturn record"


def compile_reader(schema: Any) -> RecordReader | None:
    """A function reading one record of `schema` (parsed, logical types stripped), or None when
    the schema uses something this reader does not handle (then use fastavro)."""
    compiler = _Compiler()
    try:
        compiler.read(schema, "record", 1)
    except NotImplementedError:
        return None
    reader: RecordReader = compiler.build("read", "data, pos", "", _LAST, "<avro reader>")
    return reader
