"""`feedbackctl curate sft | preferences` as a user runs them."""

import json
from pathlib import Path

from typer.testing import CliRunner

from feedbackctl.main import app
from tests.unit.curation.enriched_factory import feedback, make_turn, write_enriched

runner = CliRunner()


def _lake(lake: str) -> None:
    write_enriched(
        lake,
        [
            make_turn("a", feedback=[feedback(thumbs_up=True)]),
            make_turn(
                "b",
                prompt="How do I export invoices?",
                reward=-0.8,
                response="Wrong.",
                corrected_response="Right answer.",
            ),
        ],
    )


def test_sft_writes_files_and_reports(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    out = tmp_path / "sft"
    result = runner.invoke(
        app,
        ["curate", "sft", "--lake-uri", lake, "--output", str(out), "--eval-share", "0"],
        env={"FEEDBACK_CURATION_MIN_CONFIDENCE": "0.6", "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["min_confidence"] == 0.6  # from the environment
    assert manifest["options"]["eval_share"] == 0  # from the flag
    assert manifest["datasets"]["sft"]["rows"] == {"train": 2, "eval": 0}
    assert "rows/s" in result.output and manifest["output_sha256"] in result.output


def test_preferences_default_output_is_named_after_the_version(
    lake: str, tmp_path: Path, monkeypatch
) -> None:
    _lake(lake)
    monkeypatch.setenv("FEEDBACK_CURATION_OUTPUT_ROOT", str(tmp_path / "datasets"))
    result = runner.invoke(app, ["curate", "preferences", "--lake-uri", lake])
    assert result.exit_code == 0, result.output
    assert (
        tmp_path / "datasets" / "live" / "preferences-v0" / "preferences" / "train.jsonl"
    ).exists()


def test_bad_option_and_missing_table_fail_clearly(lake: str, tmp_path: Path) -> None:
    bad = runner.invoke(app, ["curate", "sft", "--lake-uri", lake, "--dedup", "fuzzy"])
    assert bad.exit_code == 2
    missing = runner.invoke(app, ["curate", "sft", "--lake-uri", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "no Delta table" in missing.output
