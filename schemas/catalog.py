"""The catalog of every released Avro schema version, found by record name or by fingerprint."""

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, cast

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.exceptions import UnknownFingerprintError

__all__ = ["SchemaCatalog", "SchemaVersion", "default_catalog", "strip_logical_types"]


def strip_logical_types(schema: Any) -> Any:
    """The same schema without logical types: same bytes on the wire, plain ints and strings.

    Inside the pipeline timestamps stay epoch milliseconds and UUIDs stay strings: cheaper to
    decode, and equal values compare equal after a replay.
    """
    if isinstance(schema, dict):
        return {k: strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical_types(item) for item in schema]
    return schema


@dataclass(frozen=True)
class SchemaVersion:
    """One released version of one record's schema."""

    full_name: str
    version: int
    source: dict[str, Any]
    parsed: dict[str, Any]
    plain: dict[str, Any]
    fingerprint: bytes

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.source["fields"]]


class SchemaCatalog:
    """All `.avsc` files under a folder laid out as `<record>/v<N>.avsc`."""

    def __init__(self, versions: list[SchemaVersion]) -> None:
        self._by_fingerprint = {v.fingerprint: v for v in versions}
        self._by_name: dict[str, list[SchemaVersion]] = {}
        for version in sorted(versions, key=lambda v: (v.full_name, v.version)):
            self._by_name.setdefault(version.full_name, []).append(version)

    @classmethod
    def from_package(cls) -> "SchemaCatalog":
        root = resources.files("schemas").joinpath("avro")
        versions = []
        for folder in root.iterdir():
            if not folder.is_dir():
                continue
            for item in folder.iterdir():
                if item.name.startswith("v") and item.name.endswith(".avsc"):
                    versions.append(
                        load_version(json.loads(item.read_text()), int(item.name[1:-5]))
                    )
        return cls(versions)

    def by_fingerprint(self, value: bytes) -> SchemaVersion:
        try:
            return self._by_fingerprint[value]
        except KeyError:
            raise UnknownFingerprintError(
                f"writer schema fingerprint {value.hex()} is not in the catalog; "
                "the producer uses a schema this release does not know"
            ) from None

    def latest(self, full_name: str) -> SchemaVersion:
        return self.versions(full_name)[-1]

    def versions(self, full_name: str) -> list[SchemaVersion]:
        try:
            return self._by_name[full_name]
        except KeyError:
            raise KeyError(f"no schema named {full_name!r} in the catalog") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)


def load_version(source: dict[str, Any], version: int) -> SchemaVersion:
    """Parse one schema document and compute its CRC-64-AVRO fingerprint."""
    parsed = cast(dict[str, Any], parse_schema(source))
    canonical = to_parsing_canonical_form(parsed)
    # fastavro returns the fingerprint as hex of its little-endian bytes, the wire order.
    fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    full_name = f"{source['namespace']}.{source['name']}"
    return SchemaVersion(
        full_name=full_name,
        version=version,
        source=source,
        parsed=parsed,
        plain=cast(dict[str, Any], parse_schema(strip_logical_types(source))),
        fingerprint=fp,
    )


@cache
def default_catalog() -> SchemaCatalog:
    """The catalog shipped with this package (loaded once per process)."""
    return SchemaCatalog.from_package()
