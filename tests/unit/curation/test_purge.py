"""Purging curated datasets: erased sessions' rows go from both files, the manifest follows."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.manifest import MANIFEST_NAME
from curation.purge import find_datasets, purge_datasets
from curation.writer import dataset_digest, write_rows
from schemas.erasure_ledger import ErasedIdentities, LedgerEntry, salted_sha256

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("rejected_session_id", pa.string()),
        pa.field("agent_id", pa.string()),
        pa.field("agent_version", pa.string()),
        pa.field("pair_source", pa.string()),
    ]
)


def _row(i: int, session: str, rejected: str | None = None) -> dict:
    return {
        "id": f"r{i}",
        "text": f"from {session}",
        "session_id": session,
        "rejected_session_id": rejected,
        "agent_id": "bot",
        "agent_version": "1",
        "pair_source": "thumbs",
    }


def _dataset(directory: Path) -> None:
    rows = {
        "train": [_row(0, "s-42-a"), _row(1, "s-420-a"), _row(2, "s-420-b", "s-42-a")],
        "eval": [_row(3, "s-420-c")],
    }
    files = []
    for split, split_rows in rows.items():
        files += write_rows(directory, f"preferences-{split}", split_rows, SCHEMA)
    manifest = {
        "name": "preferences",
        "kind": "preferences",
        "datasets": {"preferences": {"rows": {}, "labels": {"pair_source": {}}}},
        "files": [f.as_dict() for f in sorted(files, key=lambda f: f.path)],
        "output_sha256": dataset_digest(files),
    }
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))


def _erased(salt: str = "x") -> ErasedIdentities:
    entry = LedgerEntry(
        "e1", salt, salted_sha256(salt, "u-42"), frozenset({salted_sha256(salt, "s-42-a")})
    )
    return ErasedIdentities((entry,))


def test_rows_of_an_erased_session_go_from_both_files_and_the_manifest_says_so(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "out" / "preferences-v3"
    _dataset(directory)
    (tmp_path / "out" / "other").mkdir()
    (tmp_path / "out" / "other" / MANIFEST_NAME).write_text('{"kind": "monitor"}')
    assert find_datasets(tmp_path / "out") == [directory]
    eval_before = (directory / "preferences-eval.jsonl").read_bytes()

    (result,) = purge_datasets(tmp_path / "out", _erased())

    assert result.rows_removed == {"preferences-train": 2}
    kept = pq.read_table(directory / "preferences-train.parquet").to_pylist()
    assert [r["id"] for r in kept] == ["r1"]
    lines = (directory / "preferences-train.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["r1"]
    assert (directory / "preferences-eval.jsonl").read_bytes() == eval_before
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    assert manifest["erasures"] == [
        {"erasure_id": "e1", "rows_removed": 2, "rows_removed_by_file": {"preferences-train": 2}}
    ]
    assert manifest["datasets"]["preferences"]["rows"] == {"eval": 1, "train": 1}
    assert manifest["datasets"]["preferences"]["labels"] == {"pair_source": {"thumbs": 2}}
    assert {f["path"]: f["rows"] for f in manifest["files"]}["preferences-train.parquet"] == 1
    assert not list(directory.glob(".*"))  # no temporary file left


def test_a_second_purge_changes_nothing(tmp_path: Path) -> None:
    _dataset(tmp_path / "d")
    purge_datasets(tmp_path, _erased())
    files = {p: p.read_bytes() for p in (tmp_path / "d").iterdir()}
    (again,) = purge_datasets(tmp_path, _erased())
    assert again.total == 0 and not again.rows_removed
    assert {p: p.read_bytes() for p in (tmp_path / "d").iterdir()} == files


def test_a_dry_run_counts_and_writes_nothing(tmp_path: Path) -> None:
    _dataset(tmp_path / "d")
    files = {p: p.read_bytes() for p in (tmp_path / "d").iterdir()}
    (result,) = purge_datasets(tmp_path, _erased(), dry_run=True)
    assert result.total == 2
    assert {p: p.read_bytes() for p in (tmp_path / "d").iterdir()} == files


def test_a_row_built_on_a_turn_holding_the_erased_users_feedback_goes(tmp_path: Path) -> None:
    """u-42 corrected a turn of u-420's session: the lake lost that turn's enriched record, and
    the ledger names the turn; a row built on it goes, the session's other rows stay."""
    schema = pa.schema([*SCHEMA, pa.field("event_ids", pa.list_(pa.string()))])
    rows = [
        {**_row(0, "s-420-a"), "event_ids": ["t-1", "t-2"]},
        {**_row(1, "s-420-a"), "event_ids": ["t-3"]},
    ]
    directory = tmp_path / "out" / "sft-v1"
    files = write_rows(directory, "sft-train", rows, schema)
    manifest = {
        "name": "sft",
        "kind": "sft",
        "datasets": {"sft": {"rows": {}, "labels": {}}},
        "files": [f.as_dict() for f in files],
        "output_sha256": dataset_digest(files),
    }
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    salt = "x"
    entry = LedgerEntry(
        "e2", salt, salted_sha256(salt, "u-42"), turn_hashes=frozenset({salted_sha256(salt, "t-2")})
    )

    (result,) = purge_datasets(tmp_path / "out", ErasedIdentities((entry,)))

    assert result.rows_removed == {"sft-train": 1}
    kept = pq.read_table(directory / "sft-train.parquet").to_pylist()
    assert [r["id"] for r in kept] == ["r1"]
