"""The example training consumer checks a DatasetReady's dataset before it starts a job."""

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from curation.dataset_ready import file_sha256

ROOT = Path(__file__).resolve().parents[4]


def _example() -> Any:
    spec = importlib.util.spec_from_file_location(
        "training_consumer", ROOT / "examples" / "training_consumer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["training_consumer"] = module
    spec.loader.exec_module(module)
    return module


def _dataset(folder: Path) -> dict[str, Any]:
    (folder / "sft").mkdir(parents=True)
    data = folder / "sft" / "train.jsonl"
    data.write_text('{"messages": []}\n')
    manifest = folder / "manifest.json"
    entry = {"path": "sft/train.jsonl", "rows": 1, "bytes": 17, "sha256": file_sha256(data)}
    manifest.write_text(json.dumps({"files": [entry]}))
    return {
        "manifest_path": str(manifest),
        "manifest_sha256": file_sha256(manifest),
        "agent_id": "support-bot",
        "kind": "sft",
        "agent_rows": 1,
        "estimated_quality": 0.9,
    }


def test_a_checked_dataset_starts_the_job(tmp_path: Path) -> None:
    example = _example()
    record = _dataset(tmp_path / "d")
    job = example.start_training_job(record)
    assert job.wait(timeout=60) == 0


def test_a_changed_file_or_manifest_starts_nothing(tmp_path: Path) -> None:
    example = _example()
    record = _dataset(tmp_path / "d")
    (tmp_path / "d" / "sft" / "train.jsonl").write_text("changed\n")
    with pytest.raises(ValueError, match=r"train\.jsonl"):
        example.start_training_job(record)
    with pytest.raises(ValueError, match="manifest"):
        example.check_dataset({**record, "manifest_sha256": "0" * 64})
