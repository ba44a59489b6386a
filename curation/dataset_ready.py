"""The DatasetReady record of a built dataset: what it is, what it was read from, how to check
it (the manifest's path and sha256), and its key on the datasets topic.
"""

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from curation.pipeline import CurationResult

__all__ = ["dataset_key", "dataset_ready_record", "file_sha256", "rows_by_agent"]


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _main_dataset(manifest: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    datasets = manifest["datasets"]
    return datasets.get(kind) or next(iter(datasets.values()))


def rows_by_agent(manifest: Mapping[str, Any], kind: str) -> dict[str, int]:
    """Rows of the kind's main dataset (sft; preferences) per agent_id, all versions."""
    counts: dict[str, int] = {}
    for entry in _main_dataset(manifest, kind).get("agents", []):
        counts[entry["agent_id"]] = counts.get(entry["agent_id"], 0) + int(entry["rows"])
    return counts


def _parquet_files(result: CurationResult, kind: str) -> list[Path]:
    files = []
    for entry in result.manifest["files"]:
        path = str(entry["path"])
        if path.endswith(".parquet") and (path.startswith(f"{kind}/") or path.startswith(kind)):
            files.append(Path(path) if Path(path).is_absolute() else result.output_dir / path)
    return files


def estimated_quality(result: CurationResult, kind: str, agent_id: str | None) -> float | None:
    """Mean label confidence of the agent's rows: the share of examples whose label the
    curation expects to be right. None when the dataset has no confidence column."""
    files = _parquet_files(result, kind)
    if not files:
        return None
    frame = pl.concat([pl.read_parquet(path) for path in files], how="diagonal_relaxed")
    if "reward_confidence" not in frame.columns:
        return None
    if agent_id is not None and "agent_id" in frame.columns:
        frame = frame.filter(pl.col("agent_id") == agent_id)
    value = frame.get_column("reward_confidence").mean()
    return None if value is None else round(float(value), 6)  # type: ignore[arg-type]


def dataset_ready_record(
    result: CurationResult,
    *,
    kind: str,
    agent_id: str | None,
    trigger: str,
    new_rows: int,
    created_at_ms: int,
) -> dict[str, Any]:
    """The Avro DatasetReady of a dataset just built."""
    manifest = result.manifest
    manifest_sha256 = file_sha256(result.manifest_path)
    lake_versions = {"enriched_interactions": int(manifest["source"]["delta_version"])}
    raw = manifest["source"].get("raw_events")
    if raw:
        lake_versions["raw_events"] = int(raw["delta_version"])
    rows = {
        f"{name}-{split}": int(count)
        for name, dataset in manifest["datasets"].items()
        for split, count in dataset["rows"].items()
    }
    per_agent = rows_by_agent(manifest, kind)
    agent_rows = sum(per_agent.values()) if agent_id is None else per_agent.get(agent_id, 0)
    identity = f"{kind}|{agent_id or ''}|{lake_versions['enriched_interactions']}|{manifest_sha256}"
    return {
        "dataset_id": hashlib.sha256(identity.encode()).hexdigest()[:32],
        "kind": kind,
        "agent_id": agent_id,
        "created_at": created_at_ms,
        "trigger": trigger,
        "lake_versions": lake_versions,
        "rows": rows,
        "agent_rows": agent_rows,
        "new_rows": new_rows,
        "estimated_quality": estimated_quality(result, kind, agent_id),
        "manifest_path": str(result.manifest_path.resolve()),
        "manifest_sha256": manifest_sha256,
        "output_sha256": str(manifest["output_sha256"]),
    }


def dataset_key(record: Mapping[str, Any]) -> bytes:
    """The topic's key: agent_id/kind (empty agent when the rule is not per agent)."""
    return f"{record['agent_id'] or ''}/{record['kind']}".encode()
