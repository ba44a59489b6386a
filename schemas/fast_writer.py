"""A compiled Avro binary writer for our record schemas: the same bytes as fastavro, faster.

`compile_writer(schema)` turns a parsed schema (without logical types) into a Python function
specialised for it: one straight-line block per field, varints inlined, no per-field dispatch.
It accepts only exact types (str, int, float, bool, None, list, dict) and records that hold
exactly the schema's fields; anything else (a missing field that has a default, a tuple, an int
for a double, a bool for an int, an out-of-range int, an unknown enum symbol...) raises
`Fallback`, and the caller encodes that record with fastavro, which fills defaults and explains
errors. So the output is always byte-identical to fastavro's (a test checks it).

`guards` add conditions of the caller's own (a producer's contract rules) to the same pass: a
record that breaks one raises `Fallback` too, and the caller checks it the slow way, which
names the field. The bytes written do not depend on them.
"""

import struct
from collections.abc import Callable, Mapping
from typing import Any

from schemas.codegen import GeneratedFunction

__all__ = ["Fallback", "Guards", "RecordWriter", "compile_writer"]

RecordWriter = Callable[[Mapping[str, Any]], bytes]
# Per record name (e.g. "agentfeedback.events.ToolCall"), per field: a Python condition on `{v}`
# (the field's value, type-checked already) and `{record}` that must hold; the field "" holds
# conditions on the whole record, checked after its last field.
Guards = Mapping[str, Mapping[str, str]]


