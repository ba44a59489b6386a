"""Rewrites curated datasets without erased users' rows, and records it in their manifests.

A dataset is files, not a lake table: deleting from the lake leaves its copies in every dataset
built before. Each row carries its lineage (`curation.lineage`): the session it came from
(`session_id`, and `rejected_session_id` in pairs) and its turns (`event_ids`). A row whose
session (or user, were a dataset to carry one) the erasure ledger names
(`schemas.erasure_ledger`, by salted hash), or built on a turn whose enriched record an erasure
deleted for holding feedback the user gave in another user's session, goes from both files of
its split: kept JSONL lines stay byte for byte, the Parquet file is written again with the same
settings. The manifest's file entries, counts, labels, agents and output hash are recomputed,
and `erasures` lists each erasure applied with the rows it removed per file. Every file is
replaced atomically, the manifest last; a purge interrupted in between is finished by running
it again (a file whose hash no longer matches the manifest is re-described).
"""

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation.exceptions import CurationError
from curation.manifest import MANIFEST_NAME, amend_after_erasure
from curation.writer import PARQUET_SETTINGS, WrittenFile, dataset_and_split, describe_file
from schemas.erasure_ledger import ErasedIdentities

__all__ = ["DatasetPurge", "find_datasets", "purge_datasets"]

_KINDS = ("sft", "preferences")
_USER_COLUMNS = ("user_id",)


@dataclass(frozen=True)
class DatasetPurge:
    """What one dataset lost: rows per file stem (`sft-train`), and per erasure id and stem."""

    directory: Path
    rows_removed: dict[str, int] = field(default_factory=dict)
    by_erasure: dict[str, dict[str, int]] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.rows_removed.values())


def find_datasets(root: Path) -> list[Path]:
    """Directories under `root` holding a curated dataset (a manifest of a known kind)."""
    if not root.is_dir():
        return []
    found = []
    for manifest in sorted(root.rglob(MANIFEST_NAME)):
        try:
            content = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(content, dict) and content.get("kind") in _KINDS and "files" in content:
            found.append(manifest.parent)
    return found


def purge_datasets(
    root: Path, identities: ErasedIdentities, *, dry_run: bool = False
) -> list[DatasetPurge]:
    """Purge every dataset under `root`; one result per dataset, rows removed or not."""
    if not identities:
        return [DatasetPurge(directory, dry_run=dry_run) for directory in find_datasets(root)]
    return [purge_dataset(d, identities, dry_run=dry_run) for d in find_datasets(root)]


def purge_dataset(
    directory: Path, identities: ErasedIdentities, *, dry_run: bool = False
) -> DatasetPurge:
    """Remove the erased rows of one dataset and amend its manifest."""
    manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    removed: dict[str, int] = {}
    by_erasure: dict[str, Counter[str]] = {}
    written: list[WrittenFile] = []
    for stem in _stems(manifest):
        erased = _erasure_ids(pq.read_table(directory / f"{stem}.parquet"), identities)
        hits = [e for e in erased if e is not None]
        stale = _stale(directory, manifest, stem)
        if not hits and not stale:
            continue
        removed[stem] = len(hits)
        for erasure_id in hits:
            by_erasure.setdefault(erasure_id, Counter())[stem] += 1
        if not dry_run:
            written += _rewrite(directory, stem, [e is None for e in erased])
    counts = {erasure_id: dict(sorted(c.items())) for erasure_id, c in sorted(by_erasure.items())}
    if written:
        _amend(directory, manifest, written, removed, counts)
    return DatasetPurge(directory, removed, counts, dry_run)


def _stems(manifest: dict[str, Any]) -> list[str]:
    return sorted(
        entry["path"][: -len(".parquet")]
        for entry in manifest["files"]
        if entry["path"].endswith(".parquet")
    )


def _session_columns(names: Sequence[str]) -> list[str]:
    return [n for n in names if n == "session_id" or n.endswith("_session_id")]


def _turn_columns(names: Sequence[str]) -> list[str]:
    return [n for n in names if n == "event_ids" or n.endswith("_event_ids")]


