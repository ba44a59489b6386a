"""Compatibility of consecutive schema versions, checked by fastavro's own schema resolution.

For each pair (older, newer) of a record's released versions, random datums of the writer schema
are encoded and decoded with the other as reader schema: BACKWARD = data written with `older` is
readable by `newer` (consumers upgrade first), FORWARD = the reverse (producers upgrade first),
FULL = both. Every record is held to FULL unless its newest `.avsc` says otherwise with a
top-level `"compatibility": "BACKWARD"` (or "FORWARD") attribute.
"""

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from itertools import pairwise
from typing import Any, Literal

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

from schemas.catalog import SchemaCatalog, SchemaVersion, default_catalog, strip_logical_types

__all__ = [
    "Compatibility",
    "Incompatibility",
    "check_catalog",
    "check_pair",
    "claimed_compatibility",
]

Compatibility = Literal["BACKWARD", "FORWARD", "FULL"]
_SAMPLES = 64


@dataclass(frozen=True)
class Incompatibility:
    """Data written with `writer` cannot be read with `reader`, and why."""

    full_name: str
    writer: str
    reader: str
    reason: str

    def __str__(self) -> str:
        return f"{self.full_name}: {self.writer} data unreadable by {self.reader}: {self.reason}"


def claimed_compatibility(newer: SchemaVersion) -> Compatibility:
    """What the newer version promises about its predecessor (FULL unless it says otherwise)."""
    claim = str(newer.source.get("compatibility", "FULL")).upper()
    if claim not in ("BACKWARD", "FORWARD", "FULL"):
        raise ValueError(f"{newer.full_name} v{newer.version}: unknown compatibility {claim!r}")
    return claim  # type: ignore[return-value]


def check_pair(
    older: dict[str, Any] | SchemaVersion,
    newer: dict[str, Any] | SchemaVersion,
    mode: Compatibility = "FULL",
    samples: int = _SAMPLES,
    seed: int = 0,
) -> list[Incompatibility]:
    """The problems found between two versions of a schema (empty when compatible)."""
    old_schema, old_label, name = _plain(older, "older")
    new_schema, new_label, _ = _plain(newer, "newer")
    problems = []
    if mode in ("BACKWARD", "FULL"):
        problems += _read_all(name, old_schema, old_label, new_schema, new_label, samples, seed)
    if mode in ("FORWARD", "FULL"):
        problems += _read_all(name, new_schema, new_label, old_schema, old_label, samples, seed)
    return problems


def check_catalog(catalog: SchemaCatalog | None = None) -> list[Incompatibility]:
    """Every consecutive pair of every record in the catalog, each held to its claim."""
    catalog = catalog or default_catalog()
    problems = []
    for name in catalog.names():
        versions = catalog.versions(name)
        for older, newer in pairwise(versions):
            problems += check_pair(older, newer, claimed_compatibility(newer))
    return problems


def _plain(schema: dict[str, Any] | SchemaVersion, label: str) -> tuple[Any, str, str]:
    if isinstance(schema, SchemaVersion):
        return schema.plain, f"v{schema.version}", schema.full_name
    source = strip_logical_types(schema)
    full_name = f"{source.get('namespace', '')}.{source.get('name', '')}".lstrip(".")
    return parse_schema(source, _write_hint=False), label, full_name


def _read_all(
    name: str,
    writer: Any,
    writer_label: str,
    reader: Any,
    reader_label: str,
    samples: int,
    seed: int,
) -> list[Incompatibility]:
    with _seeded(seed):
        datums = list(generate_many(writer, samples))
    for datum in datums:
        buffer = BytesIO()
        schemaless_writer(buffer, writer, datum)
        buffer.seek(0)
        try:
            schemaless_reader(buffer, writer, reader)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            return [Incompatibility(name, writer_label, reader_label, reason)]
    return []


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """fastavro draws from the global `random`: seed it for repeatable samples, then restore."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)
