"""Ahead-of-time source of compiled Avro readers, so that they can be compiled too (mypyc).

`compile_reader` makes a reader at run time with `exec`; `reader_module` writes the same code as
a module (constants at module level, typed arguments), which a build can compile. A module
generated this way is checked in and tested against a fresh generation, so it cannot drift from
the schemas.
"""

import inspect
import sys
from collections.abc import Sequence

from schemas.catalog import default_catalog
from schemas.fast_reader import _LAST, _Compiler, _long_varint

__all__ = ["reader_module"]

# What every reader module starts with: the helpers `compile_reader` passes as constants. The
# varint reader is copied as source, so that a build compiles it with the readers (called as
# Python, it cost a compiled reader a fifth of its time). The tables are imported: as literals,
# gcc took minutes over mypyc's code for them.
_MODULE_HEADER = f"""import struct
from typing import Any

from schemas.fast_reader import _LENGTHS, _ONE_BYTE

_unpack_double = struct.Struct("<d").unpack_from
_unpack_float = struct.Struct("<f").unpack_from


{inspect.getsource(_long_varint)}"""
# Every reader's constants (the header defines them); a reader's own tables come after.
_SHARED_CONSTANTS = frozenset(_Compiler().constants)


def reader_module(full_names: Sequence[str]) -> str:
    """Python source of a module with the readers `compile_reader` makes for the newest version
    of each record, as functions `read_<record>_v<version>(data, pos)` and a `READERS` dict by
    fingerprint (`python -m schemas.reader_module NAME...` prints it).

    Ahead-of-time source, so that it can be compiled (mypyc): the same code, with its constants
    at module level and typed arguments. Versions it cannot read are left out.
    """
    catalog = default_catalog()
    versions = [catalog.versions(full_name)[-1] for full_name in full_names]
    docstring = (
        "Avro readers of the newest versions of these records, generated ahead of time so that\n"
        "they can be compiled:\n\n"
        + "".join(f"    {full_name}\n" for full_name in full_names)
        + "\nGenerated from schemas/avro by `python -m schemas.reader_module` with those names:\n"
        "do not edit, a test compares it with a fresh generation.\n"
    )
    tables: dict[str, str] = {}
    functions: list[str] = []
    entries: list[str] = []
    for version in versions:
        name = f"read_{version.full_name.rsplit('.', 1)[-1].lower()}_v{version.version}"
        compiler = _Compiler(tag=f"_{name}_")
        try:
            compiler.read(version.plain, "record", 1)
        except NotImplementedError:
            continue
        for constant, value in compiler.constants.items():
            if constant not in _SHARED_CONSTANTS:
                tables[constant] = f"{constant} = {value!r}"
        functions.append(compiler.source(f"{name}(data: bytes, pos: int) -> Any", "", _LAST))
        entries.append(f"    bytes.fromhex({version.fingerprint.hex()!r}): {name},")
    return "\n".join(
        [
            f'"""{docstring}"""',
            "",
            _MODULE_HEADER,
            *tables.values(),
            "",
            *(f"\n{function}" for function in functions),
            "",
            "READERS = {",
            *entries,
            "}",
            "",
        ]
    )


if __name__ == "__main__":
    print(reader_module(sys.argv[1:]), end="")