def _erasure_ids(table: pa.Table, identities: ErasedIdentities) -> list[str | None]:
    """Per row, the erasure that covers it (by any session column, a user column, or a turn
    it was built on), or None."""
    sessions = _session_columns(table.column_names)
    users = [n for n in _USER_COLUMNS if n in table.column_names]
    turns = _turn_columns(table.column_names)
    return [
        _row_erasure(row, sessions, users, turns, identities)
        for row in table.select(sessions + users + turns).to_pylist()
    ]


def _row_erasure(
    row: dict[str, Any],
    sessions: list[str],
    users: list[str],
    turns: list[str],
    identities: ErasedIdentities,
) -> str | None:
    for column in users:
        if row[column] is not None and (found := identities.erasure_of(row[column], None)):
            return found
    for column in sessions:
        if row[column] is not None and (found := identities.erasure_of(None, row[column])):
            return found
    for column in turns:
        for event_id in row[column] or ():
            if found := identities.erasure_of_turn(event_id):
                return found
    return None


def _stale(directory: Path, manifest: dict[str, Any], stem: str) -> bool:
    """Whether a file no longer is what the manifest says (an interrupted earlier purge)."""
    for entry in manifest["files"]:
        if entry["path"] in (f"{stem}.parquet", f"{stem}.jsonl"):
            current = describe_file(directory, directory / entry["path"], entry["rows"])
            if current.sha256 != entry["sha256"]:
                return True
    return False


def _rewrite(directory: Path, stem: str, keep: list[bool]) -> list[WrittenFile]:
    parquet, jsonl = directory / f"{stem}.parquet", directory / f"{stem}.jsonl"
    kept = pq.read_table(parquet).filter(pa.array(keep, pa.bool_()))
    lines = jsonl.read_text(encoding="utf-8").splitlines(keepends=True)
    if len(lines) != len(keep):
        raise CurationError(
            f"{jsonl} has {len(lines)} rows and {parquet} {len(keep)}: the dataset was edited "
            "by hand; build it again from the lake instead of purging it"
        )
    _replace(jsonl, lambda tmp: tmp.write_text("".join(_kept(lines, keep)), encoding="utf-8"))
    _replace(parquet, lambda tmp: pq.write_table(kept, tmp, **PARQUET_SETTINGS))
    return [
        describe_file(directory, jsonl, kept.num_rows),
        describe_file(directory, parquet, kept.num_rows),
    ]


def _kept(lines: list[str], keep: list[bool]) -> list[str]:
    return [line for line, kept in zip(lines, keep, strict=True) if kept]


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    """Write next to `path`, then rename over it: readers see the old file or the new one."""
    tmp = path.with_name(f".{path.name}.purge")
    write(tmp)
    os.replace(tmp, path)


def _amend(
    directory: Path,
    manifest: dict[str, Any],
    written: list[WrittenFile],
    removed: dict[str, int],
    by_erasure: dict[str, dict[str, int]],
) -> None:
    touched = {dataset_and_split(stem)[0] for stem in removed}
    datasets = {dataset: _dataset_rows(directory, manifest, dataset) for dataset in touched}
    erasures = [
        {
            "erasure_id": erasure_id,
            "rows_removed": sum(rows.values()),
            "rows_removed_by_file": rows,
        }
        for erasure_id, rows in by_erasure.items()
    ]
    amended = amend_after_erasure(manifest, written, datasets, erasures)
    text = json.dumps(amended, indent=2, ensure_ascii=False) + "\n"
    _replace(directory / MANIFEST_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _dataset_rows(
    directory: Path, manifest: dict[str, Any], dataset: str
) -> dict[str, list[dict[str, Any]]]:
    """The kept rows of each split of `dataset`, in the columns the manifest's summary reads."""
    labels = list(manifest["datasets"][dataset].get("labels", {}))
    columns = ["session_id", "agent_id", "agent_version", *labels]
    rows: dict[str, list[dict[str, Any]]] = {}
    for stem in _stems(manifest):
        name, split = dataset_and_split(stem)
        if name == dataset:
            rows[split] = pq.read_table(directory / f"{stem}.parquet", columns=columns).to_pylist()
    return rows
