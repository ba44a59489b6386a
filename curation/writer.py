"""Writing a dataset's files: JSONL and Parquet per split, byte for byte reproducible.

Same rows in, same bytes out: rows arrive in a deterministic order, JSON keys keep their
insertion order, and the Parquet writer's settings are fixed here (a pyarrow upgrade may still
change Parquet bytes: the manifest records the pyarrow version for that reason).
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["PARQUET_SETTINGS", "WrittenFile", "dataset_digest", "describe_file", "write_rows"]

PARQUET_SETTINGS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 65_536,
}


@dataclass(frozen=True)
class WrittenFile:
    """One output file and its fingerprint, as listed in the manifest."""

    path: str
    rows: int
    bytes: int
    sha256: str

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_file(directory: Path, path: Path, rows: int) -> WrittenFile:
    """The manifest entry of a file under `directory` (also after a rewrite, e.g. a purge)."""
    return WrittenFile(str(path.relative_to(directory)), rows, path.stat().st_size, _sha256(path))


def write_rows(
    directory: Path, stem: str, rows: Sequence[dict[str, Any]], schema: pa.Schema
) -> list[WrittenFile]:
    """Write `rows` as `<stem>.jsonl` and `<stem>.parquet` under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    jsonl = directory / f"{stem}.jsonl"
    with jsonl.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
    parquet = directory / f"{stem}.parquet"
    table = pa.Table.from_pylist(list(rows), schema=schema)
    pq.write_table(table, parquet, **PARQUET_SETTINGS)
    return [
        describe_file(directory, jsonl, len(rows)),
        describe_file(directory, parquet, len(rows)),
    ]


def dataset_digest(files: Sequence[WrittenFile]) -> str:
    """SHA-256 over the data files' paths and hashes: the dataset's identity."""
    lines = "".join(f"{f.path}\t{f.sha256}\n" for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha256(lines.encode()).hexdigest()
