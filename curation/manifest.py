"""The dataset card: where the data came from, how it was filtered, what is in it, its hash.

No wall-clock time goes in: the same command on the same Delta version writes the same
manifest, byte for byte. Run times are printed by the CLI instead.
"""

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from curation.options import CurationOptions
from curation.selection import FilterLog
from curation.writer import WrittenFile, dataset_digest

__all__ = [
    "MANIFEST_NAME",
    "amend_after_erasure",
    "build_manifest",
    "label_distribution",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1

Rows = Mapping[str, Sequence[Mapping[str, Any]]]  # split -> rows


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def label_distribution(rows: Rows, fields: Sequence[str]) -> dict[str, dict[str, int]]:
    """Counts of each value of each label field, over all splits."""
    out: dict[str, dict[str, int]] = {}
    for field in fields:
        counter: Counter[str] = Counter()
        for split_rows in rows.values():
            counter.update(str(row[field]) for row in split_rows)
        out[field] = dict(sorted(counter.items()))
    return out


def agent_shares(rows: Rows) -> list[dict[str, Any]]:
    """Rows per agent_id/agent_version and their share of the dataset."""
    counter: Counter[tuple[str, str]] = Counter()
    for split_rows in rows.values():
        counter.update((row["agent_id"], row["agent_version"]) for row in split_rows)
    total = sum(counter.values())
    return [
        {
            "agent_id": agent_id,
            "agent_version": agent_version,
            "rows": count,
            "share": round(count / total, 6) if total else 0.0,
        }
        for (agent_id, agent_version), count in sorted(counter.items())
    ]


def build_manifest(
    *,
    name: str,
    kind: str,
    table_uri: str,
    delta_version: int,
    rows_read: int,
    raw_events: Mapping[str, Any] | None,
    options: CurationOptions,
    log: FilterLog,
    pii: Mapping[str, int],
    datasets: Mapping[str, Rows],
    labels: Mapping[str, Sequence[str]],
    files: Sequence[WrittenFile],
    label_model: Mapping[str, Any] | None = None,
    estimates: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """The manifest of one run, as a JSON-ready dict.

    `label_model`: what the label model learned (when it selected the rows); `estimates`: per
    dataset, its thresholds and the precision and recall it expects, with 95% intervals.
    """
    estimates = estimates or {}
    manifest = {
        "name": name,
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "source": {
            "table": "enriched_interactions",
            "table_uri": table_uri,
            "delta_version": delta_version,
            "rows_read": rows_read,
            "raw_events": None if raw_events is None else dict(raw_events),
        },
        "options": options.model_dump(mode="json"),
        "filters": log.as_list(),
        "pii_scrubbed": dict(sorted(pii.items())),
        "datasets": {
            dataset: {
                "rows": {split: len(split_rows) for split, split_rows in rows.items()},
                "sessions": {
                    split: len({row["session_id"] for row in split_rows})
                    for split, split_rows in rows.items()
                },
                "labels": label_distribution(rows, labels.get(dataset, ())),
                "agents": agent_shares(rows),
                **(
                    {"label_model": dict(estimate)}
                    if (estimate := estimates.get(dataset)) is not None
                    else {}
                ),
            }
            for dataset, rows in datasets.items()
        },
        "files": [file.as_dict() for file in sorted(files, key=lambda f: f.path)],
        "output_sha256": dataset_digest(files),
        "software": {
            "agent-feedback-pipeline": _package_version("agent-feedback-pipeline"),
            "pyarrow": _package_version("pyarrow"),
            "polars": _package_version("polars"),
        },
    }
    if label_model is not None:
        manifest["label_model"] = dict(label_model)
    return manifest


def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> Path:
    path = directory / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def amend_after_erasure(
    manifest: Mapping[str, Any],
    files: Sequence[WrittenFile],
    datasets: Mapping[str, Rows],
    erasures: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The manifest of a dataset rewritten without erased rows (`curation.purge`).

    `files` replace the entries of the same path; `datasets` are the kept rows of each dataset
    that lost any (the columns counts and labels need); `erasures` are appended to the record
    of erasures applied. Source, options and filters stay: they say how the dataset was made.
    """
    amended = dict(manifest)
    by_path = {entry["path"]: entry for entry in manifest["files"]}
    by_path.update({file.path: file.as_dict() for file in files})
    amended["files"] = [by_path[path] for path in sorted(by_path)]
    amended["output_sha256"] = dataset_digest(
        [WrittenFile(e["path"], e["rows"], e["bytes"], e["sha256"]) for e in amended["files"]]
    )
    summaries = dict(manifest["datasets"])
    for dataset, rows in datasets.items():
        summary = dict(summaries[dataset])
        summary["rows"] = {split: len(split_rows) for split, split_rows in rows.items()}
        summary["sessions"] = {
            split: len({row["session_id"] for row in split_rows})
            for split, split_rows in rows.items()
        }
        summary["labels"] = label_distribution(rows, list(summary.get("labels", {})))
        summary["agents"] = agent_shares(rows)
        summaries[dataset] = summary
    amended["datasets"] = summaries
    amended["erasures"] = [*manifest.get("erasures", []), *erasures]
    return amended
