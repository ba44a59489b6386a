"""Attachments in curated chat messages: the user message of a turn with attachments becomes
content parts (image / audio / file by lake URI and sha256), in its own example and as history of
later ones, in SFT, preference and KTO rows; other messages keep string content; off by default;
`datasets` loads the mixed content offline."""

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # read at import: set before `datasets`
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import hashlib
import json
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from curation import CurationOptions, curate_preferences, curate_sft
from curation.attachments import attachment_part, json_content_schema
from curation.dataset_card import features_yaml
from curation.kto import KTO_SCHEMA
from curation.preferences import PAIR_SCHEMA
from curation.sft import SFT_SCHEMA
from curation.writer import TOOLS_FIELD, json_content_columns
from feedbackctl.main import app
from tests.unit.curation.enriched_factory import feedback, make_turn, write_enriched


def _record(name: str, media_type: str, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    return {
        "media_type": media_type,
        "size_bytes": len(data),
        "sha256": digest,
        "uri": f"file:///lake/attachments/s-x/{digest[:2]}/{digest}",
        "name": name,
    }


SCREEN = _record("screen.png", "image/png", b"png bytes")
VOICE = _record("voice.wav", "audio/wav", b"wav bytes")
REPORT = _record("report.pdf", "application/pdf", b"pdf bytes")


def _lake(root: str) -> dict[str, Any]:
    """Sessions of three praised turns, but s0's third turn is disliked and corrected
    (pairs, KTO rows); s0's first turn has a screenshot and a voice clip; returns that
    turn's row."""
    rows = []
    for i in range(12):
        for t in range(3):
            liked = not (i == 0 and t == 2)
            rows.append(
                make_turn(
                    f"s{i}",
                    t,
                    session_turns=3,
                    prompt=f"Question {i} number {t}: what happened on screen {i * 7 + t}?",
                    feedback=[feedback(thumbs_up=liked, seed=f"{root}{i}{t}")],
                    attachments=[SCREEN, VOICE] if (i, t) == (0, 0) else [],
                    reward=0.9 if liked else -0.8,
                    corrected_response="Look at the highlighted field."
                    if (i, t) == (0, 2)
                    else None,
                )
            )
    write_enriched(root, rows)
    return rows[0]


def _jsonl(directory: Path, kind: str) -> list[dict[str, Any]]:
    rows = []
    for split in ("train", "test"):
        path = directory / kind / f"{split}.jsonl"
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


def _user_contents(row: dict[str, Any]) -> list[Any]:
    columns = ("messages", "prompt")
    return [m["content"] for c in columns for m in (row.get(c) or []) if m["role"] == "user"]


def test_parts_by_type_reference_the_file_and_keep_its_record() -> None:
    image, audio, other = (attachment_part(r) for r in (SCREEN, VOICE, REPORT))
    assert image == {"type": "image_url", "image_url": {"url": SCREEN["uri"]}, "attachment": SCREEN}
    assert audio["type"] == "input_audio" and audio["attachment"] == VOICE
    assert audio["input_audio"] == {"url": VOICE["uri"], "format": "wav"}
    assert other["type"] == "file" and other["file"] == {
        "url": REPORT["uri"],
        "filename": "report.pdf",
    }


def test_sft_rows_carry_parts_for_the_turn_with_attachments_only(lake: str, tmp_path: Path) -> None:
    first = _lake(lake)
    options = CurationOptions(selection="explicit_praise", dedup="none", attachments=True)
    out = curate_sft(lake, options, output_dir=tmp_path / "on")
    rows = _jsonl(out.output_dir, "sft")
    parts = [text, screen, voice] = [
        {"type": "text", "text": first["prompt"]},
        attachment_part(SCREEN),
        attachment_part(VOICE),
    ]
    assert text["text"].startswith("Question 0 number 0")
    with_parts = set()
    for row in rows:
        for position, content in enumerate(_user_contents(row)):
            if row["event_ids"][position] == first["event_id"]:
                assert content == parts
                with_parts.add(row["id"])
            else:
                assert isinstance(content, str)
    # Its own example, and the history of the session's later examples.
    assert first["event_id"] in with_parts and len(with_parts) >= 2
    assert screen["image_url"]["url"] == SCREEN["uri"] and voice["type"] == "input_audio"
    # Parquet holds every content as JSON text; the card says so; datasets loads the same rows.
    parquet = pq.read_table(next((out.output_dir / "sft").glob("*.parquet")))
    assert parquet.schema.field("messages").type.value_type.field("content").type == "string"
    loaded = datasets.load_dataset(str(out.output_dir), "sft", cache_dir=str(tmp_path / "hf"))
    by_id = {r["id"]: r for split in loaded.values() for r in split}
    for row in rows:
        assert [m["content"] for m in by_id[row["id"]]["messages"]] == [
            m["content"] for m in row["messages"]
        ]
    assert "Curated with attachments" in (out.output_dir / "README.md").read_text()


def test_off_by_default_the_same_lake_gives_string_content(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    plain = CurationOptions(selection="explicit_praise", dedup="none")
    assert plain.attachments is False
    out = curate_sft(lake, plain, output_dir=tmp_path / "off")
    rows = _jsonl(out.output_dir, "sft")
    assert rows and all(isinstance(c, str) for row in rows for c in _user_contents(row))
    parquet = pq.read_table(next((out.output_dir / "sft").glob("*.parquet")))
    assert parquet.schema.field("messages").type == SFT_SCHEMA.field("messages").type
    assert "Curated with attachments" not in (out.output_dir / "README.md").read_text()


def test_preference_and_kto_prompts_carry_the_parts(lake: str, tmp_path: Path) -> None:
    first = _lake(lake)
    options = CurationOptions(selection="explicit_praise", dedup="none", attachments=True)
    out = curate_preferences(lake, options, output_dir=tmp_path / "prefs")
    for kind in ("preferences", "kto"):
        rows = _jsonl(out.output_dir, kind)
        with_parts = [
            content
            for row in rows
            for position, content in enumerate(_user_contents(row))
            if not isinstance(content, str)
        ]
        assert with_parts, kind
        for row in rows:
            for position, content in enumerate(_user_contents(row)):
                is_first = row["event_ids"][position] == first["event_id"]
                assert isinstance(content, list) == is_first, (kind, row["id"])
        loaded = datasets.load_dataset(str(out.output_dir), kind, cache_dir=str(tmp_path / kind))
        assert sum(len(split) for split in loaded.values()) == len(rows)


@pytest.mark.parametrize(
    "schema", [SFT_SCHEMA, PAIR_SCHEMA, KTO_SCHEMA], ids=["sft", "pairs", "kto"]
)
def test_card_declares_json_content_where_datasets_sees_strings(schema: Any) -> None:
    marked = json_content_schema(schema)
    assert json_content_columns(marked) and not json_content_columns(schema)
    features = datasets.Features.from_arrow_schema(marked.append(TOOLS_FIELD))
    expected = datasets.DatasetInfo(features=features)._to_yaml_dict()["features"]
    ours = json.dumps(features_yaml(marked.append(TOOLS_FIELD)))
    assert json.loads(ours.replace('"dtype": "json"', '"dtype": "string"')) == expected
    content = {"name": "content", "dtype": "json"}
    assert json.dumps(content) in ours
    assert json.dumps(content) not in json.dumps(features_yaml(schema.append(TOOLS_FIELD)))


def test_the_cli_flag_turns_parts_on(lake: str, tmp_path: Path) -> None:
    first = _lake(lake)
    out = tmp_path / "cli"
    args = ["curate", "sft", "--lake-uri", lake, "--output", str(out), "--attachments"]
    result = CliRunner().invoke(
        app, [*args, "--selection", "explicit_praise"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["options"]["attachments"] is True
    [own] = [row for row in _jsonl(out, "sft") if row["id"] == first["event_id"]]
    assert _user_contents(own)[0][1] == attachment_part(SCREEN)
