"""`curate sft` and `curate preferences` end to end: read a pinned table version, select,
scrub, deduplicate, split, write JSONL + Parquet and the manifest.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from curation.attachments import (
    json_content_schema,
    read_turn_attachments,
    with_attachment_parts,
)
from curation.dataset_card import write_dataset_cards
from curation.features import add_turn_features
from curation.kto import KTO_SCHEMA
from curation.labels import add_label_probability
from curation.manifest import build_manifest, write_manifest
from curation.options import CurationOptions
from curation.preferences import PAIR_SCHEMA, build_preferences
from curation.selection import FilterLog
from curation.sft import SFT_SCHEMA, build_sft
from curation.source import (
    LakeSnapshot,
    RawSnapshot,
    add_interaction_coordinates,
    read_enriched,
    read_interaction_coordinates,
)
from curation.writer import WrittenFile, prepare_output_dir, write_kind

__all__ = [
    "STAGES",
    "CurationResult",
    "Progress",
    "curate_preferences",
    "curate_sft",
    "default_output_dir",
]

# Stages reported to the progress callback, in order.
STAGES = ("read", "label", "select", "write")
Progress = Callable[[str], None]
Rows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class CurationResult:
    """Where a dataset went and its manifest."""

    output_dir: Path
    manifest_path: Path
    manifest: dict[str, Any]

    @property
    def delta_version(self) -> int:
        return int(self.manifest["source"]["delta_version"])


@dataclass(frozen=True)
class _Source:
    snapshot: LakeSnapshot
    raw: RawSnapshot | None
    turns: pl.DataFrame
    label_model: dict[str, Any]


def default_output_dir(
    output_root: str | Path, name: str, delta_version: int, prefix: str = ""
) -> Path:
    """`<root>/<namespace>/<name>-v<version>`: the default place of a dataset of one table
    version; `live` for the live lake (no table prefix), so namespaces never share a folder."""
    return Path(output_root) / (prefix.strip("/") or "live") / f"{name}-v{delta_version}"


def _say(progress: Progress | None, stage: str) -> None:
    if progress is not None:
        progress(stage)


def _read(
    lake_uri: str,
    prefix: str,
    version: int | None,
    raw_lineage: bool,
    raw_version: int | None,
    progress: Progress | None,
) -> _Source:
    _say(progress, "read")
    snapshot = read_enriched(lake_uri, prefix, version)
    raw = read_interaction_coordinates(lake_uri, prefix, raw_version) if raw_lineage else None
    _say(progress, "label")
    turns = add_interaction_coordinates(add_turn_features(snapshot.turns), raw)
    turns, model = add_label_probability(turns)
    return _Source(snapshot, raw, turns, model.describe())


def _finish(
    source: _Source,
    *,
    name: str,
    kind: str,
    directory: Path,
    options: CurationOptions,
    log: FilterLog,
    pii: Mapping[str, int],
    datasets: Mapping[str, Rows],
    schemas: Mapping[str, pa.Schema],
    labels: Mapping[str, Sequence[str]],
    estimates: Mapping[str, Mapping[str, Any] | None] | None = None,
    overwrite: bool = False,
) -> CurationResult:
    prepare_output_dir(directory, overwrite)
    if options.attachments:
        datasets, schemas = _with_attachments(source, datasets, schemas)
    files: list[WrittenFile] = []
    for dataset, rows in datasets.items():
        files += write_kind(directory, dataset, rows, schemas[dataset])
    manifest = build_manifest(
        name=name,
        kind=kind,
        table_uri=source.snapshot.table_uri,
        delta_version=source.snapshot.version,
        rows_read=source.snapshot.rows_read,
        raw_events=None
        if source.raw is None
        else {"table_uri": source.raw.table_uri, "delta_version": source.raw.version},
        options=options,
        log=log,
        pii=pii,
        datasets=datasets,
        labels=labels,
        files=files,
        label_model=source.label_model if options.selection == "label_model" else None,
        estimates=estimates,
    )
    manifest_path = write_manifest(directory, manifest)
    write_dataset_cards(directory, manifest, schemas)
    return CurationResult(directory, manifest_path, manifest)


def _with_attachments(
    source: _Source, datasets: Mapping[str, Rows], schemas: Mapping[str, pa.Schema]
) -> tuple[dict[str, Rows], dict[str, pa.Schema]]:
    """Rows whose user turns have attachments get content parts (`curation.attachments`)."""
    found = read_turn_attachments(source.snapshot.table_uri, source.snapshot.version)
    return (
        {kind: with_attachment_parts(rows, found) for kind, rows in datasets.items()},
        {kind: json_content_schema(schema) for kind, schema in schemas.items()},
    )


def curate_sft(
    lake_uri: str,
    options: CurationOptions,
    *,
    output_dir: Path | None = None,
    output_root: str | Path = "out/datasets",
    prefix: str = "",
    version: int | None = None,
    raw_lineage: bool = False,
    raw_version: int | None = None,
    name: str = "sft",
    progress: Progress | None = None,
    overwrite: bool = False,
) -> CurationResult:
    """Build the SFT dataset of the enriched table at `version` (None = latest).

    Into `output_dir`, else `<output_root>/<namespace>/sft-v<version>`; an existing dataset
    there is refused (`OutputNotEmptyError`) unless `overwrite` replaces it.

    `raw_lineage` adds each turn's original interaction coordinates from raw_events at
    `raw_version` (None = latest; pin it too for byte-identical reruns).
    """
    source, log = _read_latest(lake_uri, prefix, version, raw_lineage, raw_version, progress)
    built = build_sft(source.turns, options, source.snapshot.version, log)
    _say(progress, "write")
    return _finish(
        source,
        name=name,
        kind="sft",
        directory=output_dir
        or default_output_dir(output_root, name, source.snapshot.version, prefix),
        options=options,
        log=log,
        pii=built.pii,
        datasets={"sft": built.rows},
        schemas={"sft": SFT_SCHEMA},
        labels={"sft": ("answer_source", "reward_source", "selection_rule")},
        estimates={"sft": built.label_model},
        overwrite=overwrite,
    )


def _read_latest(
    lake_uri: str,
    prefix: str,
    version: int | None,
    raw_lineage: bool,
    raw_version: int | None,
    progress: Progress | None,
) -> tuple[_Source, FilterLog]:
    """The table's turns at their highest revision, and the filter log that starts with that."""
    source = _read(lake_uri, prefix, version, raw_lineage, raw_version, progress)
    log = FilterLog()
    log.note(
        "latest_revision",
        "highest revision per event_id",
        source.snapshot.rows_read,
        source.turns.height,
    )
    _say(progress, "select")
    return source, log


def curate_preferences(
    lake_uri: str,
    options: CurationOptions,
    *,
    output_dir: Path | None = None,
    output_root: str | Path = "out/datasets",
    prefix: str = "",
    version: int | None = None,
    raw_lineage: bool = False,
    raw_version: int | None = None,
    name: str = "preferences",
    progress: Progress | None = None,
    overwrite: bool = False,
) -> CurationResult:
    """Build preference pairs (DPO) and unpaired KTO examples of the table at `version`."""
    source, log = _read_latest(lake_uri, prefix, version, raw_lineage, raw_version, progress)
    built = build_preferences(source.turns, options, source.snapshot.version, log)
    _say(progress, "write")
    return _finish(
        source,
        name=name,
        kind="preferences",
        directory=output_dir
        or default_output_dir(output_root, name, source.snapshot.version, prefix),
        options=options,
        log=log,
        pii=built.pii,
        datasets={"preferences": built.pairs, "kto": built.kto},
        schemas={"preferences": PAIR_SCHEMA, "kto": KTO_SCHEMA},
        labels={"preferences": ("pair_source",), "kto": ("label", "answer_source")},
        estimates={"preferences": built.label_model, "kto": built.label_model},
        overwrite=overwrite,
    )
