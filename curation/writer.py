"""Writing a dataset's files: JSONL and Parquet per split, byte for byte reproducible.

Same rows in, same bytes out: rows arrive in a deterministic order, JSON keys keep their
insertion order, and the Parquet writer's settings are fixed here (a pyarrow upgrade may still
change Parquet bytes: the manifest records the pyarrow version for that reason).

Layout (the HuggingFace one): one folder per dataset kind, `<kind>/train.*` and `<kind>/test.*`
(the `eval` split is written as `test`, the name `datasets` and the Hub expect), beside the
dataset's `manifest.json` and `README.md` card (`curation.dataset_card`). Every example also gets
a `tools` column (`curation.chat.tool_specs`): the OpenAI function specs of the tools it calls.
Message content the schema marks as JSON (datasets with attachments, `curation.attachments`) is
written as JSON text in Parquet, as objects in JSONL.
"""

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.chat import tool_specs
from curation.exceptions import OutputNotEmptyError

__all__ = [
    "FILE_SPLITS",
    "PARQUET_SETTINGS",
    "TOOLS_FIELD",
    "WrittenFile",
    "dataset_and_split",
    "dataset_digest",
    "describe_file",
    "json_content_columns",
    "prepare_output_dir",
    "write_kind",
    "write_rows",
]

# Split names of the rows (curation.split) -> of the files.
FILE_SPLITS = {"train": "train", "eval": "test"}
_ROW_SPLITS = {file: row for row, file in FILE_SPLITS.items()}
# Parquet keeps the specs as JSON text (their parameters differ per tool, no one struct fits);
# the dataset card declares the column `json`, so `datasets` hands out objects.
TOOLS_FIELD = pa.field("tools", pa.string())
_MESSAGE_COLUMNS = ("messages", "prompt", "chosen", "rejected", "completion")

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


def dataset_and_split(stem: str) -> tuple[str, str]:
    """(dataset kind, row split) of a data file's path without extension: `sft/test` ->
    (`sft`, `eval`); the flat names of older datasets (`sft-eval`) too."""
    if "/" in stem:
        kind, split = stem.rsplit("/", 1)
    else:
        kind, split = stem.rsplit("-", 1)
    return kind, _ROW_SPLITS.get(split, split)


def prepare_output_dir(directory: Path, overwrite: bool) -> None:
    """Refuse to write into an existing dataset unless `overwrite`; then remove it first, so no
    file of the old dataset survives beside the new one. A non-empty folder that is not a
    dataset (no manifest.json) is never removed."""
    if not directory.exists() or not any(directory.iterdir()):
        return
    is_dataset = (directory / "manifest.json").is_file()
    if not overwrite:
        what = "a dataset" if is_dataset else "files"
        raise OutputNotEmptyError(
            f"{directory} already holds {what}; choose another --output-dir, or pass "
            "--overwrite to replace it"
        )
    if not is_dataset:
        raise OutputNotEmptyError(
            f"{directory} is not empty and holds no manifest.json: not replacing a folder that "
            "is not a dataset; choose another --output-dir"
        )
    shutil.rmtree(directory)


def write_kind(
    directory: Path, kind: str, splits: Mapping[str, Sequence[dict[str, Any]]], schema: pa.Schema
) -> list[WrittenFile]:
    """Write one dataset kind: `<kind>/train.{jsonl,parquet}` and `<kind>/test.*`, each row with
    its `tools` column (objects in JSONL, the OpenAI shape; JSON text in Parquet)."""
    files: list[WrittenFile] = []
    with_tools = schema.append(TOOLS_FIELD) if "tools" not in schema.names else schema
    json_content = json_content_columns(schema)
    for row_split, file_split in FILE_SPLITS.items():
        rows = splits.get(row_split, [])
        specs = [tool_specs(_messages_of(row)) for row in rows]
        files += _write_pair(
            directory,
            f"{kind}/{file_split}",
            [{**row, "tools": spec} for row, spec in zip(rows, specs, strict=True)],
            [
                {**_json_content(row, json_content), "tools": json.dumps(spec)}
                for row, spec in zip(rows, specs, strict=True)
            ],
            with_tools,
        )
    return files


def json_content_columns(schema: pa.Schema) -> set[str]:
    """Message columns whose `content` the schema marks as JSON text (datasets curated with
    attachments: `curation.attachments`)."""
    columns = set()
    for field in schema:
        if field.name in _MESSAGE_COLUMNS and pa.types.is_list(field.type):
            message = field.type.value_type
            if pa.types.is_struct(message) and any(
                item.name == "content" and (item.metadata or {}).get(b"dtype") == b"json"
                for item in message
            ):
                columns.add(field.name)
    return columns


def _json_content(row: dict[str, Any], columns: set[str]) -> dict[str, Any]:
    """`row` with the content of the messages in `columns` as JSON text (Parquet side)."""
    if not columns:
        return row
    encoded = dict(row)
    for column in columns:
        messages = row.get(column)
        if messages:
            encoded[column] = [
                {**m, "content": None if m.get("content") is None else json.dumps(m["content"])}
                for m in messages
            ]
    return encoded


def _messages_of(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [m for column in _MESSAGE_COLUMNS for m in (row.get(column) or [])]


def _write_pair(
    directory: Path,
    stem: str,
    json_rows: Sequence[dict[str, Any]],
    parquet_rows: Sequence[dict[str, Any]],
    schema: pa.Schema,
) -> list[WrittenFile]:
    jsonl = directory / f"{stem}.jsonl"
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    with jsonl.open("w", encoding="utf-8", newline="\n") as handle:
        for row in json_rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
    parquet = directory / f"{stem}.parquet"
    pq.write_table(
        pa.Table.from_pylist(list(parquet_rows), schema=schema), parquet, **PARQUET_SETTINGS
    )
    return [
        describe_file(directory, jsonl, len(json_rows)),
        describe_file(directory, parquet, len(parquet_rows)),
    ]


def dataset_digest(files: Sequence[WrittenFile]) -> str:
    """SHA-256 over the data files' paths and hashes: the dataset's identity."""
    lines = "".join(f"{f.path}\t{f.sha256}\n" for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha256(lines.encode()).hexdigest()