class Fallback(Exception):
    """This record needs the general (fastavro) writer."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Zigzag varints of the small non-negative ints: lengths, counts, enum and union indexes.
_SMALL = 1 << 14
_ZIGZAG = tuple(_varint(n << 1) for n in range(_SMALL))
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


# Varints of 7 to 42 bits (timestamps in ms need 41) from two tables, without a loop: the low
# 14-bit chunks with their continuation bits set, and the last chunk as it is.
_CHUNK = 1 << 14
_TWO_CHUNKS, _THREE_CHUNKS = _CHUNK**2, _CHUNK**3
_LAST = tuple(_varint(n) for n in range(_CHUNK))
_CONTINUED = tuple(bytes(((n & 0x7F) | 0x80, (n >> 7) | 0x80)) for n in range(_CHUNK))


def _zigzag(value: int) -> bytes:
    value = (value << 1) ^ (value >> 63)
    if value < _CHUNK:
        return _LAST[value]
    if value < _TWO_CHUNKS:
        return _CONTINUED[value & 0x3FFF] + _LAST[value >> 14]
    if value < _THREE_CHUNKS:
        return _CONTINUED[value & 0x3FFF] + _CONTINUED[(value >> 14) & 0x3FFF] + _LAST[value >> 28]
    return _varint(value)


class _Compiler(GeneratedFunction):
    def __init__(self, guards: Guards | None = None) -> None:
        self.guards: Guards = guards or {}
        super().__init__(
            {
                "Fallback": Fallback,
                "_ZIGZAG": _ZIGZAG,
                "_SMALL": _SMALL,
                "_zigzag": _zigzag,
                "_pack_double": struct.Struct("<d").pack,
                "_pack_float": struct.Struct("<f").pack,
            }
        )

    def write(self, schema: Any, value: str, indent: int) -> None:
        """Lines that append the encoding of the expression `value` (a local name) to `out`."""
        if isinstance(schema, list):
            self._union(schema, value, indent)
            return
        kind = schema if isinstance(schema, str) else schema.get("type")
        if kind == "null":
            self.emit(indent, f"if {value} is not None: raise Fallback")
        elif kind == "boolean":
            self.emit(indent, f"if {value} is True: out += b'\\x01'")
            self.emit(indent, f"elif {value} is False: out += b'\\x00'")
            self.emit(indent, "else: raise Fallback")
        elif kind in ("int", "long"):
            low, high = ("_INT_MIN", "_INT_MAX") if kind == "int" else ("_LONG_MIN", "_LONG_MAX")
            self.constants.update(_INT_MIN=_INT_MIN, _INT_MAX=_INT_MAX)
            self.constants.update(_LONG_MIN=_LONG_MIN, _LONG_MAX=_LONG_MAX)
            self.emit(indent, f"if type({value}) is not int: raise Fallback")
            self.emit(indent, f"if 0 <= {value} < _SMALL: out += _ZIGZAG[{value}]")
            self.emit(indent, f"elif {low} <= {value} <= {high}: out += _zigzag({value})")
            self.emit(indent, "else: raise Fallback")
        elif kind in ("float", "double"):
            pack = "_pack_double" if kind == "double" else "_pack_float"
            self.emit(indent, f"if type({value}) is not float: raise Fallback")
            self.emit(indent, f"out += {pack}({value})")
        elif kind in ("string", "bytes"):
            data = self.name("b")
            if kind == "string":
                self.emit(indent, f"if type({value}) is not str: raise Fallback")
                self.emit(indent, f"{data} = {value}.encode()")
            else:
                self.emit(indent, f"if type({value}) is not bytes: raise Fallback")
                self.emit(indent, f"{data} = {value}")
            self._length(f"len({data})", indent)
            self.emit(indent, f"out += {data}")
        elif kind == "enum":
            table = self.name("_ENUM")
            self.constants[table] = {s: _ZIGZAG[i] for i, s in enumerate(schema["symbols"])}
            self.emit(indent, f"out += {table}[{value}]")  # KeyError: unknown symbol
        elif kind == "array":
            self._block(schema["items"], value, "list", indent)
        elif kind == "map":
            self._block(schema["values"], value, "dict", indent)
        elif kind == "record":
            self._record(schema, value, indent)
        else:
            raise NotImplementedError(kind)

    def _length(self, expression: str, indent: int) -> None:
        # IndexError past 16 KiB: such rare records go to fastavro.
        self.emit(indent, f"out += _ZIGZAG[{expression}]")

    def _union(self, branches: list[Any], value: str, indent: int) -> None:
        if len(branches) != 2 or "null" not in branches:
            raise NotImplementedError("only [null, T] unions")
        null_index = branches.index("null")
        other = branches[1 - null_index]
        self.emit(indent, f"if {value} is None: out += {_ZIGZAG[null_index]!r}")
        self.emit(indent, "else:")
        self.emit(indent + 1, f"out += {_ZIGZAG[1 - null_index]!r}")
        self.write(other, value, indent + 1)

    def _block(self, items: Any, value: str, container: str, indent: int) -> None:
        self.emit(indent, f"if type({value}) is not {container}: raise Fallback")
        self.emit(indent, f"if {value}:")
        self._length(f"len({value})", indent + 1)
        if container == "list":
            item = self.name("item")
            self.emit(indent + 1, f"for {item} in {value}:")
            self.write(items, item, indent + 2)
        else:
            key, item = self.name("key"), self.name("value")
            self.emit(indent + 1, f"for {key}, {item} in {value}.items():")
            self.write("string", key, indent + 2)
            self.write(items, item, indent + 2)
        self.emit(indent, "out += b'\\x00'")

    def _record(self, schema: dict[str, Any], value: str, indent: int, first: int = 0) -> None:
        fields = schema["fields"]
        # Exactly the schema's fields: a missing one (KeyError) or an extra one goes to fastavro.
        self.emit(indent, f"if type({value}) is not dict or len({value}) != {len(fields)}:")
        self.emit(indent + 1, "raise Fallback")
        guards = self.guards.get(schema.get("name", ""), {})
        for field in fields[first:]:
            local = self.name("v")
            self.emit(indent, f"{local} = {value}[{field['name']!r}]")
            self.write(field["type"], local, indent)
            if field["name"] in guards:
                self._guard(guards[field["name"]], local, value, indent)
        if "" in guards:
            self._guard(guards[""], "", value, indent)

    def _guard(self, condition: str, local: str, record: str, indent: int) -> None:
        self.emit(indent, f"if not ({condition.format(v=local, record=record)}): raise Fallback")


def compile_writer(
    schema: Any,
    prefix: bytes = b"",
    first_field: int = 0,
    guards: Guards | None = None,
    constants: Mapping[str, Any] | None = None,
    max_size: int | None = None,
) -> RecordWriter | None:
    """A function writing `prefix` + a record of `schema` (parsed, logical types stripped), or
    None when the schema uses something this writer does not handle (then use fastavro).

    With `first_field`, it writes only the fields from that index on (the record must still hold
    all of them): the caller has the encoding of the earlier ones (see `schemas.extension`).
    `guards` (with the names they use in `constants`) and `max_size` (of the whole output) are
    further reasons to raise `Fallback`.
    """
    compiler = _Compiler(guards)
    compiler.constants.update(constants or {})
    compiler.constants["_PREFIX"] = prefix
    try:
        if first_field:
            compiler._record(schema, "record", 1, first_field)
        else:
            compiler.write(schema, "record", 1)
    except NotImplementedError:
        return None
    last = "return bytes(out)"
    if max_size is not None:
        last = f"if len(out) > {int(max_size)}: raise Fallback\n{last}"
    writer: RecordWriter = compiler.build(
        "write", "record", "out = bytearray(_PREFIX)", last, "<avro writer>"
    )
    return writer
